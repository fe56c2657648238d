"""``acgym sim drive``: lap times printed, the episode log and the lap map written."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from acgym.cli import main
from acgym.env.history import find_histories, load_history
from acgym.protocol.channels import REQUIRED_CHANNELS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def drive_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One run of ``acgym sim drive`` for the module: status, printed text, output folder."""
    out = tmp_path_factory.mktemp("drive")
    args = ["sim", "drive", "--track", "oval", "--car", "dallara_f317", "--laps", "2"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main([*args, "--out", str(out)])
    return status, printed.getvalue(), out


def test_drive_prints_each_lap_time_against_the_estimate(
    drive_run: tuple[int, str, Path],
) -> None:
    status, text, _ = drive_run
    assert status == 0
    assert re.search(r"oval, dallara_f317: speed-profile estimate \d+\.\d\d s", text)
    assert re.search(r"lap 1: \d+\.\d{3} s \(standing start\)", text)
    assert re.search(r"lap 2: \d+\.\d{3} s \(\+\d\.\d %\)", text)
    assert "INVALID" not in text


def test_drive_writes_one_episode_in_the_episode_log_layout(
    drive_run: tuple[int, str, Path],
) -> None:
    _, text, out = drive_run
    episodes = find_histories(out / "laps")
    assert len(episodes) == 1
    history = load_history(episodes[0])
    assert history.static_info["TrackName"] == "oval"
    assert history.static_info["CarName"] == "dallara_f317"
    states = history.states
    for channel in (*REQUIRED_CHANNELS, "LapDist", "gap", "reward", "actions_0"):
        assert channel in states.columns, channel
    assert states["LapCount"].iloc[-1] == 2
    assert states["currentTime"].max() < 60.0  # logged in seconds, as the original
    stats = pd.read_csv(out / "episodes_stats.csv")
    assert len(stats) == 1
    lap_2_s = float(re.search(r"lap 2: (\d+\.\d{3}) s", text).group(1))
    assert stats["ep_bestLapTime"].iloc[0] == pytest.approx(lap_2_s)
    assert stats["BestLap"].iloc[0] == pytest.approx(lap_2_s)
    assert json.loads((out / "laps" / "static_info.json").read_text())["backend"] == "simulator"


def test_drive_draws_the_flying_lap_as_a_png(drive_run: tuple[int, str, Path]) -> None:
    _, _, out = drive_run
    png = out / "oval-dallara_f317-lap.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_drive_without_out_writes_a_run_folder_under_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sim", "drive", "--car", "bmw_z4_gt3", "--laps", "1"]) == 0
    assert "lap 1:" in capsys.readouterr().out
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.endswith("_drive_oval_bmw_z4_gt3")
    assert (run / "episodes_stats.csv").is_file() and (run / "laps" / "static_info.json").is_file()
    assert (run / "oval-bmw_z4_gt3-lap.png").read_bytes()[:8] == PNG_SIGNATURE


def test_sim_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim"]) == 2
    assert "drive" in capsys.readouterr().out


def test_drive_refuses_zero_laps() -> None:
    with pytest.raises(SystemExit):
        main(["sim", "drive", "--laps", "0"])

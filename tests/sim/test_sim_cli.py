"""``acgym sim drive``: lap times printed, the episode log and the lap map written, all of it
the environment's own (reward, episode ends, laps) under the run's config."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

from acgym.cli import main
from acgym.config import load_config
from acgym.env.config import StartConfig
from acgym.env.history import find_histories, load_history
from acgym.protocol.channels import REQUIRED_CHANNELS
from acgym.rl.laps import laps_from_states
from acgym.units import KMH_PER_MPS

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


def _logged_states(out: Path) -> pd.DataFrame:
    (episode,) = find_histories(out / "laps")
    return load_history(episode).states


def _expert_in_the_env(overrides: list[str], steps: int) -> tuple[pd.DataFrame, list[tuple]]:
    """The expert in ``acgym/Race-v0`` with the config of ``overrides``: the episode's
    states and each step's (reward, terminated, truncated)."""
    # acgym sim drive starts on the line at rest whatever the recipe's starts
    config = dataclasses.replace(load_config(overrides=overrides).env, start=StartConfig())
    env = gym.make("acgym/Race-v0", track="oval", car="dallara_f317", config=config)
    env.reset(seed=0)
    outcomes = []
    for _ in range(steps):
        _, reward, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
        outcomes.append((reward, terminated, truncated))
    states = env.unwrapped.episode_states()
    env.close()
    return states, outcomes


def _outcomes(states: pd.DataFrame) -> list[tuple]:
    """(reward, terminated, truncated) of each logged step after the reset state."""
    columns = ("reward", "terminated", "TimeLimit.truncated")
    return list(states[list(columns)].iloc[1:].itertuples(index=False, name=None))


def test_drive_logs_the_envs_own_reward_episode_ends_and_laps(
    drive_run: tuple[int, str, Path],
) -> None:
    _, text, out = drive_run
    logged = _logged_states(out)
    states, outcomes = _expert_in_the_env([], len(logged) - 1)
    assert _outcomes(logged) == outcomes  # exactly: the same numbers
    pd.testing.assert_frame_equal(
        logged[["speed", "gap", "steerAngle", "brakeStatus"]],
        states[["speed", "gap", "steerAngle", "brakeStatus"]],
    )
    laps = laps_from_states(states)
    assert laps_from_states(logged) == laps and len(laps.laps) == 2
    printed = [float(t) for t in re.findall(r"lap \d: (\d+\.\d{3}) s", text)]
    assert printed == [lap.time_s for lap in laps.laps]


def test_a_config_change_changes_the_logged_reward_as_it_changes_the_envs(
    drive_run: tuple[int, str, Path], tmp_path: Path
) -> None:
    overrides = ["env.reward.kind=original", "env.gap_const=20", "env.penalize_actions_diff=true"]
    args = ["sim", "drive", "--track", "oval", "--car", "dallara_f317", "--laps", "1"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--out", str(tmp_path), *overrides]) == 0
    logged = _logged_states(tmp_path)
    _, outcomes = _expert_in_the_env(overrides, len(logged) - 1)
    assert _outcomes(logged) == outcomes
    # the expert drives the same steps whatever the reward; the reward follows the config:
    # speed (km/h) x (1 - |gap| / 20) / 300 - 0.1 x the change of the applied controls
    default = _logged_states(drive_run[2]).iloc[: len(logged)]
    pd.testing.assert_frame_equal(logged[["speed", "gap"]], default[["speed", "gap"]])
    applied = np.stack(
        [logged["steerAngle"] / 450.0, logged["accStatus"], logged["brakeStatus"]], axis=1
    )
    change = np.linalg.norm(np.diff(applied, axis=0), axis=1)
    change[:2] = 0.0  # no penalty until three previous controls exist, as the original
    speed_term = KMH_PER_MPS * logged["speed"] * (1.0 - logged["gap"].abs() / 20.0) / 300.0
    expected = speed_term.to_numpy()[1:] - 0.1 * change
    np.testing.assert_allclose(logged["reward"].to_numpy()[1:], expected, rtol=1e-9, atol=1e-12)
    assert np.abs(logged["reward"] - default["reward"]).max() > 0.01


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

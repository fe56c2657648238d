"""What ``acgym train resume=RUN`` and ``acgym eval`` refuse: unreadable lap totals, a
checkpoint outside its run without ``--config``, an env whose observation layout is not
the checkpoint's; and the first run's kernel warm-up."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from tiny_runs import TINY

from acgym.cli import main
from acgym.errors import ConfigError, DataFileError
from acgym.rl import run as run_module
from acgym.rl.checkpoint import latest_checkpoint
from acgym.rl.run import COMPILE_MESSAGE, resolve_config, run_training, warm_up_kernels

STEPS = 120
# The basic observation with its first two channels swapped: as many values, in another order.
SWAPPED = (
    "env.observation.channels=[gap,speed,LastFF,RPM,accelX,accelY,actualGear,"
    "angular_velocity_y,local_velocity_x,local_velocity_y,SlipAngle_fl,SlipAngle_fr,"
    "SlipAngle_rl,SlipAngle_rr]"
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run of one car with one checkpoint (at its last step)."""
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    overrides = [
        *TINY,
        f"train.run_dir={run_dir}",
        f"train.total_steps={STEPS}",
        "train.num_envs=1",
        "train.checkpoint_interval=0",
        "train.eval_at_end=false",
        "train.log_episodes=false",
    ]
    run_training(resolve_config(None, overrides))
    return run_dir


@pytest.fixture
def run_dir(finished_run: Path, tmp_path: Path) -> Path:
    """A copy of the finished run that a test may damage."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _resume(run_dir: Path, *overrides: str) -> dict:
    """Resume ``run_dir`` with nothing left to train (the checks, the warm-up, no steps)."""
    return run_training(resolve_config(None, [f"resume={run_dir}", *overrides])).summary


def test_resume_continues_the_lap_totals_of_laps_json(run_dir: Path) -> None:
    totals = {
        "laps": 7,
        "clean_laps": 5,
        "best_lap_s": 40.25,
        "first_clean_lap": {"env_steps": 100, "train_time_s": 3.0, "lap_time_s": 44.0},
        "env_steps": STEPS,
    }
    (run_dir / "laps.json").write_text(json.dumps(totals))
    summary = _resume(run_dir)
    assert summary["env_steps"] == STEPS
    assert summary["laps"] == {k: v for k, v in totals.items() if k != "env_steps"}


def test_every_checkpoint_writes_laps_json_stamped_with_its_step(finished_run: Path) -> None:
    totals = json.loads((finished_run / "laps.json").read_text())
    assert totals["env_steps"] == STEPS
    assert latest_checkpoint(finished_run / "checkpoints").name == f"step_{STEPS:010d}"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('{"laps": 3, "clean_la', "not valid JSON"),
        ("[3, 2]", "expected a JSON object"),
        ('{"laps": "three"}', "laps must be int"),
        ('{"best_lap_s": true}', "best_lap_s must be"),
    ],
)
def test_resume_refuses_unreadable_lap_totals(run_dir: Path, text: str, complaint: str) -> None:
    laps_file = run_dir / "laps.json"
    laps_file.write_text(text)
    with pytest.raises(DataFileError, match=complaint) as info:
        _resume(run_dir)
    message = str(info.value)
    assert str(laps_file) in message and "write {} into it" in message


def test_resume_refuses_a_run_with_checkpoints_but_no_laps_json(run_dir: Path) -> None:
    (run_dir / "laps.json").unlink()
    with pytest.raises(DataFileError, match=r"laps\.json is missing, but the run has a checkpoint"):
        _resume(run_dir)


def test_an_empty_laps_json_resumes_with_totals_from_zero(run_dir: Path) -> None:
    (run_dir / "laps.json").write_text("{}")
    assert _resume(run_dir)["laps"]["laps"] == 0


def test_a_run_killed_before_its_first_checkpoint_has_nothing_to_resume(run_dir: Path) -> None:
    shutil.rmtree(run_dir / "checkpoints")
    (run_dir / "laps.json").unlink()
    with pytest.raises(DataFileError, match=r"no complete checkpoint .*start it again"):
        _resume(run_dir)


def test_resume_refuses_an_env_of_another_observation_layout(run_dir: Path) -> None:
    with pytest.raises(ConfigError, match="entries differ") as info:
        _resume(run_dir, SWAPPED)
    message = str(info.value)
    assert "[0] checkpoint 'speed', env 'gap'" in message
    assert "[1] checkpoint 'gap', env 'speed'" in message


def test_eval_refuses_a_checkpoint_outside_its_run_without_config(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loose = tmp_path / "loose_checkpoint"
    shutil.copytree(latest_checkpoint(run_dir / "checkpoints"), loose)
    assert main(["eval", "--checkpoint", str(loose), "--no-expert"]) == 1
    err = capsys.readouterr().err
    assert "is not in a run folder" in err and "--config FILE" in err
    out = tmp_path / "ev"
    args = ["--config", str(run_dir / "config.yaml"), "--out", str(out), "--no-expert"]
    assert main(["eval", "--checkpoint", str(loose), *args]) == 0
    assert json.loads((out / "eval_report.json").read_text())["checkpoint"] == str(loose)


def test_eval_refuses_an_env_of_another_observation_layout(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(tmp_path / "ev"), "--no-expert", SWAPPED]
    assert main(["eval", "--checkpoint", str(run_dir), *args]) == 1
    err = capsys.readouterr().err
    assert "entries differ" in err and "[0] checkpoint 'speed', env 'gap'" in err


@pytest.mark.parametrize("cached", [False, True])
def test_the_warm_up_says_it_compiles_only_when_nothing_is_cached(
    cached: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(run_module, "kernels_cached", lambda: cached)
    config = resolve_config(None, [*TINY, "train.num_envs=2"])
    with caplog.at_level(logging.INFO, logger="acgym.rl.run"):
        warm_up_s = warm_up_kernels(config)
    assert warm_up_s is not None and warm_up_s > 0
    assert (COMPILE_MESSAGE in caplog.text) is not cached


def test_the_game_is_not_warmed_up_with_a_second_env() -> None:
    assert warm_up_kernels(resolve_config(None, [*TINY, "backend=ac"])) is None

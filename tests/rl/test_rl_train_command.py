"""``acgym train`` and ``acgym eval`` end to end on the built-in simulator, tiny runs."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
from tiny_runs import TINY

from acgym.cli import main
from acgym.config import load_config
from acgym.rl.checkpoint import latest_checkpoint
from acgym.rl.run import resolve_config, run_training
from acgym.rl.trainer import Callback, Trainer
from acgym.track.builtin import DEFAULT_TRAINING_TRACK


def test_train_writes_a_complete_run_and_eval_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    code = main(
        [
            "train",
            *TINY,
            f"train.runs_root={runs}",
            "train.total_steps=400",
            "train.num_envs=2",
            "train.checkpoint_interval=200",
            "train.eval_interval=200",
        ]
    )
    assert code == 0
    (run,) = runs.iterdir()
    assert run.name.endswith(f"_{DEFAULT_TRAINING_TRACK}_dallara_f317")
    for name in ("config.yaml", "episodes_stats.csv", "summary.json", "eval/best_lap.png"):
        assert (run / name).is_file(), name
    assert latest_checkpoint(run / "checkpoints").name == "step_0000000400"
    assert any((run / "tb").iterdir())
    assert list((run / "laps").glob("*.parquet"))
    assert len(pd.read_csv(run / "episodes_stats.csv")) >= 2
    assert load_config(run / "config.yaml").train.total_steps == 400
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_steps"] == 400 and summary["eval"]["expert_best_lap_s"] > 0
    assert summary["compile_time_s"] > 0  # the warm-up, apart from train_time_s
    # The better of the evaluations at 200 and 400 steps, evaluated again at the end.
    kept = json.loads((run / "checkpoints" / "best" / "evaluation.json").read_text())
    assert summary["eval_best"]["env_steps"] == kept["env_steps"] in (200, 400)
    assert summary["eval_best"]["expert_best_lap_s"] == summary["eval"]["expert_best_lap_s"]
    assert (run / "eval_best" / "best_lap.png").is_file()
    out = capsys.readouterr().out
    assert "done: 400 steps" in out and "acgym eval --checkpoint" in out
    assert f"best evaluated policy (step {summary['eval_best']['env_steps']:,})" in out
    assert "warm-up: the kernels compiled or loaded in" in out

    code = main(["eval", "--checkpoint", str(run), "--out", str(tmp_path / "ev"), "--no-expert"])
    assert code == 0
    report = json.loads((tmp_path / "ev" / "eval_report.json").read_text())
    assert report["checkpoint"].endswith("step_0000000400")
    assert (tmp_path / "ev" / "best_lap.png").is_file()
    assert "evaluation of" in capsys.readouterr().out


class _CtrlC(Callback):
    """Sends the process a SIGINT (a user's Ctrl-C) once, at ``at_step``."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step(self, trainer: Trainer) -> None:
        if trainer.counters.env_steps == self.at_step:
            os.kill(os.getpid(), signal.SIGINT)


def test_interrupted_run_resumes_and_its_counters_continue(tmp_path: Path) -> None:
    overrides = [
        *TINY,
        f"train.run_dir={tmp_path / 'run'}",
        "train.total_steps=500",
        "train.checkpoint_interval=0",
        "train.eval_at_end=false",
        "train.save_replay=true",
        "train.num_envs=1",
    ]
    first = run_training(resolve_config(None, overrides), callbacks=[_CtrlC(at_step=230)])
    assert first.interrupted
    stopped = first.summary["env_steps"]
    assert stopped == 230  # the step in flight ends, then a checkpoint
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").name == "step_0000000230"
    episodes_before = first.summary["episodes"]

    resumed = run_training(resolve_config(None, [f"resume={tmp_path / 'run'}"]))
    assert not resumed.interrupted and resumed.run_dir == tmp_path / "run"
    assert resumed.summary["env_steps"] == 500
    assert resumed.summary["episodes"] >= episodes_before
    assert resumed.summary["updates"] > first.summary["updates"]
    assert latest_checkpoint(tmp_path / "run" / "checkpoints").name == "step_0000000500"


def test_realtime_loop_learns_between_set_actions_and_step(tmp_path: Path) -> None:
    config = resolve_config(
        None,
        [
            *TINY,
            f"train.run_dir={tmp_path / 'rt'}",
            "train.realtime=true",
            "train.num_envs=1",
            "train.total_steps=60",
            "train.start_steps=20",
            "train.updates_per_step=4",
            "agent.batch_size=8",
            "train.eval_at_end=false",
            "train.log_episodes=false",
            "env.ego_sampling_freq=50",  # 20 ms periods: 1.2 s of real time
            "sim.physics_hz=200",
        ],
    )
    steps: list[int] = []

    class Watch(Callback):
        def on_step(self, trainer: Trainer) -> None:
            env = trainer.envs.realtime_env()
            steps.append(env.realtime_steps)

    result = run_training(config, callbacks=[Watch()])
    assert result.summary["env_steps"] == 60
    assert steps[-1] == 60  # every step went through step(None) of the paced env
    budget = 4 * (60 - 20)
    skipped = json.loads(
        (latest_checkpoint(tmp_path / "rt" / "checkpoints") / "meta.json").read_text()
    )["extra"]["counters"]["updates_skipped"]
    assert 0 < result.summary["updates"] and result.summary["updates"] + skipped == budget


def test_wandb_without_the_package_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    code = main(["train", *TINY, "wandb=offline", f"train.run_dir={tmp_path / 'w'}"])
    assert code == 1
    assert "pip install 'acgym[wandb]'" in capsys.readouterr().err

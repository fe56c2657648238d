"""Distributed runs on a local Ray of two CPUs, on loopback only (started once here): a
run whose worker is killed (replaced, its files, exactly-once storage) and its resume,
two workers driving two ``acgym sim serve`` processes (one killed and started again
mid-run), a sweep of three seeds on two tracks and its resumption, evaluations spread
over two workers."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dist_helpers import TINY, count_unique, free_ports, stored_rows, tiny_config

from acgym.cli import main
from acgym.dist.pool import LOCAL_ONLY_ENV
from acgym.dist.run import run_distributed
from acgym.rl.run import resolve_config
from acgym.rl.trainer import Callback, Trainer
from acgym.suite.layout import run_dir
from acgym.suite.table import CSV_FILE


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """A Ray of this machine alone: two CPUs, listening on loopback only."""
    os.environ[LOCAL_ONLY_ENV] = "0"  # before Ray is imported: loopback only
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=256 * 1024 * 1024,
        logging_level=logging.WARNING,
        configure_logging=False,
    )
    assert {key for key in ray.cluster_resources() if key.startswith("node:1")} == {
        "node:127.0.0.1"
    }
    yield ray
    ray.shutdown()


class Capture(Callback):
    """Keeps the trainer (its replay is checked after the run) and, once past
    ``at_steps``, calls ``action`` once."""

    def __init__(self, at_steps: int = 0, action: Any = None) -> None:
        self.trainer: Trainer | None = None
        self.at_steps, self.action = at_steps, action

    def on_step(self, trainer: Trainer) -> None:
        self.trainer = trainer
        if self.action is not None and trainer.counters.env_steps >= self.at_steps:
            action, self.action = self.action, None
            action()


def _check_exactly_once(capture: Capture, summary: dict[str, Any]) -> None:
    """Every delivered transition is in the replay, once."""
    assert capture.trainer is not None
    replay = capture.trainer.agent.replay
    delivered = summary["distributed"]["transitions"]
    assert len(replay) == summary["env_steps"] == delivered
    assert count_unique(stored_rows(replay)) == len(replay)


def test_a_run_whose_worker_is_killed_finishes_with_its_files_and_resumes(
    ray_local: Any, tmp_path: Path
) -> None:
    """The worker's replacement takes over, every delivered transition is stored once,
    the run writes its checkpoints, logs and summary, and a resume goes on."""
    run_dir = tmp_path / "run"
    pools: list[Any] = []

    def kill_worker_0() -> None:
        pid = ray_local.get(pools[0].actor(0).pid.remote())
        os.kill(pid, signal.SIGKILL)

    capture = Capture(at_steps=150, action=kill_worker_0)
    config = tiny_config(
        "train.workers=2",
        "train.num_envs=2",
        "train.total_steps=500",
        "train.checkpoint_interval=250",
        f"train.run_dir={run_dir}",
    )
    summary = run_distributed(config, callbacks=[capture], pool_hook=pools.append).summary
    assert capture.action is None, "the worker was not killed"
    assert summary["env_steps"] >= 500 and summary["updates"] > 0
    _check_exactly_once(capture, summary)
    dist = summary["distributed"]
    assert dist["failures"] == 1 and dist["restarts"] == 1 and dist["duplicates"] == 0
    assert dist["policy_version"] >= 0  # weights went out
    assert len(dist["workers_at_end"]) == 2  # the replacement answered at the end
    for worker in dist["workers_at_end"]:  # nothing recorded went missing on a worker
        assert worker["produced"] == worker["sealed"] + worker["pending"] + worker["discarded"]
    assert sum(w["acked"] for w in dist["workers_at_end"]) <= dist["transitions"]
    checkpoints = sorted((run_dir / "checkpoints").glob("step_*"))
    assert len(checkpoints) >= 2 and (run_dir / "checkpoints" / "latest").is_file()
    assert list((run_dir / "tb").iterdir())
    assert json.loads((run_dir / "laps.json").read_text())["env_steps"] == summary["env_steps"]
    saved = json.loads((run_dir / "summary.json").read_text())
    assert saved["distributed"]["workers"] == 2 and saved["distributed"]["failures"] == 1
    for slot in (0, 1):
        assert (run_dir / "workers" / f"w{slot}" / "env_config.yaml").is_file()

    resumed = resolve_config(None, [f"train.resume={run_dir}", "train.total_steps=700"])
    capture = Capture()
    again = run_distributed(resumed, callbacks=[capture]).summary
    assert again["env_steps"] >= 700
    assert capture.trainer is not None
    assert capture.trainer.agent.num_updates > summary["updates"]  # the networks went on
    assert len(capture.trainer.agent.replay) == again["env_steps"] - summary["env_steps"]


def _serve(track: str, ego: int, mgmt: int) -> subprocess.Popen[bytes]:
    """``acgym sim serve`` on loopback, lock-step offered, stopping by itself."""
    return subprocess.Popen(
        [sys.executable, "-m", "acgym", "sim", "serve", "--track", track, "--lockstep",
         "--host", "127.0.0.1", "--ego-port", str(ego), "--mgmt-port", str(mgmt),
         "--duration-s", "240"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_two_workers_drive_two_sim_servers_and_one_reconnects_after_its_server_is_killed(
    ray_local: Any, tmp_path: Path
) -> None:
    ports = free_ports(4)
    servers = [_serve("oval", ports[0], ports[1]), _serve("oval", ports[2], ports[3])]

    def restart_server_1() -> None:
        servers[1].kill()
        servers[1].wait()
        servers.append(_serve("oval", ports[2], ports[3]))

    capture = Capture(at_steps=200, action=restart_server_1)
    config = tiny_config(
        "backend=remote",
        "remote.mode=lockstep",
        f"remote.hosts=[127.0.0.1:{ports[0]}:{ports[1]}, 127.0.0.1:{ports[2]}:{ports[3]}]",
        "remote.timeout_s=2.0",
        "remote.reconnect_interval_s=0.5",
        "train.workers=2",
        "train.num_envs=1",
        "train.total_steps=600",
        "train.checkpoint_interval=0",
        f"train.run_dir={tmp_path / 'run'}",
    )
    try:
        summary = run_distributed(config, callbacks=[capture]).summary
    finally:
        for server in servers:
            server.kill()
            server.wait()
    assert capture.action is None, "the server was not killed"
    dist = summary["distributed"]
    assert summary["env_steps"] >= 600
    assert dist["disconnects"] >= 1 and dist["failures"] == 0
    assert dist["hosts"] == [f"127.0.0.1:{ports[0]}:{ports[1]}", f"127.0.0.1:{ports[2]}:{ports[3]}"]
    _check_exactly_once(capture, summary)


@pytest.fixture(scope="module")
def sweep(ray_local: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A sweep of three seeds on two tracks, run from the command line: its folder and
    what it printed."""
    out = tmp_path_factory.mktemp("sweep")
    items = [item for item in TINY if not item.startswith(("env.track", "train.eval_at_end"))]
    command = ["sweep", "run", "--tracks", "oval,fast_circuit", "--seeds", "3", "--steps", "120"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*command, "--out", str(out), *items]) == 0
    return out, printed.getvalue()


SWEEP_TASKS = ("dallara_f317-oval", "dallara_f317-fast_circuit")


def test_a_sweep_of_three_seeds_on_two_tracks_prints_its_table(sweep: tuple[Path, str]) -> None:
    out, printed = sweep
    assert "sweep: 6 trained" in printed
    with (out / CSV_FILE).open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["seed"] not in ("", "median")]
    assert sorted((row["task"], row["seed"]) for row in rows) == sorted(
        (task, str(seed)) for task in SWEEP_TASKS for seed in range(3)
    )
    assert all(row["status"] == "finished" for row in rows)
    for row in rows:
        assert row["task"] in printed and row["train_time_s"]


def test_a_killed_sweep_run_is_resumed_and_the_finished_ones_skipped(
    sweep: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = sweep
    killed = run_dir(out, SWEEP_TASKS[0], 2)  # as if killed after its last checkpoint
    (killed / "summary.json").unlink()
    assert main(["sweep", "resume", str(out)]) == 0
    assert "sweep: 1 resumed, 5 skipped" in capsys.readouterr().out
    assert (killed / "summary.json").is_file()


def test_evaluations_of_two_checkpoints_on_two_tracks_spread_over_two_workers(
    sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = sweep
    runs = [run_dir(out, task, 0) for task in SWEEP_TASKS]
    command = ["eval", "--no-expert", "--workers", "2", "--out", str(tmp_path)]
    command += ["--checkpoint", str(runs[0]), "--checkpoint", str(runs[1])]
    command += ["--track", "oval", "--track", "fast_circuit"]
    assert main(command) == 0
    assert "4 of 4 evaluations done" in capsys.readouterr().out
    reports = [json.loads(p.read_text()) for p in tmp_path.glob("*/eval_report.json")]
    assert len(reports) == 4
    assert sorted(r["track"] for r in reports) == ["fast_circuit", "fast_circuit", "oval", "oval"]
    assert len({r["checkpoint"] for r in reports}) == 2

"""Distributed runs on a local Ray of two CPUs, on loopback only (started once here):
a short run's files and exactly-once storage, a killed worker replaced and the run
resumed, two workers driving two ``acgym sim serve`` processes (one killed and started
again mid-run), a sweep of three seeds on two tracks and its resumption."""

from __future__ import annotations

import csv
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


def test_a_short_distributed_run_writes_its_files_and_stores_each_transition_once(
    ray_local: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    capture = Capture()
    config = tiny_config(
        "train.workers=2",
        "train.num_envs=2",
        "train.total_steps=400",
        "train.checkpoint_interval=200",
        f"train.run_dir={run_dir}",
    )
    result = run_distributed(config, callbacks=[capture])
    summary = result.summary
    assert summary["env_steps"] >= 400 and summary["updates"] > 0
    _check_exactly_once(capture, summary)
    dist = summary["distributed"]
    assert dist["duplicates"] == dist["failures"] == dist["discarded_transitions"] == 0
    assert dist["policy_version"] >= 0  # weights went out
    for worker in dist["workers_at_end"]:  # nothing recorded went missing on a worker
        assert worker["produced"] == worker["sealed"] + worker["pending"] + worker["discarded"]
        assert worker["version"] >= 0
    assert sum(w["acked"] for w in dist["workers_at_end"]) <= dist["transitions"]
    assert dist["transitions"] <= sum(w["sealed"] for w in dist["workers_at_end"])
    checkpoints = sorted((run_dir / "checkpoints").glob("step_*"))
    assert len(checkpoints) >= 2 and (run_dir / "checkpoints" / "latest").is_file()
    assert list((run_dir / "tb").iterdir())
    assert json.loads((run_dir / "laps.json").read_text())["env_steps"] == summary["env_steps"]
    assert json.loads((run_dir / "summary.json").read_text())["distributed"]["workers"] == 2
    for slot in (0, 1):
        assert (run_dir / "workers" / f"w{slot}" / "env_config.yaml").is_file()


def test_a_killed_worker_is_replaced_the_run_finishes_and_resumes(
    ray_local: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    pools: list[Any] = []

    def kill_worker_0() -> None:
        pid = ray_local.get(pools[0].actor(0).pid.remote())
        os.kill(pid, signal.SIGKILL)

    capture = Capture(at_steps=150, action=kill_worker_0)
    config = tiny_config(
        "train.workers=2",
        "train.num_envs=1",
        "train.total_steps=500",
        "train.checkpoint_interval=250",
        f"train.run_dir={run_dir}",
    )
    summary = run_distributed(config, callbacks=[capture], pool_hook=pools.append).summary
    assert capture.action is None, "the worker was not killed"
    dist = summary["distributed"]
    assert dist["failures"] == 1 and dist["restarts"] == 1
    assert summary["env_steps"] >= 500
    _check_exactly_once(capture, summary)

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


def test_a_sweep_of_three_seeds_on_two_tracks_prints_its_table_and_resumes(
    ray_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    items = [item for item in TINY if not item.startswith(("env.track", "train.eval_at_end"))]
    command = ["sweep", "run", "--tracks", "oval,fast_circuit", "--seeds", "3", "--steps", "120"]
    assert main([*command, "--out", str(out), *items]) == 0
    printed = capsys.readouterr().out
    assert "sweep: 6 trained" in printed
    with (out / CSV_FILE).open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["seed"] not in ("", "median")]
    assert sorted((row["task"], row["seed"]) for row in rows) == sorted(
        (task, str(seed))
        for task in ("dallara_f317-oval", "dallara_f317-fast_circuit")
        for seed in range(3)
    )
    assert all(row["status"] == "finished" for row in rows)
    for row in rows:
        assert row["task"] in printed and row["train_time_s"]

    killed = run_dir(out, "dallara_f317-oval", 1)  # as if killed after its last checkpoint
    (killed / "summary.json").unlink()
    assert main(["sweep", "resume", str(out)]) == 0
    assert "sweep: 1 resumed, 5 skipped" in capsys.readouterr().out
    assert (killed / "summary.json").is_file()

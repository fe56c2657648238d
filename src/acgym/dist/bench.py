"""``acgym bench dist``: what the distributed parts cost (docs/distributed.md, "Figures").

* ``transport``: transitions per second through the transport alone: Ray actors that
  hand out batches of segments (the default observation, 125 values, and 3 actions; the
  batches packed afresh each time, as a worker does) and this process taking them as
  the learner does (each message checked, its stream's sequence, an acknowledgement
  with every request), with and without storing them in an n-step replay;
* ``weights``: the policy's weights (the default networks): their size, and the time
  to export them and put them in Ray's object store, and for a worker to receive them;
* ``loop``: env steps and gradient updates per second of a training on the oval, for a
  fixed training time: the single-process loop, then Ray with 1, 2 and 4 workers of
  ``train.num_envs`` cars each, at the default update-to-data ratio and with none (the
  collection alone); one PyTorch thread everywhere (the setting of a busy machine).

Ray is started here (this machine alone, loopback).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from acgym.dist.transport import ACCEPTED, Batch, Inbox, Outbox, SegmentRecorder

OBS_DIM, ACTION_DIM = 125, 3
SEND_STEPS = 128
SEGMENTS_PER_BATCH = 8
"""A worker of 4 cars replying every 256 steps."""


class SyntheticSource:
    """A stand-in worker (a Ray actor): replies with freshly packed batches of random
    segments, like :meth:`acgym.dist.worker.RolloutWorker.poll`."""

    def __init__(self, slot: int) -> None:
        rng = np.random.default_rng(slot)
        self.segments = []
        for car in range(SEGMENTS_PER_BATCH):
            recorder = SegmentRecorder(car, OBS_DIM, ACTION_DIM, SEND_STEPS)
            for _ in range(SEND_STEPS):
                recorder.add(rng.normal(size=OBS_DIM), rng.uniform(-1, 1, ACTION_DIM), 1.0)
            self.segments.append(recorder.close(rng.normal(size=OBS_DIM), False))
        self.outbox = Outbox(slot, 0)

    def poll(self, ack: int) -> dict[str, Any]:
        self.outbox.ack(ack)
        self.outbox.seal(0, self.segments, (), (), obs_dim=OBS_DIM, action_dim=ACTION_DIM)
        return {"batches": [b.to_message() for b in self.outbox.unacked()], "status": {}}

    def receive(self, weights: dict[str, Any]) -> int:
        """Bytes of the weights received (a worker's side of a broadcast)."""
        return int(sum(np.asarray(w).nbytes for w in weights.values()))


def _ray() -> Any:
    from acgym.dist.pool import connect_ray

    return connect_ray(None, max(os.cpu_count() or 1, 4))


def bench_transport(sources: int, seconds: float, store: bool) -> dict[str, float]:
    """Transitions/s from ``sources`` stand-in workers through Ray into this process."""
    from acgym.dist.learner import store_segment
    from acgym.rl.replay import NStepReplay

    ray = _ray()
    actors = [ray.remote(num_cpus=0)(SyntheticSource).remote(slot) for slot in range(sources)]
    inbox = Inbox()
    replay = NStepReplay(1_000_000, OBS_DIM, ACTION_DIM, 0.99, 3) if store else None
    for slot in range(sources):
        inbox.open(slot, 0)
    pending = {actor.poll.remote(-1): slot for slot, actor in enumerate(actors)}
    transitions, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            slot = pending.pop(ref)
            for message in ray.get(ref)["batches"]:
                batch = Batch.from_message(message, OBS_DIM, ACTION_DIM)
                if inbox.receive(batch) != ACCEPTED:
                    continue
                if replay is not None:
                    for segment in batch.segments():
                        store_segment(replay, segment)
                inbox.commit(batch)
                transitions += batch.num_transitions
            pending[actors[slot].poll.remote(inbox.acked(slot))] = slot
    elapsed = time.perf_counter() - start
    ray.wait(list(pending), num_returns=len(pending))
    for actor in actors:
        ray.kill(actor)
    batch_bytes = SEGMENTS_PER_BATCH * ((SEND_STEPS + 1) * OBS_DIM * 4 + SEND_STEPS * 16)
    return {
        "sources": sources,
        "store": store,
        "transitions_per_s": transitions / elapsed,
        "batch_transitions": SEGMENTS_PER_BATCH * SEND_STEPS,
        "bytes_per_transition": batch_bytes / (SEGMENTS_PER_BATCH * SEND_STEPS),
    }


def bench_weights(rounds: int) -> dict[str, float]:
    """The default policy's weights: size, export + put, and a worker's receipt."""
    from acgym.config import load_config
    from acgym.dist.worker import policy_weights
    from acgym.rl.trainer import make_agent

    ray = _ray()
    agent_config = load_config(None, ["agent.replay_size=1", "agent.device=cpu"]).agent
    agent = make_agent(agent_config, OBS_DIM, ACTION_DIM)
    actor = ray.remote(num_cpus=0)(SyntheticSource).remote(0)
    ray.get(actor.receive.remote(policy_weights(agent)))  # started
    put_s, round_trip_s, size = [], [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        ref = ray.put(policy_weights(agent))
        put_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        size = ray.get(actor.receive.remote(ref))
        round_trip_s.append(time.perf_counter() - start)
    ray.kill(actor)
    return {
        "weights_bytes": size,
        "export_and_put_ms": 1e3 * float(np.median(put_s)),
        "worker_receipt_ms": 1e3 * float(np.median(round_trip_s)),
    }


LOOP_SETTINGS = {
    "single process": ("train.workers=1",),
    "1 worker": ("train.workers=1", "train.ray_address=local"),
    "2 workers": ("train.workers=2",),
    "4 workers": ("train.workers=4",),
}


def bench_loop(
    seconds: float, ratios: Sequence[float | None], out_root: str
) -> list[dict[str, Any]]:
    """Steps/s and updates/s of a training of ``seconds`` per setting and ratio (None:
    the default ratio)."""
    from acgym.config import load_config
    from acgym.dist.run import run_distributed
    from acgym.rl.run import run_training

    logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    rows = []
    for ratio in ratios:
        for label, items in LOOP_SETTINGS.items():
            name = f"{label.replace(' ', '_')}_{'default' if ratio is None else ratio}"
            config = load_config(
                None,
                [
                    "env.track=oval",
                    f"train.time_limit_s={seconds}",
                    "train.total_steps=100000000",
                    "train.eval_at_end=false",
                    "train.progress=false",
                    "train.log_episodes=false",
                    "train.checkpoint_interval=0",
                    "agent.num_threads=1",  # the busy machine's setting (training.md)
                    f"train.run_dir={out_root}/{name}",
                    *([] if ratio is None else [f"train.updates_per_step={ratio}"]),
                    *items,
                ],
            )
            run = run_distributed if config.distributed else run_training
            summary = run(config).summary
            rows.append(
                {
                    "setting": label,
                    "updates_per_step": config.train.updates_per_step,
                    "cars_per_worker": config.train.num_envs,
                    "env_steps": summary["env_steps"],
                    "updates": summary["updates"],
                    "train_time_s": summary["train_time_s"],
                    "steps_per_s": summary["env_steps"] / summary["train_time_s"],
                    "updates_per_s": summary["updates"] / summary["train_time_s"],
                    "load_average": summary["load_average"],
                }
            )
    return rows


def warm_up(args: argparse.Namespace) -> None:
    """Start Ray (the first start is the slow one)."""
    _ray()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure (``args.quick``: short runs)."""
    import tempfile

    seconds = 3.0 if args.quick else 10.0
    results: dict[str, Any] = {
        "load_average_before": list(os.getloadavg()),
        "transport": [
            bench_transport(sources, seconds, store)
            for store in (False, True)
            for sources in (1, 2)
        ],
        "weights": bench_weights(5 if args.quick else 50),
    }
    with tempfile.TemporaryDirectory(prefix="acgym_bench_dist_") as root:
        ratios = (None,) if args.quick else (None, 0.0)
        results["loop"] = bench_loop(15.0 if args.quick else 60.0, ratios, root)
    results["load_average_after"] = list(os.getloadavg())
    return results


__all__ = ["SyntheticSource", "bench_loop", "bench_transport", "bench_weights", "run", "warm_up"]

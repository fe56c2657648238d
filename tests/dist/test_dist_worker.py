"""A rollout worker and the learner's bookkeeping, in this process (no Ray)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from dist_helpers import count_unique, stored_rows, tiny_config

from acgym.dist.learner import FAILED, REPLY, STARTED, Learner, PoolEvent
from acgym.dist.run import worker_spaces
from acgym.dist.transport import ACCEPTED, Batch, Inbox, Outbox, SegmentRecorder
from acgym.dist.worker import BACKPRESSURE_FACTOR, RolloutWorker
from acgym.rl.config import AgentConfig, TrainerConfig
from acgym.rl.run import LapStats
from acgym.rl.trainer import Trainer, make_agent


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def worker() -> Iterator[RolloutWorker]:
    """Two simulated cars, collecting in a background thread."""
    worker = RolloutWorker(tiny_config("train.num_envs=2").to_dict(), slot=0)
    worker.describe()
    yield worker
    worker.stop()


def test_a_worker_sends_an_unacknowledged_batch_again_and_it_is_stored_once(
    worker: RolloutWorker,
) -> None:
    info = worker.env_info
    assert info is not None
    inbox = Inbox()
    inbox.open(0, 0)
    stored: list[int] = []
    replies = [worker.poll(ack=-1, wait_s=60.0), worker.poll(ack=-1, wait_s=60.0)]
    for reply in replies:  # the first acknowledgement was lost: the second poll retries
        for message in reply["batches"]:
            batch = Batch.from_message(message, info["obs_dim"], info["action_dim"])
            if inbox.receive(batch) == ACCEPTED:
                inbox.commit(batch)
                stored.append(batch.seq)
    assert stored == list(range(len(stored))) and stored
    assert inbox.totals().duplicates >= 1
    after = worker.poll(ack=inbox.acked(0), wait_s=60.0)
    assert all(message["seq"] > inbox.acked(0) for message in after["batches"])


def _poll_until(worker: RolloutWorker, ack: int, done: Any) -> dict[str, int]:
    """Poll (without acknowledging more than ``ack``) until ``done(status)``, at most a
    minute's worth of half-second pauses."""
    for _ in range(120):
        status = worker.poll(ack=ack, wait_s=0.0)["status"]
        if done(status):
            return status
        time.sleep(0.5)
    raise AssertionError(f"the worker never got there: {status}")


def test_a_lock_step_worker_waits_for_acknowledgements(worker: RolloutWorker) -> None:
    bound = (BACKPRESSURE_FACTOR + 1) * worker.send_steps * worker.num_envs
    status = _poll_until(worker, -1, lambda s: s["waiting"])
    assert status["unacked"] + status["pending"] <= bound
    assert status["produced"] == status["sealed"] + status["pending"] + status["discarded"]
    assert worker.poll(ack=-1, wait_s=0.0)["status"]["produced"] == status["produced"]
    latest = max(message["seq"] for message in worker.poll(ack=-1, wait_s=0.0)["batches"])
    resumed = _poll_until(worker, latest, lambda s: s["produced"] > status["produced"])
    assert resumed["acked"] > status["acked"]


# ---------------------------------------------------------------- the learner


class ScriptedPool:
    """The learner's view of workers, playing back events (a test double of RayPool)."""

    def __init__(self, events: list[PoolEvent]) -> None:
        self.queue = list(events)
        self.replaced: list[int] = []
        self.requests: list[tuple[int, int]] = []
        self.when_done: Any = None

    def events(self, timeout_s: float) -> list[PoolEvent]:
        if not self.queue and self.when_done is not None:
            self.when_done()
        out, self.queue = self.queue[:1], self.queue[1:]
        return out

    def idle(self) -> list[int]:
        return [0]

    def request(self, slot: int, ack: int, version: int, weights: Any) -> None:
        self.requests.append((slot, ack))

    def publish(self, weights: Any) -> Any:
        return "weights"

    def replace(self, slot: int) -> bool:
        self.replaced.append(slot)
        return True

    def active(self) -> int:
        return 1


OBS, ACT = 4, 2


def _learner(pool: ScriptedPool) -> Learner:
    info = {
        "obs_dim": OBS,
        "action_dim": ACT,
        "action_low": [-1.0] * ACT,
        "action_high": [1.0] * ACT,
        "observation_layout": None,
        "num_envs": 1,
    }
    agent = make_agent(AgentConfig(replay_size=1000, batch_size=8, actor_hidden=(8,)), OBS, ACT)
    trainer = Trainer(
        worker_spaces(info),  # type: ignore[arg-type]
        TrainerConfig(start_steps=10_000, progress=False),
        agent=agent,
    )
    return Learner(
        trainer, pool, LapStats(None, 1), info, realtime=False, weight_sync_updates=5, send_steps=8
    )


def _reply(outbox: Outbox, *lengths: int) -> dict[str, Any]:
    for length in lengths:
        recorder = SegmentRecorder(0, OBS, ACT, max_steps=length)
        rng = np.random.default_rng(outbox.sealed_transitions)
        for _ in range(length):
            recorder.add(rng.normal(size=OBS), rng.uniform(-1, 1, ACT), 1.0)
        outbox.seal(
            -1, [recorder.close(rng.normal(size=OBS), False)], (), (), obs_dim=OBS, action_dim=ACT
        )
    return {"batches": [b.to_message() for b in outbox.unacked()], "status": {}}


def test_the_learner_stores_a_retried_reply_once() -> None:
    outbox = Outbox(0, 0)
    first = _reply(outbox, 5)
    retried = _reply(outbox, 3)  # batch 0 again (its acknowledgement was lost) and batch 1
    pool = ScriptedPool(
        [
            PoolEvent(
                STARTED,
                0,
                {
                    "obs_dim": OBS,
                    "action_dim": ACT,
                    "observation_layout": None,
                    "incarnation": 0,
                    "num_envs": 1,
                },
            ),
            PoolEvent(REPLY, 0, first),
            PoolEvent(REPLY, 0, retried),
        ]
    )
    learner = _learner(pool)
    learner.run(total_steps=8)
    replay = learner.trainer.agent.replay
    assert learner.trainer.counters.env_steps == len(replay) == 8
    assert count_unique(stored_rows(replay)) == 8
    assert learner.stats()["duplicates"] == 1
    assert pool.requests[-1] == (0, 1)  # both batches acknowledged


def test_a_reply_with_a_malformed_batch_stores_the_good_one_whole_and_none_of_the_bad() -> None:
    outbox = Outbox(0, 0)
    reply = _reply(outbox, 6, 4)
    reply["batches"][1]["actions"] = np.zeros((4, ACT + 1), np.float32)  # corrupted
    pool = ScriptedPool(
        [
            PoolEvent(
                STARTED,
                0,
                {
                    "obs_dim": OBS,
                    "action_dim": ACT,
                    "observation_layout": None,
                    "incarnation": 0,
                    "num_envs": 1,
                },
            ),
            PoolEvent(REPLY, 0, reply),
            PoolEvent(FAILED, 0, "stop here"),
        ]
    )
    learner = _learner(pool)
    pool.when_done = learner.trainer.stop
    learner.run(total_steps=10)
    assert len(learner.trainer.agent.replay) == 6
    assert pool.replaced == [0, 0]  # the bad message, then the scripted failure
    assert learner.stats()["failures"] == 2

"""The learner of a distributed run: stores what the workers deliver, runs ``rl``'s
update, broadcasts the policy.

:class:`Learner` drives a :class:`acgym.rl.trainer.Trainer` that never steps an env (its
networks, replay, counters, checkpoints, TensorBoard and callbacks are the single-process
run's) from the events of a :class:`WorkerPool`:

1. a worker's reply: each batch is checked against its stream (:class:`acgym.dist.
   transport.Inbox`: a duplicate or a batch after a gap is not stored), its segments go
   into the replay whole (``NStepReplay.add_episode``), its laps and episode ends to the
   callbacks, and only then is it acknowledged (with the worker's next request);
2. ``train.updates_per_step`` gradient updates per stored transition, once
   ``train.start_steps`` transitions are in and the replay holds a batch. A lock-step
   worker is asked for more only when the updates due are done (the ratio holds as in
   the single-process loop); real-time workers (the game) are always asked, and updates
   that fall more than a few segments behind are skipped and counted
   (``time/updates_skipped``), as in the single-process real-time loop;
3. every ``train.weight_sync_updates`` updates, the policy's weights go to the workers
   (version = the update count; random actions until ``train.start_steps``); each batch
   says which version it was collected with, and the staleness (updates between the two)
   is logged;
4. a worker that dies or fails: its unacknowledged batches and open segments are
   discarded (counted as of its last reply), the pool replaces it, and the others go
   on. Every loss is in the log and TensorBoard (``dist/*``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch

from acgym.dist.transport import ACCEPTED, RANDOM_POLICY, Batch, Inbox, Segment, StreamStats
from acgym.dist.worker import policy_weights
from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.rl.replay import EnsembleReplay, NStepReplay
from acgym.rl.run import LapStats
from acgym.rl.trainer import EpisodeStats, Trainer, crossed

logger = logging.getLogger(__name__)

STARTED, REPLY, FAILED = "started", "reply", "failed"
"""Kinds of :class:`PoolEvent`."""
UPDATE_CHUNK = 16
"""Gradient updates between two looks at the workers' replies."""
REALTIME_BACKLOG_SEGMENTS = 4
"""Real time: updates due beyond this many segments' worth (of one worker's cars) are
skipped."""


class PoolEvent(NamedTuple):
    """What happened to a worker slot."""

    kind: str
    """:data:`STARTED` (value: the worker's description, with ``incarnation``),
    :data:`REPLY` (value: what ``RolloutWorker.poll`` returned) or :data:`FAILED`
    (value: the error, as text)."""
    slot: int
    value: Any


class WorkerPool(Protocol):
    """The workers as the learner sees them (:class:`acgym.dist.pool.RayPool`)."""

    def events(self, timeout_s: float) -> list[PoolEvent]:
        """What happened since the last call (waiting up to ``timeout_s`` for something)."""
        ...

    def idle(self) -> list[int]:
        """The slots with a running worker and no request in flight."""
        ...

    def request(self, slot: int, ack: int, version: int, weights: Any) -> None:
        """Ask ``slot``'s worker for its batches (``ack``: the acknowledgement; the
        weights of ``version`` go along when the worker has an older one)."""
        ...

    def publish(self, weights: Mapping[str, Any]) -> Any:
        """Share new weights with the workers; returns what :meth:`request` takes."""
        ...

    def replace(self, slot: int) -> bool:
        """Replace ``slot``'s failed worker; False when its restarts are used up."""
        ...

    def active(self) -> int:
        """Slots with a worker running or starting."""
        ...


@dataclasses.dataclass
class SlotRecord:
    """The learner's bookkeeping of one worker slot."""

    incarnation: int = -1
    status: dict[str, int] = dataclasses.field(default_factory=dict)
    """The worker's counters in its last reply."""
    stored_last: int = 0
    """Transitions stored from its last reply."""
    dead_disconnects: int = 0
    """Disconnects counted by its previous incarnations."""
    dead_discarded: int = 0
    """Transitions discarded by its previous incarnations' own env failures."""
    restarts: int = 0


def store_segment(replay: NStepReplay, segment: Segment) -> None:
    """Store a segment whole, with its n-step returns: a terminal last step does not
    bootstrap, a segment that ends otherwise is a truncation that does."""
    terminated = np.zeros(segment.length, dtype=bool)
    terminated[-1] = segment.terminated
    replay.add_episode(
        segment.observations[:-1],
        segment.actions,
        segment.rewards,
        segment.observations[1:],
        terminated,
        truncated=not segment.terminated,
    )


class Learner:
    """Runs a distributed training's learning side (see the module docstring).

    Args:
        trainer: The agent, counters, checkpoints and logs (built on the workers'
            spaces, never stepped).
        pool: The workers.
        laps: The run's lap totals (fed from the workers' lap records).
        spaces: A worker's description: ``obs_dim``, ``action_dim``,
            ``observation_layout``, ``num_envs``.
        realtime: The workers drive real-time cars (the game).
        weight_sync_updates: Updates between two broadcasts of the weights.
        send_steps: A segment's longest length (for the real-time backlog).
    """

    def __init__(
        self,
        trainer: Trainer,
        pool: WorkerPool,
        laps: LapStats,
        spaces: Mapping[str, Any],
        *,
        realtime: bool,
        weight_sync_updates: int,
        send_steps: int,
    ) -> None:
        self.trainer = trainer
        self.pool = pool
        self.laps = laps
        self.obs_dim = int(spaces["obs_dim"])
        self.action_dim = int(spaces["action_dim"])
        self.layout = spaces.get("observation_layout")
        self.cars_per_worker = int(spaces["num_envs"])
        self.realtime = realtime
        self.weight_sync_updates = weight_sync_updates
        self.send_steps = send_steps
        replay = trainer.agent.replay
        self.replay: NStepReplay = replay.online if isinstance(replay, EnsembleReplay) else replay
        self.inbox = Inbox()
        self.slots: dict[int, SlotRecord] = {}
        self.version = RANDOM_POLICY
        self._weights: Any = None
        self._staleness: list[int] = []
        self.updates_skipped = 0

    # --------------------------------------------------------------- events
    def _started(self, slot: int, info: Mapping[str, Any]) -> None:
        for key in ("obs_dim", "action_dim", "observation_layout"):
            mine = {"obs_dim": self.obs_dim, "action_dim": self.action_dim}.get(key, self.layout)
            if info.get(key) != mine:
                raise ConfigError(
                    f"worker {slot} ({info.get('node')}, {info.get('host') or 'simulator'}) has "
                    f"{key} {info.get(key)!r}, the others {mine!r}: every worker must drive the "
                    "same env (same acgym version and settings on every machine)"
                )
        record = self.slots.setdefault(slot, SlotRecord())
        record.incarnation = int(info["incarnation"])
        record.status, record.stored_last = {}, 0
        self.inbox.open(slot, record.incarnation)
        logger.info(
            "worker %d (incarnation %d) drives %s on %s (pid %s)",
            slot,
            record.incarnation,
            info.get("host") or f"{info['num_envs']} simulated cars",
            info.get("node"),
            info.get("pid"),
        )

    def _failed(self, slot: int, error: str) -> None:
        record = self.slots.setdefault(slot, SlotRecord())
        stats = self.inbox.stats.setdefault(slot, StreamStats())
        stats.failures += 1
        status = record.status
        discarded = status.get("pending", 0) + max(0, status.get("unacked", 0) - record.stored_last)
        stats.discarded_transitions += discarded
        record.dead_disconnects += status.get("disconnects", 0)
        record.dead_discarded += status.get("discarded", 0)
        record.status, record.stored_last = {}, 0
        replaced = self.pool.replace(slot)
        if replaced:
            record.restarts += 1
        logger.warning(
            "worker %d failed (%s): %d transitions of its last reply's unacknowledged batches "
            "and open segments discarded; %s",
            slot,
            error,
            discarded,
            "replacing it" if replaced else "no restart left: the run goes on without it",
        )

    def _reply(self, slot: int, reply: Mapping[str, Any]) -> int:
        """Store the reply's new batches; returns the transitions stored."""
        record = self.slots[slot]
        stored = 0
        for message in reply["batches"]:
            batch = Batch.from_message(message, self.obs_dim, self.action_dim)
            if self.inbox.receive(batch) != ACCEPTED:
                continue
            stored += self._store(slot, batch)
            self.inbox.commit(batch)
        record.status = dict(reply["status"])
        record.stored_last = stored
        return stored

    def _store(self, slot: int, batch: Batch) -> int:
        trainer, counters = self.trainer, self.trainer.counters
        for segment in batch.segments():
            store_segment(self.replay, segment)
        counters.env_steps += batch.num_transitions
        counters.iterations += 1
        if batch.policy_version != RANDOM_POLICY and batch.num_transitions:
            self._staleness.append(trainer.agent.num_updates - batch.policy_version)
        for lap in batch.laps:
            self.laps.record_lap(trainer, lap.time_s, lap.clean)
        for end in batch.episodes:
            trainer.episode_end(
                EpisodeStats(
                    slot * self.cars_per_worker + end.car,
                    counters.episodes + 1,
                    end.episode_return,
                    end.length,
                    end.terminated,
                    {},
                    counters.env_steps,
                )
            )
        return batch.num_transitions

    # ---------------------------------------------------------------- loop
    def _publish(self) -> None:
        agent = self.trainer.agent
        self._weights = self.pool.publish(policy_weights(agent))
        self.version = agent.num_updates

    def stats(self) -> dict[str, float]:
        """The delivery and fault counters, all slots together (``dist/*``)."""
        totals = self.inbox.totals()
        records = self.slots.values()
        disconnects = sum(r.dead_disconnects + r.status.get("disconnects", 0) for r in records)
        env_discarded = sum(r.dead_discarded + r.status.get("discarded", 0) for r in records)
        return {
            "batches": float(totals.batches),
            "transitions": float(totals.transitions),
            "duplicates": float(totals.duplicates),
            "gaps": float(totals.gaps),
            "stale_batches": float(totals.stale),
            "failures": float(totals.failures),
            "restarts": float(sum(r.restarts for r in records)),
            "disconnects": float(disconnects),
            "discarded_transitions": float(totals.discarded_transitions + env_discarded),
            "policy_version": float(self.version),
        }

    def run(self, total_steps: int) -> dict[str, float]:
        """Learn until ``total_steps`` env steps are stored or the trainer is stopped.

        Returns:
            What :meth:`Trainer.train` returns (counters, steps/s, last losses), plus
            ``dist``: :meth:`stats`.

        Raises:
            BackendError: Every worker failed and none can be replaced.
        """
        trainer, agent = self.trainer, self.trainer.agent
        config, counters = trainer.config, trainer.counters
        bar = None
        if config.progress:
            from tqdm import tqdm

            bar = tqdm(total=total_steps, initial=counters.env_steps, desc="train", unit="step")
        start_time = time.perf_counter()
        time_before, start_steps = counters.train_time_s, counters.env_steps
        window = (start_time, counters.env_steps, agent.num_updates)
        checkpointed_at = counters.env_steps
        metrics: dict[str, torch.Tensor] = {}
        if counters.env_steps >= config.start_steps:
            self._publish()
        backlog = REALTIME_BACKLOG_SEGMENTS * self.send_steps * self.cars_per_worker
        while counters.env_steps < total_steps and not trainer.stopping:
            if self.pool.active() == 0:
                raise BackendError(
                    "every worker failed and none can be replaced (train.worker_restarts): "
                    "see the workers' errors above"
                )
            before = counters.env_steps
            due = counters.update_budget >= 1.0
            for event in self.pool.events(0.0 if due else 0.5):
                if event.kind == STARTED:
                    self._started(event.slot, event.value)
                elif event.kind == FAILED:
                    self._failed(event.slot, str(event.value))
                else:
                    try:
                        stored = self._reply(event.slot, event.value)
                    except ProtocolError as exc:  # a bad message must not stop the run
                        self._failed(event.slot, str(exc))
                        continue
                    learning = (
                        counters.env_steps >= config.start_steps
                        and len(agent.replay) >= agent.config.batch_size
                    )
                    if learning:
                        counters.update_budget += config.updates_per_step * stored
            if self.realtime and counters.update_budget > backlog * config.updates_per_step:
                skipped = int(counters.update_budget - backlog * config.updates_per_step)
                counters.update_budget -= skipped
                counters.updates_skipped += skipped
            num_updates = min(int(counters.update_budget), UPDATE_CHUNK)
            if num_updates:
                metrics = trainer.online_update(num_updates)
                counters.update_budget -= num_updates
            if counters.env_steps >= config.start_steps and (
                self.version == RANDOM_POLICY
                or agent.num_updates - self.version >= self.weight_sync_updates
            ):
                self._publish()
            if self.realtime or counters.update_budget < 1.0:
                for slot in self.pool.idle():
                    self.pool.request(slot, self.inbox.acked(slot), self.version, self._weights)
            counters.train_time_s = time_before + time.perf_counter() - start_time
            if counters.env_steps == before:
                continue
            for callback in trainer.callbacks:
                callback.on_step(trainer)
            if bar is not None:
                bar.update(counters.env_steps - before)
            if crossed(before, counters.env_steps, config.log_interval):
                window = self._log(metrics, window)
            if config.eval_interval and crossed(before, counters.env_steps, config.eval_interval):
                trainer.run_evaluation()
            if config.checkpoint_interval and crossed(
                before, counters.env_steps, config.checkpoint_interval
            ):
                trainer.save_checkpoint()
                checkpointed_at = counters.env_steps
        elapsed = time.perf_counter() - start_time
        if bar is not None:
            bar.close()
        if trainer.run_dir is not None and checkpointed_at != counters.env_steps:
            trainer.save_checkpoint()
        if trainer.writer is not None:
            trainer.writer.flush()
        trainer.last_metrics = {key: float(value) for key, value in metrics.items()}
        return {
            **dataclasses.asdict(counters),
            "num_updates": agent.num_updates,
            "steps_per_s": (counters.env_steps - start_steps) / max(elapsed, 1e-9),
            **trainer.last_metrics,
        }

    def _log(
        self, metrics: Mapping[str, torch.Tensor], window: tuple[float, int, int]
    ) -> tuple[float, int, int]:
        trainer, counters = self.trainer, self.trainer.counters
        now = time.perf_counter()
        elapsed = max(now - window[0], 1e-9)
        updates = trainer.agent.num_updates
        rates = {
            "time/steps_per_s": (counters.env_steps - window[1]) / elapsed,
            "time/updates_per_s": (updates - window[2]) / elapsed,
        }
        if self.realtime:
            rates["time/updates_skipped"] = float(counters.updates_skipped)
        rates["dist/workers"] = float(self.pool.active())
        rates.update({f"dist/{key}": value for key, value in self.stats().items()})
        if self._staleness:
            rates["dist/staleness_updates_mean"] = float(np.mean(self._staleness))
            rates["dist/staleness_updates_max"] = float(np.max(self._staleness))
            self._staleness = []
        trainer.log_scalars(metrics, rates)
        return now, counters.env_steps, updates


__all__ = [
    "FAILED",
    "REPLY",
    "STARTED",
    "Learner",
    "PoolEvent",
    "SlotRecord",
    "WorkerPool",
    "store_segment",
]

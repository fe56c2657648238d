"""What travels from a rollout worker to the learner, and its exactly-once delivery.

A worker records each car's steps as a *segment*: the observations ``s_0 .. s_T``, the
actions ``a_0 .. a_{T-1}`` (normalised to ``[-1, 1]``) and the rewards ``r_0 .. r_{T-1}``
of ``T`` consecutive steps, closed when the car's episode ends (``terminated``: ``s_T`` is
terminal, else a truncation that bootstraps) or after ``train.send_steps`` steps (then
a truncation too, and the car's next segment starts from ``s_T``). A segment is
self-contained: the learner stores it whole, with its n-step returns, in one call
(``NStepReplay.add_episode``).

Closed segments travel in *batches*, with the episodes that ended and the laps
completed since the last batch. A batch is the unit of delivery:

* the worker numbers its batches ``0, 1, 2, ...`` (``seq``), per *stream*: the worker's
  slot and its incarnation (a replaced worker starts a new stream at 0);
* the learner acknowledges a batch only once it is stored; the acknowledgement is
  cumulative (the highest ``seq`` stored) and travels with its next request;
* the worker keeps every batch until it is acknowledged and sends the unacknowledged
  ones again when asked: a batch the learner already stored is recognised by its
  ``seq`` and not stored again (counted as a duplicate); one that arrives after a
  missing one (a gap) is refused until the missing one comes;
* a transition is *delivered* when its batch is acknowledged, and the learner stores
  every delivered transition exactly once. A worker that dies takes its unacknowledged
  batches and its open segments with it: they are discarded whole, never stored in
  part (a batch is stored all at once or not at all), and counted.

:class:`Outbox` is the worker's side, :class:`Inbox` the learner's. A batch crosses the
process boundary as a plain message (:meth:`Batch.to_message`: numpy arrays, numbers,
strings), checked on arrival (:meth:`Batch.from_message`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from acgym.errors import ProtocolError

RANDOM_POLICY = -1
"""``policy_version`` of steps taken with uniformly random actions (before the first
weights)."""


class Segment(NamedTuple):
    """``T`` consecutive steps of one car (see the module docstring)."""

    car: int
    """The car's index in its worker (``0 .. num_envs - 1``)."""
    observations: NDArray[np.float32]
    """``(T + 1, obs_dim)``: ``s_0 .. s_T``."""
    actions: NDArray[np.float32]
    """``(T, action_dim)``: normalised actions in ``[-1, 1]``."""
    rewards: NDArray[np.float32]
    """``(T,)``."""
    terminated: bool
    """``s_T`` is terminal (no bootstrap); else the segment ends as a truncation."""

    @property
    def length(self) -> int:
        """Transitions in the segment, ``T``."""
        return len(self.rewards)


class EpisodeEnd(NamedTuple):
    """An episode that ended on a worker's car."""

    car: int
    episode_return: float
    length: int
    terminated: bool


class LapRecord(NamedTuple):
    """A lap a worker's car completed."""

    car: int
    time_s: float
    clean: bool


class SegmentRecorder:
    """One car's open segment: steps added one at a time, closed into a :class:`Segment`.

    Args:
        car: The car's index.
        obs_dim: Observation width.
        action_dim: Action width.
        max_steps: Steps after which the segment must be closed (``train.send_steps``).
    """

    def __init__(self, car: int, obs_dim: int, action_dim: int, max_steps: int) -> None:
        self.car = car
        self.max_steps = max_steps
        self._obs = np.zeros((max_steps + 1, obs_dim), dtype=np.float32)
        self._actions = np.zeros((max_steps, action_dim), dtype=np.float32)
        self._rewards = np.zeros(max_steps, dtype=np.float32)
        self.length = 0

    @property
    def full(self) -> bool:
        """Whether the segment holds ``max_steps`` steps (it must be closed)."""
        return self.length >= self.max_steps

    def add(self, obs: NDArray[np.floating], action: NDArray[np.floating], reward: float) -> None:
        """Append the step ``(s_t, a_t, r_t)``."""
        if self.full:
            raise ValueError("segment full: close it before adding a step")
        self._obs[self.length] = obs
        self._actions[self.length] = action
        self._rewards[self.length] = reward
        self.length += 1

    def close(self, final_obs: NDArray[np.floating], terminated: bool) -> Segment:
        """The segment of the steps added, ending in ``final_obs`` (``s_T``); the
        recorder starts a new one."""
        t = self.length
        self._obs[t] = final_obs
        segment = Segment(
            self.car,
            self._obs[: t + 1].copy(),
            self._actions[:t].copy(),
            self._rewards[:t].copy(),
            bool(terminated),
        )
        self.length = 0
        return segment

    def discard(self) -> int:
        """Drop the open steps (the env failed under them); returns how many."""
        dropped, self.length = self.length, 0
        return dropped


@dataclass(frozen=True)
class Batch:
    """Closed segments, episode ends and laps of one worker, numbered for delivery.

    The segments are packed: segment ``i`` has ``lengths[i]`` transitions; its
    observations are the next ``lengths[i] + 1`` rows of ``observations``, its actions
    and rewards the next ``lengths[i]`` rows of ``actions`` and ``rewards``.
    """

    slot: int
    """The worker's slot (``0 .. train.workers - 1``)."""
    incarnation: int
    """Which process of the slot (0, then 1 after a first replacement, ...)."""
    seq: int
    """Sequence number in the stream ``(slot, incarnation)``, from 0."""
    policy_version: int
    """The learner's update count of the weights the steps were taken with
    (:data:`RANDOM_POLICY`: random actions)."""
    observations: NDArray[np.float32]
    actions: NDArray[np.float32]
    rewards: NDArray[np.float32]
    lengths: NDArray[np.int64]
    terminated: NDArray[np.bool_]
    cars: NDArray[np.int64]
    episodes: tuple[EpisodeEnd, ...] = ()
    laps: tuple[LapRecord, ...] = ()

    @classmethod
    def pack(
        cls,
        slot: int,
        incarnation: int,
        seq: int,
        policy_version: int,
        segments: Sequence[Segment],
        episodes: Sequence[EpisodeEnd] = (),
        laps: Sequence[LapRecord] = (),
        *,
        obs_dim: int,
        action_dim: int,
    ) -> Batch:
        """A batch of ``segments`` (possibly none: then only episode ends and laps)."""

        def joined(parts: list[NDArray[Any]], width: int) -> NDArray[np.float32]:
            if not parts:
                return np.zeros((0, width), dtype=np.float32)
            return np.concatenate(parts).astype(np.float32, copy=False)

        return cls(
            slot,
            incarnation,
            seq,
            policy_version,
            joined([s.observations for s in segments], obs_dim),
            joined([s.actions for s in segments], action_dim),
            np.concatenate([s.rewards for s in segments]).astype(np.float32)
            if segments
            else np.zeros(0, dtype=np.float32),
            np.array([s.length for s in segments], dtype=np.int64),
            np.array([s.terminated for s in segments], dtype=bool),
            np.array([s.car for s in segments], dtype=np.int64),
            tuple(episodes),
            tuple(laps),
        )

    @property
    def num_transitions(self) -> int:
        """Transitions in the batch's segments."""
        return int(self.lengths.sum())

    def segments(self) -> Iterator[Segment]:
        """The batch's segments, in order."""
        obs_at, step_at = 0, 0
        for car, length, terminated in zip(self.cars, self.lengths, self.terminated, strict=True):
            t = int(length)
            yield Segment(
                int(car),
                self.observations[obs_at : obs_at + t + 1],
                self.actions[step_at : step_at + t],
                self.rewards[step_at : step_at + t],
                bool(terminated),
            )
            obs_at += t + 1
            step_at += t

    def to_message(self) -> dict[str, Any]:
        """The batch as plain data (numpy arrays, numbers, lists) for the wire."""
        message = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        message["episodes"] = [list(e) for e in self.episodes]
        message["laps"] = [list(lap) for lap in self.laps]
        return message

    @classmethod
    def from_message(cls, message: Mapping[str, Any], obs_dim: int, action_dim: int) -> Batch:
        """Check and rebuild a batch of :meth:`to_message`.

        Raises:
            ProtocolError: A key is missing, or an array has the wrong type or shape, or
                the lengths do not add up.
        """
        try:
            values = {name: message[name] for name in _MESSAGE_KEYS}
            ints = {k: int(values[k]) for k in ("slot", "incarnation", "seq", "policy_version")}
            obs = _array(values["observations"], np.float32, 2, "observations")
            actions = _array(values["actions"], np.float32, 2, "actions")
            rewards = _array(values["rewards"], np.float32, 1, "rewards")
            lengths = _array(values["lengths"], np.int64, 1, "lengths")
            terminated = _array(values["terminated"], np.bool_, 1, "terminated")
            cars = _array(values["cars"], np.int64, 1, "cars")
            episodes = tuple(
                EpisodeEnd(int(c), float(r), int(n), bool(t)) for c, r, n, t in values["episodes"]
            )
            laps = tuple(LapRecord(int(c), float(s), bool(k)) for c, s, k in values["laps"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed batch message: {exc}") from None
        k, steps = len(lengths), int(lengths.sum())
        if (
            len(terminated) != k
            or len(cars) != k
            or (k and lengths.min() < 1)
            or obs.shape != (steps + k, obs_dim)
            or actions.shape != (steps, action_dim)
            or rewards.shape != (steps,)
            or ints["seq"] < 0
        ):
            raise ProtocolError(
                f"malformed batch message: {k} segments of {steps} steps with observations "
                f"{obs.shape}, actions {actions.shape}, rewards {rewards.shape} (expected "
                f"obs_dim {obs_dim}, action_dim {action_dim})"
            )
        return cls(
            **ints,
            observations=obs,
            actions=actions,
            rewards=rewards,
            lengths=lengths,
            terminated=terminated,
            cars=cars,
            episodes=episodes,
            laps=laps,
        )


_MESSAGE_KEYS = tuple(f.name for f in dataclasses.fields(Batch))


def _array(value: Any, dtype: type, ndim: int, name: str) -> NDArray[Any]:
    array = np.asarray(value)
    if array.ndim != ndim or not np.can_cast(array.dtype, dtype, casting="same_kind"):
        raise ValueError(f"{name}: expected a {ndim}-D {np.dtype(dtype).name} array")
    return array.astype(dtype, copy=False)


class Outbox:
    """A worker's batches, from sealing to acknowledgement (one stream).

    Args:
        slot: The worker's slot.
        incarnation: Its incarnation.
    """

    def __init__(self, slot: int, incarnation: int) -> None:
        self.slot = slot
        self.incarnation = incarnation
        self._next_seq = 0
        self._unacked: list[Batch] = []
        self.sealed_transitions = 0
        """Transitions of every batch sealed so far."""
        self.acked_transitions = 0
        """Transitions of the batches acknowledged (delivered)."""

    def seal(
        self,
        policy_version: int,
        segments: Sequence[Segment],
        episodes: Sequence[EpisodeEnd],
        laps: Sequence[LapRecord],
        *,
        obs_dim: int,
        action_dim: int,
    ) -> Batch:
        """Number and keep the next batch."""
        batch = Batch.pack(
            self.slot,
            self.incarnation,
            self._next_seq,
            policy_version,
            segments,
            episodes,
            laps,
            obs_dim=obs_dim,
            action_dim=action_dim,
        )
        self._next_seq += 1
        self._unacked.append(batch)
        self.sealed_transitions += batch.num_transitions
        return batch

    def ack(self, seq: int) -> None:
        """The learner stored every batch up to ``seq`` (cumulative; -1: none yet)."""
        while self._unacked and self._unacked[0].seq <= seq:
            self.acked_transitions += self._unacked.pop(0).num_transitions

    def unacked(self) -> list[Batch]:
        """The batches not acknowledged yet, oldest first."""
        return list(self._unacked)

    @property
    def unacked_transitions(self) -> int:
        """Transitions waiting for an acknowledgement."""
        return sum(b.num_transitions for b in self._unacked)


ACCEPTED, DUPLICATE, GAP, STALE = "accepted", "duplicate", "gap", "stale"
"""What :meth:`Inbox.receive` says of a batch."""


@dataclass
class StreamStats:
    """Delivery counters of one worker slot, all its incarnations together."""

    batches: int = 0
    """Batches stored."""
    transitions: int = 0
    """Transitions stored (delivered)."""
    duplicates: int = 0
    """Batches received again after they were stored (not stored again)."""
    gaps: int = 0
    """Batches refused because an earlier one of their stream was missing."""
    stale: int = 0
    """Batches of a replaced incarnation (never acknowledged, not stored)."""
    failures: int = 0
    """Times the slot's worker died or failed."""
    discarded_transitions: int = 0
    """Transitions known to be discarded: a dead worker's unacknowledged batches and open
    segments as of its last reply, and the open segments of a car whose env failed."""
    disconnects: int = 0
    """Times a remote car stopped answering (the worker reconnected)."""


@dataclass
class Inbox:
    """The learner's side: which batch of each stream comes next, and the counters."""

    expected: dict[int, tuple[int, int]] = field(default_factory=dict)
    """slot -> (current incarnation, next ``seq`` expected)."""
    stats: dict[int, StreamStats] = field(default_factory=dict)

    def open(self, slot: int, incarnation: int) -> None:
        """A (new) incarnation of ``slot`` starts its stream at 0; an older one's late
        batches are refused from now on."""
        self.expected[slot] = (incarnation, 0)
        self.stats.setdefault(slot, StreamStats())

    def receive(self, batch: Batch) -> str:
        """Whether ``batch`` is to be stored now (:data:`ACCEPTED`; the caller stores it,
        then calls :meth:`commit`) or not (:data:`DUPLICATE`, :data:`GAP`,
        :data:`STALE`, counted)."""
        incarnation, seq = self.expected.get(batch.slot, (None, 0))
        stats = self.stats.setdefault(batch.slot, StreamStats())
        if batch.incarnation != incarnation:
            stats.stale += 1
            return STALE
        if batch.seq < seq:
            stats.duplicates += 1
            return DUPLICATE
        if batch.seq > seq:
            stats.gaps += 1
            return GAP
        return ACCEPTED

    def commit(self, batch: Batch) -> None:
        """``batch`` (accepted) is stored: the next of its stream is expected."""
        incarnation, seq = self.expected[batch.slot]
        assert (batch.incarnation, batch.seq) == (incarnation, seq), "commit what was accepted"
        self.expected[batch.slot] = (incarnation, seq + 1)
        stats = self.stats[batch.slot]
        stats.batches += 1
        stats.transitions += batch.num_transitions

    def acked(self, slot: int) -> int:
        """The acknowledgement for ``slot``'s current stream: its highest stored ``seq``
        (-1: none)."""
        return self.expected[slot][1] - 1

    def totals(self) -> StreamStats:
        """The counters of every slot added up."""
        total = StreamStats()
        for stats in self.stats.values():
            for f in dataclasses.fields(StreamStats):
                setattr(total, f.name, getattr(total, f.name) + getattr(stats, f.name))
        return total


__all__ = [
    "ACCEPTED",
    "DUPLICATE",
    "GAP",
    "RANDOM_POLICY",
    "STALE",
    "Batch",
    "EpisodeEnd",
    "Inbox",
    "LapRecord",
    "Outbox",
    "Segment",
    "SegmentRecorder",
    "StreamStats",
]

"""Segments, batches and their exactly-once delivery (acgym.dist.transport), without Ray."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.dist.transport import (
    ACCEPTED,
    DUPLICATE,
    GAP,
    RANDOM_POLICY,
    STALE,
    Batch,
    EpisodeEnd,
    Inbox,
    LapRecord,
    Outbox,
    Segment,
    SegmentRecorder,
)
from acgym.errors import ProtocolError
from acgym.rl.replay import NStepReplay

OBS_DIM, ACTION_DIM = 3, 2


def _segment(car: int, length: int, start: float, terminated: bool = False) -> Segment:
    recorder = SegmentRecorder(car, OBS_DIM, ACTION_DIM, max_steps=length)
    for t in range(length):
        recorder.add(np.full(OBS_DIM, start + t), np.full(ACTION_DIM, 0.1 * t), 1.0 + t)
    return recorder.close(np.full(OBS_DIM, start + length), terminated)


def _seal(outbox: Outbox, *segments: Segment) -> Batch:
    return outbox.seal(0, segments, (), (), obs_dim=OBS_DIM, action_dim=ACTION_DIM)


def test_a_segment_holds_its_steps_and_the_final_observation() -> None:
    segment = _segment(car=1, length=4, start=10.0, terminated=True)
    assert segment.length == 4
    assert segment.observations[:, 0].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert segment.rewards.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert segment.terminated and segment.car == 1


def test_a_full_recorder_refuses_a_step_until_closed() -> None:
    recorder = SegmentRecorder(0, OBS_DIM, ACTION_DIM, max_steps=2)
    recorder.add(np.zeros(OBS_DIM), np.zeros(ACTION_DIM), 0.0)
    recorder.add(np.zeros(OBS_DIM), np.zeros(ACTION_DIM), 0.0)
    assert recorder.full
    with pytest.raises(ValueError, match="segment full"):
        recorder.add(np.zeros(OBS_DIM), np.zeros(ACTION_DIM), 0.0)
    assert recorder.discard() == 2 and recorder.length == 0


def test_segments_cut_inside_an_episode_store_what_the_step_by_step_replay_stores_there() -> None:
    """A cut segment ends as a truncation: the learner's add_episode of each segment
    gives the transitions NStepReplay.add gives when the episode is truncated there."""
    gamma, n = 0.9, 3
    segment = _segment(0, 5, 0.0)
    by_segment = NStepReplay(100, OBS_DIM, ACTION_DIM, gamma, n)
    terminated = np.zeros(segment.length, dtype=bool)
    by_segment.add_episode(
        segment.observations[:-1],
        segment.actions,
        segment.rewards,
        segment.observations[1:],
        terminated,
        truncated=True,
    )
    by_step = NStepReplay(100, OBS_DIM, ACTION_DIM, gamma, n)
    for t in range(segment.length):
        last = t == segment.length - 1
        by_step.add(
            segment.observations[t],
            segment.actions[t],
            segment.rewards[t],
            segment.observations[t + 1],
            False,
            last,
        )
    for key, value in by_step.stored().items():
        np.testing.assert_allclose(by_segment.stored()[key], value, rtol=1e-6)


def test_a_batch_survives_its_message_and_unpacks_into_its_segments() -> None:
    outbox = Outbox(slot=2, incarnation=1)
    segments = (_segment(0, 3, 0.0), _segment(1, 5, 100.0, terminated=True))
    batch = outbox.seal(
        7,
        segments,
        (EpisodeEnd(1, 15.0, 5, True),),
        (LapRecord(0, 41.5, True),),
        obs_dim=OBS_DIM,
        action_dim=ACTION_DIM,
    )
    back = Batch.from_message(batch.to_message(), OBS_DIM, ACTION_DIM)
    assert (back.slot, back.incarnation, back.seq, back.policy_version) == (2, 1, 0, 7)
    assert back.num_transitions == 8
    assert back.episodes == (EpisodeEnd(1, 15.0, 5, True),)
    assert back.laps == (LapRecord(0, 41.5, True),)
    for original, unpacked in zip(segments, back.segments(), strict=True):
        assert unpacked.car == original.car and unpacked.terminated == original.terminated
        np.testing.assert_array_equal(unpacked.observations, original.observations)
        np.testing.assert_array_equal(unpacked.actions, original.actions)
        np.testing.assert_array_equal(unpacked.rewards, original.rewards)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("observations", np.zeros((3, OBS_DIM + 1), np.float32), "expected obs_dim"),
        ("lengths", np.array([5], np.int64), "malformed"),
        ("rewards", "many", "rewards"),
        ("seq", "x", "malformed"),
        ("laps", [[0, 1.0]], "malformed"),
    ],
)
def test_a_malformed_message_is_refused_with_a_protocol_error(
    key: str, value: object, match: str
) -> None:
    batch = _seal(Outbox(0, 0), _segment(0, 2, 0.0))
    message = batch.to_message()
    message[key] = value
    with pytest.raises(ProtocolError, match=match):
        Batch.from_message(message, OBS_DIM, ACTION_DIM)


def test_a_message_without_a_key_is_refused() -> None:
    message = _seal(Outbox(0, 0), _segment(0, 2, 0.0)).to_message()
    del message["cars"]
    with pytest.raises(ProtocolError, match="malformed batch message"):
        Batch.from_message(message, OBS_DIM, ACTION_DIM)


def test_the_outbox_keeps_batches_until_acknowledged_cumulatively() -> None:
    outbox = Outbox(0, 0)
    first, second, third = (_seal(outbox, _segment(0, k, 0.0)) for k in (1, 2, 3))
    assert [b.seq for b in (first, second, third)] == [0, 1, 2]
    assert outbox.unacked_transitions == 6
    outbox.ack(1)
    assert [b.seq for b in outbox.unacked()] == [2]
    assert (outbox.acked_transitions, outbox.sealed_transitions) == (3, 6)
    outbox.ack(-1)  # an older acknowledgement changes nothing
    assert [b.seq for b in outbox.unacked()] == [2]


def test_a_retried_batch_is_recognised_and_not_stored_twice() -> None:
    inbox, outbox = Inbox(), Outbox(0, 0)
    inbox.open(0, 0)
    batch = _seal(outbox, _segment(0, 4, 0.0))
    assert inbox.receive(batch) == ACCEPTED
    inbox.commit(batch)
    assert inbox.receive(batch) == DUPLICATE  # the acknowledgement was lost: sent again
    assert inbox.acked(0) == 0
    assert inbox.totals().transitions == 4 and inbox.totals().duplicates == 1


def test_a_batch_after_a_missing_one_waits_for_it() -> None:
    inbox, outbox = Inbox(), Outbox(0, 0)
    inbox.open(0, 0)
    _lost, later = _seal(outbox, _segment(0, 1, 0.0)), _seal(outbox, _segment(0, 2, 0.0))
    assert inbox.receive(later) == GAP
    assert inbox.acked(0) == -1
    for batch in outbox.unacked():  # the worker sends every unacknowledged batch again
        assert inbox.receive(batch) == ACCEPTED
        inbox.commit(batch)
    assert inbox.acked(0) == 1 and inbox.totals().gaps == 1


def test_a_replaced_workers_late_batch_is_refused_and_the_new_stream_starts_at_zero() -> None:
    inbox = Inbox()
    inbox.open(0, 0)
    old = _seal(Outbox(0, 0), _segment(0, 3, 0.0))
    inbox.open(0, 1)  # the worker died and was replaced
    assert inbox.receive(old) == STALE
    new = _seal(Outbox(0, 1), _segment(0, 2, 0.0))
    assert inbox.receive(new) == ACCEPTED
    assert inbox.acked(0) == -1  # nothing of the new stream stored yet


def test_every_batch_is_stored_exactly_once_through_loss_duplication_and_reordering() -> None:
    """A lossy, duplicating, reordering link between an outbox and an inbox: the inbox
    stores each sealed batch once, in order, and the outbox ends with nothing unacked."""
    rng = np.random.default_rng(0)
    inbox, outbox = Inbox(), Outbox(3, 0)
    inbox.open(3, 0)
    stored: list[int] = []
    for round_ in range(300):
        if round_ < 200 and rng.random() < 0.5:
            _seal(outbox, _segment(0, int(rng.integers(1, 5)), float(round_)))
        in_flight = outbox.unacked()
        in_flight += [b for b in in_flight if rng.random() < 0.3]  # duplicated
        rng.shuffle(in_flight)  # reordered
        for batch in in_flight:
            if rng.random() < 0.3:  # lost
                continue
            if inbox.receive(batch) == ACCEPTED:
                inbox.commit(batch)
                stored.append(batch.seq)
        if rng.random() < 0.7:  # the acknowledgement itself may be lost
            outbox.ack(inbox.acked(3))
    outbox.ack(inbox.acked(3))
    assert stored == list(range(len(stored)))
    assert outbox.unacked() == []
    assert inbox.totals().transitions == outbox.sealed_transitions == outbox.acked_transitions
    assert inbox.totals().duplicates > 0 and inbox.totals().gaps > 0


def test_steps_of_random_actions_carry_the_random_policy_version() -> None:
    batch = Outbox(0, 0).seal(
        RANDOM_POLICY, (_segment(0, 1, 0.0),), (), (), obs_dim=OBS_DIM, action_dim=ACTION_DIM
    )
    assert batch.policy_version == RANDOM_POLICY < 0

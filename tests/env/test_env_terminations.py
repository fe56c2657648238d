"""Termination and truncation rules against hand-computed step counts."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.env.config import EnvConfig, load_env_config
from acgym.env.observations import Frame, frame_channels
from acgym.env.terminations import (
    GameDone,
    LowSpeed,
    MaxGap,
    MaxLaps,
    OutOfTrack,
    TimeLimit,
    make_terminations,
)

ONE = np.ones(1, dtype=np.int64)


def frame_with(num_cars: int = 1, **channels) -> Frame:
    frame = Frame(frame_channels(EnvConfig()), num_cars, num_rays=0, num_curvature=0)
    for name, value in channels.items():
        frame.values[:, frame.index[name]] = value
    return frame


def test_low_speed_ends_the_episode_at_the_250th_slow_step_in_a_row():
    rule = LowSpeed(speed_mps=1.0, timeout_steps=250)
    rule.reset(1)
    slow, fast = frame_with(speed=0.99), frame_with(speed=1.0)
    for _ in range(249):
        assert not rule(slow, ONE)[0]
    assert not rule(fast, ONE)[0]  # a fast step restarts the count
    for _ in range(249):
        assert not rule(slow, ONE)[0]
    assert rule(slow, ONE)[0]


def test_time_limit_truncates_after_more_than_the_step_limit():
    rule = TimeLimit(max_steps=15_000)
    frame = frame_with()
    assert not rule(frame, np.array([15_000]))[0]
    assert rule(frame, np.array([15_001]))[0]


def test_max_laps_counts_distinct_lap_numbers_of_the_previous_steps():
    rule = MaxLaps(max_laps=2)
    rule.reset(1)
    decisions = [bool(rule(frame_with(LapCount=lap), ONE)[0]) for lap in (0, 0, 1, 2, 2, 3)]
    # lap numbers seen before each step: {}, {0}, {0}, {0,1}, {0,1,2} -> more than 2
    assert decisions == [False, False, False, False, True, True]


def test_out_of_track_max_gap_and_game_done_read_their_channels():
    frame = frame_with(
        num_cars=3, out_of_track=np.array([0.0, 1.0, 0.0]), gap=np.array([-4.1, 1.0, 4.0])
    )
    frame.values[:, frame.index["done"]] = [0, 0, 1]
    steps = np.ones(3, dtype=np.int64)
    np.testing.assert_array_equal(OutOfTrack()(frame, steps), [False, True, False])
    np.testing.assert_array_equal(MaxGap(4.0)(frame, steps), [True, False, False])
    np.testing.assert_array_equal(GameDone()(frame, steps), [False, False, True])


def test_failures_terminate_and_limits_truncate():
    config = load_env_config(overrides=["max_gap=5.0", "max_laps_number=4"])
    terminations = make_terminations(config)
    assert terminations.names == (
        "out_of_track",
        "low_speed",
        "max_gap",
        "time_limit",
        "max_laps",
        "game_done",
    )
    terminations.reset(2)
    frame = frame_with(num_cars=2, speed=10.0, out_of_track=np.array([1.0, 0.0]))
    frame.values[:, frame.index["done"]] = [0, 1]
    end = terminations(frame, np.array([1, 1]))
    np.testing.assert_array_equal(end.terminated, [True, False])
    np.testing.assert_array_equal(end.truncated, [False, True])
    assert terminations.reasons(end.fired, 0) == ("out_of_track",)
    assert terminations.reasons(end.fired, 1) == ("game_done",)


def test_defaults_enable_out_of_track_low_speed_time_and_game_rules():
    terminations = make_terminations(EnvConfig())
    assert terminations.names == ("out_of_track", "low_speed", "time_limit", "game_done")
    (low_speed,) = [r for r in terminations.rules if r.name == "low_speed"]
    assert (low_speed.speed_mps, low_speed.timeout_steps) == (1.0, 250)


def test_reset_of_the_episode_history_keeps_the_low_speed_count():
    terminations = make_terminations(load_env_config(overrides=["max_laps_number=1"]))
    terminations.reset(1)
    for _ in range(3):
        terminations(frame_with(speed=0.0, LapCount=7.0), ONE)
    terminations.reset(1, episode_history_only=True)
    rules = {r.name: r for r in terminations.rules}
    assert rules["low_speed"].counter[0] == 247
    assert rules["max_laps"].seen == [set()]


def test_time_limit_refuses_step_counts_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected ep_steps of shape \(1,\)"):
        TimeLimit(10)(frame_with(), np.array([1, 2]))

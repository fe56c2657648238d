"""Lap timing: crossings in the driving direction, interpolated lap times, validity, resets."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.errors import ConfigError
from acgym.sim.lap_timing import LapTiming

LENGTH_M = 100.0


def drive(timing: LapTiming, samples: list[tuple[float, float]], tyres_out: int = 0) -> list[bool]:
    """Feed (s_m, time_s) samples to car 0; returns which completed a lap."""
    return [bool(timing.update([s], [t], [tyres_out])[0]) for s, t in samples]


def lap_of_tenths(start_s: float = 0.0) -> list[tuple[float, float]]:
    """s = 10, 20, ..., 90 m at t = 1 .. 9 s (after ``start_s``)."""
    return [((10.0 * k) % LENGTH_M, start_s + k) for k in range(1, 10)]


def test_a_lap_is_completed_on_the_forward_crossing_after_a_full_lap() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    completed = drive(timing, lap_of_tenths())
    assert not any(completed)
    assert timing.lap_count[0] == 0
    # 90 m at 9 s -> 5 m at 10 s: the line (100 m) is 10 of the 15 m, at 9 + 2/3 s
    assert drive(timing, [(5.0, 10.0)]) == [True]
    assert timing.lap_count[0] == 1
    assert timing.last_lap_ms[0] == 9667
    assert timing.best_lap_ms[0] == 9667
    assert timing.current_ms[0] == 333  # 10 - 9.6667 s, rounded down
    assert timing.lap_distance_m[0] == pytest.approx(5.0)


def test_current_time_counts_whole_milliseconds_since_the_lap_started() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0, time_s=2.0)
    drive(timing, [(1.0, 2.04), (2.0, 2.08)])
    assert timing.current_ms[0] == 80
    assert timing.last_lap_ms[0] == 0 and timing.best_lap_ms[0] == 0


def test_reversing_over_the_line_and_forward_again_counts_no_lap() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    completed = drive(timing, [(95.0, 1.0), (90.0, 2.0), (95.0, 3.0), (5.0, 4.0), (10.0, 5.0)])
    assert not any(completed)
    assert timing.lap_count[0] == 0
    assert timing.lap_distance_m[0] == pytest.approx(10.0)


def test_metres_reversed_behind_the_line_must_be_made_up_before_the_lap_counts() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    drive(timing, [(90.0, 1.0)])  # reversed 10 m behind the line: d = -10 m
    assert drive(timing, [(0.0, 2.0)]) == [False]  # forward over the line again: d = 0
    assert not any(drive(timing, lap_of_tenths(2.0)))
    assert drive(timing, [(5.0, 12.0)]) == [True]  # 90 m at 11 s -> 105 m at 12 s
    assert timing.last_lap_ms[0] == 11_667  # from the reset at 0 s


def test_a_car_reset_away_from_the_line_counts_its_first_crossing_but_sets_no_time() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 98.0)
    assert drive(timing, [(99.0, 0.5), (1.0, 1.5)]) == [False, True]
    assert timing.lap_count[0] == 1
    assert timing.last_lap_ms[0] == 0 and timing.best_lap_ms[0] == 0
    assert timing.current_ms[0] == 500  # 99 m at 0.5 s -> 101 m at 1.5 s: crossed at 1.0 s
    drive(timing, lap_of_tenths(1.5))
    assert drive(timing, [(2.0, 11.0)]) == [True]  # 90 m at 10.5 s -> 102 m at 11 s
    assert timing.last_lap_ms[0] == 9917  # from 1.0 s to 10.5 + 0.5 * 10 / 12 s
    assert timing.best_lap_ms[0] == 9917


def test_a_reset_just_behind_the_line_starts_a_timed_lap_on_it() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], LENGTH_M - 0.001)
    drive(timing, [(0.0, 0.1), *lap_of_tenths(0.1)])
    assert drive(timing, [(10.0, 10.1)]) == [True]  # 90 m at 9.1 s -> 110 m at 10.1 s
    assert timing.last_lap_ms[0] == 9600  # from the reset at 0 s


def test_more_than_two_tyres_out_invalidate_the_lap_and_keep_it_from_the_best() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    drive(timing, [(10.0, 1.0)], tyres_out=2)
    assert not timing.invalidated[0]
    drive(timing, [(20.0, 2.0)], tyres_out=3)
    assert timing.invalidated[0]
    drive(timing, [(30.0, 3.0), (60.0, 6.0), (90.0, 9.0), (0.0, 10.0)])
    assert timing.lap_count[0] == 1
    assert timing.last_lap_ms[0] == 10_000
    assert timing.best_lap_ms[0] == 0  # the only lap was invalid
    assert not timing.invalidated[0]  # the new lap starts valid
    drive(timing, [(40.0, 14.0), (80.0, 17.0), (0.0, 20.0)])
    assert timing.last_lap_ms[0] == 10_000 and timing.best_lap_ms[0] == 10_000


def test_the_best_lap_is_the_fastest_valid_lap() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    for start_s, lap_s in ((0.0, 12.0), (12.0, 10.0), (22.0, 14.0)):
        drive(timing, [(40.0, start_s + 4.0), (80.0, start_s + 8.0), (0.0, start_s + lap_s)])
    assert timing.lap_count[0] == 3
    assert timing.last_lap_ms[0] == 14_000
    assert timing.best_lap_ms[0] == 10_000


def test_reset_restarts_the_session_counters() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    drive(timing, [(40.0, 4.0), (80.0, 8.0), (0.0, 10.0), (40.0, 12.0)], tyres_out=4)
    assert timing.lap_count[0] == 1 and timing.invalidated[0]
    timing.reset([0], 50.0, time_s=12.0)
    assert timing.lap_count[0] == 0
    assert timing.last_lap_ms[0] == 0 and timing.best_lap_ms[0] == 0
    assert timing.current_ms[0] == 0
    assert not timing.invalidated[0]
    # the jump of the projection at the reset is not progress
    assert drive(timing, [(51.0, 12.1)]) == [False]
    assert timing.lap_distance_m[0] == pytest.approx(51.0)


def test_a_lost_projection_is_no_progress() -> None:
    timing = LapTiming(1, LENGTH_M)
    timing.reset([0], 0.0)
    drive(timing, [(10.0, 1.0), (float("nan"), 2.0), (12.0, 3.0)])
    assert timing.lap_distance_m[0] == pytest.approx(12.0)
    assert timing.current_ms[0] == 3000


def test_cars_are_timed_independently() -> None:
    timing = LapTiming(2, LENGTH_M)
    timing.reset([0, 1], [0.0, 50.0])
    timing.update([40.0, 90.0], 5.0, [0, 0])
    timing.update([80.0, 99.0], 8.0, [0, 0])
    completed = timing.update([0.0, 10.0], 10.0, [0, 4])
    np.testing.assert_array_equal(completed, [True, True])
    np.testing.assert_array_equal(timing.last_lap_ms, [10_000, 0])
    np.testing.assert_array_equal(timing.invalidated, [False, True])


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ConfigError):
        LapTiming(0, LENGTH_M)
    with pytest.raises(ConfigError):
        LapTiming(1, 0.0)

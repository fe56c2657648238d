"""Lap statistics: completed, timed and clean laps from telemetry channels."""

from __future__ import annotations

import numpy as np

from acgym.rl.laps import LAP_CHANNELS, LapTracker, laps_from_arrays, laps_from_states

# Ten states: a timed lap ends at state 3 (clean), an invalidated one at state 7.
COMPLETED = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
LAST_TIME_MS = [0, 0, 0, 40_000, 40_000, 40_000, 40_000, 39_000, 39_000, 39_000]
INVALIDATED = [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]


def test_a_lap_is_clean_when_its_last_state_before_the_line_was_valid() -> None:
    laps = laps_from_arrays(COMPLETED, LAST_TIME_MS, INVALIDATED)
    assert [(lap.time_s, lap.clean, lap.start_step, lap.end_step) for lap in laps.laps] == [
        (40.0, True, 0, 3),
        (39.0, False, 3, 7),
    ]
    assert laps.clean_laps == 1 and laps.best_lap_s == 40.0
    assert laps.metrics() == {"laps": 2.0, "clean_laps": 1.0, "best_lap_s": 40.0}


def test_an_untimed_out_lap_is_not_a_lap() -> None:
    laps = laps_from_arrays([0, 1, 1, 2], [0, 0, 0, 41_000], [0, 0, 0, 0])
    assert [(lap.time_s, lap.start_step) for lap in laps.laps] == [(41.0, 1)]


def test_states_without_the_lap_channels_have_no_laps() -> None:
    assert laps_from_states({"speed": [1.0, 2.0]}).laps == []


def test_the_tracker_sees_the_same_laps_step_by_step_for_each_car() -> None:
    columns = {name: i for i, name in enumerate(LAP_CHANNELS)}
    car0 = np.stack([COMPLETED, LAST_TIME_MS, INVALIDATED], axis=1).astype(float)
    car1 = np.zeros_like(car0)  # a car that never completes a lap
    tracker = LapTracker(2, columns)
    seen = []
    for t in range(len(car0)):
        seen += tracker.update(np.stack([car0[t], car1[t]]))
    assert [(car, lap.time_s, lap.clean) for car, lap in seen] == [
        (0, 40.0, True),
        (0, 39.0, False),
    ]
    assert tracker.end_episode(0).clean_laps == 1
    assert tracker.end_episode(1).laps == []
    assert tracker.end_episode(0).laps == []  # the next episode starts empty

"""The simulator on a track that crosses itself: every car on its own level.

The figure-8 (``acgym.track.bench.figure_eight``, a = 300 m, 12 m wide) passes the
origin at s = L / 4 heading 225 degrees (branch A) and at s = 3 L / 4 heading 315
degrees (branch B); B's direction is A's left. A car 8 m left of A's line at the
crossing stands on B's centre line: on B's road, off A's (6 m half-width).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from acgym.sim.car_params import list_cars
from acgym.sim.driver import ExpertDriver
from acgym.sim.session import SimSession
from acgym.sim.telemetry import COLUMNS
from acgym.sim.world import World
from acgym.track.bench import figure_eight
from acgym.track.track import Track

MAX_FLYING_LAP_RATIO = 1.07
"""A flying lap within 7 % of the speed-profile estimate (as on the built-in tracks)."""


@pytest.fixture(scope="module")
def eight() -> Track:
    return figure_eight()


def test_tyres_on_the_other_level_at_the_crossing_are_off_the_cars_surface(eight: Track) -> None:
    s_a, s_b = 0.25 * eight.length_m, 0.75 * eight.length_m
    x_m, y_m = 8.0 * np.array([1.0, -1.0]) / math.sqrt(2.0)  # on B's centre line
    heading_a = math.radians(225.0)
    world = World("bmw_z4_gt3", num_cars=3, track=eight)
    world.reset(x_m=x_m, y_m=y_m, yaw_rad=heading_a, progress_m=[s_a, s_b, math.nan])
    np.testing.assert_array_equal(world.wheels_on_track.sum(axis=1), [0, 4, 4])
    world.step(np.tile([0.0, -1.0, -1.0], (3, 1)))  # the kernel's own lookup agrees
    np.testing.assert_array_equal(world.wheels_on_track.sum(axis=1), [0, 4, 4])


def test_a_car_placed_at_the_crossing_is_timed_and_projected_on_its_level(eight: Track) -> None:
    s_a = 0.25 * eight.length_m
    session = SimSession(eight, "bmw_z4_gt3", num_cars=2)
    session.reset(distance_m=[s_a, s_a], lateral_offset_m=[8.0, 0.0])
    assert session.distance_m == pytest.approx([s_a, s_a], abs=0.01)
    assert session.gap_m == pytest.approx([8.0, 0.0], abs=0.01)
    np.testing.assert_array_equal(session.telemetry_array[:, COLUMNS["numberOfTyresOut"]], [4, 0])
    np.testing.assert_allclose(session.world.progress_m, session.distance_m)


def test_the_expert_laps_the_figure_eight_with_every_car_cleanly(eight: Track) -> None:
    """Standing start, two laps with every preset, batched: the cars' progress never
    jumps to the other branch at the crossing (each step advances it by about the
    distance driven), no tyre ever leaves the surface, and the flying lap is within 7 %
    of the estimate."""
    cars = list_cars()
    session = SimSession(eight, cars)
    driver = ExpertDriver(session)
    n = session.num_cars
    dt_s = session.world.control_dt_s
    most_out = np.zeros(n)
    flying_s = np.zeros(n)
    passes = np.zeros(n)  # steps within 10 m of the crossing
    lap_m = session.lap_distance_m
    limit_steps = int(25 * 3 * max(p.lap_time_s for p in driver.reference_profiles))
    for _ in range(limit_steps):
        speed_before = session.world.speed_mps
        session.step(driver.controls())
        rows = session.telemetry_array
        advance_m = session.lap_distance_m - lap_m
        lap_m = session.lap_distance_m
        completed = advance_m < -0.5 * eight.length_m  # a lap ends: d drops by L
        advance_m[completed] += eight.length_m
        top_speed = np.maximum(speed_before, session.world.speed_mps)
        assert np.all(advance_m >= 0.0) and np.all(advance_m <= top_speed * dt_s + 0.5)
        passes += np.hypot(session.world.x_m, session.world.y_m) < 10.0
        most_out = np.maximum(most_out, rows[:, COLUMNS["numberOfTyresOut"]])
        laps = rows[:, COLUMNS["LapCount"]]
        done_second = (laps == 2) & (flying_s == 0.0)
        flying_s[done_second] = rows[done_second, COLUMNS["iLastTime"]] / 1000.0
        if np.all(laps >= 2):
            break
    for i, car in enumerate(cars):
        estimate_s = driver.reference_profiles[i].lap_time_s
        assert flying_s[i] > 0.0, f"{car}: the second lap was not completed"
        assert passes[i] >= 4, f"{car}: crossed the bridge only {passes[i]:.0f} steps"
        assert most_out[i] == 0, f"{car}: {most_out[i]:.0f} tyres out"
        assert 0.95 < flying_s[i] / estimate_s <= MAX_FLYING_LAP_RATIO, (
            f"{car}: flying lap {flying_s[i]:.2f} s, estimate {estimate_s:.2f} s"
        )

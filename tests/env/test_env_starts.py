"""Random starts on the car's speed profile: where, how fast, and when they are refused."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import RADIUS_M, circle_track

from acgym.env.config import StartConfig, load_env_config
from acgym.env.factory import make_race_env, make_race_vector_env
from acgym.env.starts import ProfileSpeed, start_placement
from acgym.errors import ConfigError
from acgym.sim.car_params import load_car

PROFILE = [
    "track=circle",
    "start.random=true",
    "start.min_profile_speed_fraction=0.5",
    "start.max_profile_speed_fraction=0.8",
]


@pytest.fixture(scope="module")
def track():
    return circle_track(radius_m=RADIUS_M, width_m=12.0)


def test_the_profile_on_a_circle_is_the_steady_cornering_speed_of_its_radius(track):
    # On a circle the speed profile is flat: v^2 / R = mu (g + k v^2) everywhere (within
    # the 720-gon's curvature and the profile's smoothing).
    limits = load_car("dallara_f317").vehicle_limits()
    profile = ProfileSpeed(track.line_m, lambda: limits)
    speeds = [profile(d) for d in (0.0, 100.0, 0.5 * track.length_m, track.length_m + 3.0)]
    assert max(speeds) - min(speeds) < 1e-6
    assert speeds[0] == pytest.approx(float(limits.cornering_speed_mps(1.0 / RADIUS_M)), rel=1e-2)


def test_random_start_speeds_are_the_drawn_fraction_of_the_profile_there(track):
    limits = load_car("dallara_f317").vehicle_limits()
    start = load_env_config(overrides=PROFILE).start
    profile = ProfileSpeed(track.line_m, lambda: limits)
    rng = np.random.default_rng(0)
    speeds = [
        start_placement(start, {}, rng, track.length_m, profile)["speed_mps"] for _ in range(200)
    ]
    fractions = np.array(speeds) / profile(0.0)
    assert fractions.min() >= 0.5 and fractions.max() <= 0.8
    assert fractions.min() < 0.55 and fractions.max() > 0.75  # spread over the range


def test_profile_starts_draw_as_many_numbers_as_uniform_ones(track):
    # The generator advances the same way whatever the speed rule, so a seed places the
    # car at the same distance, offset and heading with either.
    profile_start = load_env_config(overrides=PROFILE).start
    uniform_start = StartConfig(random=True, max_speed_mps=30.0)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(3):
        with_profile = start_placement(profile_start, {}, a, track.length_m, lambda d: 40.0)
        uniform = start_placement(uniform_start, {}, b, track.length_m)
        assert with_profile["distance_m"] == uniform["distance_m"]
        assert with_profile["speed_mps"] / 40.0 == pytest.approx(
            0.5 + 0.3 * uniform["speed_mps"] / 30.0
        )


def test_the_single_and_the_vector_env_start_on_the_profile_alike(track):
    limits = load_car("dallara_f317").vehicle_limits()
    profile_mps = ProfileSpeed(track.line_m, lambda: limits)(0.0)
    single = make_race_env(track, overrides=PROFILE)
    vector = make_race_vector_env(2, track, overrides=PROFILE)
    obs_single, _ = single.reset(seed=11)
    obs_vector, _ = vector.reset(seed=11)
    np.testing.assert_array_equal(obs_vector[0], obs_single)
    speed_mps = obs_single[single.observation_layout.index("speed")] * 80.0
    assert 0.5 * profile_mps - 1e-4 <= speed_mps <= 0.8 * profile_mps + 1e-4


def test_profile_starts_without_a_profile_are_refused(track):
    start = load_env_config(overrides=PROFILE).start
    with pytest.raises(ConfigError, match="max_profile_speed_fraction needs the car's speed"):
        start_placement(start, {}, np.random.default_rng(0), track.length_m)


@pytest.mark.parametrize(
    "fractions", [("0.6", "0.4"), ("-0.1", "0.5"), ("0.2", "nan")], ids=["min>max", "neg", "nan"]
)
def test_profile_fractions_out_of_order_are_refused(fractions):
    low, high = fractions
    with pytest.raises(ConfigError, match="expected 0 <= min <= max"):
        load_env_config(
            overrides=[
                f"start.min_profile_speed_fraction={low}",
                f"start.max_profile_speed_fraction={high}",
            ]
        )

"""Random starts on the car's speed profile, and before where episodes ended: where, how
fast, and when they are refused."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import RADIUS_M, circle_track

from acgym.env.config import StartConfig, load_env_config
from acgym.env.factory import make_race_env, make_race_vector_env
from acgym.env.starts import EpisodeEnds, ProfileSpeed, start_placement
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


FAILURES = [*PROFILE, "start.failure_fraction=1", "start.failure_lead_m=100"]


def _behind_m(end_m: float, distance_m: float, length_m: float) -> float:
    """How far ``distance_m`` lies before ``end_m`` along a lap of ``length_m``."""
    return (end_m - distance_m) % length_m


def test_episode_ends_keep_the_latest_ones():
    ends = EpisodeEnds(3)
    assert len(ends) == 0 and ends.distances_m().size == 0
    ends.record(np.array([1.0, 2.0]))
    ends.record(np.array([3.0, 4.0]))
    assert len(ends) == 3 and sorted(ends.distances_m()) == [2.0, 3.0, 4.0]


def test_failure_starts_lie_within_the_lead_before_a_recorded_end(track):
    start = load_env_config(overrides=FAILURES).start
    rng = np.random.default_rng(0)
    ends_m = np.array([30.0, 0.5 * track.length_m])  # one end just past the start line
    behind = []
    for _ in range(300):
        placed = start_placement(start, {}, rng, track.length_m, lambda d: 40.0, ends_m)
        behind.append(min(_behind_m(e, placed["distance_m"], track.length_m) for e in ends_m))
        assert 0.0 <= placed["distance_m"] < track.length_m
    assert max(behind) <= 100.0 and np.percentile(behind, 90) > 80.0


def test_a_fraction_of_the_starts_go_before_failures_the_rest_anywhere(track):
    start = load_env_config(overrides=[*FAILURES, "start.failure_fraction=0.5"]).start
    rng = np.random.default_rng(1)
    end_m = 0.25 * track.length_m
    near = [
        _behind_m(
            end_m,
            start_placement(start, {}, rng, track.length_m, lambda d: 40.0, np.array([end_m]))[
                "distance_m"
            ],
            track.length_m,
        )
        <= 100.0
        for _ in range(1000)
    ]
    uniform_share = 100.0 / track.length_m  # uniform starts that fall there anyway
    assert np.mean(near) == pytest.approx(0.5 + 0.5 * uniform_share, abs=0.05)


def test_without_a_recorded_end_failure_starts_are_uniform_starts(track):
    with_failures = load_env_config(overrides=FAILURES).start
    plain = load_env_config(overrides=PROFILE).start
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    first = start_placement(with_failures, {}, a, track.length_m, lambda d: 40.0, np.zeros(0))
    assert first == start_placement(plain, {}, b, track.length_m, lambda d: 40.0)


def _drive_off(env, steps: int = 600) -> tuple[bool, float]:
    """Full lock and throttle until the episode ends: (terminated, LapDist at the end)."""
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(np.array([1.0, 1.0, -1.0]))
        if terminated or truncated:
            break
    lap_dist = env.unwrapped.pipeline.expander.frame.column("LapDist")[0]
    return terminated, float(lap_dist)


def test_the_env_starts_again_before_where_its_episode_left_the_track(track):
    env = make_race_env(track, overrides=FAILURES)
    env.reset(seed=3)
    terminated, end_m = _drive_off(env)
    assert terminated
    np.testing.assert_allclose(env.unwrapped.pipeline.failure_ends.distances_m(), [end_m])
    for _ in range(5):
        env.reset()
        start_m = float(env.unwrapped.pipeline.expander.frame.column("LapDist")[0])
        assert _behind_m(end_m, start_m, track.length_m) <= 100.0 + 1.0


def test_evaluation_starts_ignore_failures(track):
    """An evaluation env starts each seed where a fresh one does, whatever crashed before."""
    fresh = make_race_env(track, overrides=FAILURES)
    fresh.unwrapped.set_eval_mode()
    fresh.reset(seed=5)
    expected_m = float(fresh.unwrapped.pipeline.expander.frame.column("LapDist")[0])
    env = make_race_env(track, overrides=FAILURES)
    env.unwrapped.set_eval_mode()
    for _ in range(3):
        env.reset(seed=5)
        start_m = float(env.unwrapped.pipeline.expander.frame.column("LapDist")[0])
        assert start_m == expected_m
        assert _drive_off(env)[0]  # a crash, remembered by a training env


def test_a_truncated_episode_is_no_failure(track):
    env = make_race_env(track, overrides=[*FAILURES, "max_episode_py_time=2"])
    env.reset(seed=3)
    for _ in range(60):
        *_, terminated, truncated, _ = env.step(env.unwrapped.expert_action())
        if terminated or truncated:
            break
    assert truncated and not terminated
    assert len(env.unwrapped.pipeline.failure_ends) == 0


def test_the_vector_env_starts_its_cars_before_where_they_failed(track):
    env = make_race_vector_env(2, track, overrides=FAILURES)
    env.reset(seed=4)
    ends = env.pipeline.failure_ends
    for _ in range(600):
        env.step(np.tile([1.0, 1.0, -1.0], (2, 1)))
        if len(ends) >= 3:
            break
    assert len(ends) >= 3
    env.reset()
    starts_m = env.pipeline.expander.frame.column("LapDist")
    for start_m in starts_m:
        assert min(_behind_m(e, start_m, track.length_m) for e in ends.distances_m()) <= 101.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("start.failure_fraction=1.5", "failure_fraction: expected 0 to 1"),
        ("start.failure_lead_m=-1", "failure_lead_m: expected a finite number >= 0"),
        ("start.failure_memory=0", "failure_memory: expected >= 1"),
    ],
)
def test_bad_failure_start_settings_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_env_config(overrides=[override])

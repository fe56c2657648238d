"""Reward terms against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import RADIUS_M, FakeBackend, circle_track

from acgym.env.actions import CarMaps
from acgym.env.config import REWARD_KINDS, EnvConfig, load_env_config
from acgym.env.observations import Frame, ObservationHistory, frame_channels
from acgym.env.racing_env import RacingEnv
from acgym.env.rewards import (
    REWARDS,
    ActionsDiffPenalty,
    LapProgress,
    SpeedReward,
    StepChange,
    actions_diff,
    make_reward,
    sequence_progress_m,
    wrapped_progress_m,
)
from acgym.errors import ConfigError
from acgym.sim.car_params import car_folder


@pytest.fixture(scope="module")
def car():
    return CarMaps.from_folder(car_folder("dallara_f317"))


def frame_with(num_cars: int = 1, **channels) -> Frame:
    frame = Frame(frame_channels(EnvConfig()), num_cars, num_rays=11, num_curvature=12)
    for name, value in channels.items():
        frame.values[:, frame.index[name]] = value
    frame.update_applied()
    return frame


def test_speed_reward_is_kmh_over_300_scaled_by_the_gap():
    frame = frame_with(num_cars=3, speed=25.0, gap=np.array([0.0, 3.0, -6.0]))
    # 25 m/s = 90 km/h; 90 / 300 = 0.3; |gap| 3 m of 12 -> x 0.75; 6 m -> x 0.5
    no_change = StepChange.zero(3)
    np.testing.assert_allclose(SpeedReward(12.0)(frame, no_change), [0.3, 0.225, 0.15])
    np.testing.assert_allclose(SpeedReward(None)(frame, no_change), [0.3, 0.3, 0.3])


def test_actions_diff_is_zero_until_three_previous_steps_exist():
    history = ObservationHistory(1, 3, 2)
    frame = frame_with(steerAngle=135.0, accStatus=0.4, brakeStatus=0.0)
    for _ in range(3):
        np.testing.assert_array_equal(actions_diff(frame, history), np.zeros((1, 3)))
        history.push(np.zeros((1, 2)), np.array([[0.0, 0.0, 0.0]]))
    # steerAngle 135 / 450 = 0.3 since the previous 0
    np.testing.assert_allclose(actions_diff(frame, history), [[0.3, 0.4, 0.0]])


def test_actions_diff_penalty_is_the_l2_norm_times_minus_the_coefficient():
    config = load_env_config(
        overrides=["penalize_actions_diff=true", "penalize_actions_diff_coef=0.1"]
    )
    reward = make_reward(config)
    frame = frame_with(speed=25.0, gap=3.0)
    total, parts = reward(frame, StepChange(np.array([[0.3, 0.4, 0.0]]), np.zeros(1)))
    assert reward.info_keys == ("reward/speed", "reward/actions_diff")
    assert parts[0][0] == pytest.approx(0.225)
    assert parts[1][0] == pytest.approx(-0.05)
    assert total[0] == pytest.approx(0.175)


def test_default_reward_has_only_the_speed_term():
    reward = make_reward(EnvConfig())
    assert reward.info_keys == ("reward/speed",)
    total, _ = reward(frame_with(speed=10.0, gap=12.0), StepChange.zero(1))
    assert total[0] == 0.0


def test_penalty_refuses_a_diff_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected shape \(1, 3\)"):
        ActionsDiffPenalty()(frame_with(), StepChange(np.zeros(3), np.zeros(1)))


def test_every_reward_kind_the_config_accepts_has_terms():
    assert set(REWARDS) == set(REWARD_KINDS)
    with pytest.raises(
        ConfigError, match=r"reward.kind: expected one of \('original', 'progress'\)"
    ):
        load_env_config(overrides=["reward.kind=speed"])


def test_progress_wraps_at_the_start_line_and_counts_reversing_negative():
    length_m = 1000.0
    now = np.array([12.0, 990.0, 500.0, 7.0])
    before = np.array([995.0, 10.0, 503.0, np.nan])
    # over the line forward: 17 m; backward over it: -20 m; reversing 3 m; no previous: 0
    np.testing.assert_allclose(wrapped_progress_m(now, before, length_m), [17.0, -20.0, -3.0, 0.0])
    np.testing.assert_allclose(
        sequence_progress_m(np.array([995.0, 12.0, 20.0]), length_m), [0.0, 17.0, 8.0]
    )


def test_lap_progress_starts_at_zero_after_a_clear_of_that_car():
    progress = LapProgress(2)
    progress.push(frame_with(num_cars=2, LapDist=np.array([100.0, 200.0])))
    progress.clear(np.array([False, True]))
    frame = frame_with(num_cars=2, LapDist=np.array([104.0, 50.0]))
    np.testing.assert_allclose(progress(frame, 1000.0), [4.0, 0.0])


@pytest.mark.parametrize("speed_mps", [5.0, 20.0, 45.0])
def test_progress_on_a_circle_at_speed_v_is_v_dt_every_step(car, speed_mps):
    # A car on a circle of radius R at constant speed v: the reference line's length is
    # 2 pi R and every step of 1/25 s drives v / 25 m along it, start-line crossings too.
    config = load_env_config(
        overrides=["track=circle", "reward.kind=progress", "reward.progress_per_m=0.5"]
    )
    backend = FakeBackend(car, start_speed_mps=speed_mps)
    env = RacingEnv(backend, circle_track(), car, config)
    env.reset(seed=0)
    neutral = np.array([0.0, 0.0, 0.0], dtype=np.float32)  # relative: controls kept
    steps = round(2.2 * 2.0 * np.pi * RADIUS_M / (speed_mps / 25.0)) if speed_mps > 10 else 50
    rewards = []
    for _ in range(steps):
        _, reward, terminated, truncated, info = env.step(neutral)
        assert not (terminated or truncated)
        rewards.append((reward, info["reward/progress"]))
    expected = 0.5 * speed_mps / 25.0
    np.testing.assert_allclose(np.array(rewards), expected, rtol=1e-9)
    if speed_mps > 10:
        assert backend.lap >= 2  # the start line was crossed


def test_the_first_progress_of_an_episode_is_measured_from_its_reset(car):
    config = load_env_config(overrides=["track=circle", "reward.kind=progress"])
    env = RacingEnv(FakeBackend(car, start_speed_mps=25.0), circle_track(), car, config)
    neutral = np.zeros(3, dtype=np.float32)
    for seed in (0, 1):  # the second reset puts the car back at the line: no lap backwards
        env.reset(seed=seed)
        _, reward, *_ = env.step(neutral)
        assert reward == pytest.approx(0.3 * 25.0 / 25.0)
        for _ in range(30):
            env.step(neutral)


def test_off_track_is_penalised_at_every_step_out_with_the_progress_reward():
    config = load_env_config(overrides=["reward.kind=progress", "reward.off_track=2.5"])
    reward = make_reward(config)
    assert reward.info_keys == ("reward/progress", "reward/off_track")
    frame = frame_with(num_cars=2, out_of_track=np.array([0.0, 1.0]))
    total, parts = reward(frame, StepChange(np.zeros((2, 3)), np.array([2.0, 2.0])))
    np.testing.assert_allclose(parts[0], [0.6, 0.6])
    np.testing.assert_allclose(parts[1], [0.0, -2.5])
    np.testing.assert_allclose(total, [0.6, -1.9])


def test_the_original_reward_is_the_default_and_ignores_progress():
    reward = make_reward(EnvConfig())
    frame = frame_with(speed=25.0, gap=0.0)
    total, _ = reward(frame, StepChange(np.zeros((1, 3)), np.array([100.0])))
    assert total[0] == pytest.approx(0.3)

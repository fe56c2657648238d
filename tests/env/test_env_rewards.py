"""Reward terms against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.env.config import EnvConfig, load_env_config
from acgym.env.observations import Frame, ObservationHistory, frame_channels
from acgym.env.rewards import ActionsDiffPenalty, SpeedReward, actions_diff, make_reward


def frame_with(num_cars: int = 1, **channels) -> Frame:
    frame = Frame(frame_channels(EnvConfig()), num_cars, num_rays=11, num_curvature=12)
    for name, value in channels.items():
        frame.values[:, frame.index[name]] = value
    frame.update_applied()
    return frame


def test_speed_reward_is_kmh_over_300_scaled_by_the_gap():
    frame = frame_with(num_cars=3, speed=25.0, gap=np.array([0.0, 3.0, -6.0]))
    # 25 m/s = 90 km/h; 90 / 300 = 0.3; |gap| 3 m of 12 -> x 0.75; 6 m -> x 0.5
    np.testing.assert_allclose(SpeedReward(12.0)(frame, np.zeros((3, 3))), [0.3, 0.225, 0.15])
    np.testing.assert_allclose(SpeedReward(None)(frame, np.zeros((3, 3))), [0.3, 0.3, 0.3])


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
    total, parts = reward(frame, np.array([[0.3, 0.4, 0.0]]))
    assert reward.info_keys == ("reward/speed", "reward/actions_diff")
    assert parts[0][0] == pytest.approx(0.225)
    assert parts[1][0] == pytest.approx(-0.05)
    assert total[0] == pytest.approx(0.175)


def test_default_reward_has_only_the_speed_term():
    reward = make_reward(EnvConfig())
    assert reward.info_keys == ("reward/speed",)
    total, _ = reward(frame_with(speed=10.0, gap=12.0), np.zeros((1, 3)))
    assert total[0] == 0.0


def test_penalty_refuses_a_diff_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected shape \(1, 3\)"):
        ActionsDiffPenalty()(frame_with(), np.zeros(3))

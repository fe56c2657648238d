"""The registered ids: gymnasium.make and make_vec, the env checkers (Gymnasium's and
Stable-Baselines3's), the image observation, and a light ``import acgym``."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import acgym  # noqa: F401 - registers the ids
from acgym.env.racing_env import RacingEnv
from acgym.env.vector_env import RaceVectorEnv

UNBOUNDED = "ignore:.*(minimum|maximum) value is"  # the observation is unbounded, as the original


def test_importing_acgym_registers_both_ids_without_importing_the_environment():
    code = (
        "import sys, acgym, gymnasium; "
        "assert {'acgym/Race-v0', 'acgym/AssettoCorsa-v0'} <= set(gymnasium.registry); "
        "heavy = [m for m in ('acgym.env', 'acgym.sim', 'numba', 'torch') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_race_v0_is_made_without_a_time_limit_and_passes_the_passive_checker_silently():
    spec = gym.spec("acgym/Race-v0")
    assert spec.max_episode_steps is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("acgym/Race-v0", track="oval", car="dallara_f317")
        env.reset(seed=0)
        for _ in range(5):
            obs, *_ = env.step(env.action_space.sample())
        assert env.render() is None
    assert "TimeLimit" not in str(env)
    assert isinstance(env.unwrapped, RacingEnv)
    assert len(env.unwrapped.observation_layout) == 125 and obs.shape == (125,)
    assert env.unwrapped.max_episode_steps == 15_000
    env.close()


@pytest.mark.filterwarnings(UNBOUNDED)
@pytest.mark.parametrize("image", [False, True])
def test_gymnasium_check_env_passes_on_race_v0(image):
    env = gym.make("acgym/Race-v0", image=image, render_mode="rgb_array")
    check_env(env.unwrapped)


@pytest.mark.filterwarnings(UNBOUNDED)
@pytest.mark.parametrize("image", [False, True])
def test_stable_baselines3_check_env_passes_on_race_v0(image):
    env = gym.make("acgym/Race-v0", image=image)
    sb3_check_env(env.unwrapped, warn=True)


def test_the_image_observation_is_a_dict_with_the_vector_and_a_64_px_camera_image():
    env = gym.make("acgym/Race-v0", image=True)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"vector", "image"}
    assert obs["vector"].shape == (125,) and obs["image"].shape == (64, 64, 1)
    # The default view is the camera's: shades of grey (sky, grass, road), not a mask.
    assert obs["image"].dtype == np.uint8 and len(np.unique(obs["image"])) > 2
    assert env.observation_space.contains(obs)


def test_the_map_view_is_a_64_px_occupancy_mask():
    env = gym.make("acgym/Race-v0", image=True, overrides=["image.view=map"])
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (64, 64, 1)
    assert set(np.unique(obs["image"])) == {0, 255}  # road and off-road both in view
    assert env.observation_space.contains(obs)


def test_make_vec_uses_the_vector_entry_point_with_same_step_autoreset():
    envs = gym.make_vec("acgym/Race-v0", num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(envs.unwrapped, RaceVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=1)
    assert obs.shape == (3, 125) and envs.observation_space.contains(obs)
    obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
    assert reward.shape == terminated.shape == truncated.shape == (3,)
    envs.close()

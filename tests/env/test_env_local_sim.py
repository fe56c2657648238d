"""The LocalSim backend: placement options, seeded random starts, the row fast path against
the dict path, and the episode files of simulator episodes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_fakes import circle_track

from acgym.env.backend import Backend, RowBackend
from acgym.env.backends.local import LocalSim
from acgym.env.factory import make_race_env
from acgym.env.history import find_histories, load_episodes_stats, load_history, rebuild_episode
from acgym.env.racing_env import RacingEnv
from acgym.errors import ConfigError


@pytest.fixture(scope="module")
def track():
    return circle_track()


class DictOnly:
    """LocalSim without the row fast path (the env must use its state dicts)."""

    def __init__(self, backend: LocalSim) -> None:
        self._backend = backend

    def __getattr__(self, name):
        if name in ("rows", "step_rows", "row_layout"):
            raise AttributeError(name)
        return getattr(self._backend, name)


def test_local_sim_is_a_backend_with_the_row_fast_path(track):
    backend = LocalSim(track)
    assert isinstance(backend, Backend) and isinstance(backend, RowBackend)
    assert backend.exact_reset and backend.supports_lock_step and backend.states_lost == 0
    assert backend.config()["ego_sampling_freq"] == 25
    assert backend.static_info()["TrackName"] == "circle"
    assert len(backend.track_info()["fast_lane"]) == 720
    assert not isinstance(DictOnly(backend), RowBackend)


def test_reset_options_place_the_car_along_left_and_turned_and_rolling(track):
    env = make_race_env(track)
    quarter_m = track.length_m / 4
    obs, _ = env.reset(
        options={
            "distance_m": quarter_m,
            "lateral_offset_m": 2.0,
            "heading_offset_rad": 0.1,
            "speed_mps": 16.0,
        }
    )
    state = env.episode_states().iloc[0]
    # a quarter of the CCW circle: the line is at (0, R), heading -x; 2 m left is towards (0, 0)
    assert (state["world_position_x"], state["world_position_y"]) == pytest.approx(
        (0.0, 98.0), abs=0.02
    )
    assert state["yaw"] == pytest.approx(-math.pi + 0.1, abs=0.01)  # wrapped to [-pi, pi)
    assert obs[env.observation_layout.index("speed")] == pytest.approx(16.0 / 80.0)
    assert state["LapDist"] == pytest.approx(quarter_m, abs=0.5)


def test_seeded_random_starts_repeat_with_the_seed_and_go_on_without_one(track):
    overrides = ["start.random=true", "start.max_lateral_offset_m=2.0", "start.max_speed_mps=10"]
    starts = []
    for _ in range(2):
        env = make_race_env(track, overrides=overrides)
        starts.append([env.reset(seed=7)[0], env.reset()[0]])
    np.testing.assert_array_equal(starts[0][0], starts[1][0])
    np.testing.assert_array_equal(starts[0][1], starts[1][1])
    assert not np.array_equal(starts[0][0], starts[0][1])
    speed = np.array([s[0] for pair in starts for s in pair]) * 80.0
    assert np.all((speed >= 0.0) & (speed <= 10.0))
    fixed = make_race_env(track, overrides=overrides)
    obs, _ = fixed.reset(seed=7, options={"random_start": False})
    assert obs[0] == 0.0  # the fixed start: at rest


def test_an_unknown_reset_option_is_refused(track):
    env = make_race_env(track)
    with pytest.raises(ConfigError, match="distance"):
        env.reset(options={"distanse_m": 3.0})


def test_the_row_fast_path_gives_the_dict_paths_observations_and_logs(track):
    fast = make_race_env(track)
    slow = RacingEnv(DictOnly(LocalSim(track)), track, fast.car, fast.config)
    options = {"distance_m": 30.0, "speed_mps": 12.0, "lateral_offset_m": -1.0}
    np.testing.assert_array_equal(fast.reset(options=options)[0], slow.reset(options=options)[0])
    actions = np.random.default_rng(3).uniform(-1, 1, size=(40, 3)).astype(np.float32)
    for action in actions:
        a, b = fast.step(action), slow.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]
    fast_log, slow_log = fast.episode_states(), slow.episode_states()
    assert list(fast_log.columns) == list(slow_log.columns)
    for column in fast_log.columns.drop("timestamp_env"):
        assert fast_log[column].dtype == slow_log[column].dtype, column
        np.testing.assert_array_equal(np.stack(fast_log[column]), np.stack(slow_log[column]))


def test_simulator_episodes_write_the_original_outputs(track, tmp_path):
    env = make_race_env(track, overrides=["max_episode_py_time=0.4"], output_dir=tmp_path)
    online = [env.reset(seed=0, options={"speed_mps": 10.0})[0]]
    actions = np.random.default_rng(2).uniform(-1, 1, size=(11, 3))
    rewards = []
    for action in actions:
        obs, reward, *_ = env.step(action)
        online.append(obs)
        rewards.append(reward)
    env.close()
    (path,) = find_histories(tmp_path / "laps")
    stats = load_episodes_stats(tmp_path)
    assert list(stats["ep_steps"]) == [12] and list(stats["packages_lost"]) == [0]
    assert (tmp_path / "laps" / "static_info.json").exists()
    history = load_history(path)
    assert history.static_info["backend"] == "simulator"
    assert history.states["TimeLimit.truncated"].tolist() == [False] * 11 + [True]
    # the logged simulator episode rebuilds its observations and rewards offline
    episode = rebuild_episode(history.states, env.config, track, env.car)
    np.testing.assert_allclose(episode.observations, np.array(online), atol=1e-6)
    np.testing.assert_allclose(episode.rewards[1:], rewards, atol=1e-12)

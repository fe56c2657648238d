"""RacingEnv over the fake backend: the Gymnasium API, the original's reset and episode rules."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import FakeBackend, circle_track
from gymnasium.utils.env_checker import check_env

from acgym.env.actions import CarMaps, controls_from_telemetry
from acgym.env.backend import Backend, Controls
from acgym.env.config import load_env_config
from acgym.env.history import find_histories, load_episodes_stats, load_history, rebuild_episode
from acgym.env.observations import frame_from_columns
from acgym.env.racing_env import RacingEnv
from acgym.errors import BackendError, ConfigError
from acgym.sim.car_params import car_folder

BASE = ["track=circle"]


@pytest.fixture(scope="module")
def track():
    return circle_track()


@pytest.fixture(scope="module")
def car():
    return CarMaps.from_folder(car_folder("dallara_f317"))


def make_env(track, car, overrides=(), *, backend=None, **kwargs):
    backend = backend or FakeBackend(car, **kwargs.pop("backend_kwargs", {}))
    return RacingEnv(
        backend, track, car, load_env_config(overrides=[*BASE, *overrides]), **kwargs
    ), backend


def test_reset_gives_a_125_value_observation_after_two_flush_steps(track, car):
    env, backend = make_env(track, car)
    obs, info = env.reset(seed=3)
    assert obs.shape == (125,) and obs.dtype == np.float32
    assert env.observation_space.contains(obs)
    assert len(env.unwrapped.observation_layout) == 125
    assert backend.reset_calls == [{"send_reset": True, "seed": 3}]
    assert backend.applied == [Controls(0.0, -1.0, -1.0)] * 3  # 2 flushed + the reset step
    assert obs[env.observation_layout.index("speed")] == pytest.approx(20.0 / 80.0)
    assert not obs[38:47].any() and not obs[50:].any()  # no history yet
    assert info["terminated"] is False
    assert len(env.episode_states()) == 1  # the flush steps are not logged


def test_step_returns_the_five_tuple_with_the_speed_reward_and_its_term(track, car):
    env, _ = make_env(track, car)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
    # 20 m/s on the line: 72 km/h / 300 (the 720-gon line is within 1 mm of the circle)
    assert reward == pytest.approx(0.24, abs=1e-4)
    assert info["reward/speed"] == reward
    assert (terminated, truncated) == (False, False)
    assert obs.shape == (125,)


def test_relative_gas_action_adds_0_48_per_step_to_the_pedal(track, car):
    env, backend = make_env(track, car)
    env.reset()
    env.step(np.array([0.0, 1.0, 0.0]))
    assert backend.applied[-1] == pytest.approx(Controls(0.0, -0.52, -1.0))
    obs, *_ = env.step(np.array([0.0, 1.0, 0.0]))
    assert backend.applied[-1] == pytest.approx(Controls(0.0, -0.04, -1.0))
    assert obs[env.observation_layout.index("applied_accStatus")] == pytest.approx(0.48)


def test_real_time_pair_equals_step_with_the_action(track, car):
    actions = np.random.default_rng(0).uniform(-1, 1, size=(20, 3))
    env_a, _ = make_env(track, car)
    env_b, _ = make_env(track, car)
    env_a.reset(seed=1)
    env_b.reset(seed=1)
    for action in actions:
        a = env_a.step(action)
        env_b.set_actions(action)
        b = env_b.step(None)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]


def test_step_before_reset_or_none_without_set_actions_is_refused(track, car):
    env, _ = make_env(track, car)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(3))
    env.reset()
    with pytest.raises(RuntimeError, match="set_actions"):
        env.step(None)
    with pytest.raises(ValueError, match=r"expected shape \(3,\).*got \(2,\)"):
        env.step(np.zeros(2))


def test_close_is_safe_twice(track, car):
    env, backend = make_env(track, car)
    env.reset()
    env.close()
    env.close()
    assert backend.close_calls == 1


def test_parked_car_is_terminated_after_ten_seconds_counted_from_the_reset(track, car):
    env, _ = make_env(track, car, backend_kwargs={"start_speed_mps": 0.0})
    env.reset()
    # 250 slow steps, three of them in the reset (as in the original)
    for _ in range(246):
        assert env.step(np.array([0.0, -1.0, 0.0]))[2] is False
    _, _, terminated, truncated, info = env.step(np.array([0.0, -1.0, 0.0]))
    assert (terminated, truncated) == (True, False)
    assert info["termination_reasons"] == ("low_speed",)


def test_leaving_the_track_terminates(track, car):
    env, _ = make_env(track, car)
    env.reset()
    for step in range(1, 100):  # noqa: B007 - the step count is checked below
        _, _, terminated, _, info = env.step(np.array([1.0, 0.0, 0.0]))
        if terminated:
            break
    assert info["termination_reasons"] == ("out_of_track",)
    assert env.episode_states()["numberOfTyresOut"].iloc[-1] > 2
    assert step > 10


def test_time_limit_truncates_at_the_step_after_the_limit(track, car):
    env, _ = make_env(track, car, ["max_episode_py_time=1.0"])
    env.reset()
    assert env.max_episode_steps == 25
    results = [env.step(np.zeros(3))[3] for _ in range(26)]
    assert results == [False] * 25 + [True]


def test_game_done_truncates(track, car):
    env, _ = make_env(track, car, backend_kwargs={"done_at_step": 10})
    env.reset()
    outcomes = [env.step(np.zeros(3)) for _ in range(6)]
    # server steps: 1 at the backend reset, 2-4 in env.reset, 5-10 in the six steps
    assert [o[3] for o in outcomes] == [False] * 5 + [True]
    assert outcomes[-1][4]["termination_reasons"] == ("game_done",)


def test_max_laps_truncates_after_the_laps_are_seen(track, car):
    env, _ = make_env(track, car, ["max_laps_number=1"], backend_kwargs={"start_speed_mps": 80.0})
    env.reset()
    for _ in range(400):
        _, _, _, truncated, info = env.step(np.zeros(3))
        if truncated:
            break
    laps = env.episode_states()["LapCount"].tolist()
    # the step after the first state of lap 1 (two lap numbers seen before it)
    assert laps[-2:] == [1, 1] and laps.count(1) == 2
    assert info["termination_reasons"] == ("max_laps",)


def test_recover_car_on_done_resets_the_backend(track, car):
    env, backend = make_env(track, car, ["recover_car_on_done=true", "max_episode_py_time=0.2"])
    env.reset()
    for _ in range(6):
        env.step(np.zeros(3))
    assert len(backend.reset_calls) == 2
    assert backend.applied[-1] == Controls(0.0, -1.0, -1.0)


def test_backend_running_another_car_or_rate_is_refused(track, car):
    env, _ = make_env(track, car, ["car=bmw_z4_gt3"])
    with pytest.raises(ConfigError, match=r"car: the config expects 'bmw_z4_gt3'.*'dallara_f317'"):
        env.reset()
    backend = FakeBackend(car, config={"ego_sampling_freq": 50})
    env, _ = make_env(track, car, backend=backend)
    with pytest.raises(ConfigError, match="ego_sampling_freq"):
        env.reset()


def test_episodes_are_logged_and_the_logged_states_rebuild_the_same_observations(
    track, car, tmp_path
):
    env, _ = make_env(track, car, ["max_episode_py_time=0.4"], output_dir=tmp_path)
    online = [env.reset(seed=0)[0]]
    rewards = []
    raw_actions = np.random.default_rng(2).uniform(-1, 1, size=(11, 3))
    for action in raw_actions:
        obs, reward, *_ = env.step(action)
        online.append(obs)
        rewards.append(reward)
    env.reset()
    env.close()
    files = find_histories(tmp_path / "laps")
    assert len(files) == 2
    stats = load_episodes_stats(tmp_path)
    assert list(stats["ep_count"]) == [1, 2]
    assert list(stats["ep_steps"]) == [12, 1]
    assert list(stats["total_steps"]) == [14, 17]
    assert stats["terminated"].tolist() == [False, False]
    history = load_history(files[0])
    assert history.static_info["TrackFullName"] == "circle"
    assert (tmp_path / "env_config.yaml").exists()
    states = history.states
    assert states["done"].tolist() == [0] * 11 + [1]
    # the offline rebuild of the logged episode gives the online observations
    frame = frame_from_columns(states, env.config, track)
    rebuilt = env.observation_builder.build_sequence(frame)
    np.testing.assert_allclose(rebuilt, np.array(online, dtype=np.float64), atol=1e-6)
    # and the logged telemetry inverts to the actions that were taken
    controls = controls_from_telemetry(
        states["steerAngle"], states["accStatus"], states["brakeStatus"], car
    )
    logged = states[[f"current_action_abs_{i}" for i in range(3)]].to_numpy()
    np.testing.assert_allclose(controls, logged, atol=1e-9)
    actions = env.action_mapper.actions_from_controls(controls)[1:]
    inside = (logged[1:] > env.action_mapper.low + 1e-9) & (
        logged[1:] < env.action_mapper.high - 1e-9
    )
    np.testing.assert_allclose(actions[inside], np.clip(raw_actions, -1, 1)[inside], atol=1e-9)
    # rebuild_episode does all of it at once (the original data loader)
    episode = rebuild_episode(states, env.config, track, car)
    np.testing.assert_allclose(episode.observations, np.array(online), atol=1e-6)
    np.testing.assert_allclose(episode.rewards[1:], rewards, atol=1e-12)
    np.testing.assert_allclose(episode.actions[1:][inside], raw_actions[inside], atol=1e-6)
    assert not episode.terminated.any()


def test_obs_extra_holds_the_extra_channels_unscaled(track, car):
    env, _ = make_env(track, car, ["use_obs_extra=true"])
    _, info = env.reset()
    assert info["obs_extra"].dtype == np.float32
    assert info["obs_extra"][0] == pytest.approx(20.0)  # local_velocity_x, m/s


def test_eval_mode_limits_laps_and_uses_the_games_out_of_track(track, car):
    env, _ = make_env(track, car, ["use_ac_out_of_track=false"])
    env.set_eval_mode()
    assert env.config.max_laps_number == 4 and env.config.use_ac_out_of_track
    assert "max_laps" in env.terminations.names


def test_rgb_render_draws_the_car_on_the_track(track, car):
    env, _ = make_env(track, car, render_mode="rgb_array")
    env.reset()
    image = env.render()
    assert image.shape == (400, 400, 3) and image.dtype == np.uint8
    assert np.any(np.all(image == (220, 30, 30), axis=-1))
    assert np.any(np.all(image == (90, 90, 90), axis=-1))
    assert make_env(track, car)[0].render() is None


def test_unknown_render_mode_is_refused(track, car):
    with pytest.raises(ConfigError, match="render_mode"):
        make_env(track, car, render_mode="ansi")


def test_human_render_mode_without_a_display_is_a_clear_error(track, car, monkeypatch):
    monkeypatch.setattr("acgym.env.rendering.sys.platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ConfigError, match=r"needs a display.*rgb_array"):
        make_env(track, car, render_mode="human")


@pytest.mark.filterwarnings("ignore:.*(minimum|maximum) value is")  # unbounded, as the original
def test_gymnasium_env_checker_passes(track, car):
    env, _ = make_env(track, car)
    check_env(env, skip_render_check=True)


def test_the_fake_backend_satisfies_the_backend_protocol(car):
    assert isinstance(FakeBackend(car), Backend)


def test_a_nan_channel_from_the_backend_is_a_backend_error_naming_the_value(track, car):
    class NanSpeed(FakeBackend):
        def observe(self):
            state = super().observe()
            state["speed"] = float("nan")
            return state

    env, _ = make_env(track, car, backend=NanSpeed(car))
    with pytest.raises(BackendError, match=r"\['speed'\] are not finite"):
        env.reset()


def test_packages_lost_are_the_backends_count_of_states_never_received(track, car):
    env, _ = make_env(track, car, backend_kwargs={"lost_steps": (7, 8, 12)})
    env.reset()
    for _ in range(10):
        env.step(np.zeros(3))
    env.reset()
    assert env.last_episode_stats["packages_lost"] == 3  # not the original's jump sum (5)


def test_a_parquet_lap_written_as_the_original_writes_it_loads_and_rebuilds(track, car, tmp_path):
    """The original env saves ``pd.DataFrame(self.states).to_parquet(path, engine="pyarrow",
    index=False)``: a list of state dicts with its own extras (numpy arrays such as the
    ray distances and the observation, Python lists for the per-tyre channels). Such a
    file, with ``static_info.json`` beside it, loads and rebuilds the same observations,
    rewards and actions as our own log of the same episode."""
    import json

    import pandas as pd

    ours = tmp_path / "ours"
    env, _ = make_env(track, car, ["max_episode_py_time=0.4"], output_dir=ours)
    env.reset(seed=0)
    for action in np.random.default_rng(3).uniform(-1, 1, size=(11, 3)):
        env.step(action)
    env.reset()
    env.close()
    our_file = find_histories(ours / "laps")[0]
    states = load_history(our_file).states
    records = states.to_dict(orient="records")
    for k, record in enumerate(records):  # the original's types and extras
        record["sensors"] = np.asarray(record["sensors"], dtype=np.float64)  # numpy arrays
        record["obs"] = np.zeros(125, dtype=np.float32)
        record["tyres_load"] = [3000.0 + k, 3000.0, 2500.0, 2500.0]
    laps = tmp_path / "original" / "laps"
    laps.mkdir(parents=True)
    path = laps / "20240101_120000_states.parquet"
    pd.DataFrame(records).to_parquet(path, engine="pyarrow", index=False)
    (laps / "static_info.json").write_text(
        json.dumps(json.loads((ours / "laps" / "static_info.json").read_text()))
    )
    original = load_history(path)
    assert list(original.states["tyres_load"].iloc[2]) == [3002.0, 3000.0, 2500.0, 2500.0]
    rebuilt = rebuild_episode(original.states, env.config, track, car)
    expected = rebuild_episode(states, env.config, track, car)
    np.testing.assert_array_equal(rebuilt.observations, expected.observations)
    np.testing.assert_array_equal(rebuilt.rewards, expected.rewards)
    np.testing.assert_array_equal(rebuilt.actions, expected.actions)

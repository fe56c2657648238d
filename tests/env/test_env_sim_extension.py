"""The simulator extension (expert_action, telemetry_rows / telemetry_columns): the expert
through the env's action inverse, on the single and the vector env; refused without the
simulator."""

from __future__ import annotations

import numpy as np
import pytest
from env_fakes import FakeBackend, circle_track

from acgym.env.actions import ActionMapper, CarMaps
from acgym.env.config import EnvConfig, load_env_config
from acgym.env.factory import make_race_env, make_race_vector_env
from acgym.env.racing_env import RacingEnv
from acgym.errors import BackendError, ConfigError
from acgym.rl.envs import sim_rows
from acgym.rl.expert import drive_expert
from acgym.sim.car_params import car_folder
from acgym.sim.driver import ExpertDriver
from acgym.sim.session import SimSession

STEPS = 120


MODES = {"relative": (True, True), "absolute": (False, True), "absolute pedals": (True, False)}


@pytest.mark.parametrize("mode", MODES)
def test_the_expert_action_is_the_env_inverse_of_the_experts_controls(mode: str) -> None:
    """A simulator beside the env, driven by the expert's controls at the relative
    actions' rates through the same action mapping (what acgym record did by hand),
    follows the env step for step, in every action mode alike."""
    relative, relative_pedals = MODES[mode]
    config = load_env_config(
        overrides=[f"use_relative_actions={relative}", f"actions.relative_pedals={relative_pedals}"]
    )
    env = make_race_env("oval", "dallara_f317", config=config)
    session = SimSession("oval", "dallara_f317")
    driver = ExpertDriver(session)
    mapper = ActionMapper.from_config(CarMaps.from_folder(car_folder("dallara_f317")).steer, config)
    rate = ActionMapper.from_config(mapper.steer_map, EnvConfig()).max_delta
    controls = np.array([0.0, -1.0, -1.0])
    env.reset(seed=0)
    for _ in range(STEPS):
        action = env.expert_action()
        wanted = np.clip(driver.controls()[0], controls - rate, controls + rate)
        expected = mapper.to_actions(controls, wanted).astype(np.float32)
        assert action.shape == (3,) and action.dtype == np.float32
        np.testing.assert_array_equal(action, expected)
        controls = mapper.to_controls(expected.astype(np.float64), controls)
        session.step(controls[None])
        env.step(action)
    np.testing.assert_array_equal(env.telemetry_rows(), session.telemetry_array)
    env.close()


def test_the_expert_starts_afresh_at_each_episode() -> None:
    """On the profile in a corner its speed loop is not saturated: an integral carried over
    from the episode before would change the first actions (by up to 0.56)."""
    distance_m = 700.0
    speed_mps = float(
        ExpertDriver(SimSession("oval", "bmw_z4_gt3")).target_speed_mps([distance_m])[0]
    )
    env = make_race_env("oval", "bmw_z4_gt3")
    episodes = []
    for _ in range(2):
        env.reset(seed=0, options={"distance_m": distance_m, "speed_mps": speed_mps})
        actions = []
        for _ in range(STEPS):
            actions.append(env.expert_action())
            env.step(actions[-1])
        episodes.append(np.array(actions))
    env.close()
    np.testing.assert_array_equal(episodes[1], episodes[0])


def test_telemetry_rows_hold_the_logged_state_at_the_named_columns() -> None:
    env = make_race_env("oval", "dallara_f317")
    env.reset(seed=0)
    for _ in range(30):
        env.step(env.expert_action())
    rows, columns = env.telemetry_rows(), env.telemetry_columns
    assert rows.shape[0] == 1 and rows.dtype == np.float64
    last = env.episode_states().iloc[-1]
    for channel in ("speed", "world_position_x", "completedLaps", "numberOfTyresOut"):
        assert rows[0, columns[channel]] == pytest.approx(last[channel])
    assert last["speed"] > 5.0
    np.testing.assert_array_equal(sim_rows(env)(), env.telemetry_rows())
    env.close()


def test_the_vector_env_gives_each_car_the_single_envs_expert_action() -> None:
    track = circle_track()
    vector = make_race_vector_env(2, track, overrides=["start.distance_m=30"])
    single = make_race_env(track, overrides=["start.distance_m=30"])
    vector.reset(seed=0)
    single.reset(seed=0)
    for _ in range(60):
        actions = vector.expert_action()
        action = single.expert_action()
        assert actions.shape == (2, 3) and actions.dtype == np.float32
        np.testing.assert_allclose(actions, [action, action], atol=1e-6)
        vector.step(actions)
        single.step(action)
    assert vector.telemetry_columns is single.telemetry_columns
    np.testing.assert_allclose(vector.telemetry_rows()[1], single.telemetry_rows()[0], atol=1e-9)
    assert vector.expert_lap_estimate_s() == pytest.approx(single.expert_lap_estimate_s())
    vector.close()
    single.close()


def test_the_vector_envs_expert_starts_afresh_for_a_car_reset_by_autoreset() -> None:
    distance_m = 700.0  # on the profile in a corner, as in the single env's test
    speed_mps = float(
        ExpertDriver(SimSession("oval", "bmw_z4_gt3")).target_speed_mps([distance_m])[0]
    )
    start = [f"start.distance_m={distance_m}", f"start.speed_mps={speed_mps}"]
    vector = make_race_vector_env(
        2, "oval", "bmw_z4_gt3", overrides=[*start, "max_episode_py_time=2"]
    )
    vector.reset(seed=0)
    actions, ends = [], []
    for _ in range(2 * 51):  # the 51st step of an episode is truncated, the car reset
        actions.append(vector.expert_action())
        _, _, terminated, truncated, _ = vector.step(actions[-1])
        ends.append(terminated | truncated)
    vector.close()
    assert [i for i, end in enumerate(ends) if end.any()] == [50, 101]
    np.testing.assert_array_equal(actions[51:], actions[:51])


def test_an_env_without_the_simulator_refuses_the_extension_clearly() -> None:
    car = CarMaps.from_folder(car_folder("dallara_f317"))
    env = RacingEnv(
        FakeBackend(car), circle_track(), car, load_env_config(overrides=["track=circle"])
    )
    env.reset(seed=0)
    assert env.has_simulator is False
    for ask in (env.expert_action, env.telemetry_rows, env.expert_lap_estimate_s):
        with pytest.raises(BackendError, match="needs the built-in simulator in this process"):
            ask()
    with pytest.raises(BackendError, match="FakeBackend"):
        env.telemetry_columns  # noqa: B018
    assert sim_rows(env) is None
    with pytest.raises(ConfigError, match="built-in simulator"):
        drive_expert(env)
    env.close()


def test_the_expert_drives_the_same_with_absolute_pedals() -> None:
    """Its pedals move at the pedal rate in either mode: the laps do not depend on it."""
    positions = []
    for relative_pedals in (True, False):
        config = load_env_config(overrides=[f"actions.relative_pedals={relative_pedals}"])
        env = make_race_env("oval", "dallara_f317", config=config)
        env.reset(seed=0)
        for _ in range(STEPS):
            env.step(env.expert_action())
        positions.append(env.unwrapped.backend.session.world.x_m.copy())
        env.close()
    np.testing.assert_allclose(positions[0], positions[1], atol=1e-6)

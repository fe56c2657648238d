"""The Remote backend against the simulator server on 127.0.0.1 (ephemeral ports, servers in
threads of this process): lock-step equals LocalSim exactly; real time with the
set_actions / step(None) pair; lost states counted in the episode statistics."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest

import acgym  # noqa: F401 - registers the ids
from acgym.env.factory import make_race_env, make_remote_env
from acgym.errors import ConfigError
from acgym.sim_server import build_servers

TIMEOUT_S = 60.0  # bounded; generous for a first compilation on a loaded machine


@pytest.fixture(scope="module")
def lockstep_ports():
    (server,) = build_servers("oval", ego_port=0, mgmt_port=0, lockstep=True)
    with server:
        yield server.ego_address[1], server.mgmt_address[1]


@pytest.fixture
def realtime_ports():
    (server,) = build_servers("oval", ego_port=0, mgmt_port=0)
    with server:
        yield server.ego_address[1], server.mgmt_address[1]


def _lockstep_remote(ego_port: int, mgmt_port: int) -> gym.Env:
    """``acgym/AssettoCorsa-v0`` on the oval, lock-step, against the server's ports."""
    return gym.make(
        "acgym/AssettoCorsa-v0",
        track="oval",
        ego_port=ego_port,
        mgmt_port=mgmt_port,
        mode="lockstep",
        timeout_s=TIMEOUT_S,
    )


def test_a_lockstep_episode_over_the_protocol_equals_the_in_process_simulator(lockstep_ports):
    ego, mgmt = lockstep_ports
    remote = _lockstep_remote(ego, mgmt)
    local = make_race_env("oval")
    options = {"distance_m": 250.0, "lateral_offset_m": -1.5, "speed_mps": 25.0}
    remote_obs, _ = remote.reset(seed=11, options=options)
    local_obs, _ = local.reset(seed=11, options=options)
    assert remote.unwrapped.backend.exact_reset
    np.testing.assert_array_equal(remote_obs, local_obs)
    actions = np.random.default_rng(4).uniform(-1, 1, size=(60, 3)).astype(np.float32)
    for steps, action in enumerate(actions, start=1):  # noqa: B007 - checked below
        r, lo = remote.step(action), local.step(action)
        np.testing.assert_array_equal(r[0], lo[0])  # JSON floats round-trip exactly
        assert r[1:4] == lo[1:4]
        if r[2] or r[3]:
            break
    assert steps >= 30
    remote.close()
    assert remote.unwrapped.last_episode_stats["packages_lost"] == 0


def test_remote_reset_options_must_be_the_protocols(lockstep_ports):
    ego, mgmt = lockstep_ports
    env = make_remote_env(
        "oval", ego_port=ego, mgmt_port=mgmt, mode="lockstep", timeout_s=TIMEOUT_S
    )
    with pytest.raises(ConfigError, match="random_start"):
        env.reset(options={"random_start": True})
    env.close()


def test_real_time_set_actions_then_step_none_and_late_reads_count_lost_states(realtime_ports):
    ego, mgmt = realtime_ports
    env = make_remote_env("oval", ego_port=ego, mgmt_port=mgmt, timeout_s=TIMEOUT_S)
    env.reset(options={"speed_mps": 10.0})
    assert not env.backend.exact_reset  # real time: the original's flush steps
    accel = env.observation_layout.index("applied_accStatus")
    pedal = []
    for _ in range(4):
        env.set_actions(np.array([0.0, 1.0, -1.0], dtype=np.float32))  # applied on arrival
        obs, *_ = env.step(None)  # the next tick's state
        pedal.append(obs[accel])
    assert pedal[-1] > 0.0 and pedal == sorted(pedal)
    env.set_actions(np.zeros(3, dtype=np.float32))
    time.sleep(0.3)  # a slow policy: about 7 ticks go by unread
    env.step(None)
    env.reset()
    assert env.last_episode_stats["packages_lost"] >= 1
    env.close()


def test_both_checkers_pass_on_assetto_corsa_v0_against_a_lockstep_server(lockstep_ports):
    """Gymnasium's and Stable-Baselines3's ``check_env`` on ``acgym/AssettoCorsa-v0``
    (the remote env) talking to the simulator server."""
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    ego, mgmt = lockstep_ports
    env = _lockstep_remote(ego, mgmt)
    try:
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=True)
    finally:
        env.close()

"""The Gymnasium environment over the plugin (``acgym/AssettoCorsa-v0``'s path to the
game): reset with a seed, observations of the original's size, rewards, controls that
reach the car."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from plugin_helpers import ports, running_plugin

from acgym.emulated_game import EmulatedGame
from acgym.env.factory import make_remote_env


def test_the_environment_drives_the_car_through_the_plugin(app_dir: Path) -> None:
    game = EmulatedGame("oval", "dallara_f317")
    with running_plugin(game, app_dir) as runner:
        ego_port, mgmt_port = ports(runner)
        env = make_remote_env("oval", "dallara_f317", ego_port=ego_port, mgmt_port=mgmt_port)
        try:
            obs, _ = env.reset(seed=3)
            assert obs.shape == (125,) and np.isfinite(obs).all()
            assert game.resets == 1
            rewards = []
            for _ in range(20):
                obs, reward, terminated, truncated, _ = env.step(np.array([0.0, 1.0, -1.0]))
                rewards.append(reward)
                assert not (terminated or truncated)
            assert np.isfinite(obs).all()
            assert game.state["speed"] > 1.0  # full throttle reached the car
            assert sum(rewards) > 0.0
        finally:
            env.close()

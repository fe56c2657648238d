"""Tiny Gymnasium environments for the tests of acgym.rl."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class PointEnv(gym.Env):
    """A point on a line must reach the origin: ``x' = clip(x + 0.25 a, -2, 2)``.

    Observation ``[x]``, action ``[a]`` in ``[-1, 1]``, reward ``-|x'|``; the episode is
    truncated after ``max_steps`` steps. Start ``x ~ U(-1, 1)``. Moving straight to the
    origin scores about ``-0.6`` from ``|x| = 0.5``; standing still about ``-0.5 max_steps``.
    """

    def __init__(self, max_steps: int = 20) -> None:
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.max_steps = max_steps
        self._x = 0.0
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._x = float(self.np_random.uniform(-1.0, 1.0))
        self._t = 0
        return np.array([self._x], dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._x = float(np.clip(self._x + 0.25 * float(np.asarray(action)[0]), -2.0, 2.0))
        self._t += 1
        reward = -abs(self._x)
        truncated = self._t >= self.max_steps
        return (
            np.array([self._x], dtype=np.float32),
            reward,
            False,
            truncated,
            {"distance": abs(self._x)},
        )


class CounterEnv(gym.Env):
    """Observation ``[t, episode]``, reward 1 per step, episode of ``length`` steps.

    The last step terminates (``terminate=True``) or truncates. Lets a test check every
    stored n-step transition in closed form. Actions have bounds ``[low, high]``.
    """

    def __init__(
        self, length: int = 5, terminate: bool = False, low: float = -1.0, high: float = 1.0
    ) -> None:
        self.observation_space = gym.spaces.Box(0.0, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(low, high, shape=(2,), dtype=np.float32)
        self.length = length
        self.terminate = terminate
        self._t = 0
        self._episode = -1

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._episode += 1
        return self._obs(), {}

    def _obs(self) -> np.ndarray:
        return np.array([self._t, self._episode], dtype=np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self.action_space.contains(np.asarray(action, dtype=np.float32))
        self._t += 1
        end = self._t >= self.length
        info = {"lap_time_s": 10.0 * (self._episode + 1)} if end else {}
        return self._obs(), 1.0, end and self.terminate, end and not self.terminate, info

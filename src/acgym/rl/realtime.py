"""The in-process simulator paced like the game: a rehearsal of the real-time loop.

In the game the world does not wait: the plugin applies controls on arrival and a new
state is due every control period. :class:`RealTimeEnv` gives a lock-step env (the
simulator in process) the same contract: ``set_actions(a)`` applies at once,
``step(None)`` returns the next state when its period is over (sleeping until then), so
the learner's updates between the two must fit in the period, as they must against
Assetto Corsa. A step that comes late is counted (``late_steps``): the game would have
moved on without the learner.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym

from acgym.errors import ConfigError


class RealTimeEnv(gym.Wrapper):
    """Pace a single env with the real-time pair at ``1 / control_period_s`` steps per second.

    Args:
        env: A single env whose unwrapped env has ``set_actions`` and ``step(None)``
            (``RacingEnv``).
        control_period_s: The period; default the env's ``config.control_period_s``.
        speedup: Run this many times faster than real time (1 = the game's pace).
    """

    def __init__(
        self, env: gym.Env, control_period_s: float | None = None, speedup: float = 1.0
    ) -> None:
        super().__init__(env)
        base = env.unwrapped
        if not hasattr(base, "set_actions"):
            raise ConfigError(
                f"RealTimeEnv needs an env with set_actions, got {type(base).__name__}"
            )
        if control_period_s is None:
            control_period_s = float(base.config.control_period_s)
        if not (control_period_s > 0 and speedup > 0):
            raise ConfigError("control_period_s and speedup must be > 0")
        self.control_period_s = control_period_s / speedup
        self.late_steps = 0
        self.realtime_steps = 0
        self._due = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._due = time.perf_counter() + self.control_period_s
        return obs, info

    def set_actions(self, action: Any) -> None:
        """Apply ``action`` now."""
        self.env.unwrapped.set_actions(action)

    def step(self, action: Any = None) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """``step(None)``: the state the applied actions led to, at its due time;
        ``step(a)``: apply ``a``, then the same."""
        if action is not None:
            self.set_actions(action)
        now = time.perf_counter()
        if now < self._due:
            time.sleep(self._due - now)
            self._due += self.control_period_s
        else:  # late: the world went on without us; the next period starts now
            self.late_steps += 1
            self._due = now + self.control_period_s
        self.realtime_steps += 1
        return self.env.unwrapped.step(None)


__all__ = ["RealTimeEnv"]

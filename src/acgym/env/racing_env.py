"""``RacingEnv``: the Gymnasium environment, a thin orchestrator over a backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from acgym.env.actions import NEUTRAL_CONTROLS, ActionMapper, CarMaps
from acgym.env.backend import (
    RESET_OPTION_SEED,
    RESET_OPTION_SEND_RESET,
    Backend,
    Controls,
    checked_static_info,
)
from acgym.env.config import EnvConfig
from acgym.env.episode_log import EpisodeLog, EpisodeRecorder, fill_step_extras
from acgym.env.observations import StateExpander, TrackGeometry, make_observation_builder
from acgym.env.rendering import TopDownRenderer
from acgym.env.rewards import actions_diff, make_reward
from acgym.env.terminations import make_terminations
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic

RESET_FLUSH_STEPS = 2
"""Steps driven with neutral controls after a backend reset and thrown away (the original's
flush, so that the first state of an episode is a settled one)."""

StepResult = tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]
"""observation, reward, terminated, truncated, info."""


class RacingEnv(gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """Race a car around a track, in Assetto Corsa or the built-in simulator.

    ## Description
    The original ``assetto_corsa_gym`` environment over a :class:`~acgym.env.backend.Backend`;
    it cannot tell the game from the simulator except by ``backend.kind``.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``: steer, accel, brake. Relative by default (changes
    rate-limited to 900 deg/s of wheel and 12 /s of pedal), see :mod:`acgym.env.actions`.
    ``set_actions(a)`` then ``step(None)`` is the real-time pair (apply now, read later).

    ## Observation Space
    Unbounded ``Box`` of 125 values with the defaults, in the original order; the layout
    follows from the config (``observation_layout`` names every index, docs/observation.md).

    ## Rewards
    Speed (km/h) x (1 - |gap| / 12) / 300, optionally minus a control-change penalty;
    ``info["reward/<term>"]`` holds each term (:mod:`acgym.env.rewards`).

    ## Starting State
    The backend resets the car (``send_reset_at_start``); two neutral steps are thrown away
    and the third state is the first observation. History values are 0 until 3 steps exist.

    ## Episode End
    Terminated: out of track, 10 s under 1 m/s, ``max_gap``. Truncated: more than
    ``max_episode_steps`` (15,000) steps, ``max_laps_number`` laps, the game's ``done``.
    ``info["termination_reasons"]`` names the rules (:mod:`acgym.env.terminations`).

    ## Arguments
    backend, track (geometry, racing line as reference line), car (steer / brake maps),
    config (``EnvConfig``), output_dir (episode log; None: none), render_mode
    (``"rgb_array"``: top-down view), target_speed_mps (per line point, ``use_target_speed``).

    ## Version History
    * v0: the original's observation, reward, termination and logs over any backend.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        backend: Backend,
        track: TrackGeometry,
        car: CarMaps,
        config: EnvConfig | None = None,
        *,
        output_dir: Path | str | None = None,
        render_mode: str | None = None,
        target_speed_mps: NDArray[np.float64] | None = None,
    ) -> None:
        self.config = config = EnvConfig() if config is None else config
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        if backend.num_cars != 1:
            raise ConfigError(
                f"RacingEnv drives one car; expected backend.num_cars == 1, got {backend.num_cars}"
            )
        self.render_mode, self.backend, self.track, self.car = render_mode, backend, track, car
        self.action_mapper = ActionMapper.from_config(car.steer, config)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.expander = StateExpander(config, track, target_speed_mps=target_speed_mps)
        self.observation_builder = make_observation_builder(config)
        self.observation_space = self.observation_builder.space
        self.history = self.observation_builder.new_history(1)
        self.reward_fn = make_reward(config)
        self.terminations = make_terminations(config)
        self._extra = [self.expander.frame.index[c] for c in config.observation.extra_channels]
        self.episode_log = EpisodeLog(output_dir, save_states=config.save_observations)
        if output_dir is not None:
            write_text_atomic(Path(output_dir) / "env_config.yaml", config.to_yaml())
        self.static_info: dict[str, Any] | None = None
        self.n_episodes = self.total_steps = self.ep_steps = 0
        self.last_episode_stats: dict[str, Any] = {}
        self._ep_steps = np.zeros(1, dtype=np.int64)
        self.recorder = EpisodeRecorder()
        self._extras: dict[str, Any] = {}
        self._controls = np.array(NEUTRAL_CONTROLS)
        self._raw_actions = np.array(NEUTRAL_CONTROLS)
        self._pending = self._closed = self._started = False
        self._last_state: dict[str, Any] | None = None
        self._renderer: TopDownRenderer | None = None

    @property
    def observation_layout(self) -> tuple[str, ...]:
        """Name of every index of the observation (``"speed"``, ``"prev_obs_1/ray_05"``)."""
        return self.observation_builder.layout.names

    @property
    def max_episode_steps(self) -> int:
        """The step limit (an episode is truncated at the step after it, as in the original)."""
        return self.config.max_episode_steps

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        self._end_episode()
        self.n_episodes += 1
        self.backend.connect()
        if self.static_info is None:  # once: check that the backend runs what is configured
            self.static_info = checked_static_info(self.backend, self.config)
            self.expander.track_length_m = float(self.static_info["TrackLength"])
        backend_options = {RESET_OPTION_SEND_RESET: self.config.send_reset_at_start}
        self.backend.reset({**backend_options, RESET_OPTION_SEED: seed, **(options or {})})
        self.terminations.reset(1)
        self.history.clear()
        self._controls = np.array(NEUTRAL_CONTROLS)
        self._started, self.ep_steps = True, 0
        for _ in range(RESET_FLUSH_STEPS):
            self.set_actions(NEUTRAL_CONTROLS)
            self._advance()
        self.recorder.clear()
        self.history.clear()
        self.terminations.reset(1, episode_history_only=True)
        self.set_actions(NEUTRAL_CONTROLS)
        obs, _, _, _, info = self._advance()
        self.ep_steps = 0
        return obs, info

    def set_actions(self, action: Any) -> None:
        """Apply an action now; ``step(None)`` later reads the state it leads to."""
        if self._closed:
            raise RuntimeError("the environment is closed")
        self._raw_actions = raw = self.action_mapper.check_actions(action, single=True)
        self._controls = self.action_mapper.to_controls(raw, self._controls, checked=True)
        steer, acc, brake = self._controls.tolist()
        self.backend.apply(Controls(steer, acc, brake))
        self._pending = True

    def step(self, action: Any = None) -> StepResult:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if action is not None:
            self.set_actions(action)
        elif not self._pending:
            raise RuntimeError("step(None) needs set_actions(a) first (the real-time pair)")
        return self._advance()

    def _advance(self) -> StepResult:
        """One backend step through the whole pipeline (the original's ``step``)."""
        self._pending = False
        self.ep_steps += 1
        self.total_steps += 1
        self._ep_steps[0] = self.ep_steps
        state = self.backend.observe()
        frame = self.expander.expand(state)
        obs = self.observation_builder.build(frame, self.history)
        self.observation_builder.check_finite(obs)
        total, parts = self.reward_fn(frame, actions_diff(frame, self.history))
        end = self.terminations(frame, self._ep_steps)
        self.observation_builder.push(obs, frame, self.history)
        reward = float(total[0])
        terminated, truncated = bool(end.terminated[0]), bool(end.truncated[0])
        info: dict[str, Any] = {"terminated": terminated, "TimeLimit.truncated": truncated}
        for key, part in zip(self.reward_fn.info_keys, parts, strict=True):
            info[key] = float(part[0])
        if terminated or truncated:
            info["termination_reasons"] = self.terminations.reasons(end.fired)
        c, r = self._controls, self._raw_actions
        extras = fill_step_extras(self._extras, state, frame, c, r, reward, terminated, truncated)
        if self.config.use_obs_extra:
            extra = frame.values[0, self._extra].astype(np.float32)
            info["obs_extra"] = extras["obs_extra"] = extra
        self.recorder.append(state, extras)
        self._last_state = state
        if (terminated or truncated) and self.config.recover_car_on_done:
            self.backend.apply(Controls(*NEUTRAL_CONTROLS))
            self.backend.reset({RESET_OPTION_SEND_RESET: True, RESET_OPTION_SEED: None})
        return obs[0].astype(np.float32), reward, terminated, truncated, info

    def _end_episode(self) -> dict[str, Any]:
        log, info, table = self.episode_log, self.static_info or {}, self.recorder.table()
        stats = log.end_episode(
            table, ep_count=self.n_episodes, total_steps=self.total_steps, static_info=info
        )
        self.recorder.clear()
        self.last_episode_stats = stats or self.last_episode_stats
        return stats

    def episode_states(self) -> pd.DataFrame:
        """The current episode's logged states so far (the original's ``get_history``)."""
        return self.recorder.dataframe()

    def set_eval_mode(self) -> None:
        """Evaluation as in the original: ``eval_number_of_laps`` laps, the game's out-of-track."""
        self.config = dataclasses.replace(
            self.config, max_laps_number=self.config.eval_number_of_laps, use_ac_out_of_track=True
        )
        self.expander.use_ac_out_of_track = True
        self.terminations = make_terminations(self.config)
        self.terminations.reset(1)

    def render(self) -> NDArray[np.uint8] | None:
        """A top-down ``(H, W, 3)`` image: track borders, racing line, the car and its heading."""
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = TopDownRenderer(self.track)
        return self._renderer.draw(self._last_state)

    def close(self) -> None:
        """Write the last episode and release the backend; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._end_episode()
        self.backend.close()

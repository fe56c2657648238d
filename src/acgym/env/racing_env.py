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
    RowBackend,
    checked_static_info,
    lap_length_m,
)
from acgym.env.config import EnvConfig
from acgym.env.episode_log import EpisodeLog, StepLog
from acgym.env.observations import POSE_CHANNELS, Frame
from acgym.env.pipeline import StepPipeline
from acgym.env.rendering import EnvRenderer, available_render_modes
from acgym.env.sim_extension import SimulatorExtension
from acgym.env.starts import FAILURE_ENDS_OPTION
from acgym.env.terminations import Terminations, make_terminations
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.track.track import Track

RESET_FLUSH_STEPS = 2
"""Neutral steps thrown away after a reset without ``exact_reset`` (the original's flush)."""

StepResult = tuple[Any, float, bool, bool, dict[str, Any]]
"""observation, reward, terminated, truncated, info."""


class RacingEnv(SimulatorExtension, gym.Env[Any, NDArray[np.float32]]):
    """Race a car around a track, in Assetto Corsa or the built-in simulator.

    Spaces, reward, starts, episode ends and the extensions (the real-time pair ``set_actions(a)``
    / ``step(None)``; the simulator's, ``SimulatorExtension``) are in docs/environment.md.

    Args:
        backend: The world (``LocalSim``, ``Remote`` or any ``Backend``).
        track: Track geometry (racing line as reference line).
        car: The car's steer and brake maps.
        config: Options (``EnvConfig``).
        output_dir: Episode log folder (None: statistics in memory only).
        render_mode: None, ``"rgb_array"`` (top-down view) or ``"human"`` (a window).
        target_speed_mps: Per line point, for ``use_target_speed``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": available_render_modes()}
    metadata["render_fps"] = 25  # "human" is a render mode where a display exists

    def __init__(
        self,
        backend: Backend,
        track: Track,
        car: CarMaps,
        config: EnvConfig | None = None,
        *,
        output_dir: Path | str | None = None,
        render_mode: str | None = None,
        target_speed_mps: NDArray[np.float64] | None = None,
    ) -> None:
        self.config = config = EnvConfig() if config is None else config
        self._view = EnvRenderer(track, render_mode)
        if backend.num_cars != 1:
            raise ConfigError(
                f"RacingEnv drives one car; expected backend.num_cars == 1, got {backend.num_cars}"
            )
        self.render_mode, self.backend, self.track, self.car = render_mode, backend, track, car
        self.action_mapper = ActionMapper.from_config(car.steer, config)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        frames = getattr(backend, "frame_source", None)  # the game's frames (Remote + capture)
        self.pipeline = StepPipeline(config, track, 1, frames, target_speed_mps=target_speed_mps)
        self.expander, self.observation_builder = self.pipeline.expander, self.pipeline.builder
        self.history = self.pipeline.history
        self.reward_fn = self.pipeline.reward_fn
        self.observation_space = self.pipeline.single_space
        frame = self.expander.frame
        self._pose_cols = [frame.index[c] for c in POSE_CHANNELS]
        self._rows = isinstance(backend, RowBackend)
        extra = config.observation.extra_channels if config.use_obs_extra else None
        layout = backend.row_layout if self._rows else None  # type: ignore[attr-defined]
        self.recorder = StepLog(frame, extra, layout)
        self.episode_log = EpisodeLog(output_dir, save_states=config.save_observations)
        if output_dir is not None:
            write_text_atomic(Path(output_dir) / "env_config.yaml", config.to_yaml())
        self.static_info: dict[str, Any] | None = None
        self.n_episodes = self.total_steps = self.ep_steps = self._lost_at_start = 0
        self.last_episode_stats: dict[str, Any] = {}
        self._controls = np.array(NEUTRAL_CONTROLS)
        self._raw_actions = np.array(NEUTRAL_CONTROLS)
        self._pending = self._closed = self._started = False
        self._pose: tuple[float, float, float] | None = None

    @property
    def observation_layout(self) -> tuple[str, ...]:
        """Name of every index of the observation vector (``"speed"``, ``"prev_obs_1/ray_05"``)."""
        return self.observation_builder.layout.names

    @property
    def terminations(self) -> Terminations:
        """The episode-end rules in force."""
        return self.pipeline.terminations

    @property
    def max_episode_steps(self) -> int:
        """The step limit (an episode is truncated at the step after it, as in the original)."""
        return self.config.max_episode_steps

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self._end_episode()
        self.n_episodes += 1
        self.backend.connect()
        if self.static_info is None:  # once: check that the backend runs what is configured
            self.static_info = checked_static_info(self.backend, self.config)
            self.expander.track_length_m = lap_length_m(self.static_info, self.track)
        options = {RESET_OPTION_SEND_RESET: self.config.send_reset_at_start, **(options or {})}
        if self.config.start.failure_fraction > 0.0:
            options[FAILURE_ENDS_OPTION] = self.pipeline.failure_ends.distances_m()
        state = self.backend.reset({**options, RESET_OPTION_SEED: seed})
        self._lost_at_start = self.backend.states_lost
        self.pipeline.clear()
        self._controls = np.array(NEUTRAL_CONTROLS)
        self._raw_actions = np.array(NEUTRAL_CONTROLS)
        self._started, self.ep_steps = True, 0
        if self.backend.exact_reset and options[RESET_OPTION_SEND_RESET]:
            obs, _, _, _, info = self._outcome(self._read(state, advance=False), state, first=True)
        else:  # the original's flush: neutral steps until the car has settled
            for _ in range(RESET_FLUSH_STEPS):
                self.set_actions(NEUTRAL_CONTROLS)
                self._advance()
            self.recorder.clear()
            self.history.clear()
            self.terminations.reset(1, episode_history_only=True)
            self.set_actions(NEUTRAL_CONTROLS)
            obs, _, _, _, info = self._advance()
        self.ep_steps = self.pipeline.ep_steps[0] = 0
        if self.render_mode == "human":
            self.render()
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
        result = self._advance()
        if self.render_mode == "human":
            self.render()
        return result

    def _read(self, state: Any, advance: bool) -> Frame:
        """The next (or, with ``advance=False``, the current) state as a frame."""
        if not self._rows:
            return self.expander.expand(state)
        b = self.backend
        return self.expander.expand_rows(b.step_rows() if advance else b.rows(), b.row_layout)  # type: ignore[attr-defined]

    def _advance(self) -> StepResult:
        """One backend step through the whole pipeline (the original's ``step``)."""
        self._pending = False
        state = None if self._rows else self.backend.observe()
        return self._outcome(self._read(state, advance=True), state, first=False)

    def _outcome(self, frame: Frame, state: Any, *, first: bool) -> StepResult:
        """Observation, reward, episode end, log and info of a frame (``first``: the exact
        reset state, which counts no step and is judged by no episode-end rule)."""
        p = self.pipeline
        if not first:
            self.ep_steps += 1
            self.total_steps += 1
            p.ep_steps[0] = self.ep_steps
        obs = p.observe(frame)
        total, parts, end = p.judge(frame, evaluate_end=not first)
        p.push(obs, frame)
        reward, info = float(total[0]), p.info(parts, end)
        terminated, truncated = info["terminated"], info["TimeLimit.truncated"]
        row = self.backend.rows()[0] if self._rows else None  # type: ignore[attr-defined]
        args = (self._controls, self._raw_actions, reward, terminated, truncated)
        extra = self.recorder.record(frame, state, row, *args)
        if extra is not None:
            info["obs_extra"] = extra
        values = frame.values[0]
        self._pose = tuple(values[self._pose_cols].tolist())  # type: ignore[assignment]
        if (terminated or truncated) and self.config.recover_car_on_done:
            self.backend.apply(Controls(*NEUTRAL_CONTROLS))
            self.backend.reset({RESET_OPTION_SEND_RESET: True, RESET_OPTION_SEED: None})
        return p.single_observation(obs), reward, terminated, truncated, info

    def _end_episode(self) -> dict[str, Any]:
        log, info, table = self.episode_log, self.static_info or {}, self.recorder.table()
        lost = self.backend.states_lost - self._lost_at_start
        stats = log.end_episode(
            table,
            ep_count=self.n_episodes,
            total_steps=self.total_steps,
            static_info=info,
            packages_lost=lost,
        )
        self.recorder.clear()
        self.last_episode_stats = stats or self.last_episode_stats
        return stats

    def episode_states(self) -> pd.DataFrame:
        """The current episode's logged states so far (the original's ``get_history``)."""
        return self.recorder.dataframe()

    def set_eval_mode(self) -> None:
        """Evaluation as in the original: ``eval_number_of_laps`` laps, the game's
        out-of-track. Starts are ``env.start``'s without the failure starts (a training
        device): an evaluation starts where every other one of the same seed did."""
        self.config = dataclasses.replace(
            self.config,
            max_laps_number=self.config.eval_number_of_laps,
            use_ac_out_of_track=True,
            start=dataclasses.replace(self.config.start, failure_fraction=0.0),
        )
        self.expander.use_ac_out_of_track = True
        self.pipeline.terminations = make_terminations(self.config)
        self.terminations.reset(1)

    def render(self) -> NDArray[np.uint8] | None:
        """``rgb_array``: a top-down ``(H, W, 3)`` image of track, line and car; ``human``: a window."""
        return self._view.render(self._pose)

    def close(self) -> None:
        """Write the last episode and release the backend; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._end_episode()
        self.backend.close()
        self._view.close()

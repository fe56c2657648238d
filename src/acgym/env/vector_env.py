"""``RaceVectorEnv``: N cars in one batched simulator, as a Gymnasium ``VectorEnv``.

Every car drives its own episode on the same track; the cars do not touch (the
simulator has no contact between cars). One ``step`` maps the ``(N, 3)`` actions to
controls, advances the whole :class:`~acgym.sim.session.SimSession` once and computes the
observations, rewards and episode ends of all cars at once (the
:class:`~acgym.env.pipeline.StepPipeline` of the single environment, with N rows), so
car ``i`` follows exactly the trajectory of a single ``acgym/Race-v0`` environment given
the same start and actions.

Autoreset: ``AutoresetMode.SAME_STEP``. A car whose episode ends at a step is reset in
that same step: the returned observation is its new episode's first one, the reward,
``terminated`` and ``truncated`` are those of the step that ended; ``info["final_obs"]``
(an object array, the last observation at the ended cars) and ``info["final_info"]``
(their step infos: ``terminated``, ``TimeLimit.truncated``, ``reward/<term>``,
``termination_reasons``), with the masks ``_final_obs`` / ``_final_info``, are filled as
Gymnasium's ``SyncVectorEnv`` fills them in this mode. Same-step autoreset wastes no
batched step on resets (every transition is a real one), which is what a batched
simulator is for. On other steps ``info`` is empty.

Starts follow ``config.start`` (fixed, or random from one generator per car: car ``i``
of ``reset(seed=s)`` draws as a single environment reset with ``seed=s + i``); the
options of ``reset`` may set ``distance_m``, ``lateral_offset_m``,
``heading_offset_rad``, ``speed_mps`` (a number, or one per car) and ``random_start``
for that reset only; autoresets use ``config.start``.

Episode files (``output_dir``) are off by default for speed; with a folder every car's
episodes are logged as the single environment logs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from acgym.env.actions import NEUTRAL_CONTROLS, ActionMapper, CarMaps
from acgym.env.backend import track_full_name
from acgym.env.backends.local import SIM_ROW_LAYOUT
from acgym.env.config import EnvConfig
from acgym.env.derived import DERIVED_CHANNELS
from acgym.env.episode_log import EpisodeLog, RowRecorder
from acgym.env.observations import POSE_CHANNELS
from acgym.env.pipeline import IMAGE_KEY, VECTOR_KEY, StepPipeline
from acgym.env.rendering import TopDownRenderer
from acgym.env.rewards import StepChange
from acgym.env.sim_extension import SimulatorExtension
from acgym.env.starts import START_OPTIONS, ProfileSpeed, start_placement
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.sim.car_params import car_folder
from acgym.sim.session import SimSession
from acgym.sim.world import WorldConfig
from acgym.track.track import Track

FloatArray = NDArray[np.float64]


class RaceVectorEnv(SimulatorExtension, VectorEnv):
    """``num_envs`` cars of ``acgym/Race-v0`` in one simulator (see the module docstring).

    Args:
        num_envs: Cars.
        track: The track.
        car: Car preset name or folder (every car the same).
        config: Options; ``track`` and ``car`` must name these.
        world_config: The simulator's rates and surface settings.
        output_dir: Episode log folder (None: no files).
        render_mode: None or ``"rgb_array"`` (every car on one top-down image).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": ["rgb_array"],
        "render_fps": 25,
    }

    def __init__(
        self,
        num_envs: int,
        track: Track,
        car: str,
        config: EnvConfig,
        *,
        world_config: WorldConfig | None = None,
        output_dir: Path | str | None = None,
        render_mode: str | None = None,
    ) -> None:
        if num_envs < 1:
            raise ConfigError(f"num_envs: expected >= 1, got {num_envs}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode: expected None or 'rgb_array', got {render_mode!r}")
        self.num_envs, self.config, self.track, self.render_mode = (
            num_envs,
            config,
            track,
            render_mode,
        )
        self.session = SimSession(track, car, num_cars=num_envs, config=world_config)
        _check_session(self.session, config)
        maps = CarMaps.from_folder(car_folder(car))
        self.action_mapper = ActionMapper.from_config(maps.steer, config)
        self.pipeline = p = StepPipeline(config, track, num_envs)
        p.expander.track_length_m = float(track.length_m)
        self.single_action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.single_observation_space = p.single_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.rngs = [np.random.default_rng() for _ in range(num_envs)]
        self.profile_speed = ProfileSpeed(track.line_m, self.session.world.cars[0].vehicle_limits)
        self._controls = np.tile(np.array(NEUTRAL_CONTROLS), (num_envs, 1))
        self._raw = np.zeros((num_envs, 3))
        self._log = None if output_dir is None else _CarLogs(self, Path(output_dir))
        self._renderer: TopDownRenderer | None = None

    @property
    def observation_layout(self) -> tuple[str, ...]:
        """Name of every index of one car's observation vector."""
        return self.pipeline.builder.layout.names

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset every car; ``seed``: an int (car ``i`` gets ``seed + i``) or one per car."""
        super().reset(seed=seed if isinstance(seed, int) else None)
        seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else seed
        if seeds is not None:
            if len(seeds) != self.num_envs:
                raise ConfigError(f"seed: expected {self.num_envs} seeds, got {len(seeds)}")
            for i, s in enumerate(seeds):
                if s is not None:
                    self.rngs[i] = np.random.default_rng(s)
        if self._log is not None:
            self._log.end_all()
        cars = np.arange(self.num_envs)
        self._place(cars, options or {})
        p = self.pipeline
        frame = p.expander.expand_rows(self.session.telemetry_array, SIM_ROW_LAYOUT)
        obs = p.observe(frame)
        if self._log is not None:
            self._log.record(cars, frame, p.reward_fn(frame, self._no_diff)[0], None)
        p.push(obs, frame)
        return self._batched(obs), {}

    def step(
        self, actions: Any
    ) -> tuple[Any, FloatArray, NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        """One batched step of every car, with same-step autoreset of the cars that end."""
        raw = self.action_mapper.check_actions(actions)
        if raw.shape != (self.num_envs, 3):
            raise ValueError(f"actions: expected shape ({self.num_envs}, 3), got {raw.shape}")
        self._raw = raw
        self._controls = self.action_mapper.to_controls(raw, self._controls, checked=True)
        self.session.step(self._controls)
        p = self.pipeline
        frame = p.expander.expand_rows(self.session.telemetry_array, SIM_ROW_LAYOUT)
        p.ep_steps += 1
        obs = p.observe(frame)
        total, parts, end = p.judge(frame)
        reward = total.copy()
        terminated, truncated = end.terminated.copy(), end.truncated.copy()
        if self._log is not None:
            self._log.record(np.arange(self.num_envs), frame, reward, (terminated, truncated))
        done = terminated | truncated
        infos: dict[str, Any] = {}
        if done.any():
            cars = np.flatnonzero(done)
            for i in cars.tolist():
                final = {
                    "final_obs": p.single_observation(obs, i),
                    "final_info": p.info(parts, end, i),
                }
                infos = self._add_info(infos, final, i)
            if self._log is not None:
                self._log.end(cars)
            self._place(cars, {})
            frame = p.expander.expand_rows(self.session.telemetry_array, SIM_ROW_LAYOUT, cars)
            obs = p.observe(frame, cars)
            if self._log is not None:
                self._log.record(cars, frame, p.reward_fn(frame, self._no_diff)[0], None)
        p.push(obs, frame)
        return self._batched(obs), reward, terminated, truncated, infos

    def _place(self, cars: NDArray[np.intp], options: dict[str, Any]) -> None:
        """Reset the cars ``cars`` in the simulator and start their episodes."""
        per_car = {
            k: np.broadcast_to(v, (self.num_envs,))
            for k, v in options.items()
            if k in START_OPTIONS
        }
        rest = {k: v for k, v in options.items() if k not in START_OPTIONS}
        length_m = self.track.length_m
        failure_ends_m = self.pipeline.failure_ends.distances_m()
        placements = [
            start_placement(
                self.config.start,
                {**rest, **{k: float(v[i]) for k, v in per_car.items()}},
                self.rngs[i],
                length_m,
                self.profile_speed,
                failure_ends_m,
            )
            for i in cars.tolist()
        ]
        self.session.reset(cars, **{k: [pl[k] for pl in placements] for k in START_OPTIONS})
        self._controls[cars] = NEUTRAL_CONTROLS
        mask = np.zeros(self.num_envs, dtype=bool)
        mask[cars] = True
        self.pipeline.clear(None if mask.all() else mask)

    @property
    def _no_diff(self) -> StepChange:
        return StepChange.zero(self.num_envs)

    def _batched(self, obs: FloatArray) -> Any:
        vector = obs.astype(np.float32)
        image = self.pipeline.image
        if image is None:
            return vector
        return {VECTOR_KEY: vector, IMAGE_KEY: image.images.copy()}

    def render(self) -> NDArray[np.uint8] | None:
        """``rgb_array``: every car on one top-down image of the track."""
        if self.render_mode is None:
            return None
        if self._renderer is None:
            self._renderer = TopDownRenderer(self.track)
        frame = self.pipeline.expander.frame
        x, y, yaw = (frame.column(c) for c in POSE_CHANNELS)
        return self._renderer.draw(x, y, yaw)

    def close_extras(self, **kwargs: Any) -> None:
        """Write the episodes in progress (with an output folder)."""
        if self._log is not None:
            self._log.end_all()


def _check_session(session: SimSession, config: EnvConfig) -> None:
    """The config must name the session's track, car and control rate (as the single env)."""
    static = session.static_info(0)
    expected = {
        "ego_sampling_freq": (config.ego_sampling_freq, session.config()["ego_sampling_freq"]),
        "track": (config.track, track_full_name(static)),
        "car": (config.car, static["CarName"]),
    }
    for key, (want, got) in expected.items():
        if want != got:
            raise ConfigError(f"{key}: the config expects {want!r}, the simulator runs {got!r}")


class _CarLogs:
    """Per-car episode recorders of a vector env, written through one ``EpisodeLog``."""

    def __init__(self, env: RaceVectorEnv, output_dir: Path) -> None:
        config, p = env.config, env.pipeline
        self.env = env
        self.log = EpisodeLog(output_dir, save_states=config.save_observations)
        write_text_atomic(output_dir / "env_config.yaml", config.to_yaml())
        index = p.expander.frame.index
        self.derived = np.array([index[c] for c in DERIVED_CHANNELS], dtype=np.intp)
        num_rays = p.expander.frame.rays_m.shape[1]
        self.recorders = [RowRecorder(SIM_ROW_LAYOUT, num_rays) for _ in range(env.num_envs)]
        self.static_info = {**env.session.static_info(0), "TrackFullName": config.track}
        self.episodes = self.total_steps = 0

    def record(
        self,
        cars: NDArray[np.intp],
        frame: Any,
        reward: FloatArray,
        ends: tuple[NDArray[np.bool_], NDArray[np.bool_]] | None,
    ) -> None:
        rows, env = self.env.session.telemetry_array, self.env
        for i in cars.tolist():
            term, trunc = (False, False) if ends is None else (bool(ends[0][i]), bool(ends[1][i]))
            raw = env._raw[i] if ends is not None else np.array(NEUTRAL_CONTROLS)
            self.recorders[i].append(
                rows[i],
                frame,
                i,
                env._controls[i],
                raw,
                float(reward[i]),
                term,
                trunc,
                self.derived,
            )
        if ends is not None:
            self.total_steps += len(cars)

    def end(self, cars: NDArray[np.intp]) -> None:
        for i in cars.tolist():
            recorder = self.recorders[i]
            if len(recorder):
                self.episodes += 1
                self.log.end_episode(
                    recorder.table(),
                    ep_count=self.episodes,
                    total_steps=self.total_steps,
                    static_info=self.static_info,
                    packages_lost=0,
                )
            recorder.clear()

    def end_all(self) -> None:
        self.end(np.arange(self.env.num_envs))

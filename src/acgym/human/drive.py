"""``acgym drive``: everything around a drive session: the run's folder, the environment
(the same as training's, from the run's configuration), the expert's reference lap, the
ghost, the person's earlier best lap, the window.

A session's episodes go to ``<out>/<track>/<car>/<YYYYmmdd_HHMMSS>_human/`` (the episode
log of the environment: ``laps/*.parquet``, ``static_info.json``, ``episodes_stats.csv``,
``env_config.yaml``), the dataset layout ``acgym record --expert`` writes and
``train.load_offline_data`` reads.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acgym.errors import ConfigError
from acgym.human.laps import STATUS_CHANNELS, RecordedLap, best_recorded_lap

if TYPE_CHECKING:
    from acgym.config import Config

logger = logging.getLogger(__name__)

DRIVE_OVERRIDES = (
    "env.enable_out_of_track_termination=false",
    "env.enable_low_speed_termination=false",
    "env.max_episode_py_time=3600",
)
"""What a person's session changes of the run's configuration before the command's own
``key=value`` items (which win): leaving the track or stopping does not end the episode
(the lap is invalidated, as in the game; human data are full of such states), and an
episode lasts up to an hour. Physics, actions and observations are training's."""

HUMAN_RUN_SUFFIX = "_human"
"""End of the folder name of a person's session."""


@dataclass(frozen=True)
class DriveSetup:
    """What ``acgym drive`` opens before the session starts."""

    env: Any
    run_dir: Path | None
    reference: RecordedLap | None
    best: RecordedLap | None
    ghost: RecordedLap | str | None


def human_run_dir(out: Path | str, track: str, car: str, now: datetime | None = None) -> Path:
    """``<out>/<track>/<car>/<YYYYmmdd_HHMMSS>_human`` (a free name)."""
    from acgym.fileio import free_folder

    stamp = (now or datetime.now()).strftime("%Y%m%d_%H%M%S")
    return free_folder(Path(out) / track / car, f"{stamp}{HUMAN_RUN_SUFFIX}")


def earlier_best(out: Path | str, track: str, car: str) -> RecordedLap | None:
    """The person's fastest clean lap of the earlier sessions under ``out`` on this track
    and car (None: none)."""
    root = Path(out) / track / car
    if not root.is_dir():
        return None
    folders = sorted(p / "laps" for p in root.glob(f"*{HUMAN_RUN_SUFFIX}") if (p / "laps").is_dir())
    return best_recorded_lap(folders, label="your best")


def expert_lap(config: Config) -> RecordedLap | None:
    """The expert's fastest clean lap of two from a standing start (the simulator's
    expert driving the same car, track and environment settings)."""
    from acgym.rl.envs import make_env
    from acgym.rl.expert import drive_expert
    from acgym.rl.laps import laps_from_states

    env = make_env(config)
    try:
        run = drive_expert(env, laps=2)
    finally:
        env.close()
    return _best_lap(run.states, laps_from_states(run.states), "expert")


def _best_lap(states: Any, laps: Any, label: str) -> RecordedLap | None:
    clean = [lap for lap in laps.laps if lap.clean]
    if not clean:
        return None
    lap = min(clean, key=lambda lap: lap.time_s)
    return RecordedLap.from_states(states, lap.start_step, lap.end_step, lap.time_s, True, label)


def checkpoint_lap(checkpoint: Path | str, config: Config) -> RecordedLap | None:
    """The best clean lap of a checkpoint's policy (one evaluation episode) on the drive's
    track and car, in the environment the policy learned in (its run's configuration).

    Raises:
        ConfigError: The checkpoint is not in a run folder, or learned on another track or
            car.
    """
    from acgym.config import CONFIG_FILE, load_config
    from acgym.rl.checkpoint import env_observation_layout, load_agent, resolve_checkpoint
    from acgym.rl.envs import make_env
    from acgym.rl.evaluation import run_episode
    from acgym.rl.run import resume_run_dir

    path = resolve_checkpoint(checkpoint)
    run_config = load_config(resume_run_dir(path) / CONFIG_FILE)
    learned = (run_config.env.track, run_config.env.car)
    if learned != (config.env.track, config.env.car):
        raise ConfigError(
            f"--ghost {checkpoint}: the policy learned on track {learned[0]!r} with car "
            f"{learned[1]!r}; drive that track and car (--track, --car) to race it"
        )
    env = make_env(run_config, evaluation=True)
    try:
        agent = load_agent(path, device="cpu", observation_layout=env_observation_layout(env))
        episode = run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed=0)
    finally:
        env.close()
    return _best_lap(episode.states, episode.laps, f"policy {path.name}")


def drive_config(config_file: str | None, overrides: list[str], game: bool) -> Config:
    """The run's configuration with :data:`DRIVE_OVERRIDES` first; in the game the
    client's device is logged (``record_controls_from_client``) and the car's status comes
    through ``info["obs_extra"]``."""
    from acgym.config import load_config

    items = list(DRIVE_OVERRIDES)
    if game:
        items += [
            "env.record_controls_from_client=true",
            "env.use_obs_extra=true",
            f"env.observation.extra_channels=[{','.join(STATUS_CHANNELS)}]",
        ]
    return load_config(config_file, [*items, *overrides])


def open_env(config: Config, run_dir: Path | None, client_inputs: Any = None) -> Any:
    """The session's environment: the run's (``acgym/Race-v0``, or the game's
    ``acgym/AssettoCorsa-v0`` with the client's device logged)."""
    import gymnasium as gym

    import acgym  # noqa: F401  (registers the ids)
    from acgym.rl.envs import REMOTE_ENV_ID, SIM_ENV_ID, env_kwargs

    kwargs = env_kwargs(config, output_dir=run_dir)
    if config.backend == "sim":
        return gym.make(SIM_ENV_ID, **kwargs)
    return gym.make(REMOTE_ENV_ID, **kwargs, client_inputs=client_inputs)


def prepare(
    config: Config,
    *,
    out: Path | str | None,
    ghost: str | None,
    client_inputs: Any = None,
) -> DriveSetup:
    """Open the environment and gather the laps the session shows.

    Args:
        config: The run's configuration (:func:`drive_config`).
        out: The dataset folder (None: record nothing).
        ghost: ``best`` (the person's best lap), ``expert``, a checkpoint (or run) folder,
            or None.
        client_inputs: The device as the game's client reads it (game only).
    """
    env_config = config.env
    simulator = config.backend == "sim"
    if ghost not in (None, "best") and not simulator:
        raise ConfigError("--ghost expert / CHECKPOINT needs the simulator (backend=sim)")
    reference = expert_lap(config) if simulator else None
    if ghost == "expert":
        ghost_lap: RecordedLap | str | None = reference
        if reference is None:
            logger.warning("the expert completed no clean lap: no ghost")
    elif ghost in (None, "best"):
        ghost_lap = ghost
    else:
        ghost_lap = checkpoint_lap(ghost, config)
        if ghost_lap is None:
            logger.warning("the policy of %s completed no clean lap: no ghost", ghost)
    best = earlier_best(out, env_config.track, env_config.car) if out is not None else None
    run_dir = None if out is None else human_run_dir(out, env_config.track, env_config.car)
    env = open_env(config, run_dir, client_inputs)
    return DriveSetup(env, run_dir, reference, best, ghost_lap)


def with_track_and_car(config: Config, track: str | None, car: str | None) -> Config:
    """``config`` driving ``track`` and ``car`` (None: as configured)."""
    fields = {k: v for k, v in (("track", track), ("car", car)) if v is not None}
    if not fields:
        return config
    return dataclasses.replace(config, env=dataclasses.replace(config.env, **fields))


__all__ = [
    "DRIVE_OVERRIDES",
    "DriveSetup",
    "checkpoint_lap",
    "drive_config",
    "earlier_best",
    "expert_lap",
    "human_run_dir",
    "open_env",
    "prepare",
    "with_track_and_car",
]

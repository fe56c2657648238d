"""Offline data: logged laps back into transitions, a replay buffer filled with them, and
a Minari export.

Datasets use the original layout: ``<dataset>/<track>/<car>/<run>/laps/`` holding the
episode files (``*.parquet`` with ``static_info.json`` beside them, or the older
``*.pkl``). A training or recording run folder of acgym (``<run>/laps/``) is a dataset
of one run. Each episode is read with :func:`acgym.env.history.load_history` and
rebuilt with :func:`acgym.env.history.rebuild_episode` under the *current* environment
settings (observation, reward), as the original data loader did: logged controls go back
through the car's steer and brake maps and the action inverse (relative or absolute)
into actions.

A rebuilt episode of ``T`` states gives ``T - 1`` transitions ``(s_t, a_{t+1}, r_{t+1},
s_{t+1})``: ``a_{t+1}`` is the action that led from state ``t`` to ``t + 1``. Out-of-track
states are terminal (no bootstrap) but the episode goes on (human laps are full of them);
the episode's end is a truncation.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.errors import ConfigError, DataFileError

logger = logging.getLogger(__name__)

LAPS_DIR = "laps"
STATIC_INFO_FILE = "static_info.json"
EPISODE_SUFFIXES = (".parquet", ".pkl")


@dataclass(frozen=True)
class DatasetRun:
    """One recorded run of a dataset: its laps folder and what it was driven on."""

    laps_dir: Path
    """Folder of the episode files."""
    track: str
    """Full track name (``TrackName-TrackConfiguration``, or the folder name)."""
    car: str
    """Car name."""
    files: tuple[Path, ...]
    """Episode files, sorted by name (the original loader's order)."""


@dataclass(frozen=True)
class Transitions:
    """Transitions of one logged episode (``N = T - 1`` for ``T`` logged states)."""

    observations: NDArray[np.float32]
    """``(N, obs_dim)`` states ``s_t``."""
    actions: NDArray[np.float32]
    """``(N, 3)`` actions in ``[-1, 1]`` that led from ``s_t`` to ``s_{t+1}``."""
    rewards: NDArray[np.float64]
    """``(N,)`` rewards of reaching ``s_{t+1}``."""
    next_observations: NDArray[np.float32]
    """``(N, obs_dim)`` states ``s_{t+1}``."""
    terminated: NDArray[np.bool_]
    """``(N,)`` ``s_{t+1}`` is out of track (terminal)."""

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass(frozen=True)
class OfflineSummary:
    """What :func:`fill_replay` loaded."""

    runs: int
    """Runs (laps folders) read."""
    episodes: int
    """Episode files read."""
    transitions: int
    """Transitions added."""
    skipped: tuple[str, ...]
    """Runs or files left out, with the reason."""


def find_runs(
    dataset_path: Path | str, *, track: str | None = None, car: str | None = None
) -> list[DatasetRun]:
    """The runs of a dataset, optionally only those of ``track`` and ``car``.

    ``dataset_path`` may be the dataset root (``<track>/<car>/<run>/laps``), any folder
    above laps folders, a run folder or a laps folder.

    Raises:
        DataFileError: The folder does not exist or holds no episode files.
    """
    root = Path(dataset_path)
    if not root.is_dir():
        raise DataFileError(f"dataset {root}: expected a folder (dataset_path=...)")
    if _episode_files(root):
        folders = [root]
    else:
        folders = sorted(p for p in root.rglob(LAPS_DIR) if p.is_dir() and _episode_files(p))
    if not folders:
        raise DataFileError(
            f"dataset {root}: no laps folders with *.parquet or *.pkl files "
            "(expected <track>/<car>/<run>/laps/)"
        )
    runs = []
    for folder in folders:
        run_track, run_car = _track_and_car(folder, root)
        if (track is None or run_track == track) and (car is None or run_car == car):
            runs.append(DatasetRun(folder, run_track, run_car, tuple(_episode_files(folder))))
    return runs


def _episode_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in EPISODE_SUFFIXES and p.is_file())


def _track_and_car(laps_dir: Path, root: Path) -> tuple[str, str]:
    """From ``static_info.json`` when present, else from ``<track>/<car>/<run>/laps``."""
    static_path = laps_dir / STATIC_INFO_FILE
    if static_path.is_file():
        try:
            info = json.loads(static_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataFileError(f"{static_path}: cannot read the static info ({exc})") from exc
        if "TrackName" in info and "CarName" in info:
            name = str(info.get("TrackFullName") or info["TrackName"])
            layout = str(info.get("TrackConfiguration") or "")
            if layout and not name.endswith(layout):
                name = f"{name}-{layout}"
            return name, str(info["CarName"])
    parts = laps_dir.resolve().parts
    if laps_dir.name == LAPS_DIR and len(parts) >= 4:
        return parts[-4], parts[-3]
    raise DataFileError(
        f"{laps_dir}: no {STATIC_INFO_FILE} with TrackName and CarName, and not inside "
        f"<track>/<car>/<run>/laps under {root}"
    )


def rebuild_transitions(states: Any, config: EnvConfig, track: Any, car_maps: Any) -> Transitions:
    """Transitions of one logged episode under ``config`` (see the module docstring).

    Args:
        states: The episode's states (``History.states``).
        config: Environment settings; its ``track`` and ``car`` should name the run's.
        track: The run's track geometry.
        car_maps: The run's car maps (``acgym.env.CarMaps``).

    Raises:
        DataFileError: The episode lacks a channel the observation needs, or has < 2 states.
    """
    from acgym.env.history import rebuild_episode

    if len(states) < 2:
        raise DataFileError(f"an episode needs at least 2 states, got {len(states)}")
    try:
        episode = rebuild_episode(states, config, track, car_maps)
    except ValueError as exc:
        raise DataFileError(str(exc)) from exc
    obs = episode.observations
    return Transitions(
        observations=obs[:-1],
        actions=episode.actions[1:],
        rewards=np.asarray(episode.rewards[1:], dtype=np.float64),
        next_observations=obs[1:],
        terminated=np.asarray(episode.terminated[1:], dtype=bool),
    )


def iter_transitions(
    runs: Sequence[DatasetRun], config: EnvConfig
) -> Iterator[tuple[DatasetRun, Path, Transitions]]:
    """Rebuild every episode of ``runs`` with ``config`` (its track and car replaced by each
    run's); yields ``(run, file, transitions)``."""
    from acgym.env.factory import car_maps as load_car_maps
    from acgym.env.history import load_history
    from acgym.track.loaders import load_track

    for run in runs:
        track = load_track(run.track)
        car_maps = load_car_maps(run.car)
        run_config = dataclasses.replace(config, track=run.track, car=run.car)
        for path in run.files:
            history = load_history(path)
            yield run, path, rebuild_transitions(history.states, run_config, track, car_maps)


def fill_replay(
    agent: Any,
    dataset_path: Path | str,
    config: EnvConfig,
    *,
    all_tracks: bool = False,
) -> OfflineSummary:
    """Add a dataset's transitions to ``agent.demonstrations`` (the offline buffer, or the
    only buffer).

    Args:
        agent: A :class:`acgym.rl.SAC` (its replay's observation size must match).
        dataset_path: The dataset (see :func:`find_runs`).
        config: The environment settings the observations are rebuilt with.
        all_tracks: Every run of the dataset; False = only ``config.track`` / ``config.car``.

    Raises:
        DataFileError: No run matches, or an episode cannot be read.
        ConfigError: The rebuilt observations do not fit the agent.
    """
    runs = find_runs(
        dataset_path,
        track=None if all_tracks else config.track,
        car=None if all_tracks else config.car,
    )
    if not runs:
        raise DataFileError(
            f"dataset {dataset_path}: no run of track {config.track!r} and car {config.car!r} "
            "(train.dataset_all_tracks=true loads every run)"
        )
    buffer = agent.demonstrations
    episodes = transitions = 0
    skipped: list[str] = []
    for _run, path, data in iter_transitions(runs, config):
        if data.observations.shape[1] != agent.obs_dim:
            raise ConfigError(
                f"{path}: rebuilt observations have {data.observations.shape[1]} values, the "
                f"agent expects {agent.obs_dim}: use the same env settings"
            )
        if len(data) == 0:
            skipped.append(f"{path}: no transitions")
            continue
        transitions += buffer.add_episode(
            data.observations,
            agent.normalize_action(data.actions),
            data.rewards,
            data.next_observations,
            data.terminated,
            truncated=True,
        )
        episodes += 1
    logger.info(
        "offline data: %d transitions from %d episodes of %d runs in %s",
        transitions,
        episodes,
        len(runs),
        dataset_path,
    )
    return OfflineSummary(len(runs), episodes, transitions, tuple(skipped))


# ------------------------------------------------------------------------------ Minari

MINARI_DATA_FORMAT = "arrow"
"""Storage of exported Minari datasets: Arrow files through pyarrow, which acgym already
needs (Minari's default, HDF5, would need h5py as well)."""


def minari_episode_buffers(
    dataset_path: Path | str, config: EnvConfig, *, all_tracks: bool = True
) -> list[dict[str, Any]]:
    """Episodes of a dataset as Minari's episode buffers.

    Each buffer holds ``observations`` ``(T + 1, obs_dim)`` (first and final included),
    ``actions`` ``(T, 3)``, ``rewards`` ``(T,)``, ``terminations`` and ``truncations``
    ``(T,)`` (the last step truncated unless out of track) and ``infos`` with the run's
    track and car. Out-of-track steps inside an episode stay as logged (terminations set,
    the episode goes on), as the original data loader reads them.
    """
    runs = find_runs(
        dataset_path,
        track=None if all_tracks else config.track,
        car=None if all_tracks else config.car,
    )
    buffers = []
    for run, _path, data in iter_transitions(runs, config):
        if len(data) == 0:
            continue
        truncations = np.zeros(len(data), dtype=bool)
        truncations[-1] = not data.terminated[-1]
        buffers.append(
            {
                "observations": np.concatenate([data.observations, data.next_observations[-1:]]),
                "actions": data.actions,
                "rewards": data.rewards,
                "terminations": data.terminated.copy(),
                "truncations": truncations,
                # lists, not arrays: Minari's Arrow storage cannot read back 1-D arrays
                "infos": {
                    "track": [run.track] * (len(data) + 1),
                    "car": [run.car] * (len(data) + 1),
                },
            }
        )
    return buffers


def export_minari(
    dataset_path: Path | str,
    dataset_id: str,
    config: EnvConfig,
    *,
    all_tracks: bool = True,
    author: str | None = None,
    description: str | None = None,
) -> Any:
    """Write a Minari dataset ``dataset_id`` (e.g. ``acgym/oval-expert-v0``) from a dataset
    in the original layout; needs ``pip install acgym[minari]``.

    Returns:
        The ``minari.MinariDataset``.
    """
    try:
        import minari
    except ImportError as exc:
        raise ConfigError(
            "the Minari export needs the minari package: pip install 'acgym[minari]'"
        ) from exc
    import gymnasium as gym
    from minari.data_collector import EpisodeBuffer
    from minari.storage import get_dataset_path

    target = Path(get_dataset_path(dataset_id))
    if target.exists():
        raise DataFileError(
            f"Minari dataset {dataset_id!r} already exists ({target}): choose another id "
            f"(e.g. a new version suffix) or delete it with `minari delete {dataset_id}`"
        )
    buffers = minari_episode_buffers(dataset_path, config, all_tracks=all_tracks)
    if not buffers:
        raise DataFileError(f"dataset {dataset_path}: no episodes to export")
    obs_dim = buffers[0]["observations"].shape[1]
    try:
        return minari.create_dataset_from_buffers(
            dataset_id=dataset_id,
            buffer=[EpisodeBuffer(id=k, **buffer) for k, buffer in enumerate(buffers)],
            observation_space=gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32),
            action_space=gym.spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32),
            algorithm_name="logged laps (acgym)",
            data_format=MINARI_DATA_FORMAT,
            author=author,
            description=description
            or f"Laps rebuilt by acgym from {dataset_path} (track {config.track}, car {config.car})",
        )
    except BaseException:
        # Minari leaves the folder of a failed write behind, which blocks the same id later
        shutil.rmtree(target, ignore_errors=True)
        raise


__all__ = [
    "DatasetRun",
    "OfflineSummary",
    "Transitions",
    "export_minari",
    "fill_replay",
    "find_runs",
    "iter_transitions",
    "minari_episode_buffers",
    "rebuild_transitions",
]

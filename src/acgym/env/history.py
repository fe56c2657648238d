"""Reading logged episodes back: our Parquet files and the original's Parquet and pickle laps,
and rebuilding their transitions (observations, actions, rewards) for offline training.

The original stored laps first as pickles (``{"states": [state dicts], "static_info":
...}``) and later as ``*_states.parquet`` with ``static_info.json`` beside them. Pickles
are read through :class:`RestrictedUnpickler`, which only builds the numpy and pandas
objects a table of telemetry needs; any other global (a function, a class of another
module) stops the load before anything runs.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from acgym.env.actions import ActionMapper, CarMaps, controls_from_telemetry
from acgym.env.config import EnvConfig
from acgym.env.derived import LAP_DIST, OUT_OF_TRACK
from acgym.env.episode_log import STATIC_INFO_FILE, STATS_FILE
from acgym.env.observations import (
    ObservationHistory,
    TrackGeometry,
    frame_from_columns,
    make_observation_builder,
)
from acgym.env.rewards import StepChange, actions_diff, make_reward, sequence_progress_m
from acgym.errors import DataFileError
from acgym.protocol import channels as ch

ALLOWED_PICKLE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        # numpy arrays, scalars and dtypes (numpy 1 and 2 module names)
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        # pandas frames, series, indexes and their block storage
        ("pandas", "DataFrame"),
        ("pandas", "Series"),
        ("pandas", "Index"),
        ("pandas", "RangeIndex"),
        ("pandas", "StringDtype"),
        ("pandas.arrays", "ArrowStringArray"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.series", "Series"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.managers", "SingleBlockManager"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas._libs.internals", "_unpickle_block"),
        # pandas' Arrow-backed strings (pandas >= 3)
        ("pyarrow.lib", "_restore_array"),
        ("pyarrow.lib", "py_buffer"),
        ("pyarrow.lib", "type_for_alias"),
        # plain containers that old protocols spell as globals
        ("builtins", "slice"),
        ("builtins", "bytearray"),
        ("__builtin__", "slice"),
        ("__builtin__", "bytearray"),
        ("_codecs", "encode"),
    }
)
"""``(module, name)`` pairs a logged-lap pickle may reference; nothing else loads."""

_NUMPY_CORE_ALIASES = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}
"""numpy 1 pickles name ``numpy.core``; numpy 2 keeps it only as a deprecated alias."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_PICKLE_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_PICKLE_GLOBALS:
            raise DataFileError(
                f"the pickle holds a disallowed type {module}.{name}; it is not loaded "
                "(only numpy / pandas telemetry tables are accepted)"
            )
        module = {"__builtin__": "builtins"}.get(module, module)
        module = _NUMPY_CORE_ALIASES.get(module, module)
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise DataFileError(
                f"the pickle needs {module}.{name}, which this numpy / pandas does not have ({exc})"
            ) from exc


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`.

    Raises:
        DataFileError: A disallowed global, or a corrupt pickle.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except DataFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataFileError(f"the pickle is corrupt or not a telemetry table ({exc})") from exc


@dataclass(frozen=True)
class History:
    """One logged episode or lap.

    Attributes:
        states: One row per step, one column per channel (list channels hold arrays).
        static_info: The backend's static info (``{}`` when the file had none).
        path: The file it came from.
    """

    states: pd.DataFrame
    static_info: dict[str, Any]
    path: Path


def load_history(path: Path | str) -> History:
    """Read a logged episode: ``*.parquet`` (with ``static_info.json`` beside) or ``*.pkl``.

    Raises:
        DataFileError: Unknown format, missing static info, unreadable or unsafe file.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        return _load_parquet(path)
    if path.suffix == ".pkl":
        return _load_pickle(path)
    raise DataFileError(f"{path}: expected a .parquet or .pkl episode file, got {path.suffix!r}")


def find_histories(folder: Path | str) -> list[Path]:
    """The episode files in a laps folder, sorted by name (the original data loader's order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(f"{folder}: expected a folder of episode files")
    return sorted([*folder.glob("*.pkl"), *folder.glob("*.parquet")], key=lambda p: str(p))


def load_episodes_stats(output_dir: Path | str) -> pd.DataFrame:
    """The ``episodes_stats.csv`` of a run folder."""
    path = Path(output_dir) / STATS_FILE
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot read the episode statistics ({exc})") from exc


def _load_parquet(path: Path) -> History:
    static_path = path.parent / STATIC_INFO_FILE
    if not static_path.exists():
        raise DataFileError(f"{path}: expected {STATIC_INFO_FILE} beside it, found none")
    try:
        states = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: cannot read the states ({exc})") from exc
    try:
        static_info = json.loads(static_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{static_path}: cannot read the static info ({exc})") from exc
    return History(states=states, static_info=static_info, path=path)


def _load_pickle(path: Path) -> History:
    try:
        data = restricted_loads(path.read_bytes())
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc})") from exc
    except DataFileError as exc:
        raise DataFileError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or "states" not in data:
        raise DataFileError(
            f"{path}: expected a dict with 'states' and 'static_info', got {type(data).__name__}"
        )
    states = data["states"]
    if isinstance(states, list):
        states = pd.DataFrame(states)
    if not isinstance(states, pd.DataFrame):
        raise DataFileError(
            f"{path}: expected 'states' to be a list of dicts or a DataFrame, got {type(states).__name__}"
        )
    static_info = data.get("static_info")
    if static_info in (None, ""):  # the original's MoTeC conversion stored ""
        static_info = {}
    if not isinstance(static_info, dict):
        raise DataFileError(
            f"{path}: expected 'static_info' to be a dict, got {type(static_info).__name__}"
        )
    return History(states=states, static_info=static_info, path=path)


@dataclass(frozen=True)
class RebuiltEpisode:
    """Transitions of a logged episode, rebuilt with the current environment settings.

    Attributes:
        observations: ``(T, D)`` float32, the observation of each step.
        actions: ``(T, 3)`` float32, the action that led to each step (0 at the first).
        rewards: ``(T,)`` reward of each step.
        terminated: ``(T,)`` out of track at the step (the original data loader's signal).
    """

    observations: NDArray[np.float32]
    actions: NDArray[np.float32]
    rewards: NDArray[np.float64]
    terminated: NDArray[np.bool_]


def rebuild_episode(
    states: pd.DataFrame, config: EnvConfig, track: TrackGeometry, car: CarMaps
) -> RebuiltEpisode:
    """Observations, actions and rewards of a logged episode, as the original data loader.

    Logged telemetry (steerAngle, accStatus, brakeStatus) is turned back into controls
    through the car's maps and into actions through the exact inverse; observations and
    rewards are rebuilt from the logged channels with ``config``.
    """
    if len(states) == 0:
        raise DataFileError("rebuild_episode: the episode has no steps")
    frame = frame_from_columns(states, config, track)
    builder = make_observation_builder(config)
    observations = builder.build_sequence(frame)
    history = ObservationHistory.from_sequence(
        observations[:, : builder.basic_size], frame.applied, builder.window
    )
    change = StepChange(
        actions_diff(frame, history), sequence_progress_m(frame.column(LAP_DIST), track.length_m)
    )
    rewards, _ = make_reward(config)(frame, change)
    controls = controls_from_telemetry(
        states[ch.STEER_ANGLE].to_numpy(),
        states[ch.ACC_STATUS].to_numpy(),
        states[ch.BRAKE_STATUS].to_numpy(),
        car,
    )
    actions = ActionMapper.from_config(car.steer, config).actions_from_controls(controls)
    terminated = frame.column(OUT_OF_TRACK) != 0.0
    return RebuiltEpisode(
        observations=observations.astype(np.float32),
        actions=actions.astype(np.float32),
        rewards=rewards,
        terminated=terminated,
    )

"""Per-episode outputs, as the original wrote them, each file written atomically.

Under the run's output folder::

    episodes_stats.csv                      one row per episode (rewritten every episode)
    laps/static_info.json                   the backend's static info (first episode)
    laps/<YYYYmmdd_HHMMSS.fff>_states.parquet   every step's state of one episode

A state row holds the backend's channels (``currentTime`` converted to seconds, as the
original did) plus what the environment added: LapDist, gap, out-of-track flags,
``sensors`` (the rays, a list column), dist_to_border, the applied and raw actions
(``current_action_abs_i``, ``actions_i``), reward, terminated, ``TimeLimit.truncated``
and ``done``. A crash loses at most the episode being driven.

``episodes_stats.csv`` columns (the original's): ep_count, ep_steps, total_steps,
packages_lost, ep_reward, speed_mean, speed_max, BestLap (s), terminated, then
``LapNo_<i>`` per distinct LapCount (the last ``iLastTime`` seen in that lap, s) and
ep_bestLapTime (the smallest positive ``LapNo_<i>``, 0 when none). ``packages_lost`` is
the original's sum of the jumps of ``steps`` larger than one. An existing file is
appended to, not overwritten.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from acgym.env.backend import RowLayout
from acgym.env.derived import DERIVED_CHANNELS
from acgym.env.observations import Frame
from acgym.errors import DataFileError
from acgym.fileio import write_text_atomic, write_with_atomic
from acgym.protocol import channels as ch

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

STATS_FILE = "episodes_stats.csv"
"""Running per-episode statistics, in the output folder."""

LAPS_DIR = "laps"
"""Folder of the per-episode state files, in the output folder."""

STATIC_INFO_FILE = "static_info.json"
"""The backend's static info, beside the state files."""

STATES_SUFFIX = "_states.parquet"
"""End of every state file's name."""


def timestamp(now: datetime) -> str:
    """``YYYYmmdd_HHMMSS.fff``: the original's file-name stamp (milliseconds)."""
    return now.strftime("%Y%m%d_%H%M%S.%f")[:-3]


def fill_step_extras(
    extras: dict[str, Any],
    state: Mapping[str, Any],
    frame: Frame,
    controls: np.ndarray,
    raw_actions: np.ndarray,
    reward: float,
    terminated: bool,
    truncated: bool,
) -> dict[str, Any]:
    """What the environment adds to the logged state of car 0 (updates ``extras`` in place).

    The keys follow the original: the derived channels, ``sensors`` (the rays),
    ``current_action_abs_i`` (applied controls), ``actions_i`` (raw actions), reward,
    terminated, ``TimeLimit.truncated``, done, and ``currentTime`` in seconds.
    """
    if ch.CURRENT_TIME in state:
        extras[ch.CURRENT_TIME] = state[ch.CURRENT_TIME] / 1000.0  # the original logged seconds
    extras["timestamp_env"] = time.perf_counter()
    values, index = frame.values[0], frame.index
    for name in DERIVED_CHANNELS:
        extras[name] = float(values[index[name]])
    if frame.rays_m.shape[1]:
        extras["sensors"] = frame.rays_m[0]  # copied by the recorder
    c0, c1, c2 = controls.tolist()
    a0, a1, a2 = raw_actions.tolist()
    (
        extras["current_action_abs_0"],
        extras["current_action_abs_1"],
        extras["current_action_abs_2"],
    ) = c0, c1, c2
    extras["actions_0"], extras["actions_1"], extras["actions_2"] = a0, a1, a2
    extras["reward"] = reward
    extras["terminated"] = terminated
    extras["TimeLimit.truncated"] = truncated
    extras[ch.DONE] = int(terminated or truncated)
    return extras


_NUMBER_KINDS = (
    (bool, "b"),
    (np.bool_, "b"),
    (int, "i"),
    (np.integer, "i"),
    (float, "f"),
    (np.floating, "f"),
)


def _number_kind(value: Any) -> str | None:
    for kind_type, kind in _NUMBER_KINDS:
        if isinstance(value, kind_type):
            return kind
    return None


def _vector_length(value: Any) -> int | None:
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
        return len(value)
    if isinstance(value, list | tuple) and value and all(_number_kind(v) for v in value):
        return len(value)
    return None


class EpisodeRecorder:
    """The logged rows of one episode, stored by column without a Python object per step.

    Numbers go into one growing float64 matrix, fixed-length number lists and arrays (the
    rays, the game's 4-tyre lists) into their own matrices, anything else into lists. The
    first row fixes the layout; later rows that add, drop or change the type of a channel
    take a slower path that widens the layout (missing values become NaN / None). Integer
    and boolean channels get their type back in :meth:`columns`.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._initial_capacity = max(1, capacity)
        self.clear()

    def clear(self) -> None:
        """Forget every row."""
        self.length = 0
        self._capacity = self._initial_capacity
        self._order: list[str] = []
        self._kind: dict[str, str] = {}  # key -> "b" | "i" | "f" (scalar), "v" (vector), "o"
        self._scalar_keys: list[str] = []
        self._scalars = np.empty((self._capacity, 0))
        self._vectors: dict[str, np.ndarray] = {}
        self._objects: dict[str, list[Any]] = {}
        self._fast: (
            tuple[int, int, list[str], list[str], list[tuple[str, bool]], list[tuple[str, bool]]]
            | None
        ) = None

    def __len__(self) -> int:
        return self.length

    def append(self, state: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
        """Record one step: the backend's state and the env's additions (which win on a clash)."""
        if self.length == self._capacity:
            self._grow()
        fast, t = self._fast, self.length
        if fast is not None and len(state) == fast[0] and len(extras) == fast[1]:
            try:
                values = [state[k] for k in fast[2]]
                values += [extras[k] for k in fast[3]]
                self._scalars[t] = values
                for key, from_extras in fast[4]:
                    self._vectors[key][t] = extras[key] if from_extras else state[key]
                objects = [(extras if from_extras else state)[key] for key, from_extras in fast[5]]
            except (KeyError, ValueError, TypeError):
                pass
            else:
                for (key, _), value in zip(fast[5], objects, strict=True):
                    self._objects[key].append(value)
                self.length += 1
                return
        self._append_slow(state, extras)

    def _append_slow(self, state: Mapping[str, Any], extras: Mapping[str, Any]) -> None:
        row = {**state, **extras}
        t = self.length
        for key, value in row.items():
            if key not in self._kind:
                self._add_column(key, value)
        self._scalars[t] = np.nan
        for key in self._order:
            kind = self._kind[key]
            value = row.get(key)
            if kind in "bif":
                value_kind = _number_kind(value) if value is not None else "f"
                if value_kind is None:
                    self._to_object(key)
                elif value is not None:
                    if value_kind == "f" and kind != "f":
                        self._kind[key] = "f"
                    self._scalars[t, self._scalar_keys.index(key)] = value
                    continue
                else:
                    continue
            if self._kind[key] == "v":
                buffer = self._vectors[key]
                if value is None:
                    buffer[t] = np.nan
                    continue
                if _vector_length(value) == buffer.shape[1]:
                    buffer[t] = value
                    continue
                self._to_object(key)
            self._objects[key].append(value)
        for key in self._objects:
            if len(self._objects[key]) == t:  # absent from this row
                self._objects[key].append(None)
        self.length += 1
        self._fast = self._layout_of(state, extras)

    def _layout_of(self, state: Mapping[str, Any], extras: Mapping[str, Any]) -> Any:
        """The fast path for rows with the key sets of this one (None if some key is unknown)."""
        state_only = [k for k in state if k not in extras]
        if len(state_only) + len(extras) != len(self._order):
            return None
        source = {k: False for k in state_only} | {k: True for k in extras}
        if any(k not in source for k in self._order):
            return None
        scalars_state = [k for k in self._scalar_keys if not source[k]]
        scalars_extras = [k for k in self._scalar_keys if source[k]]
        if self._scalar_keys != scalars_state + scalars_extras:  # reorder the matrix to match
            permutation = [self._scalar_keys.index(k) for k in scalars_state + scalars_extras]
            self._scalars = self._scalars[:, permutation]
            self._scalar_keys = scalars_state + scalars_extras
        vectors = [(k, source[k]) for k in self._vectors]
        objects = [(k, source[k]) for k in self._objects]
        return (len(state), len(extras), scalars_state, scalars_extras, vectors, objects)

    def _add_column(self, key: str, value: Any) -> None:
        t = self.length
        self._order.append(key)
        kind = _number_kind(value)
        length = _vector_length(value)
        if kind is not None:
            self._kind[key] = kind
            self._scalar_keys.append(key)
            column = np.full((self._capacity, 1), np.nan)
            self._scalars = np.concatenate([self._scalars, column], axis=1)
        elif length is not None:
            self._kind[key] = "v"
            self._vectors[key] = np.full((self._capacity, length), np.nan)
        else:
            self._kind[key] = "o"
            self._objects[key] = [None] * t

    def _to_object(self, key: str) -> None:
        """Turn a numeric column into a list column (a channel changed type)."""
        t = self.length
        if key in self._vectors:
            values: list[Any] = [row.copy() for row in self._vectors.pop(key)[:t]]
        else:
            j = self._scalar_keys.index(key)
            values = self._scalars[:t, j].tolist()
            self._scalar_keys.pop(j)
            self._scalars = np.delete(self._scalars, j, axis=1)
        self._kind[key] = "o"
        self._objects[key] = values

    def _grow(self) -> None:
        self._capacity *= 2
        self._scalars = np.concatenate([self._scalars, np.empty_like(self._scalars)])
        for key, buffer in self._vectors.items():
            self._vectors[key] = np.concatenate([buffer, np.empty_like(buffer)])

    def columns(self) -> dict[str, Any]:
        """Channel -> ``(T,)`` array, ``(T, L)`` array (vectors) or list, in first-seen order."""
        t = self.length
        out: dict[str, Any] = {}
        for key in self._order:
            kind = self._kind[key]
            if kind == "v":
                out[key] = self._vectors[key][:t].copy()
            elif kind == "o":
                out[key] = list(self._objects[key])
            else:
                column = self._scalars[:t, self._scalar_keys.index(key)].copy()
                if kind == "b" and np.all((column == 0) | (column == 1)):
                    column = column.astype(bool)
                elif (
                    kind in "bi"
                    and np.all(np.isfinite(column))
                    and np.all(column == np.round(column))
                ):
                    column = column.astype(np.int64)
                out[key] = column
        return out

    def table(self) -> pa.Table:
        """The rows as an Arrow table (vector channels become ``list<double>`` columns)."""
        return _arrow_table(self.columns())

    def dataframe(self) -> pd.DataFrame:
        """The rows as a DataFrame (vector channels hold one array per row)."""
        return _dataframe(self.columns())


ROW_EXTRA_SCALARS = (
    "timestamp_env",
    *DERIVED_CHANNELS,
    "current_action_abs_0",
    "current_action_abs_1",
    "current_action_abs_2",
    "actions_0",
    "actions_1",
    "actions_2",
    "reward",
    "terminated",
    "TimeLimit.truncated",
)
"""What :class:`RowRecorder` adds to a telemetry row, in ``fill_step_extras``'s order."""

_BOOL_EXTRAS = frozenset({"terminated", "TimeLimit.truncated"})


class RowRecorder:
    """The logged rows of one episode of a row backend (the simulator's fast path).

    Each step stores the car's telemetry row and the environment's additions in one
    float64 row of a growing matrix; :meth:`columns` gives the same columns, names, order
    and types as :class:`EpisodeRecorder` gives for the equivalent state dicts
    (``currentTime`` in seconds, the integer channels as int64, the per-tyre lists and
    ``sensors`` as vectors, ``done`` from the episode end).

    Args:
        layout: The backend's row layout.
        num_rays: Ray distances per step (0: no ``sensors`` column).
        num_extra: Values of ``obs_extra`` per step (0: none).
        capacity: Initial rows.
    """

    def __init__(
        self, layout: RowLayout, num_rays: int, num_extra: int = 0, capacity: int = 1024
    ) -> None:
        self.layout = layout
        self.num_rays = num_rays
        self.num_extra = num_extra
        c = layout.num_columns
        e = c + len(ROW_EXTRA_SCALARS)
        self._slices = (slice(0, c), slice(c, e), slice(e, e + num_rays))
        self._extra_slice = slice(e + num_rays, e + num_rays + num_extra)
        self.width = e + num_rays + num_extra
        self._initial_capacity = max(1, capacity)
        self._scratch = np.zeros(len(ROW_EXTRA_SCALARS))
        self.clear()

    def clear(self) -> None:
        """Forget every row."""
        self.length = 0
        self._data = np.empty((self._initial_capacity, self.width))

    def __len__(self) -> int:
        return self.length

    def append(
        self,
        row: FloatArray,
        frame: Frame,
        car: int,
        controls: FloatArray,
        raw_actions: FloatArray,
        reward: float,
        terminated: bool,
        truncated: bool,
        derived_cols: NDArray[np.intp],
        extra_cols: NDArray[np.intp] | None = None,
    ) -> None:
        """Record one step of car ``car`` (``derived_cols``: the frame's DERIVED_CHANNELS)."""
        if self.length == len(self._data):
            self._data = np.concatenate([self._data, np.empty_like(self._data)])
        out = self._data[self.length]
        tele, extras, rays = self._slices
        out[tele] = row
        e = self._scratch
        e[0] = time.perf_counter()
        values = frame.values[car]
        e[1:8] = values[derived_cols]
        e[8:11] = controls
        e[11:14] = raw_actions
        e[14], e[15], e[16] = reward, terminated, truncated
        out[extras] = e
        if self.num_rays:
            out[rays] = frame.rays_m[car]
        if self.num_extra:
            out[self._extra_slice] = values[extra_cols]
        self.length += 1

    def columns(self) -> dict[str, Any]:
        """Channel -> ``(T,)`` or ``(T, L)`` array, in EpisodeRecorder's order and types."""
        data = self._data[: self.length]
        layout = self.layout
        _, extras, rays = self._slices
        out: dict[str, Any] = {}
        for name, col in layout.columns.items():
            if name in layout.list_channels:
                out[name] = data[:, col : col + 4].copy()
            elif name == ch.CURRENT_TIME:
                out[name] = data[:, col] / 1000.0  # the original logged seconds
            elif name in layout.int_channels:
                out[name] = data[:, col].astype(np.int64)
            else:
                out[name] = data[:, col].copy()
        added = data[:, extras]
        for k, name in enumerate(ROW_EXTRA_SCALARS):
            out[name] = added[:, k].astype(bool) if name in _BOOL_EXTRAS else added[:, k].copy()
            if name == DERIVED_CHANNELS[-1] and self.num_rays:
                out["sensors"] = data[:, rays].copy()
        terminated, truncated = out["terminated"], out["TimeLimit.truncated"]
        out[ch.DONE] = (terminated | truncated).astype(np.int64)
        if self.num_extra:
            out["obs_extra"] = data[:, self._extra_slice].astype(np.float32)
        return _in_dict_order(out, layout)

    def table(self) -> pa.Table:
        """The rows as an Arrow table (vector channels become ``list<double>`` columns)."""
        return _arrow_table(self.columns())

    def dataframe(self) -> pd.DataFrame:
        """The rows as a DataFrame (vector channels hold one array per row)."""
        return _dataframe(self.columns())


class StepLog:
    """The episode log of a single environment's car: telemetry rows when the backend has
    them (:class:`RowRecorder`), state dicts otherwise (:class:`EpisodeRecorder`).

    Args:
        frame: The environment's frame (its channel index).
        extra_channels: Channels of ``obs_extra`` (None: not logged nor returned).
        row_layout: The backend's row layout (None: a dict backend).
    """

    def __init__(
        self,
        frame: Frame,
        extra_channels: Sequence[str] | None,
        row_layout: RowLayout | None,
    ) -> None:
        index = frame.index
        self._derived = np.array([index[c] for c in DERIVED_CHANNELS], dtype=np.intp)
        self._extra = (
            None
            if extra_channels is None
            else np.array([index[c] for c in extra_channels], dtype=np.intp)
        )
        self._extras: dict[str, Any] = {}
        num_extra = 0 if self._extra is None else len(self._extra)
        self.recorder: EpisodeRecorder | RowRecorder = (
            EpisodeRecorder()
            if row_layout is None
            else RowRecorder(row_layout, frame.rays_m.shape[1], num_extra)
        )

    def record(
        self,
        frame: Frame,
        state: Mapping[str, Any] | None,
        row: FloatArray | None,
        controls: FloatArray,
        raw_actions: FloatArray,
        reward: float,
        terminated: bool,
        truncated: bool,
    ) -> NDArray[np.float32] | None:
        """Log car 0's step (its ``state`` dict, or its telemetry ``row``); returns
        ``obs_extra`` (None when not enabled)."""
        extra = None if self._extra is None else frame.values[0, self._extra].astype(np.float32)
        recorder = self.recorder
        if isinstance(recorder, RowRecorder):
            assert row is not None
            args = (reward, terminated, truncated, self._derived, self._extra)
            recorder.append(row, frame, 0, controls, raw_actions, *args)
        else:
            assert state is not None
            extras = fill_step_extras(
                self._extras, state, frame, controls, raw_actions, reward, terminated, truncated
            )
            if extra is not None:
                extras["obs_extra"] = extra
            recorder.append(state, extras)
        return extra

    def clear(self) -> None:
        """Forget the episode's rows."""
        self.recorder.clear()

    def table(self) -> pa.Table:
        """The episode's rows as an Arrow table."""
        return self.recorder.table()

    def dataframe(self) -> pd.DataFrame:
        """The episode's rows as a DataFrame."""
        return self.recorder.dataframe()


def _in_dict_order(columns: dict[str, Any], layout: RowLayout) -> dict[str, Any]:
    """The columns ordered as ``{**state, **extras}`` orders them (state keys first)."""
    first = [name for name in layout.columns if name in columns]
    return {name: columns[name] for name in [*first, *(c for c in columns if c not in first)]}


def _arrow_table(columns: Mapping[str, Any]) -> pa.Table:
    arrays = {}
    for key, column in columns.items():
        if isinstance(column, np.ndarray) and column.ndim == 2:
            rows, length = column.shape
            offsets = np.arange(0, rows * length + 1, length, dtype=np.int32)
            arrays[key] = pa.ListArray.from_arrays(offsets, column.reshape(-1))
        elif isinstance(column, list):
            try:
                arrays[key] = pa.array(column)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
                raise DataFileError(
                    f"episode log: channel {key!r} mixes value types ({exc}); "
                    "a backend must give each channel one type"
                ) from None
        else:
            arrays[key] = pa.array(column)
    return pa.table(arrays)


def _dataframe(columns: Mapping[str, Any]) -> pd.DataFrame:
    data = {
        key: list(c) if isinstance(c, np.ndarray) and c.ndim == 2 else c
        for key, c in columns.items()
    }
    return pd.DataFrame(data)


def states_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The rows of one episode as an Arrow table (list channels become list columns).

    Raises:
        DataFileError: A channel holds values that cannot share one column type.
    """
    try:
        return pa.Table.from_pylist(list(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        keys = dict.fromkeys(key for row in rows for key in row)
        for key in keys:
            try:
                pa.array([row.get(key) for row in rows])
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as column_exc:
                raise DataFileError(
                    f"episode log: channel {key!r} mixes value types ({column_exc}); "
                    "a backend must give each channel one type"
                ) from None
        raise DataFileError(f"episode log: cannot tabulate the states ({exc})") from exc


def episode_stats(table: pa.Table, *, ep_count: int, total_steps: int) -> dict[str, Any]:
    """The original's per-episode statistics of one episode's states table."""

    def column(name: str) -> np.ndarray:
        if name not in table.column_names:
            raise DataFileError(f"episode log: the states lack the channel {name!r}")
        return table.column(name).to_numpy(zero_copy_only=False)

    steps = column(ch.STEPS).astype(np.float64)
    jumps = np.diff(steps)
    laps = column(ch.LAP_COUNT)
    last_time_ms = column(ch.I_LAST_TIME).astype(np.float64)
    stats: dict[str, Any] = {
        "ep_count": ep_count,
        "ep_steps": table.num_rows,
        "total_steps": total_steps,
        "packages_lost": float(jumps[jumps > 1].sum()),
        "ep_reward": float(column("reward").astype(np.float64).sum()),
        "speed_mean": float(column(ch.SPEED).astype(np.float64).mean()),
        "speed_max": float(column(ch.SPEED).astype(np.float64).max()),
        ch.BEST_LAP: float(column(ch.BEST_LAP)[-1]) / 1000.0,
        "terminated": bool(column("terminated")[-1]),
    }
    lap_times_s = []
    for i, lap in enumerate(np.unique(laps)):
        lap_time_s = float(last_time_ms[np.flatnonzero(laps == lap)[-1]]) / 1000.0
        stats[f"LapNo_{i}"] = lap_time_s
        lap_times_s.append(lap_time_s)
    stats["ep_bestLapTime"] = min((t for t in lap_times_s if t > 0), default=0)
    return stats


class EpisodeLog:
    """Writes each finished episode and keeps the running statistics.

    Args:
        output_dir: Run folder; None keeps statistics in memory only.
        save_states: Write the per-step Parquet files (the original's ``save_observations``).
        clock: Source of the file-name time stamps.
    """

    def __init__(
        self,
        output_dir: Path | str | None,
        *,
        save_states: bool = True,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.save_states = save_states
        self.clock = clock
        self.stats: list[dict[str, Any]] = []
        self._static_info_written = False
        self._previous_rows: list[dict[str, Any]] = []
        if self.output_dir is not None:
            (self.output_dir / LAPS_DIR).mkdir(parents=True, exist_ok=True)
            stats_path = self.output_dir / STATS_FILE
            if stats_path.exists():
                try:
                    self._previous_rows = pd.read_csv(stats_path).to_dict(orient="records")
                except (OSError, ValueError) as exc:
                    raise DataFileError(
                        f"{stats_path}: cannot read the episode statistics ({exc})"
                    ) from exc

    @property
    def laps_dir(self) -> Path | None:
        """Folder of the state files (None without an output folder)."""
        return None if self.output_dir is None else self.output_dir / LAPS_DIR

    def end_episode(
        self,
        table: pa.Table,
        *,
        ep_count: int,
        total_steps: int,
        static_info: Mapping[str, Any],
        packages_lost: int | None = None,
    ) -> dict[str, Any]:
        """Write one finished episode's states; returns its statistics (``{}`` for no rows).

        ``packages_lost``: the backend's count of states the env never received during the
        episode; None keeps the original's sum of the jumps of ``steps``.
        """
        if table.num_rows == 0:
            return {}
        stats = episode_stats(table, ep_count=ep_count, total_steps=total_steps)
        if packages_lost is not None:
            stats["packages_lost"] = float(packages_lost)
        if stats["packages_lost"]:
            logger.warning(
                "episode %d: %g packets lost between the backend and the env",
                ep_count,
                stats["packages_lost"],
            )
        if self.output_dir is not None:
            if self.save_states:
                path = self._new_states_path()
                write_with_atomic(path, lambda tmp: pq.write_table(table, tmp))
                logger.info("saved the states of episode %d to %s", ep_count, path)
                if not self._static_info_written:
                    text = json.dumps(dict(static_info), indent=4, default=_json_default)
                    write_text_atomic(path.parent / STATIC_INFO_FILE, text)
                    self._static_info_written = True
            self.stats.append(stats)
            all_rows = self._previous_rows + self.stats
            write_text_atomic(
                self.output_dir / STATS_FILE, pd.DataFrame(all_rows).to_csv(index=False)
            )
        else:
            self.stats.append(stats)
        return stats

    def _new_states_path(self) -> Path:
        assert self.laps_dir is not None
        now = self.clock()
        path = self.laps_dir / f"{timestamp(now)}{STATES_SUFFIX}"
        while path.exists():  # two episodes within one millisecond (a fast simulator):
            now += timedelta(milliseconds=1)  # the next free stamp keeps the names in order
            path = self.laps_dir / f"{timestamp(now)}{STATES_SUFFIX}"
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"static info: {type(value).__name__} is not JSON serialisable")

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

from acgym.env.observations import DERIVED_CHANNELS, Frame
from acgym.errors import DataFileError
from acgym.fileio import write_text_atomic, write_with_atomic

logger = logging.getLogger(__name__)

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


def state_row(
    state: Mapping[str, Any],
    frame: Frame,
    controls: np.ndarray,
    raw_actions: np.ndarray,
    reward: float,
    terminated: bool,
    truncated: bool,
) -> dict[str, Any]:
    """The logged row of one step of car 0 of ``frame``: the state plus what the env added."""
    row = dict(state)
    if "currentTime" in row:
        row["currentTime"] = row["currentTime"] / 1000.0  # the original logged seconds
    row["timestamp_env"] = time.perf_counter()
    values, index = frame.values[0], frame.index
    for name in DERIVED_CHANNELS:
        row[name] = float(values[index[name]])
    if frame.rays_m.shape[1]:
        row["sensors"] = frame.rays_m[0].copy()
    for i in range(3):
        row[f"current_action_abs_{i}"] = float(controls[i])
        row[f"actions_{i}"] = float(raw_actions[i])
    row["reward"] = reward
    row["terminated"] = terminated
    row["TimeLimit.truncated"] = truncated
    row["done"] = int(terminated or truncated)
    return row


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

    steps = column("steps").astype(np.float64)
    jumps = np.diff(steps)
    laps = column("LapCount")
    last_time_ms = column("iLastTime").astype(np.float64)
    stats: dict[str, Any] = {
        "ep_count": ep_count,
        "ep_steps": table.num_rows,
        "total_steps": total_steps,
        "packages_lost": float(jumps[jumps > 1].sum()),
        "ep_reward": float(column("reward").astype(np.float64).sum()),
        "speed_mean": float(column("speed").astype(np.float64).mean()),
        "speed_max": float(column("speed").astype(np.float64).max()),
        "BestLap": float(column("BestLap")[-1]) / 1000.0,
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
        rows: Sequence[Mapping[str, Any]],
        *,
        ep_count: int,
        total_steps: int,
        static_info: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Write one finished episode; returns its statistics (``{}`` for no rows)."""
        if not rows:
            return {}
        table = states_table(rows)
        stats = episode_stats(table, ep_count=ep_count, total_steps=total_steps)
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

"""Learning curves of a run: one row per training episode, in ``curve.csv`` of the run
folder.

:class:`CurveRecorder` is a trainer callback: at every episode end it records the env
steps and training time so far, the episode's return and length, and the clean laps and
best clean lap so far (from the run's :class:`acgym.rl.run.LapStats`). It writes the file
atomically with every checkpoint (the last one at the run's end), so that a resumed run
continues the curve from its checkpoint: rows past the checkpoint resumed were not kept
by the agent either, and are dropped.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import DataFileError
from acgym.fileio import write_text_atomic
from acgym.rl.run import LapStats
from acgym.rl.trainer import Callback

if TYPE_CHECKING:
    from acgym.rl.trainer import EpisodeStats, Trainer

CURVE_FILE = "curve.csv"
CURVE_COLUMNS = (
    "env_steps",
    "train_time_s",
    "episode_return",
    "episode_length",
    "clean_laps",
    "best_lap_s",
)
"""Columns of :data:`CURVE_FILE`; ``best_lap_s`` is empty until the first clean lap."""


class CurveRecorder(Callback):
    """Records the learning curve of a run (see the module docstring).

    Args:
        path: The run's :data:`CURVE_FILE`.
        resumed_at_step: The step of the checkpoint a resumed run continues from: the
            file's rows up to it are kept. None: a new run (the file is started afresh).
    """

    def __init__(self, path: Path | str, resumed_at_step: int | None = None) -> None:
        self.path = Path(path)
        self.rows: list[tuple[float, ...]] = []
        if resumed_at_step is not None and self.path.is_file():
            curve = read_curve(self.path)
            keep = curve["env_steps"] <= resumed_at_step
            self.rows = [
                tuple(float(curve[c][i]) for c in CURVE_COLUMNS) for i in np.flatnonzero(keep)
            ]

    def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> Mapping[str, float] | None:
        laps = next((c for c in trainer.callbacks if isinstance(c, LapStats)), None)
        best = laps.best_lap_s if laps is not None else None
        self.rows.append(
            (
                float(episode.env_steps),
                float(trainer.counters.train_time_s),
                float(episode.episode_return),
                float(episode.length),
                float(laps.clean_laps if laps is not None else 0),
                math.nan if best is None else float(best),
            )
        )
        return None

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        self.save()

    def save(self) -> None:
        """Write the rows to :attr:`path` atomically."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CURVE_COLUMNS)
        for row in self.rows:
            writer.writerow(
                [
                    int(value) if column in _INTEGER_COLUMNS else _number(value)
                    for column, value in zip(CURVE_COLUMNS, row, strict=True)
                ]
            )
        write_text_atomic(self.path, out.getvalue())


_INTEGER_COLUMNS = frozenset({"env_steps", "episode_length", "clean_laps"})


def _number(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))  # not numpy's np.float64(...)


def read_curve(path: Path | str) -> dict[str, NDArray[np.float64]]:
    """The columns of a :data:`CURVE_FILE` (NaN where ``best_lap_s`` is empty).

    Raises:
        DataFileError: The file is not a curve file.
    """
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        rows: list[Any] = list(reader)
    if tuple(reader.fieldnames or ()) != CURVE_COLUMNS:
        raise DataFileError(
            f"{path}: expected the columns {', '.join(CURVE_COLUMNS)}, got "
            f"{', '.join(reader.fieldnames or ()) or 'none'}"
        )
    try:
        return {
            column: np.array([float(row[column] or "nan") for row in rows], dtype=np.float64)
            for column in CURVE_COLUMNS
        }
    except (TypeError, ValueError) as exc:  # a short row reads None, a word not a number
        raise DataFileError(f"{path}: not a learning curve ({exc})") from None


__all__ = ["CURVE_COLUMNS", "CURVE_FILE", "CurveRecorder", "read_curve"]

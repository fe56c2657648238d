"""Lap statistics of training and evaluation episodes: lap times and clean laps.

A *clean lap* is a completed, timed lap that was never invalidated (in the game and the
simulator: never more than two tyres off the track). Completed laps are read from the
telemetry channels ``completedLaps`` (a lap ends when it increases), ``iLastTime`` (its
time, ms; 0 for an untimed out-lap) and ``LapInvalidated`` of the state before the
crossing (the crossing state already belongs to the next lap).

:func:`laps_from_states` reads an episode's logged states; :class:`LapTracker` follows N
cars step by step from telemetry rows (the batched simulator's vector env).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.protocol import channels as ch

LAP_CHANNELS = (ch.COMPLETED_LAPS, ch.I_LAST_TIME, ch.LAP_INVALIDATED)
"""Telemetry channels the lap statistics need."""


@dataclass(frozen=True)
class Lap:
    """One completed lap."""

    time_s: float
    """Lap time, s."""
    clean: bool
    """Timed and never invalidated."""
    start_step: int
    """Index of the lap's first state in its episode (the reset state is 0)."""
    end_step: int
    """Index of the state at which the lap was completed (the next lap's first)."""


@dataclass
class EpisodeLaps:
    """The completed laps of one episode."""

    laps: list[Lap] = field(default_factory=list)
    """Completed timed laps, in order."""

    @property
    def clean_laps(self) -> int:
        """Number of clean laps."""
        return sum(lap.clean for lap in self.laps)

    @property
    def best_lap_s(self) -> float | None:
        """The fastest clean lap, s (None when there is none)."""
        times = [lap.time_s for lap in self.laps if lap.clean]
        return min(times) if times else None

    def metrics(self) -> dict[str, float]:
        """``laps``, ``clean_laps`` and ``best_lap_s`` (when there is one) for logging."""
        out = {"laps": float(len(self.laps)), "clean_laps": float(self.clean_laps)}
        if self.best_lap_s is not None:
            out["best_lap_s"] = self.best_lap_s
        return out


def laps_from_arrays(
    completed: ArrayLike, last_time_ms: ArrayLike, invalidated: ArrayLike
) -> EpisodeLaps:
    """Completed laps of one episode from its per-step channels ``(T,)``."""
    completed = np.asarray(completed, dtype=np.float64)
    last_time_ms = np.asarray(last_time_ms, dtype=np.float64)
    invalidated = np.asarray(invalidated, dtype=np.float64)
    result = EpisodeLaps()
    start = 0
    for t in (np.flatnonzero(np.diff(completed) > 0) + 1).tolist():
        time_ms = float(last_time_ms[t])
        if time_ms > 0:  # else the untimed out-lap of a car started away from the line
            result.laps.append(Lap(time_ms / 1000.0, bool(invalidated[t - 1] == 0), start, t))
        start = t
    return result


def laps_from_states(states: Any) -> EpisodeLaps:
    """Completed laps of one episode from its states (a DataFrame or a mapping of
    columns, e.g. ``RacingEnv.episode_states()`` or a logged Parquet file)."""
    if any(channel not in states for channel in LAP_CHANNELS):
        return EpisodeLaps()
    return laps_from_arrays(*(np.asarray(states[c]) for c in LAP_CHANNELS))


class LapTracker:
    """Follows the laps of ``num_cars`` cars from their telemetry rows, step by step.

    Call :meth:`update` after every step with the rows of the cars still in their
    episode, and :meth:`end_episode` when a car's episode ends (before the rows of its
    next episode arrive). A lap completed at the very step an episode ends is not seen
    (the car's row is already that of its next episode).

    Args:
        num_cars: Cars.
        columns: Telemetry column of each channel of :data:`LAP_CHANNELS`.
    """

    def __init__(self, num_cars: int, columns: Mapping[str, int]) -> None:
        self._cols = [int(columns[c]) for c in LAP_CHANNELS]
        self._prev = np.full((num_cars, 3), np.nan)
        self._episodes = [EpisodeLaps() for _ in range(num_cars)]
        self._steps = np.zeros(num_cars, dtype=np.int64)
        self._lap_start = np.zeros(num_cars, dtype=np.int64)

    def update(
        self, rows: NDArray[np.float64], cars: NDArray[np.intp] | None = None
    ) -> list[tuple[int, Lap]]:
        """Read the rows ``(num_cars, C)`` (of ``cars``, or all) after a step.

        Returns:
            The laps completed at this step, as ``(car, lap)``.
        """
        index = np.arange(len(self._prev)) if cars is None else np.asarray(cars)
        now = rows[index][:, self._cols]
        prev = self._prev[index]
        self._steps[index] += 1
        completed: list[tuple[int, Lap]] = []
        for k in np.flatnonzero(now[:, 0] > prev[:, 0]).tolist():
            car = int(index[k])
            step = int(self._steps[car])
            if now[k, 1] > 0:
                clean = bool(prev[k, 2] == 0)
                lap = Lap(float(now[k, 1]) / 1000.0, clean, int(self._lap_start[car]), step)
                self._episodes[car].laps.append(lap)
                completed.append((car, lap))
            self._lap_start[car] = step
        self._prev[index] = now
        return completed

    def end_episode(self, car: int) -> EpisodeLaps:
        """The laps of ``car``'s episode that just ended; the car starts afresh."""
        laps = self._episodes[car]
        self._episodes[car] = EpisodeLaps()
        self._prev[car] = np.nan
        # The next row read is the first state of the next episode (index 0).
        self._steps[car] = -1
        self._lap_start[car] = 0
        return laps


__all__ = [
    "LAP_CHANNELS",
    "EpisodeLaps",
    "Lap",
    "LapTracker",
    "laps_from_arrays",
    "laps_from_states",
]

"""The drive window's lap book: lap times, the best lap, live deltas and ghosts.

A :class:`RecordedLap` is one timed lap as samples of (lap time, lap distance, pose): the
person's own, taken step by step by the :class:`LapBook`, or one read from logged states
(the expert's, a checkpoint's policy's, an earlier recording's). It answers the two
questions of the HUD and the view: how long the reference took to reach a lap distance
(the live delta, :meth:`RecordedLap.time_at_distance`), and where the reference car was at
a lap time (the ghost, :meth:`RecordedLap.pose_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from acgym.env.derived import LAP_DIST
from acgym.protocol import channels as ch

FloatArray = NDArray[np.float64]


class CarStatus(NamedTuple):
    """What the HUD and the view show of the car at one step."""

    x_m: float
    y_m: float
    yaw_rad: float
    speed_mps: float
    gear: int
    """AC encoding: 0 reverse, 1 neutral, 2 first..."""
    rpm: float
    lap_time_s: float
    """Time of the lap being driven."""
    completed_laps: int
    last_lap_s: float
    """The last completed lap's time (0: none)."""
    lap_dist_m: float
    """Distance along the lap."""
    tyres_out: int
    invalidated: bool
    """The lap being driven is invalid (too many tyres off the track)."""


STATUS_CHANNELS = (
    ch.WORLD_POSITION_X,
    ch.WORLD_POSITION_Y,
    ch.YAW,
    ch.SPEED,
    ch.ACTUAL_GEAR,
    ch.RPM,
    ch.CURRENT_TIME,
    ch.COMPLETED_LAPS,
    ch.I_LAST_TIME,
    ch.NORMALIZED_SPLINE_POSITION,
    ch.NUMBER_OF_TYRES_OUT,
    ch.LAP_INVALIDATED,
)
"""Telemetry channels a :class:`CarStatus` is read from, in this order."""


def status_from_values(values: Any, track_length_m: float) -> CarStatus:
    """A status from the values of :data:`STATUS_CHANNELS` (``currentTime`` and
    ``iLastTime`` in ms, as on the wire)."""
    x, y, yaw, speed, gear, rpm, now_ms, laps, last_ms, spline, out, invalid = (
        float(v) for v in values
    )
    return CarStatus(
        x,
        y,
        yaw,
        speed,
        int(gear),
        rpm,
        now_ms / 1000.0,
        int(laps),
        last_ms / 1000.0,
        spline * track_length_m,
        0 if np.isnan(out) else int(out),
        bool(invalid),
    )


@dataclass(frozen=True)
class RecordedLap:
    """One timed lap as samples, in driving order (``(K,)`` each)."""

    time_s: float
    """The lap's time, s."""
    clean: bool
    """Never invalidated."""
    elapsed_s: FloatArray
    """Lap time at each sample, s (increasing)."""
    distance_m: FloatArray
    """Lap distance at each sample, m (non-decreasing)."""
    x_m: FloatArray
    y_m: FloatArray
    yaw_rad: FloatArray
    """Heading, unwrapped (continuous), rad."""
    label: str = "lap"
    """Whose lap (shown beside the ghost)."""

    @classmethod
    def from_samples(
        cls, time_s: float, clean: bool, samples: FloatArray, label: str = "lap"
    ) -> RecordedLap:
        """From ``(K, 5)`` samples of (elapsed s, distance m, x m, y m, yaw rad)."""
        samples = np.asarray(samples, dtype=np.float64).reshape(-1, 5)
        elapsed, distance, x, y, yaw = samples.T
        return cls(
            time_s,
            clean,
            elapsed.copy(),
            np.maximum.accumulate(distance),  # a crossing's sample can read as lap end
            x.copy(),
            y.copy(),
            np.unwrap(yaw),
            label,
        )

    @classmethod
    def from_states(
        cls, states: Any, start_step: int, end_step: int, time_s: float, clean: bool, label: str
    ) -> RecordedLap:
        """From an episode's logged states (rows ``start_step`` to the crossing at
        ``end_step``; ``currentTime`` in s as the episode log writes it)."""
        rows = slice(start_step, end_step)
        columns = (ch.CURRENT_TIME, LAP_DIST, ch.WORLD_POSITION_X, ch.WORLD_POSITION_Y, ch.YAW)
        samples = np.stack([np.asarray(states[c], dtype=np.float64)[rows] for c in columns], axis=1)
        final = samples[-1:].copy()  # the crossing: the full lap time at the lap's length
        end = min(end_step, len(states) - 1)
        final[0, 0] = time_s
        final[0, 1] = max(float(samples[:, 1].max()), 0.0)
        final[0, 2:] = [float(np.asarray(states[c])[end]) for c in columns[2:]]
        return cls.from_samples(time_s, clean, np.vstack([samples, final]), label)

    def time_at_distance(self, distance_m: float) -> float | None:
        """When this lap reached ``distance_m`` (None outside its samples)."""
        if len(self.distance_m) < 2 or not (
            self.distance_m[0] <= distance_m <= self.distance_m[-1]
        ):
            return None
        return float(np.interp(distance_m, self.distance_m, self.elapsed_s))

    def pose_at(self, elapsed_s: float) -> tuple[float, float, float]:
        """Where the car of this lap was at lap time ``elapsed_s`` (x m, y m, yaw rad); its
        last pose after the lap's end."""
        t = min(max(elapsed_s, self.elapsed_s[0]), self.elapsed_s[-1])
        return (
            float(np.interp(t, self.elapsed_s, self.x_m)),
            float(np.interp(t, self.elapsed_s, self.y_m)),
            float(np.interp(t, self.elapsed_s, self.yaw_rad)),
        )


@dataclass
class LapBook:
    """The person's laps of a session, from the car's status step by step."""

    laps: list[RecordedLap] = field(default_factory=list)
    """Completed timed laps, in order."""
    best: RecordedLap | None = None
    """The fastest clean lap (this session's, or an earlier one given at the start)."""
    _samples: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    _previous: CarStatus | None = None

    def new_episode(self) -> None:
        """The car was placed anew: the lap being driven is lost."""
        self._samples.clear()
        self._previous = None

    def update(self, status: CarStatus) -> RecordedLap | None:
        """Take one step's status; returns the lap completed at this step, if one was."""
        previous, completed = self._previous, None
        if previous is not None and status.completed_laps > previous.completed_laps:
            if status.last_lap_s > 0 and self._samples:  # else the untimed out-lap
                self._samples.append(
                    (status.last_lap_s, max(s[1] for s in self._samples), *status[:3])
                )
                completed = RecordedLap.from_samples(
                    status.last_lap_s,
                    not previous.invalidated,
                    np.array(self._samples),
                    label="your lap",
                )
                self.laps.append(completed)
                if completed.clean and (self.best is None or completed.time_s < self.best.time_s):
                    self.best = completed
            self._samples.clear()
        self._samples.append((status.lap_time_s, status.lap_dist_m, *status[:3]))
        self._previous = status
        return completed

    def delta_s(self, reference: RecordedLap | None, status: CarStatus) -> float | None:
        """The lap being driven against ``reference`` at the same lap distance (positive:
        slower); None without a reference or before the lap is under way."""
        if reference is None or not self._samples:
            return None
        then = reference.time_at_distance(status.lap_dist_m)
        return None if then is None else status.lap_time_s - then


def best_recorded_lap(laps_dirs: list[Path], label: str) -> RecordedLap | None:
    """The fastest clean lap of the episode files in these laps folders (None: none)."""
    from acgym.env.history import load_history
    from acgym.rl.laps import laps_from_states

    best: RecordedLap | None = None
    for folder in laps_dirs:
        for path in sorted(folder.glob("*.parquet")):
            states = load_history(path).states
            for lap in laps_from_states(states).laps:
                if lap.clean and (best is None or lap.time_s < best.time_s):
                    best = RecordedLap.from_states(
                        states, lap.start_step, lap.end_step, lap.time_s, True, label
                    )
    return best


__all__ = [
    "STATUS_CHANNELS",
    "CarStatus",
    "LapBook",
    "RecordedLap",
    "best_recorded_lap",
    "status_from_values",
]

"""Lap timing of N cars: start-line crossings, lap times, best lap, lap validity.

The rules (what the telemetry's lap channels mean in the simulator):

* **Distance.** Each car carries an unwrapped *lap distance* ``d``, m: its distance along
  the track's reference line since the start/finish line, accumulated step by step from
  the change of its projection ``s`` (wrapped into ``[-L/2, L/2)``, ``L`` the line's
  length). Reversing lowers ``d``; behind the line it goes negative.
* **A lap** is completed when ``d`` reaches ``L``, i.e. on a crossing of the start line in
  the driving direction after a net full lap: reversing over the line and driving
  forward over it again counts nothing (the car has to make up the metres it reversed),
  and a reset never counts a lap. ``d`` then drops by ``L``.
* **Times.** A lap starts at the reset and at each completion. The crossing instant is
  interpolated linearly within the control period (the line is crossed between two
  states), so lap times do not jitter by a control period. ``currentTime`` is the time
  since the lap started, in whole ms (rounded down, as the game's ``iCurrentTime``);
  ``iLastTime`` the last completed timed lap, ``BestLap`` the best *valid* completed timed
  lap, in ms rounded to nearest; both 0 until there is one. A lap is *timed* when it
  started on the line: at a crossing, or at a reset within ``LINE_TOLERANCE_M`` of it. The
  first lap of a car reset elsewhere (a partial lap, like the game's out-lap) counts in
  ``LapCount`` but sets no time, so a few metres from a reset just behind the line never
  pass for a lap time.
* **Counts.** ``LapCount`` = ``completedLaps`` = laps completed since the reset.
* **Validity.** A lap is invalidated when more than ``MAX_TYRES_OUT`` tyres are off the
  track in any state of it (the game's rule with its default of two allowed tyres out).
  A new lap starts valid (then the tyres of the crossing state are checked). An invalid
  lap still sets ``iLastTime`` but never ``BestLap``.
* **Reset** starts a new session for that car: the lap starts at the reset (the first lap
  of a car placed away from the line ends at its first crossing), every count and time
  goes back to 0. A car reset just behind the line (within ``LINE_TOLERANCE_M``) starts
  on it.

The game's ``ac.ext_resetCar`` (what the original environment sends) puts the car back
on the track without documented effects on the session's counters; restarting the
session here makes every episode start from the same counters whatever came before.

:class:`LapTiming` is the batched, stand-alone API; :func:`advance_lap` is the compiled
per-car update that :mod:`acgym.sim.session` fuses into its step kernel.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError

FloatArray = NDArray[np.float64]

MAX_TYRES_OUT = 2
"""Tyres that may be off the track without invalidating the lap (the game's default)."""

LINE_TOLERANCE_M = 0.01
"""A reset this close to the start line (either side) starts a timed lap on it, m."""

# Columns of the per-car timing state ``(N, NUM_TIMING)``.
LT_DIST_M = 0  # unwrapped lap distance since the start line, m
LT_PREV_S_M = 1  # projection of the previous state on the line, m in [0, L)
LT_LAP_START_S = 2  # simulated time at which the current lap started, s
LT_TIME_S = 3  # simulated time of the last update, s
LT_LAP_COUNT = 4  # laps completed since the reset
LT_LAST_MS = 5  # last completed lap, ms (0 = none)
LT_BEST_MS = 6  # best valid completed lap, ms (0 = none)
LT_INVALID = 7  # 1.0 when the current lap is invalidated
LT_CURRENT_MS = 8  # time since the lap started, whole ms
LT_TIMED = 9  # 1.0 when the current lap started on the line (its time counts)
NUM_TIMING = 10


@numba.njit(cache=True, inline="always")
def reset_lap(
    timing: FloatArray, distance_m: float, s_m: float, time_s: float, length_m: float
) -> None:
    """Start a new session for one car (row ``timing``) placed at ``distance_m``.

    Args:
        timing: ``(NUM_TIMING,)`` row, overwritten.
        distance_m: Where the car was placed along the line, m (wrapped into [0, L)).
        s_m: The car's projection on the line, m (the next step's reference).
        time_s: Simulated time of the reset, s.
        length_m: Length of the line, m.
    """
    for k in range(NUM_TIMING):
        timing[k] = 0.0
    d = distance_m % length_m
    if d > length_m - LINE_TOLERANCE_M:
        d -= length_m  # just behind the line
    timing[LT_DIST_M] = d
    timing[LT_TIMED] = 1.0 if abs(d) <= LINE_TOLERANCE_M else 0.0
    timing[LT_PREV_S_M] = s_m
    timing[LT_LAP_START_S] = time_s
    timing[LT_TIME_S] = time_s


@numba.njit(cache=True, inline="always")
def advance_lap(
    timing: FloatArray, s_m: float, time_s: float, tyres_out: int, length_m: float
) -> bool:
    """Update one car's timing with a new state; returns whether a lap was completed.

    Args:
        timing: ``(NUM_TIMING,)`` row, updated.
        s_m: The car's projection on the line now, m in [0, L) (NaN leaves ``d`` as is).
        time_s: Simulated time now, s.
        tyres_out: Tyres off the track now.
        length_m: Length of the line, m.
    """
    ds = s_m - timing[LT_PREV_S_M]
    if ds != ds:  # NaN projection: no progress
        ds = 0.0
    else:
        timing[LT_PREV_S_M] = s_m
    half = 0.5 * length_m
    if ds >= half:
        ds -= length_m
    elif ds < -half:
        ds += length_m
    d_prev = timing[LT_DIST_M]
    d_new = d_prev + ds
    t_prev = timing[LT_TIME_S]
    completed = False
    if d_new >= length_m:
        # interpolate the crossing within the period (d_new > d_prev here)
        w = (length_m - d_prev) / (d_new - d_prev)
        t_cross = t_prev + w * (time_s - t_prev)
        if timing[LT_TIMED] > 0.5:
            lap_ms = float(math.floor((t_cross - timing[LT_LAP_START_S]) * 1000.0 + 0.5))
            timing[LT_LAST_MS] = lap_ms
            best = timing[LT_BEST_MS]
            if timing[LT_INVALID] < 0.5 and (best <= 0.0 or lap_ms < best):
                timing[LT_BEST_MS] = lap_ms
        timing[LT_TIMED] = 1.0
        timing[LT_LAP_COUNT] += 1.0
        timing[LT_LAP_START_S] = t_cross
        timing[LT_INVALID] = 0.0
        d_new -= length_m
        completed = True
    timing[LT_DIST_M] = d_new
    timing[LT_TIME_S] = time_s
    if tyres_out > MAX_TYRES_OUT:
        timing[LT_INVALID] = 1.0
    elapsed_ms = (time_s - timing[LT_LAP_START_S]) * 1000.0
    timing[LT_CURRENT_MS] = float(math.floor(elapsed_ms + 1e-6)) if elapsed_ms > 0.0 else 0.0
    return completed


@numba.njit(cache=True)
def _advance_all(
    timing: FloatArray,
    s_m: FloatArray,
    time_s: FloatArray,
    tyres_out: NDArray[np.int64],
    length_m: float,
    completed: NDArray[np.bool_],
) -> None:
    for i in range(timing.shape[0]):
        completed[i] = advance_lap(timing[i], s_m[i], time_s[i], tyres_out[i], length_m)


class LapTiming:
    """Lap timing of N cars on one line of length ``length_m`` (rules in the module doc).

    Args:
        num_cars: N.
        length_m: Length of the reference line, m.

    Attributes:
        timing: ``(N, NUM_TIMING)`` state (columns ``LT_*``).
    """

    def __init__(self, num_cars: int, length_m: float) -> None:
        if num_cars < 1:
            raise ConfigError(f"LapTiming: num_cars must be >= 1, got {num_cars}")
        if not (math.isfinite(length_m) and length_m > 0.0):
            raise ConfigError(f"LapTiming: length_m must be a positive length, got {length_m}")
        self.num_cars = num_cars
        self.length_m = float(length_m)
        self.timing = np.zeros((num_cars, NUM_TIMING))

    def reset(
        self,
        car_indices: ArrayLike,
        distance_m: ArrayLike,
        s_m: ArrayLike | None = None,
        time_s: ArrayLike = 0.0,
    ) -> None:
        """Start a new session for some cars.

        Args:
            car_indices: ``(K,)`` car indices.
            distance_m: Where each car was placed along the line, m.
            s_m: Each car's projection on the line, m (default: ``distance_m``).
            time_s: Simulated time of the reset, s.
        """
        idx = np.atleast_1d(np.asarray(car_indices, dtype=np.intp))
        dist = np.broadcast_to(np.asarray(distance_m, dtype=np.float64), idx.shape)
        proj = dist % self.length_m if s_m is None else np.broadcast_to(s_m, idx.shape)
        times = np.broadcast_to(np.asarray(time_s, dtype=np.float64), idx.shape)
        for k, i in enumerate(idx):
            reset_lap(
                self.timing[i], float(dist[k]), float(proj[k]), float(times[k]), self.length_m
            )

    def update(self, s_m: ArrayLike, time_s: ArrayLike, tyres_out: ArrayLike) -> NDArray[np.bool_]:
        """Advance every car to a new state.

        Args:
            s_m: ``(N,)`` projections on the line, m in [0, L).
            time_s: ``(N,)`` simulated times, s (or a scalar for all).
            tyres_out: ``(N,)`` tyres off the track.

        Returns:
            ``(N,)`` whether each car completed a lap in this update.
        """
        n = self.num_cars
        s = np.ascontiguousarray(np.broadcast_to(np.asarray(s_m, dtype=np.float64), (n,)))
        t = np.ascontiguousarray(np.broadcast_to(np.asarray(time_s, dtype=np.float64), (n,)))
        out = np.ascontiguousarray(np.broadcast_to(np.asarray(tyres_out, dtype=np.int64), (n,)))
        completed = np.zeros(n, dtype=np.bool_)
        _advance_all(self.timing, s, t, out, self.length_m, completed)
        return completed

    @property
    def current_ms(self) -> NDArray[np.int64]:
        """``(N,)`` time since the lap started, whole ms (``currentTime``)."""
        return self.timing[:, LT_CURRENT_MS].astype(np.int64)

    @property
    def lap_count(self) -> NDArray[np.int64]:
        """``(N,)`` laps completed since the reset (``LapCount``, ``completedLaps``)."""
        return self.timing[:, LT_LAP_COUNT].astype(np.int64)

    @property
    def last_lap_ms(self) -> NDArray[np.int64]:
        """``(N,)`` last completed lap, ms; 0 = none (``iLastTime``)."""
        return self.timing[:, LT_LAST_MS].astype(np.int64)

    @property
    def best_lap_ms(self) -> NDArray[np.int64]:
        """``(N,)`` best valid completed lap, ms; 0 = none (``BestLap``)."""
        return self.timing[:, LT_BEST_MS].astype(np.int64)

    @property
    def invalidated(self) -> NDArray[np.bool_]:
        """``(N,)`` whether the current lap is invalidated (``LapInvalidated``)."""
        return self.timing[:, LT_INVALID] > 0.5

    @property
    def lap_distance_m(self) -> FloatArray:
        """``(N,)`` unwrapped distance since the start line, m (a copy)."""
        return self.timing[:, LT_DIST_M].copy()

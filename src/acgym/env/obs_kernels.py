"""Compiled observation writing: the terms' values gathered in one call per step.

Every built-in observation term is a gather: each of its values is one number of the
frame (a channel, a ray, a look-ahead sample, an applied control, a history slot)
divided by a constant, and for the history terms multiplied by the "history full" flag.
Each term lists these sources (``ObservationTerm.sources``); :class:`GatherPlan` is the
concatenation and :func:`gather_observation` writes the whole ``(N, D)`` vector from it,
checking finiteness on the way, with the same arithmetic as the terms' ``write``
(division by the scale, then the flag): the two paths give the same bits.
:func:`push_history` appends a step to the history buffers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

SRC_VALUES = 0
"""A frame channel (``values[:, col]``)."""
SRC_FLAG = 1
"""1.0 when a frame channel is non-zero, else 0.0."""
SRC_RAYS = 2
"""A ray distance (``rays_m[:, col]``)."""
SRC_CURVATURE = 3
"""A curvature look-ahead sample."""
SRC_TARGET = 4
"""A target-speed look-ahead sample."""
SRC_APPLIED = 5
"""An applied control (already scaled)."""
SRC_HIST_BASIC = 6
"""A slot of the basic-observation history (flat ``(W * B)`` index)."""
SRC_HIST_CONTROLS = 7
"""A slot of the applied-controls history (flat ``(W * 3)`` index)."""
SRC_CONST = 8
"""The constant ``col`` (0 or 1: one-hot values)."""

Source = tuple[int, int, float, bool]
"""One value: (source kind, column, divisor, multiplied by the history-full flag)."""


class GatherPlan(NamedTuple):
    """The sources of every value of an observation, as arrays for the kernel."""

    kinds: NDArray[np.int64]
    cols: NDArray[np.int64]
    divisors: FloatArray
    gated: NDArray[np.bool_]

    @classmethod
    def of(cls, sources: Sequence[Source]) -> GatherPlan:
        kinds, cols, divisors, gated = zip(*sources, strict=True) if sources else ((), (), (), ())
        return cls(
            np.array(kinds, dtype=np.int64),
            np.array(cols, dtype=np.int64),
            np.array(divisors, dtype=np.float64),
            np.array(gated, dtype=np.bool_),
        )


@numba.njit(cache=True)
def gather_observation(
    out: FloatArray,
    kinds: NDArray[np.int64],
    cols: NDArray[np.int64],
    divisors: FloatArray,
    gated: NDArray[np.bool_],
    values: FloatArray,
    rays_m: FloatArray,
    curvature_1pm: FloatArray,
    target_speed_mps: FloatArray,
    applied: FloatArray,
    hist_basic: FloatArray,
    hist_controls: FloatArray,
    full: NDArray[np.bool_],
    cars: NDArray[np.int64],
    bad: NDArray[np.bool_],
) -> bool:
    """Write the rows ``cars`` of ``out`` ``(N, D)``; marks non-finite columns in ``bad``.

    Returns:
        Whether any value written is NaN or infinite.
    """
    any_bad = False
    for n in range(cars.shape[0]):
        i = cars[n]
        flag = 1.0 if full[i, 0] else 0.0
        for j in range(out.shape[1]):
            kind = kinds[j]
            c = cols[j]
            if kind == SRC_VALUES:
                v = values[i, c]
            elif kind == SRC_FLAG:
                v = 1.0 if values[i, c] != 0.0 else 0.0
            elif kind == SRC_RAYS:
                v = rays_m[i, c]
            elif kind == SRC_CURVATURE:
                v = curvature_1pm[i, c]
            elif kind == SRC_TARGET:
                v = target_speed_mps[i, c]
            elif kind == SRC_APPLIED:
                v = applied[i, c]
            elif kind == SRC_HIST_BASIC:
                v = hist_basic[i, c]
            elif kind == SRC_HIST_CONTROLS:
                v = hist_controls[i, c]
            else:
                v = float(c)
            v = v / divisors[j]
            if gated[j]:
                v = v * flag
            out[i, j] = v
            if not math.isfinite(v):
                bad[j] = True
                any_bad = True
    return any_bad


@numba.njit(cache=True)
def push_history(
    hist_basic: FloatArray,
    hist_controls: FloatArray,
    count: NDArray[np.int64],
    full: NDArray[np.bool_],
    observation: FloatArray,
    applied: FloatArray,
    window: int,
) -> None:
    """Shift every car's history by one step and append its basic block and controls.

    Args:
        hist_basic: ``(N, W * B)`` oldest first.
        hist_controls: ``(N, W * 3)`` oldest first.
        count: ``(N,)`` steps pushed.
        full: ``(N, 1)`` whether ``window`` steps exist.
        observation: ``(N, D)``; its first ``B`` values are the basic block.
        applied: ``(N, 3)`` scaled applied controls.
        window: W.
    """
    size = hist_basic.shape[1] // window
    for i in range(hist_basic.shape[0]):
        row = hist_basic[i]
        for k in range(row.shape[0] - size):
            row[k] = row[k + size]
        for k in range(size):
            row[row.shape[0] - size + k] = observation[i, k]
        crow = hist_controls[i]
        for k in range(crow.shape[0] - 3):
            crow[k] = crow[k + 3]
        for k in range(3):
            crow[crow.shape[0] - 3 + k] = applied[i, k]
        count[i] += 1
        full[i, 0] = count[i] >= window

"""Ray casting against the track borders by grid traversal.

Each ray walks the cells of a ``segment_grid`` of both borders in the order it crosses
them (Amanatides and Woo, "A fast voxel traversal algorithm for ray tracing",
Eurographics 1987) and tests only the segments listed in those cells. It stops at the
first cell whose exit distance is beyond the nearest hit found so far: a segment hit
inside or before this cell is the first hit, because every segment crossing an earlier
cell has been tested. Cost grows with the free distance along the ray, not with the
number of border points.

A ray is ``p + t d`` with ``d = (cos a, sin a)``, ``t`` in m; a border segment is hit
when ``t >= 0`` and the crossing lies on the closed segment. Rays parallel to a segment
never hit it (a grazing ray is stopped by the next segment). Segments whose level bits
meet ``hidden`` are not there for the ray (the other level at a crossing:
``acgym.track.queries``).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int32]
LevelArray = NDArray[np.int64]

MAX_RAY_RANGE_M = 200.0
"""Default ray range, m (the original environment's ``MAX_RAY_LEN``)."""

_PARALLEL_EPS = 1e-12


@numba.njit(cache=True, inline="always")
def _hit_t(px: float, py: float, dx: float, dy: float, seg: FloatArray, k: int) -> float:
    """Ray parameter of the crossing with segment ``k``, or ``inf`` when it misses."""
    ex = seg[k, 2]
    ey = seg[k, 3]
    denom = dx * ey - dy * ex
    if abs(denom) <= _PARALLEL_EPS * (abs(ex) + abs(ey)):
        return np.inf
    wx = seg[k, 0] - px
    wy = seg[k, 1] - py
    t = (wx * ey - wy * ex) / denom
    u = (wx * dy - wy * dx) / denom
    if t >= 0.0 and u >= 0.0 and u <= 1.0:
        return t
    return np.inf


@numba.njit(cache=True)
def cast_ray(
    px: float,
    py: float,
    angle_rad: float,
    max_range_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    seg: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
) -> float:
    """Distance along one ray to the first border hit, m, capped at ``max_range_m``.

    A non-finite origin or angle gives ``nan``.

    Args:
        px, py: Ray origin, m.
        angle_rad: Ray direction, rad CCW from +x.
        max_range_m: Range cap, m.
        params, cell_start, items: A ``UniformGrid`` of ``seg``.
        seg: ``(S, >=4)`` border segments ``ax, ay, ex, ey``.
        levels, hidden: Level bits of the segments ``(S,)`` and the hidden levels.
    """
    if not (np.isfinite(px) and np.isfinite(py) and np.isfinite(angle_rad)):
        return np.nan
    dx = np.cos(angle_rad)
    dy = np.sin(angle_rad)
    x0 = params[0]
    y0 = params[1]
    cell_m = params[2]
    nx = int(params[3])
    ny = int(params[4])
    # Clip [0, max_range] to the grid box (slab test) to find where the walk starts.
    t_in = 0.0
    t_out = max_range_m
    if dx != 0.0:
        t1 = (x0 - px) / dx
        t2 = (x0 + nx * cell_m - px) / dx
        t_in = max(t_in, min(t1, t2))
        t_out = min(t_out, max(t1, t2))
    elif px < x0 or px > x0 + nx * cell_m:
        return max_range_m
    if dy != 0.0:
        t1 = (y0 - py) / dy
        t2 = (y0 + ny * cell_m - py) / dy
        t_in = max(t_in, min(t1, t2))
        t_out = min(t_out, max(t1, t2))
    elif py < y0 or py > y0 + ny * cell_m:
        return max_range_m
    if t_in > t_out:
        return max_range_m
    ix = min(max(int(np.floor((px + t_in * dx - x0) / cell_m)), 0), nx - 1)
    iy = min(max(int(np.floor((py + t_in * dy - y0) / cell_m)), 0), ny - 1)
    if dx > 0.0:
        step_x = 1
        t_next_x = (x0 + (ix + 1) * cell_m - px) / dx
        t_delta_x = cell_m / dx
    elif dx < 0.0:
        step_x = -1
        t_next_x = (x0 + ix * cell_m - px) / dx
        t_delta_x = -cell_m / dx
    else:
        step_x = 0
        t_next_x = np.inf
        t_delta_x = np.inf
    if dy > 0.0:
        step_y = 1
        t_next_y = (y0 + (iy + 1) * cell_m - py) / dy
        t_delta_y = cell_m / dy
    elif dy < 0.0:
        step_y = -1
        t_next_y = (y0 + iy * cell_m - py) / dy
        t_delta_y = -cell_m / dy
    else:
        step_y = 0
        t_next_y = np.inf
        t_delta_y = np.inf
    best = max_range_m
    while True:
        c = ix * ny + iy
        for n in range(cell_start[c], cell_start[c + 1]):
            k = items[n]
            if hidden != 0 and (levels[k] & hidden) != 0:
                continue
            t = _hit_t(px, py, dx, dy, seg, k)
            if t < best:
                best = t
        t_exit = min(t_next_x, t_next_y)
        if best <= t_exit or t_exit >= t_out:
            break
        if t_next_x < t_next_y:
            ix += step_x
            t_next_x += t_delta_x
            if ix < 0 or ix >= nx:
                break
        else:
            iy += step_y
            t_next_y += t_delta_y
            if iy < 0 or iy >= ny:
                break
    return best


@numba.njit(cache=True)
def cast_fan(
    px: float,
    py: float,
    heading_rad: float,
    angles_rad: FloatArray,
    max_range_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    seg: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
    out: FloatArray,
) -> None:
    """Cast ``(R,)`` rays at ``heading_rad + angles_rad`` from one pose into ``out`` (R,)."""
    for r in range(angles_rad.shape[0]):
        out[r] = cast_ray(
            px,
            py,
            heading_rad + angles_rad[r],
            max_range_m,
            params,
            cell_start,
            items,
            seg,
            levels,
            hidden,
        )


@numba.njit(cache=True)
def cast_fans(
    xy_m: FloatArray,
    heading_rad: FloatArray,
    angles_rad: FloatArray,
    max_range_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    seg: FloatArray,
    levels: LevelArray,
    hidden: LevelArray,
    out: FloatArray,
) -> None:
    """Cast a fan from each of ``(N, 2)`` poses (hidden levels ``(N,)``) into ``out``
    ``(N, R)``, m."""
    for n in range(xy_m.shape[0]):
        cast_fan(
            xy_m[n, 0],
            xy_m[n, 1],
            heading_rad[n],
            angles_rad,
            max_range_m,
            params,
            cell_start,
            items,
            seg,
            levels,
            hidden[n],
            out[n],
        )

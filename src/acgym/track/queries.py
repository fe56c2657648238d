"""Compiled point queries on a track: nearest segment, projection, inside test, look-up.

The kernels read the CSR grids of ``acgym.track.spatial`` and flat float arrays, so the
same code serves one point (the environment, every step) and batches (training data,
tests). Segment rows are ``ax, ay, ex, ey, ...``: start point and vector, m.

Levels: every indexed item (segment or quad) carries level bits (``levels``, int64, one
per table row; ``acgym.track.crossings``), and every query takes ``hidden``, the bits of
the levels it must not see: an item with ``levels[k] & hidden != 0`` is skipped. On a
track that crosses itself, ``hidden_levels`` of the car's progress hides the other
level's surface, borders and line at each crossing; ``hidden = 0`` (no hint, or a track
without crossings) sees every item, exactly as without levels.

Nearest-segment search visits rings of cells around the point's cell (Chebyshev
distance 0, 1, 2, ...) and stops as soon as the distance from the point to the cells not
yet visited exceeds the best distance found: the answer is the global nearest segment,
never a local search along the line, so it is right where the road comes close to
itself. A point far outside the track's bounding box visits every cell once (slower, but
still exact).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int32]
BoolArray = NDArray[np.bool_]
LevelArray = NDArray[np.int64]

# Columns of the reference-line segment table built by ``line_table``.
LINE_COLUMNS = ("ax_m", "ay_m", "ex_m", "ey_m", "s0_m", "len_m", "vertex_nx", "vertex_ny")


def segment_table(points_m: FloatArray) -> FloatArray:
    """Segments of a closed polyline as ``(N, 4)`` rows ``ax, ay, ex, ey`` in m."""
    return np.ascontiguousarray(np.hstack((points_m, np.roll(points_m, -1, axis=0) - points_m)))


def line_table(points_m: FloatArray, s_m: FloatArray) -> FloatArray:
    """The reference line's segment table, ``(M, 8)``, columns ``LINE_COLUMNS``.

    ``s0_m`` is the arc length at the segment start, ``len_m`` its length, and
    ``vertex_n`` the (unnormalised) pseudo-normal at the start vertex: the sum of the
    left unit normals of the two segments that meet there. Its sign decides the side of
    a point whose nearest line point is that vertex (outside a corner).
    """
    seg = segment_table(points_m)
    length_m = np.hypot(seg[:, 2], seg[:, 3])
    safe = np.maximum(length_m, 1e-300)
    normal = np.stack((-seg[:, 3] / safe, seg[:, 2] / safe), axis=1)
    vertex_normal = normal + np.roll(normal, 1, axis=0)
    return np.ascontiguousarray(
        np.hstack((seg, s_m[:, None], length_m[:, None], vertex_normal)), dtype=np.float64
    )


def quad_table(left_m: FloatArray, right_m: FloatArray) -> FloatArray:
    """Track-surface quads ``(N, 8)``: ``left[i], right[i], right[i+1], left[i+1]``, m."""
    return np.ascontiguousarray(
        np.hstack((left_m, right_m, np.roll(right_m, -1, axis=0), np.roll(left_m, -1, axis=0)))
    )


@numba.njit(cache=True, inline="always")
def _segment_distance2(px: float, py: float, seg: FloatArray, k: int) -> tuple[float, float]:
    """Squared distance from a point to segment ``k`` and the clamped parameter u."""
    ex = seg[k, 2]
    ey = seg[k, 3]
    wx = px - seg[k, 0]
    wy = py - seg[k, 1]
    len2 = ex * ex + ey * ey
    u = 0.0
    if len2 > 0.0:
        u = (wx * ex + wy * ey) / len2
        if u < 0.0:
            u = 0.0
        elif u > 1.0:
            u = 1.0
    dx = wx - u * ex
    dy = wy - u * ey
    return dx * dx + dy * dy, u


@numba.njit(cache=True)
def hidden_levels(hint_s_m: float, crossing_s_m: FloatArray, length_m: float) -> np.int64:
    """The level bits a query from progress ``hint_s_m`` must not see.

    At each crossing ``c`` (row ``c`` of ``crossing_s_m``: the distances along the line
    of its two branches, m), the branch farther from the hint along the closed line is
    hidden (bit ``2 * c + branch``); at equal distances branch 1. A non-finite hint, or
    no crossing, hides nothing (0).
    """
    hidden = np.int64(0)
    if not np.isfinite(hint_s_m):
        return hidden
    for c in range(crossing_s_m.shape[0]):
        d0 = abs(hint_s_m - crossing_s_m[c, 0]) % length_m
        d1 = abs(hint_s_m - crossing_s_m[c, 1]) % length_m
        d0 = min(d0, length_m - d0)
        d1 = min(d1, length_m - d1)
        branch = 1 if d0 <= d1 else 0
        hidden |= np.int64(1) << np.int64(2 * c + branch)
    return hidden


@numba.njit(cache=True)
def hidden_levels_many(
    hint_s_m: FloatArray, crossing_s_m: FloatArray, length_m: float, out: NDArray[np.int64]
) -> None:
    """``hidden_levels`` of each of ``(N,)`` hints into ``out`` ``(N,)``."""
    for n in range(hint_s_m.shape[0]):
        out[n] = hidden_levels(hint_s_m[n], crossing_s_m, length_m)


@numba.njit(cache=True, inline="always")
def _scan_cell(
    px: float,
    py: float,
    c: int,
    index: tuple[IndexArray, IndexArray, FloatArray, LevelArray, np.int64],
    best: tuple[int, float, float],
) -> tuple[int, float, float]:
    """The nearest so far ``best`` = ``(k, u, d2)`` updated with the segments of cell ``c``
    (``index``: ``cell_start, items, seg, levels, hidden``)."""
    cell_start, items, seg, levels, hidden = index
    best_k, best_u, best_d2 = best
    for n in range(cell_start[c], cell_start[c + 1]):
        k = items[n]
        if hidden != 0 and (levels[k] & hidden) != 0:
            continue
        d2, u = _segment_distance2(px, py, seg, k)
        if d2 < best_d2 or best_k < 0:  # (d2 overflows to inf beyond ~1e154 m)
            best_d2 = d2
            best_k = k
            best_u = u
    return best_k, best_u, best_d2


@numba.njit(cache=True)
def nearest_segment(
    px: float,
    py: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    seg: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
) -> tuple[int, float, float]:
    """Global nearest segment to a point by a ring search of the grid.

    Args:
        px, py: The point, m.
        params, cell_start, items: A ``UniformGrid`` of ``seg``.
        seg: ``(S, >=4)`` segment rows ``ax, ay, ex, ey``.
        levels, hidden: Level bits of the segments, ``(S,)``, and the hidden levels
            (module docstring); hidden segments are skipped.

    Returns:
        ``(k, u, d2)``: segment index, parameter in [0, 1] of the nearest point on it and
        the squared distance, m^2 (``k = -1`` for a non-finite point or an empty grid).
    """
    x0 = params[0]
    y0 = params[1]
    cell_m = params[2]
    nx = int(params[3])
    ny = int(params[4])
    if not (np.isfinite(px) and np.isfinite(py)):
        return -1, 0.0, np.inf
    # Clamp in floating point first: a point kilometres away must not overflow an int.
    ix = int(min(max(np.floor((px - x0) / cell_m), 0.0), nx - 1.0))
    iy = int(min(max(np.floor((py - y0) / cell_m), 0.0), ny - 1.0))
    index = (cell_start, items, seg, levels, hidden)
    best = (-1, 0.0, np.inf)
    r = 0
    while True:
        i_lo = ix - r
        i_hi = ix + r
        j_lo = iy - r
        j_hi = iy + r
        for i in range(max(i_lo, 0), min(i_hi, nx - 1) + 1):
            if i == i_lo or i == i_hi:  # edge column of the ring: all its cells
                for j in range(max(j_lo, 0), min(j_hi, ny - 1) + 1):
                    best = _scan_cell(px, py, i * ny + j, index, best)
            else:  # inner column: only its bottom and top cells belong to ring r
                if j_lo >= 0:
                    best = _scan_cell(px, py, i * ny + j_lo, index, best)
                if j_hi <= ny - 1:
                    best = _scan_cell(px, py, i * ny + j_hi, index, best)
        # Lower bound on the distance to any cell outside the block visited so far.
        bound = np.inf
        if i_lo > 0:
            bound = min(bound, px - (x0 + i_lo * cell_m))
        if i_hi < nx - 1:
            bound = min(bound, x0 + (i_hi + 1) * cell_m - px)
        if j_lo > 0:
            bound = min(bound, py - (y0 + j_lo * cell_m))
        if j_hi < ny - 1:
            bound = min(bound, y0 + (j_hi + 1) * cell_m - py)
        if bound == np.inf:
            break  # every cell visited
        if best[0] >= 0 and bound > 0.0 and bound * bound >= best[2]:
            break
        r += 1
    return best


@numba.njit(cache=True, inline="always")
def _project_one(
    px: float,
    py: float,
    length_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    line: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
) -> tuple[float, float]:
    k, u, d2 = nearest_segment(px, py, params, cell_start, items, line, levels, hidden)
    if k < 0:  # a NaN point
        return np.nan, np.nan
    s_m = line[k, 4] + u * line[k, 5]
    if s_m >= length_m:
        s_m -= length_m
    if u > 0.0 and u < 1.0:
        side = line[k, 2] * (py - line[k, 1]) - line[k, 3] * (px - line[k, 0])
    else:
        v = k if u <= 0.0 else (k + 1) % line.shape[0]
        side = (px - line[v, 0]) * line[v, 6] + (py - line[v, 1]) * line[v, 7]
    gap_m = np.sqrt(d2)
    if side < 0.0:
        gap_m = -gap_m
    return s_m, gap_m


@numba.njit(cache=True)
def project_point(
    px: float,
    py: float,
    length_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    line: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
) -> tuple[float, float]:
    """Distance along the closed line and signed gap of one point, both m.

    The gap is positive when the point is left of the line (+90 degrees from the
    direction of travel). ``line`` is a ``line_table``; ``s`` is in ``[0, length_m)``.
    A non-finite point gives ``(nan, nan)``. ``levels``, ``hidden``: the line segments'
    level bits and the hidden levels (module docstring).
    """
    return _project_one(px, py, length_m, params, cell_start, items, line, levels, hidden)


@numba.njit(cache=True)
def project_points(
    xy_m: FloatArray,
    length_m: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    line: FloatArray,
    levels: LevelArray,
    hidden: LevelArray,
    s_out: FloatArray,
    gap_out: FloatArray,
) -> None:
    """``project_point`` for ``(N, 2)`` points (hidden levels ``(N,)``, one per point)
    into preallocated ``(N,)`` outputs."""
    for n in range(xy_m.shape[0]):
        s_out[n], gap_out[n] = _project_one(
            xy_m[n, 0], xy_m[n, 1], length_m, params, cell_start, items, line, levels, hidden[n]
        )


@numba.njit(cache=True)
def nearest_distances(
    xy_m: FloatArray,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    seg: FloatArray,
    levels: LevelArray,
    hidden: LevelArray,
    out: FloatArray,
) -> None:
    """Distance, m, from each of ``(N, 2)`` points to the nearest segment not hidden from
    it (``hidden`` ``(N,)``), into ``out``."""
    for n in range(xy_m.shape[0]):
        k, _, d2 = nearest_segment(
            xy_m[n, 0], xy_m[n, 1], params, cell_start, items, seg, levels, hidden[n]
        )
        out[n] = np.sqrt(d2) if k >= 0 else np.nan


@numba.njit(cache=True, inline="always")
def _in_quad(px: float, py: float, quads: FloatArray, k: int) -> bool:
    """Even-odd crossing test against the four edges of quad ``k``.

    The half-open rule (an edge counts when exactly one end is above the point) makes a
    point on an edge shared by two quads belong to exactly one of them, so the union has
    no cracks; each edge is evaluated bottom to top so that the two quads sharing it
    compute the same crossing to the last bit (the original files put line points exactly
    on cross-sections).
    """
    inside = False
    for e in range(4):
        ax = quads[k, 2 * e]
        ay = quads[k, 2 * e + 1]
        f = (e + 1) % 4
        bx = quads[k, 2 * f]
        by = quads[k, 2 * f + 1]
        if (ay > py) != (by > py):
            if ay > by:  # one orientation per edge: both quads sharing it round alike
                ax, ay, bx, by = bx, by, ax, ay
            x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
            if px < x_cross:
                inside = not inside
    return inside


@numba.njit(cache=True)
def inside_point(
    px: float,
    py: float,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    quads: FloatArray,
    levels: LevelArray,
    hidden: np.int64,
) -> bool:
    """Whether a point lies in any quad of a ``quad_grid`` (the track surface) that is
    not hidden (``levels`` of the quads, ``hidden``: module docstring)."""
    x0 = params[0]
    y0 = params[1]
    cell_m = params[2]
    fx = (px - x0) / cell_m
    fy = (py - y0) / cell_m
    if not (fx >= 0.0 and fy >= 0.0 and fx < params[3] and fy < params[4]):
        return False  # outside the grid (or NaN)
    c = int(fx) * int(params[4]) + int(fy)
    for n in range(cell_start[c], cell_start[c + 1]):
        k = items[n]
        if hidden != 0 and (levels[k] & hidden) != 0:
            continue
        if _in_quad(px, py, quads, k):
            return True
    return False


@numba.njit(cache=True)
def inside_points(
    xy_m: FloatArray,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    quads: FloatArray,
    levels: LevelArray,
    hidden: LevelArray,
    out: BoolArray,
) -> None:
    """``inside_point`` for ``(N, 2)`` points (hidden levels ``(N,)``) into a
    preallocated ``(N,)`` bool array."""
    for n in range(xy_m.shape[0]):
        out[n] = inside_point(
            xy_m[n, 0], xy_m[n, 1], params, cell_start, items, quads, levels, hidden[n]
        )


@numba.njit(cache=True, inline="always")
def last_knot(knots_s_m: FloatArray, s_m: float) -> int:
    """Index of the last of the increasing ``knots_s_m`` at or below ``s_m`` (0 when none
    is), by binary search."""
    lo = 0
    hi = knots_s_m.shape[0]
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if knots_s_m[mid] <= s_m:
            lo = mid
        else:
            hi = mid
    return lo


@numba.njit(cache=True, inline="always")
def _interp_one(s_m: float, knots_s_m: FloatArray, values: FloatArray, length_m: float) -> float:
    """Linear interpolation at one distance (wrapped modulo ``length_m``)."""
    m = knots_s_m.shape[0]
    s = s_m % length_m
    lo = last_knot(knots_s_m, s)
    s_next = knots_s_m[lo + 1] if lo + 1 < m else length_m
    v_next = values[lo + 1] if lo + 1 < m else values[0]
    span = s_next - knots_s_m[lo]
    w = (s - knots_s_m[lo]) / span if span > 0.0 else 0.0
    return values[lo] + w * (v_next - values[lo])


@numba.njit(cache=True)
def interp_closed(
    s_m: FloatArray, knots_s_m: FloatArray, values: FloatArray, length_m: float, out: FloatArray
) -> None:
    """Linear interpolation of a per-point channel on a closed line.

    Args:
        s_m: ``(N,)`` query distances, m; any real value (wrapped modulo ``length_m``).
        knots_s_m: ``(M,)`` increasing distances of the line points, from 0, m.
        values: ``(M,)`` channel at the line points; the last interval runs from point
            ``M - 1`` back to point 0 at ``length_m``.
        length_m: Loop length, m.
        out: ``(N,)`` result.
    """
    for n in range(s_m.shape[0]):
        out[n] = _interp_one(s_m[n], knots_s_m, values, length_m)


@numba.njit(cache=True)
def interp_ahead(
    s_m: FloatArray,
    step_m: float,
    knots_s_m: FloatArray,
    values: FloatArray,
    length_m: float,
    out: FloatArray,
) -> None:
    """``interp_closed`` at ``s + k * step_m`` for k = 0 .. K-1 into ``out`` ``(N, K)``."""
    for n in range(s_m.shape[0]):
        for k in range(out.shape[1]):
            out[n, k] = _interp_one(s_m[n] + k * step_m, knots_s_m, values, length_m)

"""Validity checks of a ``Track``; each failure says what is wrong, where, and what to do.

The rules, in the order they run (the first failure raises ``TrackFileError``):

1. **Closed loop.** Every polyline (left, right, reference line) is a loop whose closing
   segment (last point back to the first) is implied. A polyline is *open* when that
   closing segment is longer than ``OPEN_LOOP_FACTOR`` times the median segment and
   longer than every other segment: a file that stops short of its start, not a track
   whose last straight happens to be sparsely sampled.
2. **No zero-length segment**: consecutive points (the closing pair included) closer
   than ``MIN_SEGMENT_M``.
3. **Borders do not cross**: no segment of the left or right border crosses (or touches)
   a non-adjacent segment of the same border, and no left segment meets a right one.
4. **Left is left**: at most cross-sections the left border is on the +90 degree side
   of the direction of travel (otherwise the columns are swapped).
5. **The reference line runs the same way as the borders**.
6. **The reference line stays on the surface**: a line point more than
   ``LINE_OFF_TRACK_ERROR_M`` off the surface is an error (wrong line for this track or
   layout, or swapped axes); more than ``LINE_OFF_TRACK_WARN_M`` gives a
   ``TrackGeometryWarning`` (a racing line may ride a kerb a little; the gap and reward
   stay well defined, but the out-of-track check will fire there).

Crossing tests use the border segment grid (``acgym.track.spatial``), so a 4,000-point
track validates in milliseconds.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError

if TYPE_CHECKING:
    from acgym.track.track import Track

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int32]

OPEN_LOOP_FACTOR = 4.0
"""Closing segment longer than this many median segments (and than all others): open."""

MIN_SEGMENT_M = 1e-4
"""Shortest allowed segment, m; shorter means a repeated point."""

LINE_OFF_TRACK_WARN_M = 0.5
"""Reference line farther than this off the surface gives a warning, m."""

LINE_OFF_TRACK_ERROR_M = 5.0
"""Reference line farther than this off the surface is an error, m."""


class TrackGeometryWarning(UserWarning):
    """A track is usable but something about its geometry looks wrong."""


def validate_track(track: Track) -> None:
    """Raise ``TrackFileError`` if ``track`` is not a valid closed circuit.

    Warns with ``TrackGeometryWarning`` when the reference line leaves the surface by a
    little. See the module docstring for the rules.
    """
    polylines = (
        ("left border", track.left_m),
        ("right border", track.right_m),
        ("reference line", track.line_m),
    )
    for what, points_m in polylines:
        _check_closed(track.name, what, points_m)
    for what, points_m in polylines:
        _check_segments(track.name, what, points_m)
    _check_crossings(track)
    _check_sides(track)
    _check_line(track)


def _fail(track_name: str, message: str) -> TrackFileError:
    return TrackFileError(f"track {track_name!r}: {message}")


def _segment_lengths_m(points_m: FloatArray) -> FloatArray:
    return np.hypot(*(np.roll(points_m, -1, axis=0) - points_m).T)


def _check_closed(name: str, what: str, points_m: FloatArray) -> None:
    length_m = _segment_lengths_m(points_m)
    closing_m = float(length_m[-1])
    median_m = float(np.median(length_m))
    if closing_m > OPEN_LOOP_FACTOR * median_m and closing_m > float(length_m[:-1].max()):
        last = len(points_m) - 1
        raise _fail(
            name,
            f"the {what} is not a closed loop: its last point ({last}, "
            f"{_xy(points_m[last])}) is {closing_m:.2f} m from its first ({_xy(points_m[0])}), "
            f"{closing_m / median_m:.0f} times the median spacing of {median_m:.2f} m; "
            "give the whole lap, ending just before the first point",
        )


def _check_segments(name: str, what: str, points_m: FloatArray) -> None:
    length_m = _segment_lengths_m(points_m)
    short = np.flatnonzero(length_m < MIN_SEGMENT_M)
    if len(short):
        i = int(short[0])
        j = (i + 1) % len(points_m)
        raise _fail(
            name,
            f"the {what} has a zero-length segment: points {i} and {j} coincide at "
            f"{_xy(points_m[i])} ({len(short)} such segments); drop the repeated points",
        )


def _check_crossings(track: Track) -> None:
    grid, table = track.border_index
    num_left = len(track.left_m)
    i, j, x_m, y_m = _first_crossing(table, grid.params, grid.cell_start, grid.items, num_left)
    if i < 0:
        return
    where = f"near ({x_m:.2f}, {y_m:.2f}) m"
    if i < num_left and j < num_left:
        problem = f"the left border crosses itself: segment {i} (points {i}-{_next(i, num_left)}) meets segment {j} {where}"
    elif i >= num_left and j >= num_left:
        i, j = i - num_left, j - num_left
        problem = f"the right border crosses itself: segment {i} (points {i}-{_next(i, num_left)}) meets segment {j} {where}"
    else:
        j -= num_left
        problem = f"the left and right borders cross: left segment {i} (points {i}-{_next(i, num_left)}) meets right segment {j} {where}"
    raise _fail(
        track.name,
        f"{problem}; fix the border points there (a too-wide section at a tight corner "
        "folds the inner border) or regenerate the track",
    )


def _check_sides(track: Track) -> None:
    centre = track.centre_m
    tangent = np.roll(centre, -1, axis=0) - np.roll(centre, 1, axis=0)
    to_left = track.left_m - centre
    side = tangent[:, 0] * to_left[:, 1] - tangent[:, 1] * to_left[:, 0]
    if np.count_nonzero(side > 0.0) * 2 < len(side):
        first = int(np.flatnonzero(side <= 0.0)[0])
        raise _fail(
            track.name,
            f"the left border is on the right-hand side of travel at "
            f"{np.count_nonzero(side <= 0.0)} of {len(side)} cross-sections (first: section "
            f"{first}); swap the left and right columns, or reverse the point order",
        )


def _check_line(track: Track) -> None:
    # Direction: the cross-section centres, projected on the line, must advance along it.
    s_m = track.project(track.centre_m).s_m
    step_m = (np.diff(s_m, append=s_m[:1]) + 0.5 * track.length_m) % track.length_m
    if np.count_nonzero(step_m < 0.5 * track.length_m) * 2 > len(step_m):
        raise _fail(
            track.name,
            "the reference line runs against the direction of the borders (its distance "
            "decreases along the cross-sections); reverse the order of the line points",
        )
    # Surface: how far each line point is outside the union of quads.
    outside = np.flatnonzero(~track.is_inside(track.line_m))
    if not len(outside):
        return
    off_m = track.border_distance(track.line_m[outside])
    worst = int(np.argmax(off_m))
    index = int(outside[worst])
    summary = (
        f"reference line point {index} at {_xy(track.line_m[index])} is {off_m[worst]:.2f} m "
        f"off the track surface ({np.count_nonzero(off_m > LINE_OFF_TRACK_WARN_M)} points "
        f"more than {LINE_OFF_TRACK_WARN_M} m off)"
    )
    if off_m[worst] > LINE_OFF_TRACK_ERROR_M:
        raise _fail(
            track.name,
            f"{summary}; check that the line belongs to this track and layout and uses the "
            "same axes (world_position_x, world_position_y) as the borders",
        )
    if off_m[worst] > LINE_OFF_TRACK_WARN_M:
        warnings.warn(
            f"track {track.name!r}: {summary}; the out-of-track check will fire along the "
            "line there",
            TrackGeometryWarning,
            stacklevel=3,
        )


def _next(i: int, n: int) -> int:
    return (i + 1) % n


def _xy(point_m: FloatArray) -> str:
    return f"({point_m[0]:.2f}, {point_m[1]:.2f}) m"


@numba.njit(cache=True, inline="always")
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@numba.njit(cache=True)
def _segments_meet(seg: FloatArray, a: int, b: int) -> bool:
    """Whether two closed segments share a point (crossing, touching or overlapping)."""
    p1x, p1y = seg[a, 0], seg[a, 1]
    p2x, p2y = p1x + seg[a, 2], p1y + seg[a, 3]
    q1x, q1y = seg[b, 0], seg[b, 1]
    q2x, q2y = q1x + seg[b, 2], q1y + seg[b, 3]
    d1 = _orient(q1x, q1y, q2x, q2y, p1x, p1y)
    d2 = _orient(q1x, q1y, q2x, q2y, p2x, p2y)
    d3 = _orient(p1x, p1y, p2x, p2y, q1x, q1y)
    d4 = _orient(p1x, p1y, p2x, p2y, q2x, q2y)
    if ((d1 > 0.0 and d2 < 0.0) or (d1 < 0.0 and d2 > 0.0)) and (
        (d3 > 0.0 and d4 < 0.0) or (d3 < 0.0 and d4 > 0.0)
    ):
        return True
    # Touching or collinear: an end point lying on the other segment.
    if d1 == 0.0 and _within(q1x, q1y, q2x, q2y, p1x, p1y):
        return True
    if d2 == 0.0 and _within(q1x, q1y, q2x, q2y, p2x, p2y):
        return True
    if d3 == 0.0 and _within(p1x, p1y, p2x, p2y, q1x, q1y):
        return True
    return d4 == 0.0 and _within(p1x, p1y, p2x, p2y, q2x, q2y)


@numba.njit(cache=True, inline="always")
def _within(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    """For p collinear with segment ab: whether p lies within its bounding box."""
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@numba.njit(cache=True)
def _first_crossing(
    seg: FloatArray,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    num_left: int,
) -> tuple[int, int, float, float]:
    """The first pair ``(i, j)``, ``i < j``, of non-adjacent border segments that meet.

    Segments ``0 .. num_left - 1`` are the left border and the rest the right one, each a
    closed loop of ``num_left`` segments. Returns ``(-1, -1, 0, 0)`` when none meet,
    else the pair and the start of segment ``j`` (a point near the crossing), m.
    """
    best_i = -1
    best_j = -1
    for c in range(cell_start.shape[0] - 1):
        start = cell_start[c]
        stop = cell_start[c + 1]
        for m in range(start, stop):
            for n in range(m + 1, stop):
                i = min(items[m], items[n])
                j = max(items[m], items[n])
                if i == j:
                    continue
                if best_i >= 0 and (i > best_i or (i == best_i and j >= best_j)):
                    continue
                same = (i < num_left) == (j < num_left)
                if same:
                    gap = j - i
                    if gap == 1 or gap == num_left - 1:
                        continue  # neighbours share a point by construction
                if _segments_meet(seg, i, j):
                    best_i = i
                    best_j = j
    if best_i < 0:
        return -1, -1, 0.0, 0.0
    return best_i, best_j, seg[best_j, 0], seg[best_j, 1]

"""Validity checks of a ``Track``; each failure says what is wrong, where, and what to do.

The rules, in the order they run (the first failure raises ``TrackFileError``):

1. **Closed loop.** Every polyline (left, right, reference line) is a loop whose closing
   segment (last point back to the first) is implied. A polyline is *open* when that
   closing segment is longer than ``OPEN_LOOP_FACTOR`` times the median segment and
   longer than every other segment: a file that stops short of its start, not a track
   whose last straight happens to be sparsely sampled.
2. **No zero-length segment**: consecutive points (the closing pair included) closer
   than ``MIN_SEGMENT_M``.
3. **Borders do not fold**: no segment of the left or right border crosses (or touches)
   a non-adjacent segment of the same border, and no left segment meets a right one,
   except where two stretches of the track far apart along it cross (a bridge over a
   tunnel: ``acgym.track.crossings``, which tells a crossing from a fold).
4. **Left is left**: at most cross-sections the left border is on the +90 degree side
   of the direction of travel (otherwise the columns are swapped).
5. **The reference line runs the same way as the borders**.
6. **The reference line stays on the surface**, all along it (every
   ``LINE_SAMPLE_M`` along each segment, not only at its points, so a line that cuts
   across the infield between two points on the road is caught), on its own level at a
   crossing: more than ``LINE_OFF_TRACK_ERROR_M`` outside is an error (a line that cuts
   a corner or belongs to another track or layout, or swapped axes); more than
   ``LINE_OFF_TRACK_WARN_M`` gives a ``TrackGeometryWarning`` (a racing line may ride a
   kerb a little; the gap and reward stay well defined, but the out-of-track check will
   fire there). Both say where (distance along the line, x, y) and how far.

Contact tests use the border segment grid (``acgym.track.spatial``), so a 4,000-point
track validates in milliseconds.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError

if TYPE_CHECKING:
    from acgym.track.track import Track

FloatArray = NDArray[np.float64]

OPEN_LOOP_FACTOR = 4.0
"""Closing segment longer than this many median segments (and than all others): open."""

MIN_SEGMENT_M = 1e-4
"""Shortest allowed segment, m; shorter means a repeated point."""

LINE_OFF_TRACK_WARN_M = 0.5
"""Reference line farther than this off the surface gives a warning, m."""

LINE_OFF_TRACK_ERROR_M = 5.0
"""Reference line farther than this off the surface is an error, m."""

LINE_SAMPLE_M = 0.5
"""Longest step between the reference-line samples of the surface check, m."""

MAX_STRETCHES_NAMED = 3
"""Stretches of line off the surface a message names (the rest are counted)."""

RACELINE_HINT = (
    "`acgym track raceline <track>` computes a racing line inside the borders "
    "(or use the centre line)"
)


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
    faults = track._border_survey.faults
    if not faults:
        return
    num_left = len(track.left_m)
    i, j, x_m, y_m = faults[0]
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
    # Surface: how far the line is outside its own level's surface, sampled all along.
    xy_m, s_m = line_samples(track)
    outside = np.flatnonzero(~track.is_inside(xy_m, s_hint_m=s_m))
    if not len(outside):
        return
    off_m = np.zeros(len(s_m))
    off_m[outside] = track.border_distance(xy_m[outside], s_hint_m=s_m[outside])
    worst = int(np.argmax(off_m))
    if off_m[worst] <= LINE_OFF_TRACK_WARN_M:
        return
    summary = (
        f"the reference line leaves the track surface: at s = {s_m[worst]:.1f} m, "
        f"{_xy(xy_m[worst])}, it is {off_m[worst]:.2f} m outside ({_stretches(s_m, off_m)})"
    )
    if off_m[worst] > LINE_OFF_TRACK_ERROR_M:
        raise _fail(
            track.name,
            f"{summary}; {RACELINE_HINT}, or check that the line belongs to this track and "
            "layout and uses the same axes (world_position_x, world_position_y) as the "
            "borders",
        )
    warnings.warn(
        f"track {track.name!r}: {summary}; the out-of-track check will fire along the line "
        f"there; {RACELINE_HINT}",
        TrackGeometryWarning,
        stacklevel=3,
    )


def line_samples(track: Track) -> tuple[FloatArray, FloatArray]:
    """Points all along the reference line, at most ``LINE_SAMPLE_M`` apart: every line
    point and evenly spaced points on each segment; ``(K, 2)`` m and their distances
    along the line ``(K,)`` m, in order."""
    table = track.line_index.table
    count = np.maximum(np.ceil(table[:, 5] / LINE_SAMPLE_M).astype(np.int64), 1)
    segment = np.repeat(np.arange(len(table)), count)
    first = np.repeat(np.cumsum(count) - count, count)
    fraction = (np.arange(len(segment)) - first) / count[segment]
    xy_m = table[segment, 0:2] + fraction[:, None] * table[segment, 2:4]
    return xy_m, table[segment, 4] + fraction * table[segment, 5]


def _stretches(s_m: FloatArray, off_m: FloatArray) -> str:
    """``"2 stretches more than 0.5 m outside: s = 10.0-25.5 m, ..."`` for the samples
    farther than ``LINE_OFF_TRACK_WARN_M`` outside (in line order)."""
    far = off_m > LINE_OFF_TRACK_WARN_M
    starts = np.flatnonzero(far & ~np.roll(far, 1))
    ends = np.flatnonzero(far & ~np.roll(far, -1))
    if not len(starts):  # every sample is far: one stretch, the whole lap
        starts, ends = np.array([0]), np.array([len(s_m) - 1])
    if ends[0] < starts[0]:  # the first stretch runs over the start/finish line
        ends = np.roll(ends, -1)
    spans = [f"s = {s_m[a]:.1f}-{s_m[b]:.1f} m" for a, b in zip(starts, ends, strict=True)]
    named = ", ".join(spans[:MAX_STRETCHES_NAMED]) + (
        ", ..." if len(spans) > MAX_STRETCHES_NAMED else ""
    )
    plural = "stretch" if len(starts) == 1 else "stretches"
    return f"{len(starts)} {plural} more than {LINE_OFF_TRACK_WARN_M} m outside: {named}"


def _next(i: int, n: int) -> int:
    return (i + 1) % n


def _xy(point_m: FloatArray) -> str:
    return f"({point_m[0]:.2f}, {point_m[1]:.2f}) m"

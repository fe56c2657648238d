"""Where a track crosses itself (a bridge or a tunnel), and which level each item is on.

A *contact* is a pair of non-adjacent border segments that meet (cross, touch or
overlap). Each border segment belongs to one quad (segment ``k`` of either border to the
quad between cross-sections ``k`` and ``k + 1``), so a contact joins two quads:

- **Fold**: the two quads are less than ``MIN_SEPARATION_WIDTHS`` track widths apart
  along the centre line. A too-wide section at a tight corner folds its inner border;
  a track with a fold is refused (``acgym.track.validation``). A loop that comes back
  over itself is at least a circle of one width radius, about 6.3 widths long, so
  nothing legal is that close.
- **Crossing**: the contacts between two stretches of the track far apart along it,
  where both borders of each stretch meet both borders of the other (the four kinds of
  contact of two roads that overlap: a bridge, or the tunnel under it). Contacts far
  apart that do not make such a pattern (a stray point, a spike) are *faults*, refused
  like a fold.

Each crossing has two *branches* (the stretch that passes first along the reference
line, branch 0, and the other), and around its centre a *zone* of radius
``radius_m``: the overlap of the roads plus a margin of ``ZONE_MARGIN_WIDTHS`` widths and
``ZONE_MARGIN_M``. The quads, border segments and reference-line segments of branch
``b``'s zone carry the level bit ``1 << (2 * c + b)`` (``c`` the crossing's index);
everything else carries none. A query with a progress hint hides, at every crossing, the
zone of the branch farther from the hint along the line (``acgym.track.queries.
hidden_levels``): the car sees its own level's surface and borders, and outside the zones
the whole track as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.queries import last_knot, project_point, quad_table

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int32]
IntArray = NDArray[np.int64]

MIN_SEPARATION_WIDTHS = 6.0
"""Contacts between quads closer than this many track widths along the centre line are
folds; farther apart, they may be a crossing."""

ZONE_MARGIN_WIDTHS = 2.0
"""A crossing's zone reaches this many track widths beyond the overlap of the roads."""

ZONE_MARGIN_M = 5.0
"""... plus this distance, m."""

WALK_WINDOW_WIDTHS = 2.5
"""Half-width of the window of line distances in which a cross-section is projected when
the sections' distances are walked, in median track widths: wider than the lag of a
racing line behind the centre line through a corner, narrower than half the separation
of a crossing's branches (``MIN_SEPARATION_WIDTHS``)."""

MAX_CROSSINGS = 32
"""Most crossings a track may have (two level bits each in an int64)."""

MAX_CONTACTS = 1 << 16
"""Most contacts collected; a track with more is far from valid (the first are reported)."""


class Crossing(NamedTuple):
    """Two stretches of a track that cross (a bridge over a tunnel).

    Attributes:
        xy_m: ``(2,)`` centre of the overlap of the two roads, m.
        s_m: ``(2,)`` distance along the reference line of each branch where it passes
            the crossing (its line point nearest ``xy_m``), m; ``s_m[0] < s_m[1]``.
        s_ranges_m: ``(2, 2)`` each branch's zone along the line, ``[start, end]`` m
            (``end < start`` when the zone spans the start/finish line).
        quads: ``(2, 2)`` first and last quad (cross-section index) of each branch's zone.
        radius_m: Radius of the zone about ``xy_m``, m.
    """

    xy_m: FloatArray
    s_m: FloatArray
    s_ranges_m: FloatArray
    quads: NDArray[np.int64]
    radius_m: float


class Contact(NamedTuple):
    """A pair of border segments that meet: ``i < j`` index the border table (left
    segments ``0 .. N - 1``, then right); ``x_m, y_m`` is the start of segment ``j``."""

    i: int
    j: int
    x_m: float
    y_m: float


class BorderSurvey(NamedTuple):
    """The contacts of a track's borders, sorted into crossings and faults.

    Attributes:
        crossings: Per crossing, its contacts as ``(quad_a, quad_b, point)`` triples:
            the quads of branch 0 and 1 and the point where the two segments meet, m.
        faults: Contacts that are folds or belong to no crossing, sorted by ``(i, j)``.
    """

    crossings: tuple[tuple[tuple[int, int, FloatArray], ...], ...]
    faults: tuple[Contact, ...]


# --- segment contacts (compiled) --------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@numba.njit(cache=True, inline="always")
def _within(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    """For p collinear with segment ab: whether p lies within its bounding box."""
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


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


@numba.njit(cache=True)
def _collect_contacts(
    seg: FloatArray,
    params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    num_left: int,
    out: IntArray,
) -> int:
    """Pairs ``(i, j)``, ``i < j``, of non-adjacent border segments that meet, into
    ``out`` ``(K, 2)``; returns how many were found (a pair in several cells repeats).

    Segments ``0 .. num_left - 1`` are the left border and the rest the right one, each
    a closed loop of ``num_left`` segments.
    """
    count = 0
    for c in range(cell_start.shape[0] - 1):
        start = cell_start[c]
        stop = cell_start[c + 1]
        for m in range(start, stop):
            for n in range(m + 1, stop):
                i = min(items[m], items[n])
                j = max(items[m], items[n])
                if i == j:
                    continue
                if (i < num_left) == (j < num_left):
                    gap = j - i
                    if gap == 1 or gap == num_left - 1:
                        continue  # neighbours share a point by construction
                if _segments_meet(seg, i, j):
                    if count < out.shape[0]:
                        out[count, 0] = i
                        out[count, 1] = j
                    count += 1
    return count


def border_contacts(
    grid_params: FloatArray,
    cell_start: IndexArray,
    items: IndexArray,
    table: FloatArray,
    num_sections: int,
) -> IntArray:
    """Every pair of non-adjacent border segments that meet, ``(K, 2)`` sorted rows ``i < j``.

    Args:
        grid_params, cell_start, items: The border segments' grid.
        table: The border segments, left then right (``queries.segment_table`` rows).
        num_sections: Cross-sections N (segments per border).
    """
    out = np.empty((1024, 2), dtype=np.int64)
    count = _collect_contacts(table, grid_params, cell_start, items, num_sections, out)
    if count > len(out):
        out = np.empty((min(count, MAX_CONTACTS), 2), dtype=np.int64)
        count = _collect_contacts(table, grid_params, cell_start, items, num_sections, out)
    pairs = out[: min(count, len(out))]
    return np.unique(pairs, axis=0) if len(pairs) else pairs


# --- sorting contacts into crossings and faults --------------------------------------------


def survey_borders(
    table: FloatArray, pairs: IntArray, centre_m: FloatArray, width_m: FloatArray
) -> BorderSurvey:
    """Sort border contacts into crossings and faults (see the module docstring).

    Args:
        table: The border segments, left then right.
        pairs: The contacts, ``(K, 2)`` (``border_contacts``).
        centre_m: Cross-section centres, ``(N, 2)`` m.
        width_m: Cross-section widths, ``(N,)`` m.
    """
    n = len(centre_m)
    if not len(pairs):
        return BorderSurvey((), ())
    arc_m, loop_m = polyline.cumulative_length_m(centre_m)
    quads = pairs % n

    def apart_m(a: int, b: int) -> float:
        d = abs(arc_m[a] - arc_m[b]) % loop_m
        return min(d, loop_m - d)

    def limit_m(a: int, b: int) -> float:
        return MIN_SEPARATION_WIDTHS * max(width_m[a], width_m[b])

    far = [k for k in range(len(pairs)) if apart_m(*quads[k]) >= limit_m(*quads[k])]
    # Group the far contacts: two belong to one crossing when both ends are near.
    parent = list(range(len(far)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def near(a: int, b: int) -> bool:
        return apart_m(a, b) < limit_m(a, b)

    for x in range(len(far)):
        for y in range(x + 1, len(far)):
            (a1, b1), (a2, b2) = quads[far[x]], quads[far[y]]
            if (near(a1, a2) and near(b1, b2)) or (near(a1, b2) and near(b1, a2)):
                parent[root(x)] = root(y)
    groups: dict[int, list[int]] = {}
    for x in range(len(far)):
        groups.setdefault(root(x), []).append(far[x])
    crossings = []
    accepted: set[int] = set()
    for members in groups.values():
        oriented = _orient_group(table, pairs, quads, members, near)
        if oriented is not None:
            crossings.append(oriented)
            accepted.update(members)
    faults = tuple(
        Contact(int(pairs[k, 0]), int(pairs[k, 1]), *map(float, table[pairs[k, 1], :2]))
        for k in range(len(pairs))
        if k not in accepted
    )
    crossings.sort(key=lambda contacts: min(min(a, b) for a, b, _ in contacts))
    return BorderSurvey(tuple(crossings), faults)


def _orient_group(
    table: FloatArray,
    pairs: IntArray,
    quads: IntArray,
    members: list[int],
    near: Callable[[int, int], bool],
) -> tuple[tuple[int, int, FloatArray], ...] | None:
    """The contacts of one group as ``(quad_a, quad_b, point)`` with every ``quad_a`` on
    the same branch, or ``None`` unless both borders of each branch meet both of the
    other's (the pattern of two overlapping roads)."""
    n = len(table) // 2
    first_a = int(quads[members[0], 0])
    out = []
    sides = set()
    for k in members:
        i, j = (int(v) for v in pairs[k])
        qa, qb = int(quads[k, 0]), int(quads[k, 1])
        if not near(qa, first_a):
            i, j, qa, qb = j, i, qb, qa
        sides.add((i // n, j // n))
        out.append((qa, qb, _meeting_point(table, i, j)))
    if len(sides) < 4:
        return None
    return tuple(out)


def _meeting_point(table: FloatArray, i: int, j: int) -> FloatArray:
    """Where segments ``i`` and ``j`` meet (their crossing; the shared end when parallel)."""
    p, e = table[i, :2], table[i, 2:4]
    q, f = table[j, :2], table[j, 2:4]
    denom = e[0] * f[1] - e[1] * f[0]
    if abs(denom) <= 1e-12 * (np.hypot(*e) * np.hypot(*f)):
        return 0.5 * (p + q)
    w = q - p
    u = (w[0] * f[1] - w[1] * f[0]) / denom
    return p + min(max(u, 0.0), 1.0) * e


# --- zones, distances along the line and level bits ----------------------------------------


def locate_crossings(
    survey: BorderSurvey,
    left_m: FloatArray,
    right_m: FloatArray,
    line_table: FloatArray,
    line_grid: tuple[FloatArray, IndexArray, IndexArray],
    length_m: float,
    track_name: str,
) -> tuple[Crossing, ...]:
    """The crossings of a survey, with their zones and distances along the line.

    Args:
        survey: The track's border survey.
        left_m, right_m: Paired borders, ``(N, 2)`` m.
        line_table: The reference line's segment table (``queries.line_table``).
        line_grid: ``(params, cell_start, items)`` of the line's grid.
        length_m: Length of the reference line, m.
        track_name: For messages.

    Raises:
        TrackFileError: More than ``MAX_CROSSINGS`` crossings.
    """
    if not survey.crossings:
        return ()
    if len(survey.crossings) > MAX_CROSSINGS:
        raise TrackFileError(
            f"track {track_name!r}: {len(survey.crossings)} crossings of the track with "
            f"itself; at most {MAX_CROSSINGS} are supported"
        )
    n = len(left_m)
    centre = 0.5 * (left_m + right_m)
    width = np.hypot(*(left_m - right_m).T)
    quads = quad_table(left_m, right_m)
    zones = []
    for contacts in survey.crossings:
        points = np.array([p for _, _, p in contacts])
        xy = points.mean(axis=0)
        touched = [q for a, b, _ in contacts for q in (a, b)]
        radius = float(np.hypot(*(points - xy).T).max()) + (
            ZONE_MARGIN_WIDTHS * float(width[touched].max()) + ZONE_MARGIN_M
        )
        near = _quad_distance_m(quads, xy) <= radius
        runs = [_cyclic_run([c[b] for c in contacts], n) for b in (0, 1)]
        gap = min(_cyclic_gap(runs[0], runs[1], n), _cyclic_gap(runs[1], runs[0], n))
        reach = max(gap // 2 - 1, 0)
        zones.append((xy, radius, [_grow(run, near, n, reach) for run in runs]))
    section_s = section_distances_m(centre, width, line_table, line_grid, length_m, zones)
    crossings = []
    for xy, radius, runs in zones:
        ranges = np.array([[section_s[lo], section_s[(hi + 1) % n]] for lo, hi in runs])
        s_at = np.array([_nearest_s_m(line_table, length_m, xy, r) for r in ranges])
        order = np.argsort(s_at, kind="stable")
        crossings.append(
            Crossing(
                xy_m=xy,
                s_m=s_at[order],
                s_ranges_m=ranges[order],
                quads=np.array(runs, dtype=np.int64)[order],
                radius_m=radius,
            )
        )
    crossings.sort(key=lambda c: float(c.s_m[0]))
    return tuple(crossings)


def _quad_distance_m(quads: FloatArray, xy: FloatArray) -> FloatArray:
    """Distance from a point to the boundary of each quad ``(N, 8)``, ``(N,)`` m."""
    best = np.full(len(quads), np.inf)
    for e in range(4):
        a = quads[:, 2 * e : 2 * e + 2]
        f = (e + 1) % 4
        d = quads[:, 2 * f : 2 * f + 2] - a
        len2 = np.maximum(np.einsum("ij,ij->i", d, d), 1e-300)
        u = np.clip(np.einsum("ij,ij->i", xy - a, d) / len2, 0.0, 1.0)
        best = np.minimum(best, np.hypot(*(a + u[:, None] * d - xy).T))
    return best


def _cyclic_run(indices: list[int], n: int) -> tuple[int, int]:
    """The shortest cyclic range ``(lo, hi)`` of ``0 .. n - 1`` holding all ``indices``."""
    base = indices[0]
    offsets = [((k - base + n // 2) % n) - n // 2 for k in indices]
    return (base + min(offsets)) % n, (base + max(offsets)) % n


def _cyclic_gap(first: tuple[int, int], second: tuple[int, int], n: int) -> int:
    """Indices strictly between the end of range ``first`` and the start of ``second``."""
    return (second[0] - first[1] - 1) % n


def _grow(run: tuple[int, int], near: NDArray[np.bool_], n: int, reach: int) -> tuple[int, int]:
    """Extend a cyclic range while the quads next to it are ``near``, at most ``reach``
    quads either way."""
    lo, hi = run
    for _ in range(reach):
        if not near[(lo - 1) % n]:
            break
        lo = (lo - 1) % n
    for _ in range(reach):
        if not near[(hi + 1) % n]:
            break
        hi = (hi + 1) % n
    return lo, hi


def _nearest_s_m(line: FloatArray, length_m: float, xy: FloatArray, s_range: FloatArray) -> float:
    """Distance along the line of its point nearest ``xy`` among the segments in a range."""
    rows = line[_segments_in_range(line, length_m, s_range)]
    d = rows[:, 2:4]
    len2 = np.maximum(np.einsum("ij,ij->i", d, d), 1e-300)
    u = np.clip(np.einsum("ij,ij->i", xy - rows[:, :2], d) / len2, 0.0, 1.0)
    k = int(np.argmin(np.hypot(*(rows[:, :2] + u[:, None] * d - xy).T)))
    return float((rows[k, 4] + u[k] * rows[k, 5]) % length_m)


def _segments_in_range(line: FloatArray, length_m: float, s_range: FloatArray) -> NDArray[np.bool_]:
    """Which line segments overlap the cyclic range ``[start, end]`` of distances, m."""
    start, end = float(s_range[0]), float(s_range[1])
    span = (end - start) % length_m
    offset = (line[:, 4] - start) % length_m
    return (offset <= span) | (offset + line[:, 5] >= length_m)


def section_distances_m(
    centre_m: FloatArray,
    width_m: FloatArray,
    line_table: FloatArray,
    line_grid: tuple[FloatArray, IndexArray, IndexArray],
    length_m: float,
    zones: list[tuple[FloatArray, float, list[tuple[int, int]]]],
) -> FloatArray:
    """Distance along the reference line of each cross-section, ``(N,)`` m.

    Cross-section centres are projected in order, each on the line segments within
    ``WALK_WINDOW_WIDTHS`` widths of where the previous one's distance predicts it, so a
    section at a crossing takes its own branch's distance. The walk starts at the first
    section outside every zone, projected on the whole line.

    Args:
        centre_m: Cross-section centres, ``(N, 2)`` m.
        width_m: Cross-section widths, ``(N,)`` m.
        line_table, line_grid, length_m: The reference line (``locate_crossings``).
        zones: Per crossing ``(centre, radius, [(lo, hi), (lo, hi)])``: its zones.
    """
    n = len(centre_m)
    in_zone = np.zeros(n, dtype=bool)
    for _, _, runs in zones:
        for lo, hi in runs:
            in_zone[(lo + np.arange((hi - lo) % n + 1)) % n] = True
    seed = int(np.argmin(in_zone))
    params, cell_start, items = line_grid
    seed_s, _ = project_point(
        float(centre_m[seed, 0]),
        float(centre_m[seed, 1]),
        length_m,
        params,
        cell_start,
        items,
        line_table,
        np.zeros(len(line_table), dtype=np.int64),
        0,
    )
    centre_length_m = polyline.cumulative_length_m(centre_m)[1]
    out = np.empty(n)
    window_m = WALK_WINDOW_WIDTHS * float(np.median(width_m))
    _walk_sections(
        centre_m,
        line_table,
        np.ascontiguousarray(line_table[:, 4]),
        length_m,
        length_m / centre_length_m,
        seed,
        seed_s,
        window_m,
        out,
    )
    return out


@numba.njit(cache=True)
def _walk_sections(
    centre: FloatArray,
    line: FloatArray,
    knots_s_m: FloatArray,
    length_m: float,
    ratio: float,
    seed: int,
    seed_s: float,
    window_m: float,
    out: FloatArray,
) -> None:
    """Distances along the line of the sections, walking from ``seed`` (see
    ``section_distances_m``); ``knots_s_m`` is the line table's distance column (contiguous)
    and ``ratio`` scales centre-line steps to line distances."""
    n = centre.shape[0]
    m = line.shape[0]
    half = 0.5 * length_m
    out[seed] = seed_s
    prev = seed_s
    for step in range(1, n):
        i = (seed + step) % n
        j = (i + n - 1) % n
        dx = centre[i, 0] - centre[j, 0]
        dy = centre[i, 1] - centre[j, 1]
        predicted = (prev + ratio * math.sqrt(dx * dx + dy * dy)) % length_m
        lo = last_knot(knots_s_m, predicted)  # the segment holding ``predicted``
        best_d2 = np.inf
        best_s = predicted
        for direction in range(2):
            k = lo if direction == 0 else (lo + m - 1) % m
            for _ in range(m):
                offset = ((line[k, 4] - predicted + half) % length_m) - half
                if direction == 0 and offset > window_m:
                    break
                if direction == 1 and offset + line[k, 5] < -window_m:
                    break
                ex = line[k, 2]
                ey = line[k, 3]
                wx = centre[i, 0] - line[k, 0]
                wy = centre[i, 1] - line[k, 1]
                len2 = ex * ex + ey * ey
                u = 0.0
                if len2 > 0.0:
                    u = min(max((wx * ex + wy * ey) / len2, 0.0), 1.0)
                px = wx - u * ex
                py = wy - u * ey
                d2 = px * px + py * py
                if d2 < best_d2:
                    best_d2 = d2
                    best_s = (line[k, 4] + u * line[k, 5]) % length_m
                k = (k + 1) % m if direction == 0 else (k + m - 1) % m
        out[i] = best_s
        prev = best_s


def level_bits(
    crossings: tuple[Crossing, ...], num_sections: int, line_table: FloatArray, length_m: float
) -> tuple[IntArray, IntArray, IntArray]:
    """The level bits of the quads ``(N,)``, the border segments ``(2N,)`` (left then
    right) and the reference-line segments ``(M,)`` (module docstring); zeros without
    crossings."""
    n = num_sections
    quad_bits = np.zeros(n, dtype=np.int64)
    line_bits = np.zeros(len(line_table), dtype=np.int64)
    for c, crossing in enumerate(crossings):
        for b in range(2):
            bit = np.int64(1) << np.int64(2 * c + b)
            lo, hi = (int(v) for v in crossing.quads[b])
            quad_bits[(lo + np.arange((hi - lo) % n + 1)) % n] |= bit
            line_bits[_segments_in_range(line_table, length_m, crossing.s_ranges_m[b])] |= bit
    return quad_bits, np.concatenate((quad_bits, quad_bits)), line_bits

"""The ``Track``: borders and a reference (racing / AI) line on a closed loop.

Coordinates are metres in the plane of the telemetry's ``world_position_x`` (x) and
``world_position_y`` (y). The borders are *paired*: row i of ``left_m`` and row i of
``right_m`` are the two edges of one cross-section (as in the original CSV format), so the
track surface is the union of the quads between consecutive cross-sections. The
reference line is an independent closed polyline (its own point count); distance along
the track, the lateral gap, curvature and the start/finish line are measured on it.
Travel goes in the direction of increasing index; ``left`` is the left-hand side of a
driver going that way.

Queries (batched over N points, with one-point fast paths for the environment's step):
``project`` / ``project_point`` (distance along the line and signed gap, global nearest
point), ``curvature_ahead`` / ``values_ahead`` / ``line_value_at`` (channels along the
line), ``is_inside`` / ``is_inside_point``, ``border_distance``, ``cast_rays`` /
``cast_rays_pose`` and ``line_point_at``. They run compiled kernels over uniform-grid
indexes (``acgym.track.spatial``) of the line, the borders and the surface quads, each
built on first use and kept for the life of the track. Kernels elsewhere (the simulator's
step, the environment's features) take the same indexes from ``line_index``,
``border_index`` and ``quad_index``: a :class:`QueryIndex` each, whose ``arrays`` are the
five arguments the kernels of :mod:`acgym.track.queries` and :mod:`acgym.track.rays` take
before ``hidden``.

A track may cross itself (a bridge over a tunnel: ``crossings``, found by
:mod:`acgym.track.crossings`). Then a point at a crossing lies on two levels, and the
point queries take the car's progress along the line as ``s_hint_m`` to answer for its
level; without a hint, or on a track without crossings, they see every level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import TrackFileError
from acgym.track import crossings, polyline, queries, rays, spatial
from acgym.track.crossings import Crossing

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
LevelArray = NDArray[np.int64]

MIN_TRACK_POINTS = 8
"""Fewest cross-sections / line points a track may have."""

CURVATURE_LOOK_AHEAD_SAMPLES = 12
"""Samples of the curvature look-ahead (the original ``CURV_LOOK_AHEAD_VECTOR_SIZE``)."""

CURVATURE_LOOK_AHEAD_M = 300.0
"""Distance covered by the curvature look-ahead, m (``CURV_LOOK_AHEAD_DISTANCE``)."""

MAX_RAY_RANGE_M = rays.MAX_RAY_RANGE_M

# Cell side of each spatial grid, in multiples of the median segment length: chosen by
# ``acgym bench track`` (small cells keep few segments per cell; the ring search and the
# ray walk cost little per empty cell).
_LINE_CELL_SEGMENTS = 3.0
_BORDER_CELL_SEGMENTS = 2.0
_QUAD_CELL_SEGMENTS = 2.0

_SEE_ALL = np.int64(0)
"""The hidden levels of a query without a hint: none."""


class Projection(NamedTuple):
    """Points projected on the reference line (all arrays ``(N,)``).

    Attributes:
        s_m: Distance along the line of the nearest line point, m in ``[0, length_m)``.
        gap_m: Signed distance to the line, m; positive when the point is left of it.
        spline_pos: ``s_m / length_m`` in ``[0, 1)`` (like AC's NormalizedSplinePosition).
    """

    s_m: FloatArray
    gap_m: FloatArray
    spline_pos: FloatArray


class QueryIndex(NamedTuple):
    """A compiled spatial index of a track: a uniform grid over the rows of a table.

    Attributes:
        grid: The grid: which table rows lie in each cell.
        table: The items the grid indexes, one row each: the line's segments
            (``queries.line_table``), the borders' segments (``queries.segment_table``,
            left then right) or the surface quads (``queries.quad_table``).
        levels: The level bits of each item, ``(rows,)`` int64 (``acgym.track.
            crossings``; all 0 on a track without crossings).
    """

    grid: spatial.UniformGrid
    table: FloatArray
    levels: LevelArray

    @property
    def arrays(
        self,
    ) -> tuple[FloatArray, NDArray[np.int32], NDArray[np.int32], FloatArray, LevelArray]:
        """``(params, cell_start, items, table, levels)``: the index as the kernels take
        it (followed by ``hidden``, the levels a query must not see)."""
        return self.grid.params, self.grid.cell_start, self.grid.items, self.table, self.levels


@dataclass(frozen=True, eq=False)
class Track:
    """A closed-loop race track.

    Attributes:
        name: Track name (e.g. ``monza`` or ``ks_barcelona``).
        left_m: Left border, ``(N, 2)`` metres, paired with ``right_m``.
        right_m: Right border, ``(N, 2)`` metres.
        line_m: Reference (racing / AI) line, ``(M, 2)`` metres; its first point is the
            start/finish line and s = 0.
        configuration: Track layout name in the game (``""`` when none).
    """

    name: str
    left_m: FloatArray
    right_m: FloatArray
    line_m: FloatArray
    configuration: str = ""

    @classmethod
    def from_arrays(
        cls,
        name: str,
        left_m: ArrayLike,
        right_m: ArrayLike,
        line_m: ArrayLike | None = None,
        *,
        configuration: str = "",
        validate: bool = True,
    ) -> Track:
        """Build a track from border and line points.

        Args:
            name: Track name.
            left_m: Left border points, ``(N, 2)`` metres.
            right_m: Right border points, ``(N, 2)`` metres, paired with ``left_m``.
            line_m: Reference line, ``(M, 2)`` metres; the centre line when ``None``.
            configuration: Layout name.
            validate: Run the validity checks (closed loop, no self-intersection, ...).

        A repeated closing point (last == first) is dropped from each polyline.

        Raises:
            TrackFileError: The arrays do not describe a valid closed track.
        """
        left = _as_points(left_m, "left border")
        right = _as_points(right_m, "right border")
        if left.shape != right.shape:
            raise TrackFileError(
                f"track {name!r}: the borders must be paired point by point, got "
                f"{len(left)} left and {len(right)} right points"
            )
        line = (0.5 * (left + right)) if line_m is None else _as_points(line_m, "reference line")
        track = cls(name=name, left_m=left, right_m=right, line_m=line, configuration=configuration)
        for array in (track.left_m, track.right_m, track.line_m):
            array.setflags(write=False)
        if validate:
            from acgym.track.validation import validate_track

            validate_track(track)
        return track

    # --- reference line -------------------------------------------------------------

    @cached_property
    def _line_arc(self) -> tuple[FloatArray, float]:
        return polyline.cumulative_length_m(self.line_m)

    @property
    def length_m(self) -> float:
        """Length of the reference line loop, m."""
        return self._line_arc[1]

    @property
    def line_s_m(self) -> FloatArray:
        """Distance along the reference line at each of its points, ``(M,)`` m from 0."""
        return self._line_arc[0]

    @cached_property
    def line_heading_rad(self) -> FloatArray:
        """Heading of the reference line at each point, ``(M,)`` rad, CCW from +x."""
        return polyline.heading_rad(self.line_m)

    @cached_property
    def line_curvature_1pm(self) -> FloatArray:
        """Signed curvature of the reference line, ``(M,)`` 1/m, positive turning left."""
        return polyline.signed_curvature_1pm(self.line_m)

    @cached_property
    def line_normals(self) -> FloatArray:
        """Unit normals of the reference line pointing left, ``(M, 2)``."""
        return polyline.left_normals(polyline.vertex_tangents(self.line_m))

    # --- borders --------------------------------------------------------------------

    @cached_property
    def centre_m(self) -> FloatArray:
        """Midpoints of the cross-sections, ``(N, 2)`` m."""
        return 0.5 * (self.left_m + self.right_m)

    @cached_property
    def section_width_m(self) -> FloatArray:
        """Width of each cross-section (left to right border), ``(N,)`` m."""
        return np.hypot(*(self.left_m - self.right_m).T)

    @cached_property
    def start_line_m(self) -> FloatArray:
        """The start/finish line: ``[[left_x, left_y], [right_x, right_y]]`` in m.

        It is the cross-section nearest to the first point of the reference line.
        """
        index = int(np.argmin(np.hypot(*(self.centre_m - self.line_m[0]).T)))
        return np.stack((self.left_m[index], self.right_m[index]))

    # --- spatial indexes (built once, on first use) ------------------------------------

    @cached_property
    def _line_grid(self) -> tuple[spatial.UniformGrid, FloatArray]:
        table = queries.line_table(self.line_m, self.line_s_m)
        return spatial.segment_grid(table, _LINE_CELL_SEGMENTS * _median_length_m(table)), table

    @cached_property
    def _border_grid(self) -> tuple[spatial.UniformGrid, FloatArray]:
        table = np.vstack((queries.segment_table(self.left_m), queries.segment_table(self.right_m)))
        return spatial.segment_grid(table, _BORDER_CELL_SEGMENTS * _median_length_m(table)), table

    @cached_property
    def _border_survey(self) -> crossings.BorderSurvey:
        """The borders' contacts, sorted into crossings and faults (validation reports
        the faults)."""
        grid, table = self._border_grid
        pairs = crossings.border_contacts(
            grid.params, grid.cell_start, grid.items, table, len(self.left_m)
        )
        return crossings.survey_borders(table, pairs, self.centre_m, self.section_width_m)

    @cached_property
    def crossings(self) -> tuple[Crossing, ...]:
        """Where the track crosses itself (a bridge over a tunnel), ordered along the line;
        empty for most tracks. See :mod:`acgym.track.crossings`.

        Raises:
            TrackFileError: More than ``crossings.MAX_CROSSINGS`` crossings.
        """
        grid, table = self._line_grid
        return crossings.locate_crossings(
            self._border_survey,
            self.left_m,
            self.right_m,
            table,
            (grid.params, grid.cell_start, grid.items),
            self.length_m,
            self.name,
        )

    @cached_property
    def crossing_s_m(self) -> FloatArray:
        """``(C, 2)`` distance along the line of the two branches of each crossing, m (the
        table :func:`acgym.track.queries.hidden_levels` takes; ``(0, 2)`` without)."""
        table = np.zeros((len(self.crossings), 2))
        for c, crossing in enumerate(self.crossings):
            table[c] = crossing.s_m
        table.setflags(write=False)
        return table

    @cached_property
    def _level_bits(self) -> tuple[LevelArray, LevelArray, LevelArray]:
        return crossings.level_bits(
            self.crossings, len(self.left_m), self._line_grid[1], self.length_m
        )

    @cached_property
    def line_index(self) -> QueryIndex:
        """The reference line's segments (projection, distance along the line)."""
        grid, table = self._line_grid
        return QueryIndex(grid, table, self._level_bits[2])

    @cached_property
    def border_index(self) -> QueryIndex:
        """The border segments, left then right (rays, distance to the border)."""
        grid, table = self._border_grid
        return QueryIndex(grid, table, self._level_bits[1])

    @cached_property
    def quad_index(self) -> QueryIndex:
        """The surface quads between consecutive cross-sections (inside test)."""
        table = queries.quad_table(self.left_m, self.right_m)
        spacing_m = _median_length_m(queries.segment_table(self.centre_m))
        grid = spatial.quad_grid(table, _QUAD_CELL_SEGMENTS * spacing_m)
        return QueryIndex(grid, table, self._level_bits[0])

    # --- levels ----------------------------------------------------------------------

    def hidden_levels(self, s_hint_m: float | None) -> np.int64:
        """The level bits a query from progress ``s_hint_m`` (m along the line; ``None``:
        no hint) must not see: the other branch at each crossing. 0 without a hint or
        without crossings."""
        if s_hint_m is None or not len(self.crossings):
            return _SEE_ALL
        return queries.hidden_levels(float(s_hint_m), self.crossing_s_m, self.length_m)

    def _hidden_many(self, s_hint_m: ArrayLike | None, count: int) -> LevelArray:
        """``hidden_levels`` of a hint per point (or one for all), ``(count,)``."""
        hidden = np.zeros(count, dtype=np.int64)
        if s_hint_m is None or not len(self.crossings):
            return hidden
        hints = np.ascontiguousarray(
            np.broadcast_to(np.asarray(s_hint_m, dtype=np.float64), (count,))
        )
        queries.hidden_levels_many(hints, self.crossing_s_m, self.length_m, hidden)
        return hidden

    # --- queries --------------------------------------------------------------------

    def project(self, xy_m: ArrayLike, s_hint_m: ArrayLike | None = None) -> Projection:
        """Project points on the reference line (global nearest point of the closed loop).

        Args:
            xy_m: Points, ``(N, 2)`` m (or one ``(2,)`` point, giving ``(1,)`` arrays).
            s_hint_m: Each point's progress along the line, m (``(N,)`` or one for all;
                e.g. its previous projection): at a crossing, the point projects on its
                own level's line. ``None``: the nearest line point of either level.

        Returns:
            Distance along the line, signed gap (positive left of the line) and spline
            position of each point. Where the nearest line point is a vertex (a point
            outside a corner), the side is that of the vertex's pseudo-normal (the sum of
            the two segments' left normals).
        """
        points = _as_xy(xy_m)
        s_m = np.empty(len(points))
        gap_m = np.empty(len(points))
        queries.project_points(
            points,
            self.length_m,
            *self.line_index.arrays,
            self._hidden_many(s_hint_m, len(points)),
            s_m,
            gap_m,
        )
        # s < length, but s / length can round up to 1.0 within one ulp of the end.
        spline_pos = np.minimum(s_m / self.length_m, np.nextafter(1.0, 0.0))
        return Projection(s_m, gap_m, spline_pos)

    def project_point(
        self, x_m: float, y_m: float, s_hint_m: float | None = None
    ) -> tuple[float, float]:
        """``project`` for one point, without arrays: ``(s_m, gap_m)``, both m."""
        return queries.project_point(
            float(x_m),
            float(y_m),
            self.length_m,
            *self.line_index.arrays,
            self.hidden_levels(s_hint_m),
        )

    def line_value_at(self, s_m: ArrayLike, values: ArrayLike) -> FloatArray:
        """Interpolate a per-line-point channel at distances along the line.

        Args:
            s_m: Distances along the line, any shape, m; wrapped modulo ``length_m``.
            values: The channel at each line point, ``(M,)`` (e.g. a target speed, m/s).

        Returns:
            Linear interpolation in arc length, shaped like ``s_m``; the closing interval
            runs from the last line point back to the first.
        """
        return self._interp(s_m, self.line_channel(values))

    def values_ahead(
        self,
        s_m: ArrayLike,
        values: ArrayLike,
        num_samples: int = CURVATURE_LOOK_AHEAD_SAMPLES,
        distance_m: float = CURVATURE_LOOK_AHEAD_M,
    ) -> FloatArray:
        """A per-line-point channel sampled ahead of each distance.

        The k-th sample (k = 0 .. K-1) is at ``s + k * distance_m / num_samples``: the
        first is at ``s`` itself and the last ``distance_m / K`` short of ``s +
        distance_m``, as in the original ``ReferenceLap.get_curvature_segment`` (which
        took every (D/K)-th metre of the 1 m resampled line from ``s`` on). Samples wrap
        across the start/finish line.

        Args:
            s_m: Distances along the line, ``(N,)`` m (a scalar gives ``(1, K)``).
            values: The channel at each line point, ``(M,)``.
            num_samples: K.
            distance_m: D, m.

        Returns:
            ``(N, K)`` samples.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples: expected at least 1, got {num_samples}")
        s = np.ascontiguousarray(np.atleast_1d(s_m), dtype=np.float64).reshape(-1)
        channel = self.line_channel(values)
        out = np.empty((len(s), int(num_samples)))
        queries.interp_ahead(
            s, float(distance_m) / num_samples, self._knots_m, channel, self.length_m, out
        )
        return out

    def curvature_ahead(
        self,
        s_m: ArrayLike,
        num_samples: int = CURVATURE_LOOK_AHEAD_SAMPLES,
        distance_m: float = CURVATURE_LOOK_AHEAD_M,
    ) -> FloatArray:
        """Reference-line curvature ahead of each distance, ``(N, K)`` 1/m.

        Sampled as in ``values_ahead``: sample k at ``s + k * distance_m / num_samples``
        (the first at ``s``), interpolated linearly in arc length, positive turning left.
        """
        return self.values_ahead(s_m, self.line_curvature_1pm, num_samples, distance_m)

    def is_inside(self, xy_m: ArrayLike, s_hint_m: ArrayLike | None = None) -> BoolArray:
        """Whether points are on the track surface, ``(N,)`` bool.

        The surface is the union of the quads ``left[i], right[i], right[i+1],
        left[i+1]`` between consecutive cross-sections, the closing quad included; with
        ``s_hint_m`` (each point's progress, m, as in ``project``), only its own level's
        at a crossing.
        """
        points = _as_xy(xy_m)
        out = np.empty(len(points), dtype=np.bool_)
        queries.inside_points(
            points, *self.quad_index.arrays, self._hidden_many(s_hint_m, len(points)), out
        )
        return out

    def is_inside_point(self, x_m: float, y_m: float, s_hint_m: float | None = None) -> bool:
        """``is_inside`` for one point, without arrays."""
        return queries.inside_point(
            float(x_m), float(y_m), *self.quad_index.arrays, self.hidden_levels(s_hint_m)
        )

    def border_distance(self, xy_m: ArrayLike, s_hint_m: ArrayLike | None = None) -> FloatArray:
        """Distance from each point to the nearest border (left or right), ``(N,)`` m;
        with ``s_hint_m`` (as in ``project``), of its own level at a crossing."""
        points = _as_xy(xy_m)
        out = np.empty(len(points))
        queries.nearest_distances(
            points, *self.border_index.arrays, self._hidden_many(s_hint_m, len(points)), out
        )
        return out

    def cast_rays(
        self,
        xy_m: ArrayLike,
        heading_rad: ArrayLike,
        angles_rad: ArrayLike,
        max_range_m: float = MAX_RAY_RANGE_M,
        return_points: bool = False,
        s_hint_m: ArrayLike | None = None,
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Distances along rays to the first crossing of either border.

        Args:
            xy_m: Ray origins, ``(N, 2)`` m.
            heading_rad: Heading of each origin, ``(N,)`` rad CCW from +x (a scalar is
                used for all).
            angles_rad: Ray directions relative to the heading, ``(R,)`` rad (positive
                to the left).
            max_range_m: Range cap, m; a ray that hits nothing reports this.
            return_points: Also return where each ray ends.
            s_hint_m: Each origin's progress, m (as in ``project``): at a crossing the
                rays pass the other level's borders.

        Returns:
            Distances ``(N, R)`` m; with ``return_points``, also the end points ``(N, R,
            2)`` m: the hit, or the point at ``max_range_m`` when nothing was hit.
        """
        points = _as_xy(xy_m)
        heading = np.ascontiguousarray(
            np.broadcast_to(np.asarray(heading_rad, dtype=np.float64), (len(points),))
        )
        angles = np.ascontiguousarray(np.atleast_1d(angles_rad), dtype=np.float64)
        out = np.empty((len(points), len(angles)))
        rays.cast_fans(
            points,
            heading,
            angles,
            float(max_range_m),
            *self.border_index.arrays,
            self._hidden_many(s_hint_m, len(points)),
            out,
        )
        if not return_points:
            return out
        direction = heading[:, None] + angles[None, :]
        ends = points[:, None, :] + out[..., None] * np.stack(
            (np.cos(direction), np.sin(direction)), axis=-1
        )
        return out, ends

    def cast_rays_pose(
        self,
        x_m: float,
        y_m: float,
        heading_rad: float,
        angles_rad: FloatArray,
        max_range_m: float = MAX_RAY_RANGE_M,
        out: FloatArray | None = None,
        s_hint_m: float | None = None,
    ) -> FloatArray:
        """One fan of rays from one pose, ``(R,)`` m (the environment's per-step path).

        Args:
            x_m, y_m: Ray origin, m.
            heading_rad: Heading, rad CCW from +x.
            angles_rad: Ray directions relative to the heading, ``(R,)`` rad; a
                contiguous float64 array is used as is (no copy), anything else is
                converted.
            max_range_m: Range cap, m.
            out: Optional preallocated ``(R,)`` float64 result.
            s_hint_m: The pose's progress, m (as in ``project``).
        """
        if not (
            type(angles_rad) is np.ndarray
            and angles_rad.dtype == np.float64
            and angles_rad.flags.c_contiguous
        ):
            angles_rad = np.ascontiguousarray(angles_rad, dtype=np.float64).reshape(-1)
        if out is None:
            out = np.empty(len(angles_rad))
        rays.cast_fan(
            float(x_m),
            float(y_m),
            float(heading_rad),
            angles_rad,
            float(max_range_m),
            *self.border_index.arrays,
            self.hidden_levels(s_hint_m),
            out,
        )
        return out

    def line_point_at(self, s_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Point and heading of the reference line at distances along it.

        Args:
            s_m: Distances, any shape, m; wrapped modulo ``length_m``.

        Returns:
            Points ``(..., 2)`` m (linear between line points) and the heading of the
            segment they lie on, ``(...)`` rad CCW from +x.
        """
        s = np.asarray(s_m, dtype=np.float64) % self.length_m
        knots_m = self.line_s_m
        index = np.clip(np.searchsorted(knots_m, s, side="right") - 1, 0, len(knots_m) - 1)
        table = self.line_index.table
        row = table[index]
        w = (s - row[..., 4]) / np.maximum(row[..., 5], 1e-300)
        xy = row[..., 0:2] + w[..., None] * row[..., 2:4]
        return xy, np.arctan2(row[..., 3], row[..., 2])

    @cached_property
    def _knots_m(self) -> FloatArray:
        return np.ascontiguousarray(self.line_s_m)

    def line_channel(self, values: ArrayLike) -> FloatArray:
        """A per-line-point channel (e.g. a target speed, m/s) checked and ready for the
        line queries (:meth:`line_value_at`, :meth:`values_ahead`).

        Args:
            values: One value per reference-line point, ``(M,)``.

        Returns:
            The values as a contiguous float64 ``(M,)`` array.

        Raises:
            TrackFileError: ``values`` is not of shape ``(M,)``.
        """
        channel = np.ascontiguousarray(values, dtype=np.float64)
        if channel.shape != (len(self.line_m),):
            raise TrackFileError(
                f"track {self.name!r}: expected one value per reference-line point "
                f"({len(self.line_m)},), got shape {channel.shape}"
            )
        return channel

    def _interp(self, s_m: ArrayLike, channel: FloatArray) -> FloatArray:
        s = np.asarray(s_m, dtype=np.float64)
        flat = np.ascontiguousarray(s.reshape(-1))
        out = np.empty(flat.shape)
        queries.interp_closed(flat, self._knots_m, channel, self.length_m, out)
        return out.reshape(s.shape)

    def __repr__(self) -> str:
        return (
            f"Track(name={self.name!r}, length_m={self.length_m:.1f}, "
            f"sections={len(self.left_m)}, line_points={len(self.line_m)})"
        )


def _as_points(points: object, what: str) -> FloatArray:
    """Validate an ``(N, 2)`` float array and drop a repeated closing point."""
    array = np.array(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise TrackFileError(
            f"{what}: expected an (N, 2) array of x, y in metres, got {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise TrackFileError(
            f"{what}: point {bad} is not finite ({array[bad].tolist()}); fix the file"
        )
    if len(array) > 1 and np.allclose(array[0], array[-1]):
        array = array[:-1]
    if len(array) < MIN_TRACK_POINTS:
        raise TrackFileError(f"{what}: need at least {MIN_TRACK_POINTS} points, got {len(array)}")
    return np.ascontiguousarray(array)


def _as_xy(xy_m: ArrayLike) -> FloatArray:
    """Query points as a contiguous ``(N, 2)`` float64 array."""
    points = np.asarray(xy_m, dtype=np.float64)
    if points.ndim == 1 and points.shape == (2,):
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"expected points as an (N, 2) array of x, y in metres, got {points.shape}"
        )
    return np.ascontiguousarray(points)


def _median_length_m(table: FloatArray) -> float:
    """Median length of the segments of a segment table, m."""
    return float(np.median(np.hypot(table[:, 2], table[:, 3])))

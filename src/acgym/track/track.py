"""The ``Track``: borders and a reference (racing / AI) line on a closed loop.

Coordinates are metres in the plane of the telemetry's ``world_position_x`` (x) and
``world_position_y`` (y). The borders are *paired*: row i of ``left_m`` and row i of
``right_m`` are the two edges of one cross-section (as in the original CSV format), so the
track surface is the union of the quads between consecutive cross-sections. The
reference line is an independent closed polyline (its own point count); distance along
the track, the lateral gap, curvature and the start/finish line are measured on it.
Travel goes in the direction of increasing index; ``left`` is the left-hand side of a
driver going that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import TrackFileError
from acgym.track import polyline

FloatArray = NDArray[np.float64]

MIN_TRACK_POINTS = 8
"""Fewest cross-sections / line points a track may have."""


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

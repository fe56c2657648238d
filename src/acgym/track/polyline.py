"""Maths on closed polylines: arc length, heading, signed curvature, normals.

Every polyline here is a closed loop given as an ``(N, 2)`` array of points in metres;
the closing segment from the last point back to the first is implied (the first point
is not repeated). Angles are counter-clockwise from +x; left is the +90 degree side.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def segment_vectors_m(points_m: FloatArray) -> FloatArray:
    """Vectors of the N segments of a closed polyline, ``(N, 2)`` in metres."""
    return np.roll(points_m, -1, axis=0) - points_m


def cumulative_length_m(points_m: FloatArray) -> tuple[FloatArray, float]:
    """Arc length at each vertex, ``(N,)`` starting at 0, and the loop length in metres."""
    seg_len_m = np.hypot(*segment_vectors_m(points_m).T)
    s_m = np.concatenate(([0.0], np.cumsum(seg_len_m[:-1])))
    return s_m, float(seg_len_m.sum())


def vertex_tangents(points_m: FloatArray) -> FloatArray:
    """Unit tangent at each vertex (central difference), ``(N, 2)``."""
    tangent = np.roll(points_m, -1, axis=0) - np.roll(points_m, 1, axis=0)
    return tangent / np.hypot(*tangent.T)[:, None]


def left_normals(tangents: FloatArray) -> FloatArray:
    """Unit normals pointing left of the direction of travel, ``(N, 2)``."""
    return np.stack((-tangents[:, 1], tangents[:, 0]), axis=1)


def heading_rad(points_m: FloatArray) -> FloatArray:
    """Heading of the tangent at each vertex, rad in (-pi, pi], ``(N,)``."""
    tangent = vertex_tangents(points_m)
    return np.arctan2(tangent[:, 1], tangent[:, 0])


def signed_curvature_1pm(points_m: FloatArray) -> FloatArray:
    """Signed curvature at each vertex, 1/m (positive turning left), ``(N,)``.

    Uses the circle through each vertex and its two neighbours (Menger curvature:
    ``4 * area / (a * b * c)``), exact for points on a circle.
    """
    prev_m = np.roll(points_m, 1, axis=0)
    next_m = np.roll(points_m, -1, axis=0)
    a = points_m - prev_m
    b = next_m - points_m
    c = next_m - prev_m
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    denom = np.hypot(*a.T) * np.hypot(*b.T) * np.hypot(*c.T)
    return 2.0 * cross / np.maximum(denom, 1e-12)


def signed_area_m2(points_m: FloatArray) -> float:
    """Signed area enclosed by the loop (shoelace), m^2; positive when counter-clockwise."""
    x, y = points_m[:, 0], points_m[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def resample_closed(points_m: FloatArray, spacing_m: float) -> FloatArray:
    """Resample a closed polyline to about ``spacing_m`` between points (linear)."""
    s_m, length_m = cumulative_length_m(points_m)
    num_points = max(8, round(length_m / spacing_m))
    s_new_m = np.linspace(0.0, length_m, num_points, endpoint=False)
    s_closed_m = np.append(s_m, length_m)
    closed = np.vstack((points_m, points_m[:1]))
    return np.stack(
        (
            np.interp(s_new_m, s_closed_m, closed[:, 0]),
            np.interp(s_new_m, s_closed_m, closed[:, 1]),
        ),
        axis=1,
    )

"""Seeded procedural circuits, and the layout checks they (and built-in tracks) must pass.

``generate_track(seed)`` draws control points on a perturbed circle (random angles and
radii), runs a periodic cubic spline through them, scales the loop to the requested
length and offsets the borders by half the width. A draw that breaks a limit (a
corner tighter than ``min_radius_m``, or two parts of the track closer than the width
plus a verge) is repaired deterministically: the perturbation is shrunk, step by
step, towards the circle, which always passes. Same seed, same arguments, same track.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.interpolate import CubicSpline
from scipy.spatial import cKDTree

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.loaders.common import borders_from_widths
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

MIN_VERGE_M = 3.0
"""Least gap between the surfaces of two parts of a track that pass each other, m."""

_REPAIR_SHRINK = 0.7
_MAX_REPAIRS = 12


def layout_problems(
    centre_m: FloatArray, width_m: float, *, min_radius_m: float, verge_m: float = MIN_VERGE_M
) -> list[str]:
    """What is wrong with a closed centre line as a circuit of constant width.

    Checks that no corner is tighter than ``min_radius_m`` and that parts of the track
    that are far apart along the loop stay at least ``width_m + verge_m`` apart (so the
    borders neither cross nor touch).

    Args:
        centre_m: Closed centre line, ``(N, 2)`` m, about evenly spaced.
        width_m: Track width, m.
        min_radius_m: Smallest allowed radius of the centre line, m.
        verge_m: Least gap between track surfaces that pass each other, m.

    Returns:
        One sentence per problem; empty when the layout is fine.
    """
    problems = []
    curvature_1pm = np.abs(polyline.signed_curvature_1pm(centre_m))
    tightest = int(np.argmax(curvature_1pm))
    if curvature_1pm[tightest] * min_radius_m > 1.0:
        problems.append(
            f"the tightest corner (point {tightest}) has radius "
            f"{1.0 / curvature_1pm[tightest]:.1f} m, under the {min_radius_m:.1f} m limit"
        )
    clearance_m = width_m + verge_m
    s_m, length_m = polyline.cumulative_length_m(centre_m)
    pairs = cKDTree(centre_m).query_pairs(clearance_m, output_type="ndarray")
    if len(pairs):
        gap_s_m = np.abs(s_m[pairs[:, 0]] - s_m[pairs[:, 1]])
        gap_s_m = np.minimum(gap_s_m, length_m - gap_s_m)
        # Along a bend of up to 180 degrees the chord is at least 2/pi of the arc, so two
        # points closer than the clearance but further apart along the loop than
        # pi/2 times it belong to parts of the track that come back near each other.
        close = pairs[gap_s_m > 0.5 * math.pi * clearance_m]
        if len(close):
            i, j = close[0]
            problems.append(
                f"the track passes itself: points {i} and {j} are "
                f"{np.hypot(*(centre_m[i] - centre_m[j])):.1f} m apart, under width + verge "
                f"= {clearance_m:.1f} m"
            )
    return problems


def generate_track(
    seed: int,
    length_m: float = 3500.0,
    width_m: float = 12.0,
    *,
    num_corners: int | None = None,
    irregularity: float = 0.45,
    min_radius_m: float | None = None,
    spacing_m: float = 1.5,
    name: str | None = None,
) -> Track:
    """Generate a valid closed circuit from a seed.

    Args:
        seed: Random seed; the same seed and arguments give the same track.
        length_m: Length of the centre line, m.
        width_m: Track width, m.
        num_corners: Number of spline control points (about the number of corners);
            drawn from 8 to 16 when ``None``.
        irregularity: Radial perturbation of the control points, as a fraction of the
            mean radius, before any repair (0 = a circle).
        min_radius_m: Tightest allowed centre-line radius, m; ``width_m`` when ``None``.
        spacing_m: Distance between points, m.
        name: Track name; ``generated_<seed>`` when ``None``.

    Returns:
        The track; its reference line is the centre line, starting on the straightest
        part of the loop. Driving direction is drawn from the seed.

    Raises:
        TrackFileError: The arguments cannot give a valid track (e.g. a circle of this
            length is already too tight for the width).
    """
    if length_m <= 0 or width_m <= 0 or spacing_m <= 0:
        raise TrackFileError(
            f"generate_track: length_m, width_m and spacing_m must be positive, got "
            f"{length_m}, {width_m}, {spacing_m}"
        )
    min_radius_m = width_m if min_radius_m is None else min_radius_m
    circle_radius_m = length_m / (2.0 * math.pi)
    if circle_radius_m < max(min_radius_m, width_m):
        raise TrackFileError(
            f"generate_track: a {length_m:.0f} m loop is too short for a {width_m:.1f} m "
            f"wide track with {min_radius_m:.1f} m corners; make it longer"
        )
    rng = np.random.default_rng(seed)
    count = int(rng.integers(8, 17)) if num_corners is None else int(num_corners)
    if count < 3:
        raise TrackFileError(f"generate_track: num_corners must be at least 3, got {count}")
    jitter = rng.uniform(-0.35, 0.35, count) * (2.0 * math.pi / count)
    angles_rad = np.sort(np.arange(count) * 2.0 * math.pi / count + jitter)
    offsets = rng.uniform(-1.0, 1.0, count)
    clockwise = bool(rng.integers(2))

    amplitude = irregularity
    for _ in range(_MAX_REPAIRS):
        centre_m = _spline_loop(angles_rad, 1.0 + amplitude * offsets, length_m, spacing_m)
        if not layout_problems(centre_m, width_m, min_radius_m=min_radius_m):
            break
        amplitude *= _REPAIR_SHRINK
    else:
        centre_m = _spline_loop(angles_rad, np.ones(count), length_m, spacing_m)
    if clockwise:
        centre_m = centre_m[::-1]
    centre_m = np.roll(centre_m, -_straightest_index(centre_m), axis=0)
    left_m, right_m = borders_from_widths(centre_m, 0.5 * width_m, 0.5 * width_m)
    return Track.from_arrays(name or f"generated_{seed}", left_m, right_m, centre_m)


def _spline_loop(
    angles_rad: FloatArray, radii: FloatArray, length_m: float, spacing_m: float
) -> FloatArray:
    """Periodic cubic spline through polar control points, scaled to ``length_m``."""
    points = np.stack((radii * np.cos(angles_rad), radii * np.sin(angles_rad)), axis=1)
    closed = np.vstack((points, points[:1]))
    chord = np.hypot(*np.diff(closed, axis=0).T)
    knots = np.concatenate(([0.0], np.cumsum(chord)))
    spline = CubicSpline(knots, closed, bc_type="periodic")
    num_dense = 4 * max(round(length_m / spacing_m), 8 * len(points))
    dense = spline(np.linspace(0.0, knots[-1], num_dense, endpoint=False))
    _, dense_length = polyline.cumulative_length_m(dense)
    dense *= length_m / dense_length
    return polyline.resample_closed(dense, spacing_m)


def _straightest_index(centre_m: FloatArray, window_m: float = 200.0) -> int:
    """Index in the middle of the stretch with the least turning over ``window_m``."""
    spacing_m = polyline.cumulative_length_m(centre_m)[1] / len(centre_m)
    half = max(1, round(0.5 * window_m / spacing_m))
    turning = np.abs(polyline.signed_curvature_1pm(centre_m))
    kernel = np.ones(2 * half + 1)
    wrapped = np.concatenate((turning[-half:], turning, turning[:half]))
    return int(np.argmin(np.convolve(wrapped, kernel, mode="valid")))

"""Synthetic tracks with known geometry, shared by the track tests.

- ``circle_track``: radius 100 m, 10 m wide, 400 points, counter-clockwise.
- ``hairpin_track``: a stadium whose two 200 m straights run 16 m apart (centre to
  centre) with 10 m wide road, so 6 m of grass separate the legs: the road comes close
  to itself, and a point between the legs is near two far-apart parts of the line.
- ``rounded_rectangle_track``: 300 m x 150 m, 20 m corner radius, 12 m wide, driven
  clockwise; its reference line runs 2 m left of the centre with its own point count.
- ``bench_track``: the benchmark's 5.8 km, 3,800-point circuit (straights, chicanes, a
  hairpin with legs 30 m apart).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.track import Track, polyline

FloatArray = NDArray[np.float64]

CIRCLE_RADIUS_M = 100.0
CIRCLE_POINTS = 400
CIRCLE_WIDTH_M = 10.0

HAIRPIN_STRAIGHT_M = 200.0
HAIRPIN_RADIUS_M = 8.0
HAIRPIN_WIDTH_M = 10.0

RECT_SIZE_M = (300.0, 150.0)
RECT_CORNER_M = 20.0
RECT_WIDTH_M = 12.0
RECT_LINE_OFFSET_M = 2.0

TRACK_FIXTURES = ("circle_track", "hairpin_track", "rounded_rectangle_track", "bench_track")


def circle_points(radius_m: float, num_points: int, clockwise: bool = False) -> FloatArray:
    """Evenly spaced points on a circle about the origin, starting on +x."""
    angle = np.arange(num_points) * (2.0 * np.pi / num_points)
    if clockwise:
        angle = -angle
    return radius_m * np.stack((np.cos(angle), np.sin(angle)), axis=1)


def offset_borders(centre_m: FloatArray, width_m: float) -> tuple[FloatArray, FloatArray]:
    """Left and right borders half a width either side of a closed centre line."""
    normal = polyline.left_normals(polyline.vertex_tangents(centre_m))
    return centre_m + 0.5 * width_m * normal, centre_m - 0.5 * width_m * normal


def stadium_centre(straight_m: float, radius_m: float, spacing_m: float) -> FloatArray:
    """Counter-clockwise stadium: bottom straight along +x at y = -radius, from x = 0."""
    half = 0.5 * straight_m
    first_x = np.arange(0.0, half, spacing_m)
    pieces = [np.stack((first_x, np.full(len(first_x), -radius_m)), axis=1)]
    arc = np.linspace(-0.5 * np.pi, 0.5 * np.pi, int(np.pi * radius_m / spacing_m), endpoint=False)
    pieces.append(np.stack((half + radius_m * np.cos(arc), radius_m * np.sin(arc)), axis=1))
    top_x = np.arange(half, -half, -spacing_m)
    pieces.append(np.stack((top_x, np.full(len(top_x), radius_m)), axis=1))
    pieces.append(np.stack((-half - radius_m * np.cos(arc), -radius_m * np.sin(arc)), axis=1))
    bottom_x = np.arange(-half, 0.0, spacing_m)
    pieces.append(np.stack((bottom_x, np.full(len(bottom_x), -radius_m)), axis=1))
    return np.vstack(pieces)


def rounded_rectangle_centre(
    size_m: tuple[float, float], corner_m: float, spacing_m: float
) -> FloatArray:
    """Counter-clockwise rounded rectangle centred on the origin, sampled evenly."""
    half_x, half_y = 0.5 * size_m[0] - corner_m, 0.5 * size_m[1] - corner_m
    corners = ((half_x, -half_y), (half_x, half_y), (-half_x, half_y), (-half_x, -half_y))
    dense = []
    for k, (cx, cy) in enumerate(corners):
        angle = np.linspace(-0.5 * np.pi + k * 0.5 * np.pi, k * 0.5 * np.pi, 200)
        dense.append(
            np.stack((cx + corner_m * np.cos(angle), cy + corner_m * np.sin(angle)), axis=1)
        )
    loop = np.vstack(dense)
    return polyline.resample_closed(loop, spacing_m)


@pytest.fixture(scope="session")
def spec() -> SimpleNamespace:
    """The dimensions of the synthetic tracks (the constants above), for the tests."""
    return SimpleNamespace(
        **{name.lower(): value for name, value in globals().items() if name.isupper()}
    )


@pytest.fixture(scope="session")
def circle_track() -> Track:
    centre = circle_points(CIRCLE_RADIUS_M, CIRCLE_POINTS)
    left, right = offset_borders(centre, CIRCLE_WIDTH_M)
    return Track.from_arrays("circle", left, right, centre)


@pytest.fixture(scope="session")
def hairpin_track() -> Track:
    centre = stadium_centre(HAIRPIN_STRAIGHT_M, HAIRPIN_RADIUS_M, 1.0)
    left, right = offset_borders(centre, HAIRPIN_WIDTH_M)
    return Track.from_arrays("hairpin", left, right, centre)


@pytest.fixture(scope="session")
def rounded_rectangle_track() -> Track:
    centre = rounded_rectangle_centre(RECT_SIZE_M, RECT_CORNER_M, 1.5)[::-1].copy()  # clockwise
    left, right = offset_borders(centre, RECT_WIDTH_M)
    normal = polyline.left_normals(polyline.vertex_tangents(centre))
    line = polyline.resample_closed(centre + RECT_LINE_OFFSET_M * normal, 1.7)
    return Track.from_arrays("rounded_rectangle", left, right, line)


@pytest.fixture(scope="session")
def bench_track() -> Track:
    from acgym.track.bench import synthetic_circuit

    return synthetic_circuit()


@pytest.fixture(params=TRACK_FIXTURES)
def any_track(request: pytest.FixtureRequest) -> Track:
    """Each synthetic track in turn."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def make_query_points() -> Callable[[Track, int, int], FloatArray]:
    """``query_points`` as a fixture, for the test modules."""
    return query_points


def query_points(track: Track, num: int, seed: int) -> FloatArray:
    """Points that exercise every case: on and beside the road, near the start line,
    anywhere in the bounding box (between the legs of a hairpin, in the infield), and
    kilometres away. ``(5 * num, 2)`` m.
    """
    rng = np.random.default_rng(seed)
    half_m = 0.5 * float(np.median(track.section_width_m))
    line = track.line_m
    # Beside the road: around random line points, up to 1.5 half-widths off.
    index = rng.integers(0, len(line), num)
    near_road = line[index] + rng.uniform(-1.5, 1.5, (num, 2)) * half_m
    # Around the start/finish line (both sides of s = 0).
    near_start = np.vstack((line[-3:], line[:3]))[rng.integers(0, 6, num)]
    near_start = near_start + rng.uniform(-1.2, 1.2, (num, 2)) * half_m
    # Anywhere in the bounding box, 50 m margin.
    low = np.minimum(track.left_m.min(axis=0), track.right_m.min(axis=0)) - 50.0
    high = np.maximum(track.left_m.max(axis=0), track.right_m.max(axis=0)) + 50.0
    in_box = rng.uniform(low, high, (2 * num, 2))
    # Far away: 2 to 20 km from the middle, any direction.
    angle = rng.uniform(0.0, 2.0 * np.pi, num)
    far = 0.5 * (low + high) + rng.uniform(2e3, 2e4, num)[:, None] * np.stack(
        (np.cos(angle), np.sin(angle)), axis=1
    )
    return np.vstack((near_road, near_start, in_box, far))

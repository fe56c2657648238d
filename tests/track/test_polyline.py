"""Closed-polyline maths against closed forms on circles, squares and straights."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.track import polyline

RADIUS_M = 50.0
NUM_POINTS = 360


def circle(
    radius_m: float = RADIUS_M, num_points: int = NUM_POINTS, clockwise: bool = False
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Evenly spaced points on a circle about the origin and their angles, rad."""
    angle = np.arange(num_points) * 2.0 * np.pi / num_points
    if clockwise:
        angle = -angle
    return radius_m * np.stack((np.cos(angle), np.sin(angle)), axis=1), angle


def test_loop_length_is_the_perimeter_of_the_inscribed_polygon() -> None:
    points, _ = circle()
    s_m, length_m = polyline.cumulative_length_m(points)
    chord_m = 2.0 * RADIUS_M * np.sin(np.pi / NUM_POINTS)
    assert length_m == pytest.approx(NUM_POINTS * chord_m, rel=1e-12)
    np.testing.assert_allclose(s_m, np.arange(NUM_POINTS) * chord_m, rtol=1e-12, atol=1e-9)
    assert length_m == pytest.approx(2.0 * np.pi * RADIUS_M, rel=1e-4)


def test_closing_segment_joins_the_last_point_to_the_first() -> None:
    square = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    np.testing.assert_array_equal(
        polyline.segment_vectors_m(square), [[3.0, 0.0], [0.0, 4.0], [-3.0, 0.0], [0.0, -4.0]]
    )
    assert polyline.cumulative_length_m(square)[1] == 14.0


def test_heading_on_a_circle_is_the_tangent_direction() -> None:
    points, angle = circle()
    expected = np.angle(np.exp(1j * (angle + 0.5 * np.pi)))
    np.testing.assert_allclose(
        np.angle(np.exp(1j * (polyline.heading_rad(points) - expected))), 0.0, atol=1e-12
    )


def test_left_normals_of_a_counter_clockwise_circle_point_to_its_centre() -> None:
    points, _ = circle()
    normals = polyline.left_normals(polyline.vertex_tangents(points))
    np.testing.assert_allclose(normals, -points / RADIUS_M, atol=1e-12)


@pytest.mark.parametrize(("clockwise", "sign"), [(False, 1.0), (True, -1.0)])
def test_curvature_of_a_circle_is_one_over_its_radius_signed_by_direction(
    clockwise: bool, sign: float
) -> None:
    # Menger curvature is exact for points on a circle, whatever the spacing.
    points, _ = circle(radius_m=37.0, num_points=17, clockwise=clockwise)
    np.testing.assert_allclose(polyline.signed_curvature_1pm(points), sign / 37.0, rtol=1e-12)


def test_curvature_is_zero_on_a_straight_and_the_turn_shows_at_corners() -> None:
    square = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [2.0, 2.0], [0.0, 2.0]])
    kappa = polyline.signed_curvature_1pm(square)
    assert kappa[1] == 0.0 and kappa[3] == 0.0
    # Corner (2, 0): neighbours (1, 0) and (2, 1): circle of radius sqrt(2) / 2, left.
    assert kappa[2] == pytest.approx(np.sqrt(2.0))


@pytest.mark.parametrize(("clockwise", "sign"), [(False, 1.0), (True, -1.0)])
def test_signed_area_is_positive_counter_clockwise(clockwise: bool, sign: float) -> None:
    points, _ = circle(clockwise=clockwise)
    area = 0.5 * NUM_POINTS * RADIUS_M**2 * np.sin(2.0 * np.pi / NUM_POINTS)
    assert polyline.signed_area_m2(points) == pytest.approx(sign * area, rel=1e-12)


def test_resampling_keeps_points_on_the_polyline_evenly_spaced() -> None:
    square = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    resampled = polyline.resample_closed(square, 0.7)
    num = round(40.0 / 0.7)
    assert len(resampled) == num
    spacing = np.hypot(*polyline.segment_vectors_m(resampled).T)
    # Straight runs keep the exact spacing; a spacing that spans a corner is a chord.
    assert np.all(spacing <= 40.0 / num + 1e-12)
    np.testing.assert_allclose(np.median(spacing), 40.0 / num)
    on_edge = (
        np.isclose(resampled[:, 0], 0.0)
        | np.isclose(resampled[:, 0], 10.0)
        | np.isclose(resampled[:, 1], 0.0)
        | np.isclose(resampled[:, 1], 10.0)
    )
    assert on_edge.all()
    np.testing.assert_array_equal(resampled[0], square[0])

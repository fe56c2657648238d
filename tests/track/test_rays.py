"""Ray casting against the borders: brute force over every segment, and closed forms."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.track import Track

FloatArray = NDArray[np.float64]
QueryPoints = Callable[[Track, int, int], FloatArray]

FAN_RAD = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 12)


def brute_rays(
    track: Track,
    xy_m: FloatArray,
    heading_rad: FloatArray,
    angles_rad: FloatArray,
    max_range_m: float,
) -> FloatArray:
    """First crossing of every ray with every border segment, ``(N, R)`` m."""
    if len(xy_m) > 8:  # in chunks, to keep the (N, R, S) arrays small
        return np.vstack([
            brute_rays(track, xy_m[n : n + 8], heading_rad[n : n + 8], angles_rad, max_range_m)
            for n in range(0, len(xy_m), 8)
        ])  # fmt: skip
    borders = np.vstack((track.left_m, track.right_m))
    ends = np.vstack((np.roll(track.left_m, -1, axis=0), np.roll(track.right_m, -1, axis=0)))
    seg = ends - borders  # (S, 2)
    direction = heading_rad[:, None] + angles_rad[None, :]
    d = np.stack((np.cos(direction), np.sin(direction)), axis=-1)  # (N, R, 2)
    w = borders[None, None, :, :] - xy_m[:, None, None, :]  # (N, 1, S, 2)
    denom = d[..., None, 0] * seg[:, 1] - d[..., None, 1] * seg[:, 0]  # (N, R, S)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w[..., 0] * seg[:, 1] - w[..., 1] * seg[:, 0]) / denom
        u = (w[..., 0] * d[..., None, 1] - w[..., 1] * d[..., None, 0]) / denom
    hit = (np.abs(denom) > 1e-12) & (t >= 0.0) & (u >= 0.0) & (u <= 1.0)
    return np.minimum(np.where(hit, t, np.inf).min(axis=-1), max_range_m)


@pytest.mark.parametrize("max_range_m", [200.0, 5000.0])
def test_rays_match_brute_force_on_every_track(
    any_track: Track, make_query_points: QueryPoints, max_range_m: float
) -> None:
    points = make_query_points(any_track, 40, 11)
    heading = np.random.default_rng(12).uniform(-np.pi, np.pi, len(points))
    distance = any_track.cast_rays(points, heading, FAN_RAD, max_range_m=max_range_m)
    expected = brute_rays(any_track, points, heading, FAN_RAD, max_range_m)
    np.testing.assert_allclose(distance, expected, rtol=1e-9, atol=1e-9)
    hits = distance < max_range_m
    assert 0.2 < hits.mean() < 1.0  # both hits and misses are exercised


def test_rays_along_the_track_match_brute_force(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    # Poses on the road looking along it: the long forward rays walk many cells.
    s_m = np.random.default_rng(13).uniform(0.0, any_track.length_m, 200)
    xy, heading = any_track.line_point_at(s_m)
    angles = np.linspace(-0.3, 0.3, 7)
    distance = any_track.cast_rays(xy, heading, angles)
    np.testing.assert_allclose(
        distance, brute_rays(any_track, xy, heading, angles, 200.0), atol=1e-9
    )


def test_hit_points_lie_on_a_border(any_track: Track, make_query_points: QueryPoints) -> None:
    points = make_query_points(any_track, 20, 14)
    heading = np.random.default_rng(15).uniform(-np.pi, np.pi, len(points))
    distance, ends = any_track.cast_rays(points, heading, FAN_RAD, return_points=True)
    assert ends.shape == (*distance.shape, 2)
    np.testing.assert_allclose(np.hypot(*(ends - points[:, None, :]).transpose(2, 0, 1)), distance)
    hits = ends[distance < 200.0]
    np.testing.assert_allclose(any_track.border_distance(hits), 0.0, atol=1e-9)


def test_radial_rays_on_the_circle_hit_the_chord_midpoints(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    # From the centre line at the middle of chord k, a ray to the right (outwards, the
    # track turns left) meets the outer border's chord midpoint, the left one the inner.
    n = spec.circle_points
    k = np.arange(0, n, 13)
    mid_angle = (k + 0.5) * 2.0 * np.pi / n
    origin = spec.circle_radius_m * np.stack((np.cos(mid_angle), np.sin(mid_angle)), axis=1)
    heading = mid_angle + 0.5 * np.pi
    distance = circle_track.cast_rays(origin, heading, np.array([-0.5 * np.pi, 0.5 * np.pi]))
    half_m = 0.5 * spec.circle_width_m
    cos_half = np.cos(np.pi / n)
    np.testing.assert_allclose(
        distance[:, 0], (spec.circle_radius_m + half_m) * cos_half - spec.circle_radius_m, atol=1e-9
    )
    np.testing.assert_allclose(
        distance[:, 1], spec.circle_radius_m - (spec.circle_radius_m - half_m) * cos_half, atol=1e-9
    )


def test_rays_across_the_hairpin_reach_the_other_leg(
    spec: SimpleNamespace, hairpin_track: Track
) -> None:
    # Bottom leg centred on y = -8, 10 m wide; top leg on y = +8. Heading +x (bottom leg).
    half_m = 0.5 * spec.hairpin_width_m
    r_m = spec.hairpin_radius_m
    origin = np.array([[10.0, -r_m], [10.0, 0.0], [-30.0, -r_m + 2.0]])
    distance = hairpin_track.cast_rays(origin, 0.0, np.array([0.5 * np.pi, -0.5 * np.pi]))
    expected = [
        [half_m, half_m],  # centre of the bottom leg: both borders 5 m away
        [r_m - half_m, r_m - half_m],  # on the grass: the nearer border of each leg
        [half_m - 2.0, half_m + 2.0],
    ]
    np.testing.assert_allclose(distance, expected, atol=1e-9)


def test_a_ray_that_hits_nothing_reports_the_range(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    far = np.array([[5000.0, 0.0], [0.0, 0.0]])
    # Away from the track; and from the middle of the circle with a range that stops short.
    distance = circle_track.cast_rays(far, np.array([0.0, 0.0]), np.array([0.0]), max_range_m=50.0)
    np.testing.assert_array_equal(distance, [[50.0], [50.0]])
    distance, ends = circle_track.cast_rays(far[1:], 0.0, np.array([0.5 * np.pi]), 50.0, True)
    np.testing.assert_allclose(ends, [[[0.0, 50.0]]], atol=1e-12)


def test_rays_from_outside_the_grid_enter_it_and_hit(circle_track: Track) -> None:
    origin = np.array([[-3000.0, 1.0], [0.5, 2500.0]])
    heading = np.array([0.0, -0.5 * np.pi])
    distance = circle_track.cast_rays(origin, heading, np.array([0.0]), max_range_m=1e4)
    np.testing.assert_allclose(
        distance, brute_rays(circle_track, origin, heading, np.array([0.0]), 1e4)
    )
    assert distance[0, 0] == pytest.approx(3000.0 - 105.0, abs=0.01)


def test_single_pose_fan_equals_the_batch(any_track: Track, make_query_points: QueryPoints) -> None:
    points = make_query_points(any_track, 10, 16)
    heading = np.random.default_rng(17).uniform(-np.pi, np.pi, len(points))
    batch = any_track.cast_rays(points, heading, FAN_RAD)
    out = np.empty(len(FAN_RAD))
    for n, (x, y) in enumerate(points):
        result = any_track.cast_rays_pose(x, y, heading[n], FAN_RAD, out=out)
        assert result is out
        np.testing.assert_array_equal(result, batch[n])
    np.testing.assert_array_equal(
        any_track.cast_rays_pose(*points[0], heading[0], FAN_RAD), batch[0]
    )


def test_a_non_finite_pose_gives_nan_distances(circle_track: Track) -> None:
    distance = circle_track.cast_rays(
        np.array([[np.nan, 0.0], [100.0, 0.0]]), np.array([0.0, np.nan]), FAN_RAD
    )
    assert np.isnan(distance).all()


def test_single_pose_fan_accepts_a_list_of_angles(circle_track: Track) -> None:
    expected = circle_track.cast_rays_pose(100.0, 0.0, 0.5 * np.pi, FAN_RAD)
    np.testing.assert_array_equal(
        circle_track.cast_rays_pose(100.0, 0.0, 0.5 * np.pi, FAN_RAD.tolist()), expected
    )

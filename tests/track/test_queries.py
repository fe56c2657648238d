"""Point queries of a Track against brute-force NumPy references and closed forms."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.path import Path
from numpy.typing import NDArray

from acgym.track import Track, queries, spatial
from acgym.track.track import Projection

FloatArray = NDArray[np.float64]
QueryPoints = Callable[[Track, int, int], FloatArray]


# --- brute-force references ----------------------------------------------------------


def brute_nearest(points_m: FloatArray, polyline_m: FloatArray) -> tuple[FloatArray, ...]:
    """Distance to every segment of a closed polyline: ``(N, M)`` distances and u."""
    start = polyline_m
    vec = np.roll(polyline_m, -1, axis=0) - polyline_m
    w = points_m[:, None, :] - start[None, :, :]
    u = np.clip(np.einsum("nmk,mk->nm", w, vec) / np.einsum("mk,mk->m", vec, vec), 0.0, 1.0)
    d = np.hypot(*(w - u[..., None] * vec[None]).transpose(2, 0, 1))
    return d, u


def brute_project(points_m: FloatArray, line_m: FloatArray) -> tuple[FloatArray, ...]:
    """Nearest point on the closed line by checking every segment.

    Returns the distance along the line, the unsigned distance and the gap between the
    best and the second-best non-neighbouring segment (to skip near-ties).
    """
    d, u = brute_nearest(points_m, line_m)
    rows = np.arange(len(points_m))
    k = np.argmin(d, axis=1)
    seg_len = np.hypot(*(np.roll(line_m, -1, axis=0) - line_m).T)
    s0 = np.concatenate(([0.0], np.cumsum(seg_len[:-1])))
    s = (s0[k] + u[rows, k] * seg_len[k]) % seg_len.sum()
    m = len(line_m)
    neighbour = np.abs((np.arange(m)[None, :] - k[:, None] + m // 2) % m - m // 2) <= 1
    runner_up = np.where(neighbour, np.inf, d).min(axis=1)
    return s, d[rows, k], runner_up - d[rows, k]


def circular_difference_m(a: FloatArray, b: FloatArray, length_m: float) -> FloatArray:
    return np.abs((a - b + 0.5 * length_m) % length_m - 0.5 * length_m)


def brute_inside(points_m: FloatArray, track: Track) -> NDArray[np.bool_]:
    """Point in any quad, testing every quad with matplotlib's polygon test."""
    inside = np.zeros(len(points_m), dtype=bool)
    left, right = track.left_m, track.right_m
    for i in range(len(left)):
        j = (i + 1) % len(left)
        quad = Path(np.array([left[i], right[i], right[j], left[j], left[i]]), closed=True)
        inside |= quad.contains_points(points_m)
    return inside


# --- projection ----------------------------------------------------------------------


def test_projection_matches_brute_force_nearest_point_on_every_track(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    points = make_query_points(any_track, 200, 1)
    projection = any_track.project(points)
    s_ref, dist_ref, margin = brute_project(points, any_track.line_m)
    np.testing.assert_allclose(np.abs(projection.gap_m), dist_ref, rtol=1e-12, atol=1e-9)
    # The line point at s is at the nearest distance (whichever of near-tied segments
    # far-away points pick) ...
    closed = np.vstack((any_track.line_m, any_track.line_m[:1]))
    knots = np.append(any_track.line_s_m, any_track.length_m)
    at_s = np.stack([np.interp(projection.s_m, knots, closed[:, k]) for k in (0, 1)], axis=1)
    np.testing.assert_allclose(np.hypot(*(at_s - points).T), dist_ref, rtol=1e-9, atol=1e-9)
    # ... and where the nearest segment is clear, s is the brute-force one.
    unique = margin > 1e-6 * np.maximum(dist_ref, 1.0)
    assert unique[: 2 * len(points) // 5].all()  # the points beside the road
    diff = circular_difference_m(projection.s_m[unique], s_ref[unique], any_track.length_m)
    assert diff.max() < 1e-6


def test_gap_is_positive_exactly_where_the_point_is_left_of_the_line(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    # The segment from a point to its nearest line point crosses no other part of the
    # line, so "left of the line" is "inside the loop" for a counter-clockwise line and
    # "outside" for a clockwise one.
    points = make_query_points(any_track, 200, 2)
    gap = any_track.project(points).gap_m
    inside_loop = Path(any_track.line_m).contains_points(points)
    counter_clockwise = any_track.line_curvature_1pm.sum() > 0.0
    clear = np.abs(gap) > 1e-6
    expected_left = inside_loop if counter_clockwise else ~inside_loop
    np.testing.assert_array_equal(gap[clear] > 0.0, expected_left[clear])


def test_projection_ranges_are_half_open(any_track: Track, make_query_points: QueryPoints) -> None:
    projection = any_track.project(make_query_points(any_track, 200, 3))
    assert np.all((projection.s_m >= 0.0) & (projection.s_m < any_track.length_m))
    assert np.all((projection.spline_pos >= 0.0) & (projection.spline_pos < 1.0))
    np.testing.assert_allclose(projection.spline_pos, projection.s_m / any_track.length_m)


def test_circle_projection_has_the_closed_form_at_chord_midpoints(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    chord_m = 2.0 * spec.circle_radius_m * np.sin(np.pi / spec.circle_points)
    k = np.arange(0, spec.circle_points, 7)
    mid_angle = (k + 0.5) * 2.0 * np.pi / spec.circle_points
    apothem_m = spec.circle_radius_m * np.cos(np.pi / spec.circle_points)
    offset_m = np.resize([-4.0, -1.0, 0.5, 3.0, 9.0], len(k))  # positive = outward
    radius_m = apothem_m + offset_m
    points = radius_m[:, None] * np.stack((np.cos(mid_angle), np.sin(mid_angle)), axis=1)
    projection = circle_track.project(points)
    np.testing.assert_allclose(projection.s_m, (k + 0.5) * chord_m, rtol=0, atol=1e-9)
    # Counter-clockwise: the centre of the circle is on the left, so outward is negative.
    np.testing.assert_allclose(projection.gap_m, -offset_m, rtol=0, atol=1e-9)


def test_line_points_project_to_their_own_distance_with_zero_gap(any_track: Track) -> None:
    projection = any_track.project(any_track.line_m)
    np.testing.assert_allclose(
        circular_difference_m(projection.s_m, any_track.line_s_m, any_track.length_m),
        0.0,
        atol=1e-9,
    )
    np.testing.assert_allclose(projection.gap_m, 0.0, atol=1e-9)


def test_projection_wraps_across_the_start_line(spec: SimpleNamespace, circle_track: Track) -> None:
    # Points 1 m inside the line next to the start vertex: just behind it they project
    # on the last (closing) segment, just after it on the first. The feet sit
    # (R - r) sin(pi / N) from the vertex (the two segments meet at an angle).
    radius_m = spec.circle_radius_m - 1.0
    angle = np.array([-1e-3, -1e-9, 1e-9, 1e-3])
    points = radius_m * np.stack((np.cos(angle), np.sin(angle)), axis=1)
    s_m = circle_track.project(points).s_m
    length_m = circle_track.length_m
    foot_m = 1.0 * np.sin(np.pi / spec.circle_points)
    assert length_m - 0.2 < s_m[0] < s_m[1] < length_m
    assert s_m[1] == pytest.approx(length_m - foot_m, abs=1e-6)
    assert s_m[2] == pytest.approx(foot_m, abs=1e-6)
    assert s_m[2] < s_m[3] < 0.2


def test_point_between_hairpin_legs_projects_to_the_nearer_leg(
    spec: SimpleNamespace, hairpin_track: Track
) -> None:
    # Bottom leg (y = -8) runs +x, top leg (y = +8) runs -x; grass between |y| < 3.
    points = np.array([[20.0, 1.5], [20.0, -1.5], [-40.0, 2.9], [-40.0, -2.9]])
    projection = hairpin_track.project(points)
    np.testing.assert_allclose(
        np.abs(projection.gap_m), spec.hairpin_radius_m - np.abs(points[:, 1]), atol=1e-9
    )
    # Both legs have the grass on their left (the infield of a counter-clockwise loop).
    assert np.all(projection.gap_m > 0.0)
    top = projection.s_m[[0, 2]]
    bottom = projection.s_m[[1, 3]]
    assert np.all(top > 100.0) and np.all(top < hairpin_track.length_m - 100.0)
    np.testing.assert_allclose(bottom, [20.0, hairpin_track.length_m - 40.0], atol=1e-9)
    assert not np.any(hairpin_track.is_inside(points))
    np.testing.assert_allclose(
        hairpin_track.border_distance(points),
        spec.hairpin_radius_m - 0.5 * spec.hairpin_width_m - np.abs(points[:, 1]),
        atol=1e-9,
    )


def test_project_point_equals_the_batch_projection(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    points = make_query_points(any_track, 20, 4)
    projection = any_track.project(points)
    for n, (x, y) in enumerate(points):
        s_m, gap_m = any_track.project_point(x, y)
        assert (s_m, gap_m) == (projection.s_m[n], projection.gap_m[n])


def test_project_accepts_one_point_and_returns_a_projection(circle_track: Track) -> None:
    projection = circle_track.project([101.0, 0.0])
    assert isinstance(projection, Projection)
    assert projection.s_m.shape == projection.gap_m.shape == projection.spline_pos.shape == (1,)


def test_reference_line_offset_shows_as_the_gap_of_the_centre_line(
    spec: SimpleNamespace,
    rounded_rectangle_track: Track,
) -> None:
    # The line runs 2 m left of the centre line on the straights, so the centre is 2 m
    # to its right there.
    centre = rounded_rectangle_track.centre_m
    bent = np.abs(polyline_curvature(centre)) > 1e-9
    # Straight, and 3 points from any bend (the line cuts the corner chords a little).
    on_straight = np.convolve(np.concatenate((bent[-3:], bent, bent[:3])), np.ones(7), "valid") == 0
    gap = rounded_rectangle_track.project(centre[on_straight]).gap_m
    np.testing.assert_allclose(gap, -spec.rect_line_offset_m, atol=1e-6)


def polyline_curvature(points_m: FloatArray) -> FloatArray:
    from acgym.track import polyline

    return polyline.signed_curvature_1pm(points_m)


# --- look-ahead and interpolation ---------------------------------------------------


def reference_interp(track: Track, s_m: FloatArray, values: FloatArray) -> FloatArray:
    """np.interp with its periodic mode: the closing interval joins the last to the first."""
    return np.interp(
        np.asarray(s_m) % track.length_m, track.line_s_m, values, period=track.length_m
    )


def test_curvature_ahead_samples_from_s_every_distance_over_count(any_track: Track) -> None:
    rng = np.random.default_rng(5)
    s_m = np.concatenate(
        (rng.uniform(0.0, any_track.length_m, 50), [0.0, any_track.length_m - 1e-6])
    )
    ahead = any_track.curvature_ahead(s_m, num_samples=12, distance_m=300.0)
    assert ahead.shape == (len(s_m), 12)
    expected = reference_interp(
        any_track, s_m[:, None] + 25.0 * np.arange(12)[None, :], any_track.line_curvature_1pm
    )
    np.testing.assert_allclose(ahead, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        ahead[:, 0], any_track.line_value_at(s_m, any_track.line_curvature_1pm), atol=1e-15
    )


def test_curvature_ahead_on_a_circle_is_one_over_the_radius(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    ahead = circle_track.curvature_ahead(np.array([0.0, 123.4, circle_track.length_m - 5.0]))
    np.testing.assert_allclose(ahead, 1.0 / spec.circle_radius_m, rtol=1e-12)


def test_curvature_ahead_wraps_across_the_start_line_of_a_clockwise_track(
    spec: SimpleNamespace,
    rounded_rectangle_track: Track,
) -> None:
    track = rounded_rectangle_track
    # Sample exactly at the line points just behind the start: the look-ahead crosses
    # s = 0 and must read the first points' curvature again.
    s_m = track.line_s_m[-3]
    ahead = track.curvature_ahead(s_m, num_samples=3, distance_m=3.0 * (track.length_m - s_m) / 2.0)
    gap = (track.length_m - s_m) / 2.0
    expected = reference_interp(track, s_m + gap * np.arange(3), track.line_curvature_1pm)
    np.testing.assert_allclose(ahead[0], expected, atol=1e-12)
    np.testing.assert_allclose(ahead[0, 2], track.line_curvature_1pm[0], atol=1e-12)
    # Clockwise: the corners turn right, and the line 2 m to the left is on the outside
    # of them: curvature -1 / (corner radius + 2 m).
    assert track.line_curvature_1pm.min() == pytest.approx(
        -1.0 / (spec.rect_corner_m + spec.rect_line_offset_m), rel=0.02
    )


def test_line_value_at_interpolates_linearly_and_closes_the_loop(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    values = np.arange(spec.circle_points, dtype=float)
    chord_m = circle_track.line_s_m[1]
    s_m = np.array([0.0, 0.25 * chord_m, 10.5 * chord_m, circle_track.length_m - 0.5 * chord_m])
    result = circle_track.line_value_at(s_m, values)
    np.testing.assert_allclose(result, [0.0, 0.25, 10.5, 0.5 * (spec.circle_points - 1)], atol=1e-9)
    assert circle_track.line_value_at(s_m + 3 * circle_track.length_m, values) == pytest.approx(
        result
    )
    assert circle_track.line_value_at(np.ones((2, 3)), values).shape == (2, 3)


def test_line_value_at_rejects_a_channel_of_the_wrong_length(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    with pytest.raises(
        ValueError, match=f"one value per reference-line point \\({spec.circle_points},\\)"
    ):
        circle_track.line_value_at([0.0], np.zeros(spec.circle_points - 1))


def test_line_point_at_projects_back_to_the_same_distance(any_track: Track) -> None:
    s_m = np.random.default_rng(6).uniform(0.0, any_track.length_m, 300)
    xy, heading = any_track.line_point_at(s_m)
    projection = any_track.project(xy)
    assert circular_difference_m(projection.s_m, s_m, any_track.length_m).max() < 1e-6
    np.testing.assert_allclose(projection.gap_m, 0.0, atol=1e-9)
    # The heading is that of the segment the point lies on.
    ahead, _ = any_track.line_point_at(s_m + 1e-4)
    step = ahead - xy
    np.testing.assert_allclose(np.arctan2(step[:, 1], step[:, 0]), heading, atol=1e-5)


# --- track surface --------------------------------------------------------------------


def test_is_inside_matches_a_quad_by_quad_reference(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    points = make_query_points(any_track, 100, 7)
    inside = any_track.is_inside(points)
    np.testing.assert_array_equal(inside, brute_inside(points, any_track))
    assert 0.1 < inside.mean() < 0.9


def test_is_inside_point_equals_the_batch_test(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    points = make_query_points(any_track, 20, 8)
    inside = any_track.is_inside(points)
    assert [any_track.is_inside_point(x, y) for x, y in points] == inside.tolist()


def test_points_on_shared_cross_sections_are_inside(any_track: Track) -> None:
    # Points exactly on the edge between two quads (the original files put line points
    # on their cross-sections) must not fall through the crack.
    w = np.linspace(0.05, 0.95, 7)
    points = (
        any_track.left_m[:, None, :]
        + w[None, :, None] * (any_track.right_m - any_track.left_m)[:, None, :]
    )
    assert np.all(any_track.is_inside(points.reshape(-1, 2)))


def test_circle_surface_is_the_annulus_between_the_borders(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    angle = np.random.default_rng(9).uniform(0.0, 2.0 * np.pi, 500)
    half_m = 0.5 * spec.circle_width_m
    # Radii safely inside / outside the polygonal annulus (chord sag is under 0.01 m).
    for radius_m, expected in ((spec.circle_radius_m, True), (spec.circle_radius_m + half_m - 0.01, True),
                               (spec.circle_radius_m - half_m - 0.01, False), (spec.circle_radius_m + half_m + 0.01, False), (0.0, False)):  # fmt: skip
        points = radius_m * np.stack((np.cos(angle), np.sin(angle)), axis=1)
        assert np.all(circle_track.is_inside(points) == expected), radius_m


def test_border_distance_matches_brute_force(
    any_track: Track, make_query_points: QueryPoints
) -> None:
    points = make_query_points(any_track, 200, 10)
    d_left, _ = brute_nearest(points, any_track.left_m)
    d_right, _ = brute_nearest(points, any_track.right_m)
    expected = np.minimum(d_left.min(axis=1), d_right.min(axis=1))
    np.testing.assert_allclose(any_track.border_distance(points), expected, rtol=1e-12, atol=1e-9)


def test_border_distance_on_the_circle_centre_line_is_half_the_width(
    spec: SimpleNamespace, circle_track: Track
) -> None:
    distance = circle_track.border_distance(circle_track.line_m)
    np.testing.assert_allclose(distance, 0.5 * spec.circle_width_m, atol=2e-3)


# --- the spatial index ---------------------------------------------------------------


def test_every_segment_is_listed_in_every_cell_it_crosses(bench_track: Track) -> None:
    grid, table = bench_track.border_index.grid, bench_track.border_index.table
    x0, y0, cell_m = grid.params[:3]
    nx, ny = grid.shape
    u = np.linspace(0.0, 1.0, 33)
    points = table[:, None, :2] + u[None, :, None] * table[:, None, 2:4]
    i = np.floor((points[..., 0] - x0) / cell_m).astype(int)
    j = np.floor((points[..., 1] - y0) / cell_m).astype(int)
    assert i.min() >= 0 and j.min() >= 0 and i.max() < nx and j.max() < ny
    for k in range(0, len(table), 7):
        for cell in set((i[k] * ny + j[k]).tolist()):
            assert k in grid.items[grid.cell_start[cell] : grid.cell_start[cell + 1]]


def test_the_public_indexes_are_built_once_and_give_kernels_what_the_track_uses(
    bench_track: Track,
) -> None:
    assert bench_track.line_index is bench_track.line_index  # cached
    params, cell_start, items, table, levels = bench_track.line_index.arrays
    assert params is bench_track.line_index.grid.params and table is bench_track.line_index.table
    assert len(cell_start) == np.prod(bench_track.line_index.grid.shape) + 1
    assert levels.shape == (len(table),) and not levels.any()  # no crossings: no levels
    x_m, y_m = bench_track.left_m[5]
    s_m, gap_m = queries.project_point(
        x_m, y_m, bench_track.length_m, params, cell_start, items, table, levels, 0
    )
    assert (s_m, gap_m) == bench_track.project_point(x_m, y_m)
    inside = queries.inside_point(0.5 * x_m, 0.5 * y_m, *bench_track.quad_index.arrays, 0)
    assert inside == bench_track.is_inside_point(0.5 * x_m, 0.5 * y_m)


def test_grid_cell_count_is_capped_for_huge_sparse_inputs() -> None:
    segments = np.array([[0.0, 0.0, 1.0, 0.0], [1e6, 1e6, 1.0, 0.0]])
    grid = spatial.segment_grid(segments, 0.01)
    assert grid.shape[0] * grid.shape[1] <= spatial.MAX_GRID_CELLS
    assert len(grid.cell_start) == grid.shape[0] * grid.shape[1] + 1


def test_non_finite_points_give_nan_and_are_not_inside(circle_track: Track) -> None:
    points = np.array([[np.nan, 0.0], [0.0, np.inf], [1e300, -1e300], [100.0, 0.0]])
    projection = circle_track.project(points)
    assert np.isnan(projection.s_m[:2]).all() and np.isnan(projection.gap_m[:2]).all()
    assert np.isfinite(projection.s_m[2:]).all()
    assert circle_track.is_inside(points).tolist() == [False, False, False, True]
    distance = circle_track.border_distance(points)
    assert np.isnan(distance[:2]).all() and not np.isnan(distance[2:]).any()  # 1e300: inf
    assert np.isnan(circle_track.project_point(np.nan, 0.0)).all()

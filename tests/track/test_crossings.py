"""A track that crosses itself: crossings told from folds, and queries on the car's level.

The figure-8 is a lemniscate of Bernoulli (``acgym.track.bench.figure_eight``, a = 300 m,
12 m wide, length L = 2 * 2.62206 * a): it passes the origin at s = L / 4 heading 225
degrees (branch A) and at s = 3 L / 4 heading 315 degrees (branch B), straight there, at
right angles. Near the origin each branch is its tangent line, so the answers are closed
forms in the unit vectors ``U_A`` (along A) and ``U_B`` (along B, which is A's left).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track import Track, queries
from acgym.track.bench import LEMNISCATE_CONSTANT, figure_eight

FloatArray = NDArray[np.float64]

HALF_WIDTH_M = 300.0  # a
WIDTH_M = 12.0
U_A = np.array([-1.0, -1.0]) / math.sqrt(2.0)  # branch A's direction at the origin
U_B = np.array([1.0, -1.0]) / math.sqrt(2.0)  # branch B's; also A's left normal
ATOL_M = 0.01  # the polyline's chords and the curvature 3 r / a^2 near the origin


@pytest.fixture(scope="module")
def eight() -> Track:
    return figure_eight(HALF_WIDTH_M, WIDTH_M)


@pytest.fixture(scope="module")
def levels(eight: Track) -> SimpleNamespace:
    """Where branch A and branch B pass the origin, m along the line."""
    length_m = eight.length_m
    return SimpleNamespace(a=0.25 * length_m, b=0.75 * length_m, length=length_m)


def test_the_figure_eight_loads_with_one_crossing_where_the_closed_form_puts_it(
    eight: Track, levels: SimpleNamespace
) -> None:
    assert eight.length_m == pytest.approx(2.0 * LEMNISCATE_CONSTANT * HALF_WIDTH_M, rel=1e-5)
    (crossing,) = eight.crossings
    np.testing.assert_allclose(crossing.xy_m, [0.0, 0.0], atol=ATOL_M)
    np.testing.assert_allclose(crossing.s_m, [levels.a, levels.b], atol=ATOL_M)
    np.testing.assert_allclose(eight.crossing_s_m, [crossing.s_m])
    # each zone covers its branch's overlap (+-6 m about the origin) and stays on it
    for (start, end), s_m in zip(crossing.s_ranges_m, crossing.s_m, strict=True):
        assert start + 10.0 < s_m < end - 10.0
        assert end - start < 2.0 * crossing.radius_m + 2.0
    assert crossing.radius_m > 0.5 * math.sqrt(2.0) * WIDTH_M + 2.0 * WIDTH_M


def test_hidden_levels_hide_the_branch_farther_from_the_hint(
    eight: Track, levels: SimpleNamespace
) -> None:
    # bit 2c + b hides branch b of crossing c
    assert eight.hidden_levels(levels.a) == 0b10
    assert eight.hidden_levels(levels.b + 300.0) == 0b01
    assert eight.hidden_levels(0.0) == 0b10  # L / 4 from A, 3 L / 4 (= L / 4 back) from B
    assert eight.hidden_levels(None) == 0
    assert queries.hidden_levels(math.nan, eight.crossing_s_m, eight.length_m) == 0


def test_a_car_on_either_level_at_the_crossing_projects_on_its_own_branch(
    eight: Track, levels: SimpleNamespace
) -> None:
    # 2 m along B from the origin: on B's line, 2 m left of A's
    x_m, y_m = 2.0 * U_B
    s_a, gap_a = eight.project_point(x_m, y_m, s_hint_m=levels.a)
    assert (s_a, gap_a) == pytest.approx((levels.a, 2.0), abs=ATOL_M)
    s_b, gap_b = eight.project_point(x_m, y_m, s_hint_m=levels.b)
    assert (s_b, gap_b) == pytest.approx((levels.b + 2.0, 0.0), abs=ATOL_M)
    # without a hint: the nearest line, B's
    assert eight.project_point(x_m, y_m) == pytest.approx((levels.b + 2.0, 0.0), abs=ATOL_M)
    batch = eight.project([[x_m, y_m]] * 2, s_hint_m=[levels.a, levels.b])
    np.testing.assert_allclose(batch.s_m, [levels.a, levels.b + 2.0], atol=ATOL_M)
    np.testing.assert_allclose(batch.gap_m, [2.0, 0.0], atol=ATOL_M)


def test_rays_at_the_crossing_pass_the_other_levels_borders(
    eight: Track, levels: SimpleNamespace
) -> None:
    heading_a = math.atan2(U_A[1], U_A[0])
    angles = np.array([-0.5 * math.pi, 0.0, 0.5 * math.pi])
    # on A: straight ahead runs on until A's curve leaves the ray: the lemniscate's
    # offset from its tangent is s^3 / (2 a^2), 6 m at s = (12 a^2)^(1/3) = 103 m
    on_a = eight.cast_rays_pose(0.0, 0.0, heading_a, angles, s_hint_m=levels.a)
    np.testing.assert_allclose(on_a[[0, 2]], 0.5 * WIDTH_M, atol=ATOL_M)
    assert 90.0 < on_a[1] < 115.0
    # without a hint (or on B) the ray ahead stops at B's border, 6 m away
    for hint in (None, levels.b):
        ahead = eight.cast_rays_pose(0.0, 0.0, heading_a, angles, s_hint_m=hint)[1]
        assert ahead == pytest.approx(0.5 * WIDTH_M, abs=ATOL_M)
    batch = eight.cast_rays(np.zeros((2, 2)), heading_a, angles, s_hint_m=[levels.a, levels.b])
    np.testing.assert_allclose(batch[0], on_a)
    assert batch[1, 1] == pytest.approx(0.5 * WIDTH_M, abs=ATOL_M)


def test_the_inside_test_at_the_crossing_follows_the_level(
    eight: Track, levels: SimpleNamespace
) -> None:
    on_b_only = 8.0 * U_B  # on B's road, 8 m off A's centre line (A is 6 m wide each side)
    on_a_only = 8.0 * U_A
    assert not eight.is_inside_point(*on_b_only, s_hint_m=levels.a)
    assert eight.is_inside_point(*on_b_only, s_hint_m=levels.b)
    assert eight.is_inside_point(*on_a_only, s_hint_m=levels.a)
    assert not eight.is_inside_point(*on_a_only, s_hint_m=levels.b)
    assert eight.is_inside_point(*on_b_only) and eight.is_inside_point(*on_a_only)
    np.testing.assert_array_equal(
        eight.is_inside([on_b_only, on_b_only, on_a_only], s_hint_m=[levels.a, levels.b, 0.0]),
        [False, True, True],
    )


def test_the_border_distance_at_the_crossing_is_the_levels(
    eight: Track, levels: SimpleNamespace
) -> None:
    point = 5.0 * U_B + 1.0 * U_A  # 5 m left of A's centre line, 1 m along B's
    distance = eight.border_distance([point] * 3, s_hint_m=[levels.a, levels.b, math.nan])
    np.testing.assert_allclose(distance, [1.0, 5.0, 1.0], atol=ATOL_M)
    assert eight.border_distance(point)[0] == pytest.approx(1.0, abs=ATOL_M)


def test_hints_change_nothing_on_a_track_without_crossings(bench_track: Track) -> None:
    rng = np.random.default_rng(3)
    s_m = rng.uniform(0.0, bench_track.length_m, 300)
    xy, heading = bench_track.line_point_at(s_m)
    xy = xy + rng.uniform(-10.0, 10.0, xy.shape)
    hints = rng.uniform(0.0, bench_track.length_m, 300)  # even wrong ones
    assert bench_track.crossings == ()
    angles = np.linspace(-1.5, 1.5, 7)
    plain = bench_track.project(xy)
    hinted = bench_track.project(xy, s_hint_m=hints)
    np.testing.assert_array_equal(plain.s_m, hinted.s_m)
    np.testing.assert_array_equal(plain.gap_m, hinted.gap_m)
    np.testing.assert_array_equal(bench_track.is_inside(xy), bench_track.is_inside(xy, hints))
    np.testing.assert_array_equal(
        bench_track.border_distance(xy), bench_track.border_distance(xy, hints)
    )
    np.testing.assert_array_equal(
        bench_track.cast_rays(xy, heading, angles),
        bench_track.cast_rays(xy, heading, angles, s_hint_m=hints),
    )
    x_m, y_m = xy[0]
    assert bench_track.project_point(x_m, y_m, hints[0]) == bench_track.project_point(x_m, y_m)


def test_a_spike_far_across_the_track_is_refused_like_a_fold() -> None:
    """One left point dragged across the opposite side of a circle: its two segments meet
    both borders there, far along the track, but the right border never meets anything
    there, so it is no crossing of two roads."""
    angle = np.arange(400) * 2.0 * np.pi / 400
    unit = np.stack((np.cos(angle), np.sin(angle)), axis=1)
    left, right = 95.0 * unit, 105.0 * unit
    left[100] = -110.0 * unit[100]  # beyond the far side's right border
    with pytest.raises(
        TrackFileError,
        match=r"the left border crosses itself: segment 99 \(points 99-100\) meets segment 300 "
        r"near .* fix the border points there",
    ):
        Track.from_arrays("spike", left, right)


def test_suzuka_builtin_loads_with_its_crossing() -> None:
    """The TUMFTM Suzuka, when shipped as a built-in track: its figure-8 bridge is a
    crossing, and a point at it projects on the level of the hint."""
    from acgym.track.builtin import list_builtin_tracks, load_builtin

    if "Suzuka" not in list_builtin_tracks():
        pytest.skip("the built-in TUMFTM circuits are not in this build (no 'Suzuka')")
    track = load_builtin("Suzuka")
    (crossing,) = track.crossings
    x_m, y_m = crossing.xy_m
    for s_m in crossing.s_m:
        s_hit, _ = track.project_point(x_m, y_m, s_hint_m=s_m)
        assert abs(s_hit - s_m) < 1.0
        assert track.is_inside_point(x_m, y_m, s_hint_m=s_m)

"""Procedural tracks: valid closed circuits, reproducible from their seed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.generator import generate_track, layout_problems

NUM_SEEDS = 100


def crossing_segments(first: np.ndarray, second: np.ndarray, same: bool) -> list[tuple[int, int]]:
    """Pairs (i, j) of segments of two closed polylines that intersect (brute force near)."""
    starts = [first, second]
    ends = [np.roll(p, -1, axis=0) for p in starts]
    mids = [0.5 * (s + e) for s, e in zip(starts, ends, strict=True)]
    reach_m = max(np.hypot(*(e - s).T).max() for s, e in zip(starts, ends, strict=True))
    candidates = cKDTree(mids[0]).query_ball_tree(cKDTree(mids[1]), reach_m)
    num = len(first)
    pairs = []
    for i, near in enumerate(candidates):
        for j in near:
            if same and (i == j or abs(i - j) in (1, num - 1)):
                continue
            a, b, c, d = starts[0][i], ends[0][i], starts[1][j], ends[1][j]

            def orient(p, q, r):
                return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

            if orient(a, b, c) * orient(a, b, d) < 0 and orient(c, d, a) * orient(c, d, b) < 0:
                pairs.append((i, j))
    return pairs


@pytest.mark.parametrize("seed", range(NUM_SEEDS))
def test_generated_track_is_a_valid_closed_circuit(seed: int) -> None:
    width_m = 12.0
    track = generate_track(seed, length_m=3000.0, width_m=width_m)
    centre = track.centre_m
    spacing_m = np.hypot(*polyline.segment_vectors_m(centre).T)
    assert spacing_m.max() < 1.6 and spacing_m.min() > 1.4  # closed: no long closing gap
    assert track.length_m == pytest.approx(3000.0, rel=0.01)
    np.testing.assert_allclose(track.section_width_m, width_m, rtol=1e-9)
    radius_m = 1.0 / np.abs(polyline.signed_curvature_1pm(centre)).max()
    assert radius_m >= width_m
    assert not crossing_segments(track.left_m, track.left_m, same=True)
    assert not crossing_segments(track.right_m, track.right_m, same=True)
    assert not crossing_segments(track.left_m, track.right_m, same=False)
    assert layout_problems(centre, width_m, min_radius_m=width_m) == []


def test_same_seed_gives_the_same_track() -> None:
    first, second = generate_track(7), generate_track(7)
    np.testing.assert_array_equal(first.left_m, second.left_m)
    np.testing.assert_array_equal(first.line_m, second.line_m)
    assert first.name == "generated_7"


def test_different_seeds_give_different_tracks() -> None:
    first, second = generate_track(1), generate_track(2)
    assert len(first.line_m) != len(second.line_m) or not np.allclose(first.line_m, second.line_m)


def test_generated_track_honours_length_and_width() -> None:
    track = generate_track(3, length_m=5000.0, width_m=15.0, name="long")
    assert track.name == "long"
    assert track.length_m == pytest.approx(5000.0, rel=0.01)
    np.testing.assert_allclose(track.section_width_m, 15.0)


def test_generated_tracks_run_both_ways() -> None:
    areas = [polyline.signed_area_m2(generate_track(seed).centre_m) for seed in range(10)]
    assert min(areas) < 0.0 < max(areas)


def test_loop_too_short_for_its_width_is_refused() -> None:
    with pytest.raises(TrackFileError, match="too short"):
        generate_track(0, length_m=60.0, width_m=12.0)


def test_layout_check_reports_a_corner_tighter_than_the_limit() -> None:
    angle = np.linspace(0.0, 2.0 * np.pi, 100, endpoint=False)
    circle = 10.0 * np.stack((np.cos(angle), np.sin(angle)), axis=1)
    (problem,) = layout_problems(circle, 12.0, min_radius_m=12.0)
    assert "radius 10.0 m" in problem


def test_layout_check_reports_a_track_passing_close_to_itself() -> None:
    # A long thin loop: the two sides are 10 m apart, the track 12 m wide.
    top = np.stack((np.linspace(0.0, 500.0, 334), np.full(334, 10.0)), axis=1)
    bottom = np.stack((np.linspace(500.0, 0.0, 334), np.zeros(334)), axis=1)
    (problem,) = layout_problems(np.vstack((bottom, top)), 12.0, min_radius_m=1.0)
    assert "passes itself" in problem

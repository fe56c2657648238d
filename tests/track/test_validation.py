"""Track validation: every rule rejects what it should, says where, and passes good tracks."""

from __future__ import annotations

import math
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track import Track, polyline
from acgym.track.validation import TrackGeometryWarning

FloatArray = NDArray[np.float64]


def circle_arrays(spec: SimpleNamespace) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Left, right and centre of the circle track (counter-clockwise: left is inside)."""
    n = spec.circle_points
    angle = np.arange(n) * 2.0 * np.pi / n
    unit = np.stack((np.cos(angle), np.sin(angle)), axis=1)
    half_m = 0.5 * spec.circle_width_m
    r_m = spec.circle_radius_m
    return (r_m - half_m) * unit, (r_m + half_m) * unit, r_m * unit


def random_track(seed: int, num_points: int = 600) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A smooth random loop: a circle with random low harmonics, 8 to 14 m wide."""
    rng = np.random.default_rng(seed)
    angle = np.arange(num_points) * 2.0 * np.pi / num_points
    radius_m = 200.0 * (1.0 + sum(
        rng.uniform(0.0, 0.05) * np.cos(k * angle + rng.uniform(0.0, 2.0 * np.pi)) for k in (2, 3, 4)
    ))  # fmt: skip
    centre = radius_m[:, None] * np.stack((np.cos(angle), np.sin(angle)), axis=1)
    normal = polyline.left_normals(polyline.vertex_tangents(centre))
    half_m = 0.5 * rng.uniform(8.0, 14.0)
    return centre + half_m * normal, centre - half_m * normal, centre


def build_without_warnings(name: str, *arrays: FloatArray) -> Track:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Track.from_arrays(name, *arrays)


def test_synthetic_and_realistic_tracks_pass_without_warnings(any_track: Track) -> None:
    track = build_without_warnings(
        any_track.name, any_track.left_m, any_track.right_m, any_track.line_m
    )
    assert track.length_m == pytest.approx(any_track.length_m)


def test_open_polyline_is_rejected_naming_the_track_and_its_last_point(
    spec: SimpleNamespace,
) -> None:
    left, right, centre = (a[:-40] for a in circle_arrays(spec))
    with pytest.raises(
        TrackFileError,
        match=r"track 'circle': the left border is not a closed loop: its last point \(359",
    ) as info:
        Track.from_arrays("circle", left, right, centre)
    assert "give the whole lap" in str(info.value)


def test_sparsely_sampled_straight_through_the_start_is_not_an_open_loop() -> None:
    # A stadium whose bottom straight (crossing the start) has 20 m between points and
    # the rest 1 m: the closing segment is long, but no longer than its neighbours.
    bottom = np.stack((np.arange(-100.0, 100.0, 20.0), np.full(10, -30.0)), axis=1)
    arc = np.linspace(-0.5 * np.pi, 0.5 * np.pi, 94, endpoint=False)
    right_turn = np.stack((100.0 + 30.0 * np.cos(arc), 30.0 * np.sin(arc)), axis=1)
    top = np.stack((np.arange(100.0, -100.0, -1.0), np.full(200, 30.0)), axis=1)
    left_turn = np.stack((-100.0 - 30.0 * np.cos(arc), -30.0 * np.sin(arc)), axis=1)
    centre = np.vstack((bottom, right_turn, top, left_turn))
    normal = polyline.left_normals(polyline.vertex_tangents(centre))
    track = build_without_warnings("sparse", centre + 5.0 * normal, centre - 5.0 * normal, centre)
    assert track.length_m == pytest.approx(400.0 + 2.0 * np.pi * 30.0, rel=1e-3)


def test_repeated_point_is_rejected_as_a_zero_length_segment(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    left, right = np.insert(left, 10, left[10], axis=0), np.insert(right, 10, right[10], axis=0)
    with pytest.raises(
        TrackFileError,
        match=r"'circle': the left border has a zero-length segment: points 10 and 11 coincide .* drop the repeated points",
    ):
        Track.from_arrays("circle", left, right, centre)


def test_left_border_crossing_itself_is_rejected_with_both_segments(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    left[[50, 51]] = left[[51, 50]]  # a bow-tie: segment 49 now crosses segment 51
    with pytest.raises(
        TrackFileError,
        match=r"the left border crosses itself: segment 49 \(points 49-50\) meets segment 51 near",
    ):
        Track.from_arrays("circle", left, right, centre)


def test_right_border_crossing_itself_is_rejected(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    right[[0, 1]] = right[[1, 0]]  # across the start: segment 399 now crosses segment 1
    with pytest.raises(
        TrackFileError,
        match=r"the right border crosses itself: segment 1 \(points 1-2\) meets segment 399 near",
    ):
        Track.from_arrays("circle", left, right, centre)


def test_borders_crossing_each_other_are_rejected(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    right[100] = centre[100] - 1.5 * (right[100] - centre[100]) * 2.0  # 5 m beyond the left border
    with pytest.raises(
        TrackFileError,
        match=r"the left and right borders cross: left segment 99 \(points 99-100\) meets right segment 99 near .* fix the border points there",
    ):
        Track.from_arrays("circle", left, right, centre)


def test_swapped_borders_are_rejected(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    with pytest.raises(
        TrackFileError,
        match=r"left border is on the right-hand side of travel at 400 of 400 cross-sections .* swap the left and right columns",
    ):
        Track.from_arrays("circle", right, left, centre)


def test_reference_line_running_backwards_is_rejected(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    with pytest.raises(TrackFileError, match=r"runs against the direction of the borders.*reverse"):
        Track.from_arrays("circle", left, right, centre[::-1])


def test_reference_line_far_off_the_surface_is_rejected(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    with pytest.raises(
        TrackFileError,
        match=r"the reference line leaves the track surface: at s = [\d.]+ m, .* it is 15.00 m "
        r"outside \(1 stretch more than 0.5 m outside: s = 0.0-\d+.\d m\); "
        r"`acgym track raceline <track>` .* belongs to this track",
    ):
        Track.from_arrays("circle", left, right, centre * 1.2)


def test_reference_line_a_little_off_the_surface_warns_where(spec: SimpleNamespace) -> None:
    left, right, centre = circle_arrays(spec)
    line = centre.copy()
    line[50] *= (spec.circle_radius_m + 0.5 * spec.circle_width_m + 2.0) / spec.circle_radius_m
    s_50 = polyline.cumulative_length_m(line)[0][50]
    with pytest.warns(
        TrackGeometryWarning,
        match=rf"'circle': the reference line leaves the track surface: at s = {s_50:.1f} m, "
        r"\(\d+.\d\d, \d+.\d\d\) m, it is 2.00 m outside \(1 stretch more than 0.5 m outside: "
        r"s = [\d.]+-[\d.]+ m\); the out-of-track check .* `acgym track raceline",
    ):
        Track.from_arrays("circle", left, right, line)


def _reported_s_m(message: str) -> float:
    found = re.search(r"at s = ([\d.]+) m", message)
    assert found, message
    return float(found.group(1))


def test_reference_line_cutting_across_the_infield_between_road_points_is_refused(
    spec: SimpleNamespace,
) -> None:
    # The centre line, but from point 100 (90 degrees) straight to point 200 (180
    # degrees): every point is on the road, the 141 m chord between them is not. Its
    # middle, (-50, 50), is 100 cos 45 = 70.71 m from the centre, 24.29 m inside the
    # inner border (radius 95 m).
    left, right, centre = circle_arrays(spec)
    line = np.vstack((centre[:101], centre[200:]))
    chord_start_m = polyline.cumulative_length_m(line)[0][100]
    half_chord_m = 100.0 * math.sqrt(2.0) / 2.0
    with pytest.raises(
        TrackFileError,
        match=r"'circle': the reference line leaves the track surface: at s = [\d.]+ m, "
        r"\(-[45]\d.\d\d, [45]\d.\d\d\) m, it is 24.29 m outside \(1 stretch more than 0.5 m "
        r"outside: .*`acgym track raceline <track>` computes a racing line inside the borders",
    ) as info:
        Track.from_arrays("circle", left, right, line)
    assert _reported_s_m(str(info.value)) == pytest.approx(chord_start_m + half_chord_m, abs=0.3)


def test_reference_line_cutting_a_corner_a_little_warns_where_and_how_far(
    spec: SimpleNamespace,
) -> None:
    # A line 1 m inside the inner border (radius 96 m) that goes straight from point 149
    # to point 189 (36 degrees on): the chord's middle is 96 cos 18 = 91.30 m from the
    # centre, 3.70 m inside the inner border; every line point is on the road.
    left, right, centre = circle_arrays(spec)
    line = 0.96 * np.vstack((centre[:150], centre[189:]))
    chord_start_m = polyline.cumulative_length_m(line)[0][149]
    with pytest.warns(TrackGeometryWarning) as caught:
        Track.from_arrays("circle", left, right, line)
    (warning,) = caught
    message = str(warning.message)
    assert re.search(
        r"'circle': the reference line leaves the track surface: at s = [\d.]+ m, .* it is "
        r"3.70 m outside \(1 stretch more than 0.5 m outside: s = [\d.]+-[\d.]+ m\); the "
        r"out-of-track check will fire along the line there; `acgym track raceline",
        message,
    ), message
    half_chord_m = 96.0 * math.sin(math.radians(18.0))
    assert _reported_s_m(message) == pytest.approx(chord_start_m + half_chord_m, abs=0.3)


def test_validate_false_skips_the_checks(spec: SimpleNamespace) -> None:
    left, right, centre = (a[:-40] for a in circle_arrays(spec))
    track = Track.from_arrays("circle", left, right, centre, validate=False)
    assert len(track.left_m) == spec.circle_points - 40


def test_a_hundred_random_tracks_validate_and_their_corrupted_copies_do_not() -> None:
    # What a track generator does: validate many tracks; each valid one passes, and the
    # same track with two left points swapped (a bow-tie) is caught.
    for seed in range(100):
        left, right, centre = random_track(seed)
        build_without_warnings(f"random{seed}", left, right, centre)
        left[[300, 301]] = left[[301, 300]]
        with pytest.raises(TrackFileError, match="the left border crosses itself: segment 299"):
            Track.from_arrays(f"random{seed}", left, right, centre)

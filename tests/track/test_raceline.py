"""Minimum-curvature racing line: a ring's outer circle, margins, chicanes, lap times."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.errors import ConfigError
from acgym.track import polyline
from acgym.track.raceline import line_curvature_cost, min_curvature_line, with_line
from acgym.track.speed_profile import VehicleLimits, speed_profile
from acgym.track.track import Track

F3_LIMITS = VehicleLimits(
    mass_kg=665.0,
    mu_lat=1.6,
    mu_long=1.6,
    drag_area_m2=0.75,
    downforce_area_m2=2.0,
    max_power_w=175e3,
    max_speed_mps=75.0,
    driven_load_fraction=0.55,
)
"""A Formula 3-like car (with driver); the simulator's presets replace it later."""

HALF_WIDTH_M = 6.0


def ring_track(inner_m: float, outer_m: float, num_sections: int) -> Track:
    """Counter-clockwise annulus: the left border is the inner circle."""
    angle = np.linspace(0.0, 2.0 * np.pi, num_sections, endpoint=False)
    unit = np.stack((np.cos(angle), np.sin(angle)), axis=1)
    return Track.from_arrays("ring", inner_m * unit, outer_m * unit)


def chicane_track() -> Track:
    """A 1.3 km stadium (400 m straights, 80 m radius ends) with an S-bend, 12 m wide."""
    straight_m, radius_m, spacing_m = 400.0, 80.0, 1.0
    loop_m = 2.0 * straight_m + 2.0 * np.pi * radius_m
    s_m = np.arange(0.0, loop_m, spacing_m)
    points, normals = [], []
    for s in s_m:
        if s < straight_m:
            point, heading = (s, 0.0), 0.0
        elif s < straight_m + np.pi * radius_m:
            heading = (s - straight_m) / radius_m
            point = (straight_m + radius_m * np.sin(heading), radius_m * (1.0 - np.cos(heading)))
        elif s < 2.0 * straight_m + np.pi * radius_m:
            point, heading = (
                (straight_m - (s - straight_m - np.pi * radius_m), 2.0 * radius_m),
                np.pi,
            )
        else:
            heading = np.pi + (s - 2.0 * straight_m - np.pi * radius_m) / radius_m
            point = (
                -radius_m * np.sin(heading - np.pi),
                radius_m * (1.0 + np.cos(heading - np.pi)),
            )
        points.append(point)
        normals.append((-np.sin(heading), np.cos(heading)))
    # The S-bend: a smooth left-then-right weave of the bottom straight, 15 m peak to peak.
    u = np.clip((s_m - 100.0) / 200.0, 0.0, 1.0)
    offset_m = 12.0 * np.sin(2.0 * np.pi * u) * np.sin(np.pi * u) ** 2
    centre = np.asarray(points) + offset_m[:, None] * np.asarray(normals)
    left = polyline.left_normals(polyline.vertex_tangents(centre))
    return Track.from_arrays("chicane", centre + HALF_WIDTH_M * left, centre - HALF_WIDTH_M * left)


def section_offsets_m(track: Track, line_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the line crosses each of the track's cross-sections.

    Returns the distance of the crossing from the right and from the left border, m.
    """
    right, chord = track.right_m, track.left_m - track.right_m
    width = np.hypot(*chord.T)
    across = chord / width[:, None]
    rel = line_m[None, :, :] - right[:, None, :]  # (N, M, 2)
    side = across[:, None, 0] * rel[..., 1] - across[:, None, 1] * rel[..., 0]
    side_next = np.roll(side, -1, axis=1)
    fraction = side / np.where(side == side_next, 1.0, side - side_next)
    crossing = rel + fraction[..., None] * (np.roll(rel, -1, axis=1) - rel)
    along_m = np.einsum("nmk,nk->nm", crossing, across)
    miss_m = np.hypot(*(crossing - (0.5 * width[:, None, None]) * across[:, None, :]).T).T
    miss_m[(side * side_next > 0.0) | (side == side_next)] = np.inf
    best = np.argmin(miss_m, axis=1)
    from_right_m = along_m[np.arange(len(right)), best]
    return from_right_m, width - from_right_m


def test_line_on_a_ring_is_the_outer_circle_less_the_margin() -> None:
    inner_m, outer_m, margin_m = 100.0, 112.0, 1.0
    num_sections = 1064
    track = ring_track(inner_m, outer_m, num_sections)
    centre_loop_m = polyline.cumulative_length_m(track.centre_m)[1]
    # Every fourth section: the optimisation's cross-sections are the track's own.
    line = min_curvature_line(track, margin_m, spacing_m=centre_loop_m / (num_sections // 4))

    radius_m = np.hypot(*line.T)
    np.testing.assert_allclose(radius_m, outer_m - margin_m, atol=1e-6)
    curvature = polyline.signed_curvature_1pm(line)
    np.testing.assert_allclose(curvature, 1.0 / (outer_m - margin_m), rtol=1e-6)


def test_line_keeps_the_margin_from_both_borders_at_every_cross_section() -> None:
    track = chicane_track()
    margin_m = 1.0
    line = min_curvature_line(track, margin_m)

    from_right_m, from_left_m = section_offsets_m(track, line)
    # Between its points the line is a chord: on a 74 m inner radius a 2.5 m chord cuts
    # the corner by 2.5^2 / (8 * 74) m, about 1 cm.
    tolerance_m = 0.02
    assert np.all(from_right_m >= margin_m - tolerance_m)
    assert np.all(from_left_m >= margin_m - tolerance_m)
    # It does use the room: somewhere it runs along each margin.
    assert np.min(from_right_m) < margin_m + tolerance_m
    assert np.min(from_left_m) < margin_m + tolerance_m


def chicane_cost(line_m: np.ndarray) -> float:
    """Summed squared curvature, kappa^2 ds, over the S-bend's part of the loop, 1/m."""
    kappa = polyline.signed_curvature_1pm(line_m)
    seg_m = np.hypot(*polyline.segment_vectors_m(line_m).T)
    in_bend = (line_m[:, 0] > 50.0) & (line_m[:, 0] < 350.0) & (line_m[:, 1] < 40.0)
    return float(np.sum((kappa**2 * 0.5 * (seg_m + np.roll(seg_m, 1)))[in_bend]))


def test_line_through_a_chicane_has_less_curvature_than_the_centre_line() -> None:
    track = chicane_track()
    line = min_curvature_line(track, 1.0)
    assert line_curvature_cost(line) < line_curvature_cost(track.centre_m)
    # The S-bend nearly straightens: 15 m of weave in 10 m of room.
    assert chicane_cost(line) < 0.1 * chicane_cost(track.centre_m)
    one_step = min_curvature_line(track, 1.0, iterations=1)
    assert line_curvature_cost(line) <= line_curvature_cost(one_step)


def test_lap_on_the_optimised_line_is_faster_than_on_the_centre_line() -> None:
    track = chicane_track()
    line = min_curvature_line(track, 1.0)
    optimised_s = speed_profile(line, F3_LIMITS).lap_time_s
    centre_s = speed_profile(track.centre_m, F3_LIMITS).lap_time_s
    assert optimised_s < centre_s - 0.5


def test_line_starts_on_the_start_line_and_keeps_the_direction_of_travel() -> None:
    track = chicane_track()
    line = min_curvature_line(track, 1.0)

    left, right = track.start_line_m
    chord = left - right
    offset = line[0] - right
    assert abs(chord[0] * offset[1] - chord[1] * offset[0]) / np.hypot(*chord) < 1e-9
    assert 0.0 < np.dot(offset, chord) / np.dot(chord, chord) < 1.0
    assert np.dot(line[1] - line[0], track.line_m[1] - track.line_m[0]) > 0.0
    assert np.sign(polyline.signed_area_m2(line)) == np.sign(
        polyline.signed_area_m2(track.centre_m)
    )
    spacing_m = np.hypot(*polyline.segment_vectors_m(line).T)
    assert spacing_m.min() > 1.5 and spacing_m.max() < 3.5


def test_with_line_keeps_the_borders_and_takes_the_new_reference_line() -> None:
    track = chicane_track()
    line = min_curvature_line(track, 1.0)
    raced = with_line(track, line)
    assert raced.name == track.name and raced.configuration == track.configuration
    np.testing.assert_array_equal(raced.left_m, track.left_m)
    np.testing.assert_array_equal(raced.right_m, track.right_m)
    np.testing.assert_array_equal(raced.line_m, line)
    assert raced.length_m == pytest.approx(polyline.cumulative_length_m(line)[1])


def test_margin_wider_than_the_track_raises_a_config_error() -> None:
    track = chicane_track()
    with pytest.raises(ConfigError, match="too narrow"):
        min_curvature_line(track, HALF_WIDTH_M + 0.5)
    with pytest.raises(ConfigError, match="iterations"):
        min_curvature_line(track, 1.0, iterations=0)

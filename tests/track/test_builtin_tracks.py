"""Built-in tracks: valid, of the promised character, and in sync with their designs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.builtin import (
    DEFAULT_TRACK,
    DESIGNS,
    Arc,
    Straight,
    TrackDesign,
    build_track,
    builtin_path,
    list_builtin_tracks,
    load_builtin,
    write_builtin_tracks,
)
from acgym.track.generator import layout_problems
from acgym.track.loaders import load_track, read_native
from acgym.track.track import Track

LENGTH_RANGE_M = {
    "oval": (2300.0, 2700.0),
    "fast_circuit": (4700.0, 5300.0),
    "technical_circuit": (3200.0, 3800.0),
}


def corners(track: Track, min_curvature_1pm: float = 1.0 / 400.0) -> list[tuple[float, float]]:
    """(turn in degrees, tightest radius in m) of each stretch that keeps turning one way."""
    curvature = polyline.signed_curvature_1pm(track.line_m)
    seg_m = np.hypot(*polyline.segment_vectors_m(track.line_m).T)
    sign = np.where(np.abs(curvature) < min_curvature_1pm, 0, np.sign(curvature))
    start = int(np.flatnonzero(sign == 0)[0])  # begin the walk on a straight
    sign, curvature, seg_m = (np.roll(a, -start) for a in (sign, curvature, seg_m))
    result, run = [], []
    for index in range(len(sign) + 1):
        if index < len(sign) and sign[index] != 0 and (not run or sign[index] == sign[run[0]]):
            run.append(index)
            continue
        if run:
            turn_deg = math.degrees(abs(np.sum(curvature[run] * seg_m[run])))
            result.append((turn_deg, 1.0 / np.abs(curvature[run]).max()))
            run = [index] if index < len(sign) and sign[index] != 0 else []
    return result


def longest_straight_m(track: Track, max_curvature_1pm: float = 1.0 / 2000.0) -> float:
    straight = np.abs(polyline.signed_curvature_1pm(track.line_m)) < max_curvature_1pm
    seg_m = np.hypot(*polyline.segment_vectors_m(track.line_m).T)
    start = int(np.flatnonzero(~straight)[0])
    best = run = 0.0
    for is_straight, length in zip(np.roll(straight, -start), np.roll(seg_m, -start), strict=True):
        run = run + length if is_straight else 0.0
        best = max(best, run)
    return best


def test_there_are_three_tracks_and_the_default_comes_first() -> None:
    names = list_builtin_tracks()
    assert set(names) == set(LENGTH_RANGE_M)
    assert names[0] == DEFAULT_TRACK


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_builtin_track_has_its_length_width_and_spacing(name: str) -> None:
    track = load_builtin(name)
    low_m, high_m = LENGTH_RANGE_M[name]
    assert low_m < track.length_m < high_m
    assert 10.0 - 1e-3 <= track.section_width_m.min()
    assert track.section_width_m.max() <= 15.0 + 1e-3
    spacing_m = np.hypot(*polyline.segment_vectors_m(track.line_m).T)
    assert np.all(np.abs(spacing_m - 1.5) < 0.05)


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_builtin_track_passes_the_layout_checks(name: str) -> None:
    track = load_builtin(name)
    width_m = float(np.median(track.section_width_m))
    assert layout_problems(track.centre_m, width_m, min_radius_m=width_m) == []


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_builtin_reference_line_starts_at_the_start_line_and_says_what_it_is(name: str) -> None:
    track = load_builtin(name)
    start_line = track.start_line_m
    across = start_line[1] - start_line[0]
    offset = track.line_m[0] - start_line[0]
    assert abs(across[0] * offset[1] - across[1] * offset[0]) / np.hypot(*across) < 1.0
    reference_line = read_native(builtin_path(name)).reference_line
    if DESIGNS[name].racing_line_margin_m is None:
        assert reference_line == "centre line"
        np.testing.assert_allclose(track.line_m, track.centre_m, atol=1e-3)
    else:
        assert reference_line.startswith("minimum-curvature racing line")


def test_design_with_a_racing_line_margin_stores_the_racing_line(tmp_path: Path) -> None:
    design = TrackDesign(
        "small_oval",
        "a small oval",
        12.0,
        (Straight(80.0), Arc(50.0, 180.0), Straight(), Arc(50.0, 180.0)),
        racing_line_margin_m=1.0,
    )
    (path,) = write_builtin_tracks(tmp_path, [design])
    native = read_native(path)
    assert native.reference_line == "minimum-curvature racing line, margin 1.0 m"
    track = native.track
    offset_m = (
        np.abs(np.sum((track.line_m[:, None, :] - track.centre_m[None]) ** 2, axis=2)).min(axis=1)
        ** 0.5
    )
    assert offset_m.max() > 2.0  # the line swings out of the centre to open the turns


@pytest.mark.parametrize("name", list_builtin_tracks())
def test_shipped_file_matches_its_design(name: str) -> None:
    built, shipped = build_track(DESIGNS[name]), load_builtin(name)
    np.testing.assert_allclose(shipped.left_m, built.left_m, atol=1e-4)
    np.testing.assert_allclose(shipped.right_m, built.right_m, atol=1e-4)


def test_oval_has_two_wide_half_turns() -> None:
    turns = corners(load_builtin("oval"))
    assert len(turns) == 2
    assert all(170.0 < turn < 190.0 for turn, _ in turns)
    assert min(radius for _, radius in turns) > 150.0


def test_fast_circuit_has_long_straights_and_chicanes() -> None:
    track = load_builtin("fast_circuit")
    assert longest_straight_m(track) > 700.0
    signs = np.sign(polyline.signed_curvature_1pm(track.line_m))
    chicane_like = [turn for turn, radius in corners(track) if radius < 60.0 and turn < 70.0]
    assert len(chicane_like) >= 6  # three chicanes, two flicks each
    assert np.mean(signs < 0) > 0.5  # clockwise: right-handers dominate


def test_technical_circuit_has_three_hairpins() -> None:
    hairpins = [
        turn
        for turn, radius in corners(load_builtin("technical_circuit"))
        if turn > 150.0 and radius < 30.0
    ]
    assert len(hairpins) >= 3


def test_load_track_resolves_builtin_names() -> None:
    assert load_track("technical_circuit") is load_builtin("technical_circuit")


def test_unknown_builtin_name_lists_the_builtin_tracks() -> None:
    with pytest.raises(TrackFileError, match=r"no built-in track 'atlantis'.*oval"):
        load_builtin("atlantis")
    with pytest.raises(TrackFileError, match=r"no built-in track or file named 'atlantis'.*oval"):
        load_track("atlantis")


def test_design_that_does_not_turn_a_full_circle_is_refused() -> None:
    design = TrackDesign(
        "bad", "", 12.0, (Straight(100.0), Arc(50.0, 180.0), Straight(), Arc(50.0, 170.0))
    )
    with pytest.raises(TrackFileError, match=r"turn 350\.000 degrees"):
        build_track(design)


def test_design_that_cannot_close_says_which_straights_to_free() -> None:
    design = TrackDesign(
        "bad", "", 12.0, (Straight(100.0), Arc(50.0, 180.0), Straight(), Arc(60.0, 180.0))
    )
    with pytest.raises(TrackFileError, match=r"misses its start by 20\.00 m"):
        build_track(design)


def test_design_with_a_corner_tighter_than_the_width_is_refused() -> None:
    design = TrackDesign(
        "bad",
        "",
        12.0,
        (Straight(100.0), Arc(8.0, 180.0), Straight(), Arc(8.0, 180.0)),
        transition_m=5.0,
    )
    with pytest.raises(TrackFileError, match=r"under the 12\.0 m limit"):
        build_track(design)

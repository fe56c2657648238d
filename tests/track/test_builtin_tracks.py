"""Built-in tracks: the authored ones valid, of the promised character and in sync with their
designs; the real circuits unchanged from their source, with racing lines the generator gives."""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track import circuits, polyline
from acgym.track.builtin import (
    AUTHORED_SOURCE,
    DEFAULT_TRACK,
    DESIGNS,
    Arc,
    Straight,
    TrackDesign,
    build_track,
    builtin_info,
    builtin_path,
    list_builtin_tracks,
    load_builtin,
    read_builtin,
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


AUTHORED = list_builtin_tracks(AUTHORED_SOURCE)


def test_three_authored_tracks_come_first_the_default_first_then_the_circuits() -> None:
    names = list_builtin_tracks()
    assert set(AUTHORED) == set(LENGTH_RANGE_M)
    assert names[0] == DEFAULT_TRACK
    assert names[:3] == AUTHORED
    assert names[3:] == sorted(circuits.CIRCUITS)
    assert len(names) == len(set(names))


def test_unknown_source_is_refused_naming_the_sources() -> None:
    with pytest.raises(TrackFileError, match=r"no built-in source 'osm'.*acgym"):
        list_builtin_tracks("osm")


@pytest.mark.parametrize("name", AUTHORED)
def test_authored_track_is_acgyms_under_the_projects_licence(name: str) -> None:
    info = builtin_info(name)
    assert (info.source, info.licence) == ("acgym", "MIT")
    assert info.description == DESIGNS[name].description
    assert read_builtin(name).metadata["licence"] == "MIT"


@pytest.mark.parametrize("name", AUTHORED)
def test_builtin_track_has_its_length_width_and_spacing(name: str) -> None:
    track = load_builtin(name)
    low_m, high_m = LENGTH_RANGE_M[name]
    assert low_m < track.length_m < high_m
    assert 10.0 - 1e-3 <= track.section_width_m.min()
    assert track.section_width_m.max() <= 15.0 + 1e-3
    spacing_m = np.hypot(*polyline.segment_vectors_m(track.line_m).T)
    assert np.all(np.abs(spacing_m - 1.5) < 0.05)


@pytest.mark.parametrize("name", AUTHORED)
def test_builtin_track_passes_the_layout_checks(name: str) -> None:
    track = load_builtin(name)
    width_m = float(np.median(track.section_width_m))
    assert layout_problems(track.centre_m, width_m, min_radius_m=width_m) == []


@pytest.mark.parametrize("name", AUTHORED)
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


@pytest.mark.parametrize("name", AUTHORED)
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


@pytest.mark.parametrize("name", ["technical_circuit", "Monza"])
def test_load_track_resolves_builtin_names(name: str) -> None:
    assert load_track(name) is load_builtin(name)


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


# --- real circuits: the TUMFTM racetrack database --------------------------------------

CIRCUITS = list_builtin_tracks(circuits.SOURCE)
TUMFTM_DIR = circuits.CIRCUITS_DIR
SOURCE_COMMIT = "e59595d1f3573b30d1ded6a08984935b957688e0"


def database_table(name: str) -> NDArray[np.float64]:
    """The circuit's database file as rows of x_m, y_m, w_tr_right_m, w_tr_left_m."""
    return np.loadtxt(TUMFTM_DIR / "tracks" / f"{name}.csv", delimiter=",", comments="#")


def test_the_databases_circuits_are_built_in_under_their_file_names() -> None:
    shipped = {path.stem for path in (TUMFTM_DIR / "tracks").glob("*.csv")}
    assert len(shipped) == 25
    assert {"Catalunya", "Monza", "Spielberg", "Silverstone", "Spa"} <= set(CIRCUITS)
    assert set(CIRCUITS) == shipped


def test_circuit_files_are_the_databases_unchanged_and_listed_with_their_hashes() -> None:
    sums = {}
    for row in (TUMFTM_DIR / "SHA256SUMS").read_text().splitlines():
        digest, relative = row.split("  ")
        sums[relative] = digest
    tracks = {f"tracks/{path.name}" for path in (TUMFTM_DIR / "tracks").glob("*.csv")}
    assert set(sums) == {"LICENSE", *tracks}
    for relative, digest in sums.items():
        assert hashlib.sha256((TUMFTM_DIR / relative).read_bytes()).hexdigest() == digest, relative


def test_circuit_licence_and_source_note_ship_beside_the_data() -> None:
    licence = (TUMFTM_DIR / "LICENSE").read_text()
    assert licence.split()[:5] == ["GNU", "LESSER", "GENERAL", "PUBLIC", "LICENSE"]
    assert "Version 3" in licence
    readme = (TUMFTM_DIR / "README.md").read_text()
    assert "https://github.com/TUMFTM/racetrack-database" in readme
    assert SOURCE_COMMIT in readme
    assert "tracks/<Name>.csv" in readme and "racing_lines/<Name>.csv" in readme


@pytest.mark.parametrize("name", CIRCUITS)
def test_circuit_loads_cleanly_from_the_databases_widths(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        track = circuits.load_circuit(name)
        centre = circuits.load_circuit(name, centre_line=True)
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    table = database_table(name)
    assert track.name == centre.name == name
    np.testing.assert_allclose(centre.line_m, table[:, :2], atol=1e-9)
    np.testing.assert_allclose(track.section_width_m, table[:, 2] + table[:, 3], rtol=1e-9)
    np.testing.assert_array_equal(track.left_m, centre.left_m)
    info = builtin_info(name)
    assert (info.source, info.licence) == ("TUMFTM racetrack-database", "LGPL-3.0")
    assert info.description == circuits.CIRCUITS[name]
    assert info.reference_line == "minimum-curvature racing line, margin 1.75 m"
    assert read_builtin(name).metadata["licence"] == "LGPL-3.0"


@pytest.mark.parametrize("name", CIRCUITS)
def test_circuit_racing_line_is_closed_starts_on_the_line_and_keeps_off_the_borders(
    name: str,
) -> None:
    track = load_builtin(name)
    centre = circuits.load_circuit(name, centre_line=True)
    spacing_m = np.hypot(*polyline.segment_vectors_m(track.line_m).T)  # the closing one too
    # Cross-sections every 2.5 m along the centre line: closer inside corners.
    assert 0.5 < spacing_m.min() and spacing_m.max() < 5.0
    assert np.median(spacing_m) == pytest.approx(2.5, abs=0.1)
    assert track.length_m == pytest.approx(centre.length_m, rel=0.03)  # within 1.3 % today
    start_m = np.hypot(*(track.line_m[0] - centre.line_m[0]))
    assert start_m < 0.5 * track.section_width_m[0]  # on the database's start/finish section
    # Every 0.5 m of the line: on the surface, with room for the widest car's half width
    # and the safety margin to the nearest border of its own level (Suzuka's bridge).
    s_m = np.arange(0.0, track.length_m, 0.5)
    xy_m, _ = track.line_point_at(s_m)
    assert track.is_inside(xy_m, s_m).all()
    room_m = circuits.WIDEST_CAR_HALF_WIDTH_M + circuits.SAFETY_MARGIN_M
    assert track.border_distance(xy_m, s_m).min() >= room_m


@pytest.mark.slow
@pytest.mark.parametrize("name", CIRCUITS)
def test_shipped_racing_line_is_what_the_generator_gives(name: str) -> None:
    np.testing.assert_allclose(
        load_builtin(name).line_m, circuits.circuit_racing_line(name), rtol=0.0, atol=1e-3
    )


def test_write_racing_lines_writes_line_files_that_load(tmp_path: Path) -> None:
    (path,) = circuits.write_racing_lines(tmp_path, ["Norisring"])
    assert path == tmp_path / "Norisring.csv"
    assert path.read_text().splitlines()[0] == "# x_m,y_m"
    track_csv, _ = circuits.circuit_files("Norisring")
    track = load_track(track_csv)
    np.testing.assert_allclose(
        load_builtin("Norisring").line_m, np.loadtxt(path, delimiter=","), atol=1e-4
    )
    assert track.name == "Norisring"


def test_unknown_circuit_is_refused_listing_the_circuits() -> None:
    with pytest.raises(TrackFileError, match=r"no built-in circuit 'Atlantis'.*Monza"):
        circuits.load_circuit("Atlantis")


def test_race_env_drives_on_a_builtin_circuit_by_name() -> None:
    import gymnasium as gym

    import acgym  # noqa: F401  (registers the ids)

    env = gym.make("acgym/Race-v0", track="Monza", car="dallara_f317")
    try:
        obs, _ = env.reset(seed=0)
        assert env.unwrapped.track is load_builtin("Monza")
        for _ in range(5):
            obs, _, terminated, _, _ = env.step(np.zeros(3))
            assert not terminated
        assert np.all(np.isfinite(obs))
    finally:
        env.close()

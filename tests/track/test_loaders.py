"""Track file loaders: the original format, TUMFTM, the game's fast_lane.ai, the native JSON."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from reference_files import find_reference_dir

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.loaders import (
    load_fast_lane,
    load_native,
    load_original,
    load_original_csv,
    load_track,
    load_tumftm,
    read_fast_lane,
    read_native,
    save_fast_lane,
    save_native,
    save_tumftm_line,
    write_fast_lane,
)
from acgym.track.track import Track

DATA_DIR = Path(__file__).parent / "data"
TUMFTM_FILE = DATA_DIR / "tumftm_rounded_rectangle.csv"
ORIGINAL_KEYS = ("monza", "ks_barcelona-layout_gp")


@pytest.fixture(scope="module")
def reference_tracks_dir() -> Path:
    """The original project's sample tracks (``config.yaml`` and the CSV pairs)."""
    return find_reference_dir() / "tracks"


def oval_arrays(
    num_points: int = 200, radius_m: float = 100.0, half_width_m: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A counter-clockwise stretched circle: left border inside, right border outside."""
    angle = np.linspace(0.0, 2.0 * math.pi, num_points, endpoint=False)
    unit = np.stack((np.cos(angle), np.sin(angle)), axis=1)
    stretch = np.array([1.5, 1.0])
    centre = radius_m * unit * stretch
    normals = polyline.left_normals(polyline.vertex_tangents(centre))
    return centre + half_width_m * normals, centre - half_width_m * normals, centre


def write_original_csv(path: Path, left: np.ndarray, right: np.ndarray, line: np.ndarray) -> None:
    rows = ["left_border_x,left_border_y,right_border_x,right_border_y,pos_x,pos_y"]
    rows += [",".join(map(repr, values)) for values in np.hstack((left, right, line)).tolist()]
    path.write_text("\n".join(rows) + "\n")


def left_is_counter_clockwise_of_travel(track: Track) -> bool:
    """Most cross-sections have the left border on the left-normal side of the centre."""
    normals = polyline.left_normals(polyline.vertex_tangents(track.centre_m))
    side = np.sum((track.left_m - track.centre_m) * normals, axis=1)
    return bool(np.mean(side > 0.0) > 0.99)


# --- the original format --------------------------------------------------------------


@pytest.mark.parametrize("key", ORIGINAL_KEYS)
def test_original_sample_tracks_load_with_the_length_the_config_gives(
    reference_tracks_dir: Path, key: str
) -> None:
    config = reference_tracks_dir / "config.yaml"
    track = load_original(config, key)
    expected_m = {"monza": 5758.66064453125, "ks_barcelona-layout_gp": 4591.88720703125}[key]
    assert abs(track.length_m - expected_m) / expected_m < 0.005
    assert len(track.left_m) > 2000
    assert left_is_counter_clockwise_of_travel(track)


def test_original_track_name_and_layout_come_from_the_config(reference_tracks_dir: Path) -> None:
    barcelona = load_original(reference_tracks_dir / "config.yaml", "ks_barcelona-layout_gp")
    monza = load_original(reference_tracks_dir / "config.yaml", "monza")
    assert (barcelona.name, barcelona.configuration) == ("ks_barcelona", "layout_gp")
    assert (monza.name, monza.configuration) == ("monza", "")


def test_original_reference_line_is_the_racing_line_file(reference_tracks_dir: Path) -> None:
    track = load_original(reference_tracks_dir / "config.yaml", "monza")
    first_row = (reference_tracks_dir / "monza-racing_line.csv").read_text().splitlines()[1]
    assert track.line_m[0] == pytest.approx([float(v) for v in first_row.split(",")[:2]])


def test_load_track_accepts_config_path_colon_key(reference_tracks_dir: Path) -> None:
    track = load_track(f"{reference_tracks_dir / 'config.yaml'}:monza")
    assert track.name == "monza"


def test_unknown_config_key_error_lists_the_keys(reference_tracks_dir: Path) -> None:
    with pytest.raises(TrackFileError, match="ks_barcelona-layout_gp"):
        load_original(reference_tracks_dir / "config.yaml", "nurburgring")


def test_missing_file_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(TrackFileError, match=r"nowhere.csv: no such file"):
        load_original_csv(missing)


def test_config_naming_a_missing_track_file_says_which_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("demo:\n  track_name: demo\n  track_file: demo.csv\n")
    with pytest.raises(TrackFileError, match=r"demo\.csv: no such file \(track_file of 'demo'"):
        load_original(config, "demo")


def test_missing_column_error_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    path.write_text("left_border_x,left_border_y,right_border_x,right_border_y,pos_x\n1,2,3,4,5\n")
    with pytest.raises(TrackFileError, match=r"line 1: missing column.*pos_y"):
        load_original_csv(path)


def test_nan_value_error_names_line_and_column(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    path = tmp_path / "demo.csv"
    write_original_csv(path, left, right, line)
    rows = path.read_text().splitlines()
    fields = rows[5].split(",")
    fields[3] = "nan"
    rows[5] = ",".join(fields)
    path.write_text("\n".join(rows))
    with pytest.raises(TrackFileError, match=r"line 6, column 'right_border_y'.*not finite"):
        load_original_csv(path)


def test_text_value_error_names_line_and_column(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    write_original_csv(tmp_path / "track.csv", left, right, line)
    path = tmp_path / "demo-racing_line.csv"
    path.write_text("pos_x,pos_y\n1.0,2.0\n3.0,abc\n")
    with pytest.raises(TrackFileError, match="line 3, column 'pos_y': 'abc' is not a number"):
        load_original_csv(tmp_path / "track.csv", path)


def test_too_few_points_is_refused(tmp_path: Path) -> None:
    left, right, line = oval_arrays(num_points=5)
    path = tmp_path / "tiny.csv"
    write_original_csv(path, left, right, line)
    with pytest.raises(TrackFileError, match=r"tiny.csv.*at least 8 points"):
        load_original_csv(path)


def test_open_loop_is_refused(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    path = tmp_path / "open.csv"
    write_original_csv(path, left[:-30], right[:-30], line[:-30])
    with pytest.raises(TrackFileError, match=r"open\.csv.*not a closed loop"):
        load_original_csv(path)


def test_self_intersecting_border_is_refused(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    left[50] = right[50] + 2.0 * (right[50] - line[50])  # fold the left border across
    path = tmp_path / "folded.csv"
    write_original_csv(path, left, right, line)
    with pytest.raises(TrackFileError, match=r"folded\.csv.*cross"):
        load_original_csv(path)


def test_original_csv_round_trips_the_points(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    path = tmp_path / "demo.csv"
    write_original_csv(path, left, right, line)
    track = load_original_csv(path)
    assert track.name == "demo"
    np.testing.assert_allclose(track.left_m, left)
    np.testing.assert_allclose(track.line_m, line)


def test_load_track_finds_the_racing_line_beside_an_original_csv(tmp_path: Path) -> None:
    left, right, line = oval_arrays()
    write_original_csv(tmp_path / "demo.csv", left, right, line)
    shifted = line * 1.01
    (tmp_path / "demo-racing_line.csv").write_text(
        "pos_x,pos_y\n" + "\n".join(f"{x!r},{y!r}" for x, y in shifted.tolist())
    )
    np.testing.assert_allclose(load_track(tmp_path / "demo.csv").line_m, shifted)


# --- TUMFTM ---------------------------------------------------------------------------


def test_tumftm_widths_go_to_the_right_sides() -> None:
    track = load_tumftm(TUMFTM_FILE)
    centre = track.line_m
    normals = polyline.left_normals(polyline.vertex_tangents(centre))
    left_offset = np.sum((track.left_m - centre) * normals, axis=1)
    right_offset = np.sum((track.right_m - centre) * normals, axis=1)
    np.testing.assert_allclose(left_offset, 6.0, atol=1e-6)  # w_tr_left_m
    np.testing.assert_allclose(right_offset, -5.0, atol=1e-6)  # w_tr_right_m
    assert track.name == "tumftm_rounded_rectangle"


def test_tumftm_counter_clockwise_loop_has_its_left_border_inside() -> None:
    track = load_tumftm(TUMFTM_FILE)
    assert polyline.signed_area_m2(track.centre_m) > 0.0  # counter-clockwise
    assert abs(polyline.signed_area_m2(track.left_m)) < abs(polyline.signed_area_m2(track.right_m))


def test_load_track_recognises_a_tumftm_file_by_its_header() -> None:
    assert load_track(TUMFTM_FILE).section_width_m == pytest.approx(11.0)


def test_tumftm_centre_line_without_widths_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "centreline.csv"
    path.write_text("# x_m,y_m\n0,0\n1,0\n")
    with pytest.raises(TrackFileError, match=r"missing column.*w_tr_right_m"):
        load_tumftm(path)


def test_tumftm_negative_width_is_refused(tmp_path: Path) -> None:
    rows = TUMFTM_FILE.read_text().splitlines()
    rows[10] = rows[10].rsplit(",", 1)[0] + ",-1.0"
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows))
    with pytest.raises(TrackFileError, match="data row 10, column 'w_tr_left_m'"):
        load_tumftm(path)


def test_tumftm_line_file_becomes_the_reference_line(tmp_path: Path) -> None:
    centre = load_tumftm(TUMFTM_FILE)
    line_m = centre.centre_m + 2.0 * polyline.left_normals(
        polyline.vertex_tangents(centre.centre_m)
    )
    path = tmp_path / "line.csv"
    save_tumftm_line(line_m, path)
    assert path.read_text().splitlines()[:2] == [
        "# x_m,y_m",
        f"{line_m[0, 0]:.4f},{line_m[0, 1]:.4f}",
    ]
    track = load_tumftm(TUMFTM_FILE, path, name="with_line")
    np.testing.assert_allclose(track.line_m, line_m, atol=1e-4)
    np.testing.assert_array_equal(track.left_m, centre.left_m)
    np.testing.assert_array_equal(track.right_m, centre.right_m)
    assert track.name == "with_line"


def test_tumftm_line_file_without_its_columns_is_refused_naming_both_files(
    tmp_path: Path,
) -> None:
    path = tmp_path / "line.csv"
    path.write_text("pos_x,pos_y\n0,0\n1,0\n")
    with pytest.raises(TrackFileError, match=r"TUMFTM line CSV .*line\.csv.*missing column"):
        load_tumftm(TUMFTM_FILE, path)


def test_tumftm_line_off_the_track_is_refused_naming_both_files(tmp_path: Path) -> None:
    centre = load_tumftm(TUMFTM_FILE)
    path = tmp_path / "far.csv"
    save_tumftm_line(centre.centre_m + 1000.0, path)
    with pytest.raises(TrackFileError, match=r"tumftm_rounded_rectangle\.csv \+ .*far\.csv"):
        load_tumftm(TUMFTM_FILE, path)


# --- fast_lane.ai ---------------------------------------------------------------------


@pytest.fixture
def oval_track() -> Track:
    left, right, line = oval_arrays(num_points=400, half_width_m=6.0)
    right = line - 4.0 / 6.0 * (left - line)  # asymmetric: 6 m left, 4 m right
    return Track.from_arrays("demo_oval", left, right, line)


def test_fast_lane_round_trip_keeps_line_and_borders(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "fast_lane.ai"
    save_fast_lane(oval_track, path)
    loaded = load_fast_lane(path, name="demo_oval")
    np.testing.assert_allclose(loaded.line_m, oval_track.line_m, atol=1e-4)
    np.testing.assert_allclose(loaded.left_m, oval_track.left_m, atol=0.01)
    np.testing.assert_allclose(loaded.right_m, oval_track.right_m, atol=0.01)


def test_fast_lane_maps_game_axes_to_the_telemetry_plane(tmp_path: Path) -> None:
    angle = np.linspace(0.0, 2.0 * math.pi, 64, endpoint=False)
    ac_x, ac_z = 50.0 * np.cos(angle), 80.0 * np.sin(angle)
    position = np.stack((ac_x, np.full_like(ac_x, 3.0), ac_z), axis=1)
    path = tmp_path / "fast_lane.ai"
    write_fast_lane(path, position, np.full(64, 2.0), np.full(64, 3.0), lap_time_ms=61_234)
    lane = read_fast_lane(path)
    assert lane.lap_time_ms == 61_234
    np.testing.assert_allclose(lane.plane_m[:, 0], ac_z, atol=1e-4)  # world_position_x = AC z
    np.testing.assert_allclose(lane.plane_m[:, 1], ac_x, atol=1e-4)  # world_position_y = AC x
    np.testing.assert_allclose(lane.field("side_left"), 2.0)
    track = load_fast_lane(path)
    np.testing.assert_allclose(track.section_width_m, 5.0, atol=1e-4)


def test_fast_lane_left_border_is_on_the_drivers_left(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "fast_lane.ai"
    save_fast_lane(oval_track, path)
    assert left_is_counter_clockwise_of_travel(load_fast_lane(path))


def test_fast_lane_names_come_from_the_game_folder(tmp_path: Path, oval_track: Track) -> None:
    ai_dir = tmp_path / "content" / "tracks" / "ks_demo" / "layout_short" / "ai"
    save_fast_lane(oval_track, ai_dir / "fast_lane.ai")
    track = load_track(ai_dir.parent)
    assert (track.name, track.configuration) == ("ks_demo", "layout_short")


def test_fast_lane_of_another_version_is_refused(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "fast_lane.ai"
    save_fast_lane(oval_track, path)
    data = bytearray(path.read_bytes())
    data[0:4] = struct.pack("<i", -1)
    path.write_bytes(bytes(data))
    with pytest.raises(TrackFileError, match="version -1"):
        read_fast_lane(path)


def test_truncated_fast_lane_is_refused(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "fast_lane.ai"
    save_fast_lane(oval_track, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(TrackFileError, match="truncated"):
        read_fast_lane(path)
    path.write_bytes(b"\x07\x00")
    with pytest.raises(TrackFileError, match="shorter than the 16-byte header"):
        read_fast_lane(path)


def test_fast_lane_with_mismatched_extra_count_is_refused(
    tmp_path: Path, oval_track: Track
) -> None:
    path = tmp_path / "fast_lane.ai"
    save_fast_lane(oval_track, path)
    data = bytearray(path.read_bytes())
    offset = 16 + 20 * len(oval_track.line_m)
    data[offset : offset + 4] = struct.pack("<i", 3)
    path.write_bytes(bytes(data))
    with pytest.raises(TrackFileError, match="3 records for 400 points"):
        read_fast_lane(path)


# --- native ---------------------------------------------------------------------------


def test_native_file_round_trips_a_track(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "demo.track.json"
    save_native(oval_track, path, description="a test oval", metadata={"lap_time_s": 61.5})
    native = read_native(path)
    assert native.track.name == "demo_oval"
    assert native.description == "a test oval"
    assert native.metadata == {"lap_time_s": 61.5}
    for key in ("left_m", "right_m", "line_m"):
        np.testing.assert_allclose(getattr(native.track, key), getattr(oval_track, key), atol=1e-4)


def test_native_save_is_idempotent(tmp_path: Path, oval_track: Track) -> None:
    first, second = tmp_path / "a.track.json", tmp_path / "b.track.json"
    save_native(oval_track, first)
    save_native(load_native(first), second)
    assert first.read_text() == second.read_text()


def test_native_file_is_plain_json_with_a_version(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "demo.track.json"
    save_native(oval_track, path)
    document = json.loads(path.read_text())
    assert (document["format"], document["format_version"]) == ("acgym-track", 1)
    assert len(document["left_m"]) == len(oval_track.left_m)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "format_version 2 is not supported"),
        ({"format": "something"}, "is this an acgym track file"),
        ({"colour": "red"}, "unknown key.*colour"),
    ],
)
def test_native_file_with_wrong_header_is_refused(
    tmp_path: Path, oval_track: Track, change: dict[str, object], message: str
) -> None:
    path = tmp_path / "demo.track.json"
    save_native(oval_track, path)
    document = json.loads(path.read_text())
    document.update(change)
    path.write_text(json.dumps(document))
    with pytest.raises(TrackFileError, match=message):
        load_native(path)


def test_native_file_with_nan_point_is_refused(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "demo.track.json"
    save_native(oval_track, path)
    text = path.read_text()
    first_point = text.index("[", text.index('"right_m"') + 12)
    path.write_text(text[:first_point] + "[NaN, 0.0], " + text[first_point:])
    with pytest.raises(TrackFileError, match="NaN is not allowed"):
        load_native(path)


def test_native_file_with_missing_key_is_refused(tmp_path: Path, oval_track: Track) -> None:
    path = tmp_path / "demo.track.json"
    save_native(oval_track, path)
    document = json.loads(path.read_text())
    del document["right_m"]
    path.write_text(json.dumps(document))
    with pytest.raises(TrackFileError, match=r"missing key.*right_m"):
        load_native(path)


# --- load_track -----------------------------------------------------------------------


def test_load_track_reads_native_and_fast_lane_paths(tmp_path: Path, oval_track: Track) -> None:
    save_native(oval_track, tmp_path / "demo.track.json")
    save_fast_lane(oval_track, tmp_path / "demo.ai")
    assert load_track(tmp_path / "demo.track.json").name == "demo_oval"
    assert load_track(tmp_path / "demo.ai").name == "demo"


# --- bad files in the other formats ----------------------------------------------------


def test_tumftm_nan_value_is_refused_naming_row_and_column(tmp_path: Path) -> None:
    rows = TUMFTM_FILE.read_text().splitlines()
    fields = rows[12].split(",")
    fields[0] = "nan"
    rows[12] = ",".join(fields)
    path = tmp_path / "nan.csv"
    path.write_text("\n".join(rows))
    with pytest.raises(
        TrackFileError, match=r"nan\.csv, line \d+, column 'x_m': value 'nan' is not finite"
    ):
        load_tumftm(path)


def test_tumftm_figure_eight_loads_with_its_crossing_at_the_start(tmp_path: Path) -> None:
    """A figure-eight centre line (x = 200 sin t, y = 100 sin 2t) crosses itself at the
    origin, at t = 0 (the start, s = 0) and t = pi (s = L / 2 by symmetry): a bridge, not
    a fold."""
    t = np.linspace(0.0, 2.0 * math.pi, 240, endpoint=False)
    x, y = 200.0 * np.sin(t), 100.0 * np.sin(2.0 * t)
    path = tmp_path / "eight.csv"
    path.write_text(
        "# x_m,y_m,w_tr_right_m,w_tr_left_m\n"
        + "\n".join(f"{a:.6f},{b:.6f},5.0,5.0" for a, b in zip(x, y, strict=True))
    )
    track = load_tumftm(path)
    (crossing,) = track.crossings
    np.testing.assert_allclose(crossing.xy_m, [0.0, 0.0], atol=0.05)
    length_m = track.length_m
    for expected_m in (0.0, 0.5 * length_m):  # cyclic: s = 0 may come out just below L
        off_m = np.abs((crossing.s_m - expected_m + 0.5 * length_m) % length_m - 0.5 * length_m)
        assert off_m.min() < 0.05
    start, end = crossing.s_ranges_m[
        int(np.argmin(np.minimum(crossing.s_m, length_m - crossing.s_m)))
    ]
    assert end < start  # the zone of the branch at s = 0 spans the start/finish line


def _fast_lane_arrays(num: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    angle = np.linspace(0.0, 2.0 * math.pi, num, endpoint=False)
    position = np.stack(
        (120.0 * np.cos(angle), np.zeros(num), 80.0 * np.sin(angle)), axis=1
    )  # AC (x, y, z)
    return position, np.full(num, 5.0), np.full(num, 5.0)


@pytest.mark.parametrize("field", ["position", "side_left"])
def test_fast_lane_with_a_nan_is_refused_naming_the_point(tmp_path: Path, field: str) -> None:
    position, left, right = _fast_lane_arrays()
    if field == "position":
        position[17, 2] = np.nan
    else:
        left[17] = np.nan
    path = tmp_path / "fast_lane.ai"
    write_fast_lane(path, position, left, right)
    with pytest.raises(TrackFileError, match=r"fast_lane\.ai.*(point|record) 17"):
        load_fast_lane(path)


def test_fast_lane_with_a_negative_side_is_refused(tmp_path: Path) -> None:
    position, left, right = _fast_lane_arrays()
    right[40] = -2.0
    path = tmp_path / "fast_lane.ai"
    write_fast_lane(path, position, left, right)
    with pytest.raises(TrackFileError, match=r"fast_lane\.ai, point 40: side_right = -2.0 m"):
        load_fast_lane(path)


def test_fast_lane_whose_borders_cross_is_refused(tmp_path: Path) -> None:
    position, left, right = _fast_lane_arrays()
    right[30:34] = 150.0  # the inner (right: the loop runs clockwise) border thrown across
    path = tmp_path / "fast_lane.ai"
    write_fast_lane(path, position, left, right)
    with pytest.raises(TrackFileError, match=r"fast_lane\.ai.*cross"):
        load_fast_lane(path)

"""``acgym track list|show|import|raceline``, run in-process."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from acgym.cli import main
from acgym.errors import CarFileError
from acgym.track.builtin import (
    DEFAULT_TRACK,
    DEFAULT_TRAINING_TRACK,
    builtin_info,
    list_builtin_tracks,
    load_builtin,
)
from acgym.track.generator import generate_track
from acgym.track.loaders import load_native, load_tumftm, read_native, save_fast_lane, save_native

TUMFTM_FILE = Path(__file__).parent / "data" / "tumftm_rounded_rectangle.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file, from its IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_list_prints_every_builtin_track_with_source_licence_length_and_width(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["track", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:5] == ["track", "source", "licence", "length_m", "width_m"]
    assert len(rows) == len(list_builtin_tracks())
    for name, row in zip(list_builtin_tracks(), rows, strict=True):
        track, info = load_builtin(name), builtin_info(name)
        marks = {DEFAULT_TRACK: " (default)", DEFAULT_TRAINING_TRACK: " (training default)"}
        assert row.startswith(f"{name}{marks.get(name, '')} ")
        assert f" {info.source} " in row and f" {info.licence} " in row
        assert f" {track.length_m:.0f} " in row
        width_m = track.section_width_m
        assert f" {width_m.min():.1f}/{np.median(width_m):.1f} " in row
        assert row.endswith(info.description)
    sources = {re.split(r"\s{2,}", row)[1] for row in rows}
    assert sources == {"acgym", "TUMFTM racetrack-database"}


def test_track_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["track"]) == 2
    assert "raceline" in capsys.readouterr().out


def test_show_writes_a_png_map_coloured_by_curvature(tmp_path: Path) -> None:
    out = tmp_path / "maps" / "technical.png"
    assert (
        main(["track", "show", "technical_circuit", "--color", "curvature", "--out", str(out)]) == 0
    )
    width, height = png_size(out)
    assert 600 < width < 3000 and 400 < height < 3000
    assert out.stat().st_size > 20_000


def test_show_colours_by_speed_with_a_car(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "oval.png"
    assert main(["track", "show", "oval", "--car", "dallara_f317", "--out", str(out)]) == 0
    png_size(out)
    assert "wrote" in capsys.readouterr().out


def test_show_falls_back_to_curvature_without_car_presets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_presets(car: str) -> None:
        raise CarFileError("car presets are not available")

    monkeypatch.setattr("acgym.commands.track._vehicle_limits", no_presets)
    out = tmp_path / "oval.png"
    assert main(["track", "show", "oval", "--out", str(out)]) == 0
    png_size(out)
    assert "colouring by curvature" in capsys.readouterr().err


def test_show_with_an_unknown_car_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["track", "show", "oval", "--car", "no_such_car", "--out", str(tmp_path / "x.png")])
        == 1
    )
    assert "no_such_car" in capsys.readouterr().err


def test_show_of_an_unknown_track_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["track", "show", "atlantis", "--out", str(tmp_path / "x.png")]) == 1
    assert "no built-in track or file named 'atlantis'" in capsys.readouterr().err


def test_import_tumftm_writes_a_native_file_that_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "rect.track.json"
    assert main(["track", "import", str(TUMFTM_FILE), "--name", "rect", "--out", str(out)]) == 0
    native = read_native(out)
    source = load_tumftm(TUMFTM_FILE)
    assert native.track.name == "rect"
    assert native.reference_line == "centre line"
    assert native.metadata["source_format"] == "tumftm"
    np.testing.assert_allclose(native.track.left_m, source.left_m, atol=1e-4)
    np.testing.assert_allclose(native.track.line_m, source.line_m, atol=1e-4)


def test_import_fast_lane_keeps_the_ai_line(tmp_path: Path) -> None:
    source = generate_track(5, length_m=1500.0)
    save_fast_lane(source, tmp_path / "fast_lane.ai")
    out = tmp_path / "game.track.json"
    assert (
        main(
            [
                "track",
                "import",
                str(tmp_path / "fast_lane.ai"),
                "--format",
                "fast_lane",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    imported = load_native(out)
    np.testing.assert_allclose(imported.line_m, source.line_m, atol=1e-3)
    np.testing.assert_allclose(imported.section_width_m, 12.0, atol=0.02)


def test_import_of_a_builtin_keeps_its_description(tmp_path: Path) -> None:
    out = tmp_path / "copy.track.json"
    assert main(["track", "import", "oval", "--out", str(out)]) == 0
    native = read_native(out)
    assert native.description.startswith("2.5 km oval")
    np.testing.assert_allclose(native.track.left_m, load_builtin("oval").left_m)


def test_import_of_a_circuit_keeps_its_source_licence_and_racing_line(tmp_path: Path) -> None:
    out = tmp_path / "monza.track.json"
    assert main(["track", "import", "Monza", "--out", str(out)]) == 0
    native = read_native(out)
    assert native.description == "Monza, Italy (F1)"
    assert native.reference_line.startswith("minimum-curvature racing line")
    assert native.metadata["data_source"] == "TUMFTM racetrack-database"
    assert native.metadata["source"] == "Monza"
    assert native.metadata["licence"] == "LGPL-3.0"
    assert native.metadata["source_format"] == "builtin"
    np.testing.assert_allclose(native.track.line_m, load_builtin("Monza").line_m, atol=1e-4)


def test_show_draws_a_circuit_by_its_name(tmp_path: Path) -> None:
    out = tmp_path / "spielberg.png"
    assert main(["track", "show", "Spielberg", "--color", "curvature", "--out", str(out)]) == 0
    width, height = png_size(out)
    assert 600 < width < 3000 and 400 < height < 3000


def test_raceline_writes_the_track_with_the_new_line_and_prints_the_lap_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "small.track.json"
    save_native(generate_track(11, length_m=600.0, width_m=12.0, name="small"), small)
    out = tmp_path / "small-raceline.track.json"
    args = ["track", "raceline", str(small), "--car", "dallara_f317", "--margin-m", "1.5"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lap-time estimate" in printed
    native = read_native(out)
    assert native.reference_line.startswith("minimum-curvature racing line")
    lap_time_s = native.metadata["lap_time_estimate_s"]
    assert f"{lap_time_s:.2f} s" in printed
    assert lap_time_s <= native.metadata["reference_line_before_lap_time_estimate_s"]
    original = load_native(small)
    np.testing.assert_allclose(native.track.left_m, original.left_m, atol=1e-4)
    off_centre_m, _ = cKDTree(original.line_m).query(native.track.line_m)
    assert off_centre_m.max() > 1.0  # the line leaves the centre line to cut corners

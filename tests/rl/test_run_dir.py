"""A new run's folder is named after the track's own name, however the config names it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from acgym.config import load_config
from acgym.errors import TrackFileError
from acgym.rl.run import new_run_dir
from acgym.track.builtin import load_builtin
from acgym.track.loaders import save_native

NOW = datetime(2024, 5, 6, 7, 8, 9)


def run_name(tmp_path: Path, track: str, car: str = "dallara_f317") -> str:
    config = load_config(
        None, [f"env.track={track}", f"env.car={car}", f"train.runs_root={tmp_path}"]
    )
    run_dir = new_run_dir(config, NOW)
    assert run_dir.parent == tmp_path
    return run_dir.name


def write_original_config(folder: Path) -> Path:
    """An original-format config.yaml of one track with a layout, and its two CSVs."""
    track = load_builtin("oval")
    columns = np.hstack((track.left_m, track.right_m, track.centre_m))
    header = "left_border_x,left_border_y,right_border_x,right_border_y,pos_x,pos_y"
    np.savetxt(folder / "ks_demo-layout_gp.csv", columns, delimiter=",", header=header, comments="")
    np.savetxt(
        folder / "ks_demo-layout_gp-racing_line.csv",
        track.line_m,
        delimiter=",",
        header="pos_x,pos_y",
        comments="",
    )
    config = folder / "config.yaml"
    config.write_text(
        "ks_demo-layout_gp:\n"
        "  track_name: ks_demo\n"
        "  track_configuration: layout_gp\n"
        "  track_file: ks_demo-layout_gp.csv\n"
        "  ref_lap_file: ks_demo-layout_gp-racing_line.csv\n"
    )
    return config


def test_run_of_a_builtin_circuit_is_named_after_it(tmp_path: Path) -> None:
    assert run_name(tmp_path, "Monza") == "20240506_070809_Monza_dallara_f317"


def test_run_of_an_original_config_key_is_named_track_layout(tmp_path: Path) -> None:
    config = write_original_config(tmp_path)
    name = run_name(tmp_path / "runs", f"{config}:ks_demo-layout_gp", "bmw_z4_gt3")
    assert name == "20240506_070809_ks_demo-layout_gp_bmw_z4_gt3"


def test_run_of_a_track_file_takes_the_name_inside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tracks" / "renamed file.track.json"
    save_native(load_builtin("technical_circuit"), path)
    name = run_name(tmp_path / "runs", str(path))
    assert name == "20240506_070809_technical_circuit_dallara_f317"


def test_run_name_is_not_taken_twice(tmp_path: Path) -> None:
    first = run_name(tmp_path, "oval")
    (tmp_path / first).mkdir()
    assert run_name(tmp_path, "oval") == f"{first}_2"


def test_run_of_a_track_that_does_not_load_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrackFileError, match="no built-in track or file named 'atlantis'"):
        run_name(tmp_path, "atlantis")

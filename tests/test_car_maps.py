"""Car maps: one reader of ``steer_map.csv`` / ``brake_map.csv`` for the simulator and the
environment; a folder one accepts the other accepts, with the same numbers and errors."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from reference_files import find_reference_dir

import acgym  # noqa: F401  (registers the ids)
from acgym.car_maps import CarMaps, read_brake_map, read_steer_map
from acgym.env.actions import controls_from_telemetry
from acgym.env.config import EnvConfig
from acgym.errors import CarFileError
from acgym.sim.car_params import CARS_DIR, list_cars, load_car

ORIGINAL_CARS = ("dallara_f317", "bmw_z4_gt3", "ks_mazda_miata")
"""The original project's sample car folders (maps only)."""

MULTI_ROW_STEER_MAP = (
    "action_steerAngle,steerAngle\n-0.6,-300\n-0.2,-60\n0.0,0.0\n0.2,60\n0.6,300\n"
)
"""Five mirrored rows, not a straight line: 300 deg/unit near the centre, 600 beyond."""

MULTI_POINT_BRAKE_MAP = "x_points,y_points\n-1.0,0.0\n-0.5,0.05\n0.0,0.2\n0.5,0.55\n1.0,1.0\n"

XY_HEADER_STEER_MAP = "x_points,y_points\n-0.5341796875,-240.0\n0.5341796875,240.0\n"


def _copy_of(preset: str, where: Path) -> Path:
    """A copy of a preset's folder (same name, so its ``car.yaml`` stays valid)."""
    folder = where / preset
    shutil.copytree(CARS_DIR / preset, folder)
    return folder


def _original_car(name: str, where: Path) -> Path:
    """The preset's ``car.yaml`` with the original project's sample maps."""
    reference = find_reference_dir() / "cars" / name
    folder = _copy_of(name, where)
    for file in ("steer_map.csv", "brake_map.csv"):
        shutil.copyfile(reference / file, folder / file)
    return folder


def _written_car(files: dict[str, str]) -> Callable[[Path], Path]:
    def make(where: Path) -> Path:
        folder = _copy_of("dallara_f317", where)
        for file, text in files.items():
            (folder / file).write_text(text)
        return folder

    return make


CAR_FOLDERS: dict[str, Callable[[Path], Path]] = {
    **{f"preset-{name}": (lambda where, n=name: CARS_DIR / n) for name in list_cars()},
    **{
        f"original-{name}": (lambda where, n=name: _original_car(n, where))
        for name in ORIGINAL_CARS
    },
    "multi-row-steer-map": _written_car({"steer_map.csv": MULTI_ROW_STEER_MAP}),
    "multi-point-brake-map": _written_car({"brake_map.csv": MULTI_POINT_BRAKE_MAP}),
    "x_points-steer-header": _written_car({"steer_map.csv": XY_HEADER_STEER_MAP}),
}
"""Car folders both sides must accept: every preset, the original's samples (with a
preset's car.yaml), and folders written here."""


@pytest.mark.parametrize("kind", list(CAR_FOLDERS))
def test_the_simulator_and_the_env_accept_a_car_folder_with_the_same_numbers(
    kind: str, tmp_path: Path
) -> None:
    folder = CAR_FOLDERS[kind](tmp_path)
    car = load_car(folder)
    config = EnvConfig(use_relative_actions=False)  # the action is the control
    env = gym.make("acgym/Race-v0", car=str(folder), config=config)
    try:
        base = env.unwrapped
        steer_map, brake_map = base.car.steer, base.car.brake
        assert car.steering.map == steer_map and car.brake_map == brake_map
        lock = steer_map.full_lock_steer
        assert base.action_mapper.high[0] == lock and base.action_mapper.low[0] == -lock
        env.reset(seed=0)
        applied = [(-lock, -1.0), (-0.1 * lock, -0.2), (0.45 * lock, 0.4), (lock, 1.0)]
        for steer, brake in applied:
            env.step(np.array([steer, -1.0, brake], dtype=np.float32))
        states = base.episode_states().iloc[1:]
        # what the simulator applied (its telemetry) is what the env's maps say
        expected = [(float(steer_map.to_deg(s)), float(brake_map.status(b))) for s, b in applied]
        got = list(zip(states["steerAngle"], states["brakeStatus"], strict=True))
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
        assert states["steerAngle"].iloc[-1] == pytest.approx(car.steering.map.full_lock_deg)
        # and the env's inverse gives back the controls (offline data)
        controls = controls_from_telemetry(
            states["steerAngle"], states["accStatus"], states["brakeStatus"], base.car
        )
        np.testing.assert_allclose(
            controls[:, [0, 2]], np.float32(applied).astype(np.float64), atol=1e-6
        )
    finally:
        env.close()


MALFORMED = {
    "unmirrored steer map": (
        "steer_map.csv",
        "action_steerAngle,steerAngle\n-0.5,-200\n0.5,240\n",
        "mirror each other",
    ),
    "nine-row steer map": (
        "steer_map.csv",
        "x_points,y_points\n" + "".join(f"{x},{300 * x}\n" for x in np.linspace(-1, 1, 9)),
        "expected 2 to 8 rows, got 9",
    ),
    "steer map with one row": ("steer_map.csv", "x_points,y_points\n1.0,300\n", "got 1"),
    "unknown steer header": ("steer_map.csv", "a,b\n-1,-300\n1,300\n", "header 'a,b'"),
    "brake map short of -1": (
        "brake_map.csv",
        "x_points,y_points\n0.0,0.0\n1.0,1.0\n",
        "must cover [-1, 1]",
    ),
    "flat brake map": (
        "brake_map.csv",
        "x_points,y_points\n-1,0\n0,0.5\n1,0.5\n",
        "the brake status (y_points) must increase strictly",
    ),
    "brake status above 1": (
        "brake_map.csv",
        "x_points,y_points\n-1,0\n1,1.5\n",
        "must lie in [0, 1]",
    ),
    "text in the brake map": (
        "brake_map.csv",
        "x_points,y_points\n-1,0\n1,full\n",
        "line 3: expected two numbers",
    ),
    "infinite value": ("steer_map.csv", "x_points,y_points\n-inf,-300\ninf,300\n", "finite"),
}


@pytest.mark.parametrize("fault", list(MALFORMED))
def test_a_malformed_map_is_refused_by_both_with_the_same_error(fault: str, tmp_path: Path) -> None:
    file, text, message = MALFORMED[fault]
    folder = _written_car({file: text})(tmp_path)
    with pytest.raises(CarFileError, match=re.escape(message)) as by_sim:
        load_car(folder)
    with pytest.raises(CarFileError) as by_env:
        gym.make("acgym/Race-v0", car=str(folder))
    with pytest.raises(CarFileError) as by_maps:
        CarMaps.from_folder(folder)
    assert str(by_sim.value) == str(by_env.value) == str(by_maps.value)
    assert str(by_sim.value).startswith(f"{folder / file}: ")


def test_a_missing_map_names_the_file_it_needs(tmp_path: Path) -> None:
    folder = _copy_of("dallara_f317", tmp_path)
    (folder / "brake_map.csv").unlink()
    with pytest.raises(CarFileError, match=r"brake_map\.csv: missing; every car folder needs"):
        load_car(folder)
    with pytest.raises(CarFileError, match=r"brake_map\.csv: missing; every car folder needs"):
        CarMaps.from_folder(folder)


def test_steer_maps_read_both_header_formats() -> None:
    reference = find_reference_dir() / "cars"
    dallara = read_steer_map(reference / "dallara_f317" / "steer_map.csv")  # action_steerAngle
    assert (dallara.full_lock_steer, dallara.full_lock_deg) == (0.5341796875, 240.0)
    miata = read_steer_map(reference / "ks_mazda_miata" / "steer_map.csv")  # x_points
    assert miata.full_lock_steer == 1.0
    assert miata.full_lock_deg == pytest.approx(302.3999938964844)


def test_a_multi_row_steer_map_is_linear_between_rows_and_clamped_at_the_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "steer_map.csv"
    path.write_text(MULTI_ROW_STEER_MAP)
    steer = read_steer_map(path)
    assert (steer.full_lock_steer, steer.full_lock_deg) == (0.6, 300.0)
    np.testing.assert_allclose(steer.to_deg([-0.1, 0.1, 0.4, 0.9]), [-30.0, 30.0, 180.0, 300.0])
    np.testing.assert_allclose(steer.to_steer([-30.0, 180.0, 400.0]), [-0.1, 0.4, 0.6])
    assert steer.deg_per_unit == pytest.approx(500.0)  # end to end: the rate limit's slope


def test_the_original_brake_map_reads_linearly_and_inverts_exactly() -> None:
    brake = read_brake_map(find_reference_dir() / "cars" / "dallara_f317" / "brake_map.csv")
    assert brake.status(-1.0) == 0.0 and brake.status(1.0) == 1.0
    assert brake.status(0.0) == pytest.approx(0.18946455419063568)
    # halfway between the points at 0.0 and 0.1
    assert brake.status(0.05) == pytest.approx(0.5 * (0.18946455419063568 + 0.2381608933210373))
    statuses = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(brake.status(brake.input(statuses)), statuses, atol=1e-12)


@pytest.mark.parametrize("name", ORIGINAL_CARS)
def test_the_presets_hold_the_original_maps(name: str) -> None:
    ours = CarMaps.from_folder(CARS_DIR / name)
    original = CarMaps.from_folder(find_reference_dir() / "cars" / name)
    assert ours.steer.full_lock_steer == pytest.approx(original.steer.full_lock_steer)
    assert ours.steer.full_lock_deg == pytest.approx(original.steer.full_lock_deg, rel=1e-6)
    statuses = np.linspace(0.0, 1.0, 11)
    # the presets' files are rounded to 6 digits
    np.testing.assert_allclose(
        ours.brake.input(statuses), original.brake.input(statuses), atol=1e-3
    )

"""Car presets: loading, sources, maps, errors, the speed-profile limits."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from acgym.errors import CarFileError
from acgym.sim import CarParams, World, WorldConfig, list_cars, load_car
from acgym.sim import layout as L
from acgym.sim.car_params import CARS_DIR, Differential, car_param_array
from acgym.sim.layout import NUM_PARAMS
from acgym.units import AIR_DENSITY_KGPM3, GRAVITY_MPS2, RPM_PER_RADPS


def test_the_three_original_presets_are_built_in() -> None:
    assert set(list_cars()) >= {"dallara_f317", "bmw_z4_gt3", "ks_mazda_miata"}


def _leaves(node: object, path: str = "") -> list[tuple[str, object]]:
    if isinstance(node, dict):
        if "value" in node:
            return [(path, node)]
        out = []
        for key, value in node.items():
            if path == "" and key in ("name", "description", "sources"):
                continue
            if key == "source":
                continue
            out += _leaves(value, f"{path}.{key}" if path else key)
        return out
    return [(path, node)]


def test_every_preset_parameter_names_its_source(car: CarParams) -> None:
    data = yaml.safe_load((Path(car.path) / "car.yaml").read_text())
    sources = data["sources"]
    for path, leaf in _leaves(data):
        if path.startswith("engine.torque_curve"):
            continue  # the curve as a whole has one source, checked below
        assert isinstance(leaf, dict) and str(leaf.get("source", "")).strip(), (
            f"{car.name}: {path} has no source"
        )
        for key in __import__("re").findall(r"\[(\w+)\]", leaf["source"]):
            assert key in sources, f"{car.name}: {path} cites unknown source [{key}]"
    assert data["engine"]["torque_curve"]["source"].strip()


def test_steer_maps_hold_the_original_locks() -> None:
    expected = {
        "dallara_f317": (0.5341796875, 240.0),
        "bmw_z4_gt3": (0.7119140625, 320.0),
        "ks_mazda_miata": (1.0, 302.4),
    }
    for name, (full_input, lock_deg) in expected.items():
        steer_map = load_car(name).steering.map
        assert steer_map.full_lock_steer == pytest.approx(full_input)
        assert steer_map.full_lock_deg == pytest.approx(lock_deg, abs=1e-3)
        assert steer_map.to_deg(1.0) == pytest.approx(lock_deg, abs=1e-3)  # clamped at the lock
        assert steer_map.to_deg(-0.5 * full_input) == pytest.approx(-0.5 * lock_deg, abs=1e-3)


def test_brake_map_is_the_documented_power_curve(car: CarParams) -> None:
    for x in np.linspace(-1.0, 1.0, 21):
        assert car.brake_map.status(x) == pytest.approx(((x + 1.0) / 2.0) ** 2.4, abs=1e-6)
    # the original project's sample maps read 0.18946 at input 0 (0.5 ** 2.4)
    assert car.brake_map.status(0.0) == pytest.approx(0.189465, abs=1e-6)
    for status in (0.0, 0.2, 0.7, 1.0):
        assert car.brake_map.status(car.brake_map.input(status)) == pytest.approx(status, abs=1e-9)


def test_the_kernels_get_every_row_of_the_maps(tmp_path: Path) -> None:
    folder = _broken_copy(tmp_path, lambda d: None)
    (folder / "steer_map.csv").write_text(
        "x_points,y_points\n-0.6,-300\n-0.2,-60\n0.2,60\n0.6,300\n"
    )
    car = load_car(folder)
    p = car_param_array(car)
    assert p[L.P_NUM_STEER_POINTS] == 4
    np.testing.assert_array_equal(
        p[L.P_STEER_MAP_IN : L.P_STEER_MAP_IN + 4], [-0.6, -0.2, 0.2, 0.6]
    )
    np.testing.assert_array_equal(
        p[L.P_STEER_MAP_DEG : L.P_STEER_MAP_DEG + 4], [-300.0, -60.0, 60.0, 300.0]
    )
    assert p[L.P_NUM_BRAKE_POINTS] == 21
    np.testing.assert_array_equal(
        p[L.P_BRAKE_MAP_OUT : L.P_BRAKE_MAP_OUT + 21], car.brake_map.status_points
    )
    world = World(car, 1)
    world.step(np.array([[0.4, -1.0, -1.0]]))
    assert world.steer_wheel_deg[0] == pytest.approx(180.0)  # between the rows 0.2 and 0.6


def test_vehicle_limits_come_from_the_tyre_peak_at_static_load(car: CarParams) -> None:
    limits = car.vehicle_limits(fitted=False)
    c = car.chassis
    front_n = c.mass_kg * GRAVITY_MPS2 * c.front_weight_fraction
    rear_n = c.mass_kg * GRAVITY_MPS2 - front_n

    def mu_at(tyre: object, load: float, mu0: float) -> float:
        return mu0 * (
            1.0 + tyre.load_sensitivity * (load - tyre.nominal_load_n) / tyre.nominal_load_n
        )

    mu_lat = (
        mu_at(car.front_tyre, front_n / 2, car.front_tyre.mu_y) * front_n
        + mu_at(car.rear_tyre, rear_n / 2, car.rear_tyre.mu_y) * rear_n
    ) / (front_n + rear_n)
    assert limits.mu_lat == pytest.approx(mu_lat, rel=1e-9)
    assert limits.mass_kg == c.mass_kg
    assert limits.drag_area_m2 == car.aero.drag_area_m2
    assert limits.downforce_area_m2 == car.aero.downforce_area_m2
    # the top speed: the limiter in top gear, or where the top gear's drive force meets
    # drag and rolling resistance first
    top_ratio = car.gearbox.ratios[-1] * car.gearbox.final_drive
    radius = car.rear_tyre.radius_m
    limiter_mps = car.engine.limiter_rpm / RPM_PER_RADPS / top_ratio * radius
    speed = limits.max_speed_mps
    rpm = speed / radius * top_ratio * RPM_PER_RADPS
    drive_n = car.engine.full_load_torque_nm(rpm) * top_ratio * car.gearbox.efficiency / radius
    down_n = 0.5 * AIR_DENSITY_KGPM3 * car.aero.downforce_area_m2 * speed**2
    front_load_n = front_n + car.aero.front_downforce_fraction * down_n
    rear_load_n = rear_n + (1.0 - car.aero.front_downforce_fraction) * down_n
    resist_n = (
        0.5 * AIR_DENSITY_KGPM3 * car.aero.drag_area_m2 * speed**2
        + car.front_tyre.rolling_resistance * front_load_n
        + car.rear_tyre.rolling_resistance * rear_load_n
    )
    assert speed <= limiter_mps
    assert speed == limiter_mps or drive_n == pytest.approx(resist_n, rel=1e-6)
    # the rotating parts in top gear: four wheels and the engine, sum I / r^2
    rotating_kg = (
        2.0 * car.front_tyre.wheel_inertia_kgm2 / car.front_tyre.radius_m**2
        + 2.0 * car.rear_tyre.wheel_inertia_kgm2 / radius**2
        + car.engine.inertia_kgm2 * top_ratio**2 / radius**2
    )
    assert limits.added_mass_kg == pytest.approx(rotating_kg, rel=1e-12)
    peak_power = max(
        t * r / RPM_PER_RADPS
        for r, t in zip(car.engine.torque_curve_rpm, car.engine.torque_curve_nm, strict=True)
    )
    assert limits.max_power_w == pytest.approx(peak_power * car.gearbox.efficiency, rel=0.02)
    assert limits.driven_load_fraction == pytest.approx(1.0 - c.front_weight_fraction)


def test_published_figures_are_in_the_presets() -> None:
    miata = load_car("ks_mazda_miata")
    # the game's ks_mazda_miata is the NA 1.6: 116 hp (86.5 kW) at 6500 rpm, five speeds
    assert miata.gearbox.ratios == (3.136, 1.888, 1.330, 1.0, 0.814)
    assert miata.gearbox.final_drive == 4.3
    power_w, rpm = miata.engine.peak_power_w()
    assert power_w == pytest.approx(86.5e3, rel=0.01) and rpm == pytest.approx(6500, abs=100)
    gt3_power_w, _ = load_car("bmw_z4_gt3").engine.peak_power_w()
    assert gt3_power_w == pytest.approx(379e3, rel=0.01)
    f3_power_w, _ = load_car("dallara_f317").engine.peak_power_w()
    assert f3_power_w == pytest.approx(179e3, rel=0.02)


def test_param_array_has_one_row_layout(car: CarParams) -> None:
    p = car_param_array(car)
    assert p.shape == (NUM_PARAMS,) and np.all(np.isfinite(p))


def test_a_user_adds_a_car_by_copying_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "my_car"
    shutil.copytree(CARS_DIR / "ks_mazda_miata", folder)
    text = (folder / "car.yaml").read_text().replace("name: ks_mazda_miata", "name: my_car")
    (folder / "car.yaml").write_text(text)
    car = load_car(folder)
    assert (
        car.name == "my_car" and car.chassis.mass_kg == load_car("ks_mazda_miata").chassis.mass_kg
    )
    assert load_car(folder / "car.yaml").name == "my_car"


def _broken_copy(tmp_path: Path, edit: object) -> Path:
    folder = tmp_path / "ks_mazda_miata"
    shutil.copytree(CARS_DIR / "ks_mazda_miata", folder)
    data = yaml.safe_load((folder / "car.yaml").read_text())
    edit(data)
    (folder / "car.yaml").write_text(yaml.safe_dump(data))
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["chassis"].pop("mass_kg"), "missing key(s) mass_kg"),
        (lambda d: d["chassis"].update(mass_lb=2500), "unknown key(s) mass_lb"),
        (lambda d: d["chassis"].update(mass_kg="heavy"), "chassis.mass_kg: expected a number"),
        (lambda d: d["chassis"].update(mass_kg=-1.0), "chassis.mass_kg must be > 0"),
        (lambda d: d["tyres"]["front"].update(shape_y=2.5), "Magic Formula C"),
        (lambda d: d["gearbox"].update(ratios=[1.0, 2.0]), "ratios must be > 0 and decrease"),
        (lambda d: d["brakes"].update(abs="yes"), "expected true or false"),
        (lambda d: d.update(name="other"), "differs from the folder name"),
    ],
)
def test_bad_car_files_say_what_is_wrong(tmp_path: Path, edit: object, message: str) -> None:
    folder = _broken_copy(tmp_path, edit)
    with pytest.raises(CarFileError, match=__import__("re").escape(message)):
        load_car(folder)


def test_missing_or_malformed_maps_are_reported(tmp_path: Path) -> None:
    """(Every fault of the maps, and the env's refusing the same: tests/test_car_maps.py.)"""
    folder = _broken_copy(tmp_path, lambda d: None)
    (folder / "steer_map.csv").unlink()
    with pytest.raises(CarFileError, match=r"steer_map\.csv: missing"):
        load_car(folder)
    (folder / "steer_map.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(CarFileError, match="header"):
        load_car(folder)
    (folder / "steer_map.csv").write_text("x_points,y_points\n-1.0,-300\n1.0,300\n")
    (folder / "brake_map.csv").write_text("x_points,y_points\n0.0,0.0\n1.0,1.0\n")
    with pytest.raises(CarFileError, match="cover"):
        load_car(folder)


def test_unknown_car_names_list_the_presets() -> None:
    with pytest.raises(CarFileError, match="dallara_f317"):
        load_car("no_such_car")


def test_static_axle_loads_sum_to_weight(car: CarParams) -> None:
    front, rear = car.static_axle_loads_n
    assert front + rear == pytest.approx(car.chassis.mass_kg * GRAVITY_MPS2)
    assert math.isclose(front / (front + rear), car.chassis.front_weight_fraction)


def test_fitted_vehicle_limits_follow_the_cars_cornering_limit(car: CarParams) -> None:
    """The speed profile's mu (g + k v^2) against the hand-calculated skid-pad limit
    (tests/sim/test_vehicle_performance.py, open differential) over the speed range."""
    from test_vehicle_performance import expected_max_lateral_mps2

    limits = car.vehicle_limits()
    k = 0.5 * limits.air_density_kgpm3 * limits.downforce_area_m2 / limits.mass_kg
    open_diff = dataclasses.replace(car, differential=Differential(preload_nm=0.0, power_lock=0.0))
    for v in np.linspace(15.0, 0.75 * car.top_gear_speed_mps(), 5):
        profile = limits.mu_lat * (GRAVITY_MPS2 + k * v * v)
        assert profile == pytest.approx(expected_max_lateral_mps2(open_diff, v), rel=0.05), (
            car.name,
            v,
        )


def full_throttle_times_s(car: CarParams, marks_mps: np.ndarray) -> np.ndarray:
    """Simulated time from 15 m/s to each speed at full throttle (automatic shifting), with
    a traction-limiting foot at the physics rate (as the 0-100 km/h test)."""
    world = World(car, 1, config=WorldConfig(control_hz=200.0, physics_hz=200.0))
    world.reset(speed_mps=15.0)
    gas, time_s, times = 1.0, 0.0, []
    target = car.rear_tyre.peak_slip_ratio
    while len(times) < len(marks_mps) and time_s < 60.0:
        world.step(np.array([[0.0, 2.0 * gas - 1.0, -1.0]]))
        time_s += 1.0 / 200.0
        slip = world.slip_ratio[0, 2:].max()
        gas = float(np.clip(gas + 0.1 * (target - slip) / target, 0.05, 1.0))
        if world.vx_mps[0] >= marks_mps[len(times)]:
            times.append(time_s)
    return np.array(times)


def test_the_gear_by_gear_run_and_the_fitted_profile_accelerate_like_the_simulated_car(
    car: CarParams,
) -> None:
    """Full throttle from 15 m/s to 80 % of the top speed: the times of
    CarParams.full_throttle_times_s (gears, shifts, rotating inertias) and of the speed
    profile's power model with the fitted added mass against the simulator's. Beyond the
    first marks the profile is within 8 % (without the added mass it was 14 % to 20 %
    quick; the widest gaps, the MX-5's five-speed road box, leave the constant-power
    model up to 8 % quick in the middle gears); at the first mark, low in the gears, the
    constant added mass and the profile's static traction model are up to 15 % off."""
    limits = car.vehicle_limits()
    marks = np.linspace(25.0, 0.8 * limits.max_speed_mps, 4)
    simulated = full_throttle_times_s(car, marks)
    speeds = np.linspace(15.0, marks[-1], 801)
    gear_model = np.interp(marks, speeds, car.full_throttle_times_s(speeds, limits))
    inverse = 1.0 / limits.acceleration_mps2(speeds)
    steps = 0.5 * (inverse[1:] + inverse[:-1]) * np.diff(speeds)
    profile = np.interp(marks, speeds, np.concatenate(([0.0], np.cumsum(steps))))
    np.testing.assert_allclose(gear_model, simulated, rtol=0.1, err_msg=car.name)
    np.testing.assert_allclose(gear_model[-1], simulated[-1], rtol=0.03, err_msg=car.name)
    np.testing.assert_allclose(profile[0], simulated[0], rtol=0.15, err_msg=car.name)
    np.testing.assert_allclose(profile[1:], simulated[1:], rtol=0.08, err_msg=car.name)

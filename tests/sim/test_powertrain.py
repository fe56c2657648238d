"""Engine, gearbox and shifting: rpm follows the wheels, shifts up and down, limiter."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.sim import CarParams, World, WorldConfig
from acgym.sim.car_params import car_param_array
from acgym.sim.powertrain import engine_torque_nm, full_load_torque_nm
from acgym.units import RPM_PER_RADPS

FULL_THROTTLE = np.array([[0.0, 1.0, -1.0]])
COAST = np.array([[0.0, -1.0, -1.0]])
HARD_BRAKE = np.array([[0.0, -1.0, 0.6]])
MANUAL = np.array([[1.0, 0.0, 0.0]])
MANUAL_UP = np.array([[1.0, 1.0, 0.0]])
MANUAL_DOWN = np.array([[1.0, 0.0, 1.0]])


def test_engine_torque_follows_the_curve_limiter_and_engine_braking(car: CarParams) -> None:
    p = car_param_array(car)
    e = car.engine
    for rpm in np.linspace(e.torque_curve_rpm[0], e.limiter_rpm - e.limiter_band_rpm, 17):
        assert full_load_torque_nm(p, rpm) == pytest.approx(
            np.interp(rpm, e.torque_curve_rpm, e.torque_curve_nm)
        )
    assert full_load_torque_nm(p, e.limiter_rpm) == 0.0
    assert full_load_torque_nm(p, e.limiter_rpm + 500.0) == 0.0
    half_band = e.limiter_rpm - 0.5 * e.limiter_band_rpm
    assert full_load_torque_nm(p, half_band) == pytest.approx(
        0.5 * np.interp(half_band, e.torque_curve_rpm, e.torque_curve_nm)
    )
    assert engine_torque_nm(p, 5000.0, 0.0) == pytest.approx(
        -e.engine_brake_torque_nm * 5000.0 / e.limiter_rpm
    )
    assert engine_torque_nm(p, 5000.0, 0.5) == pytest.approx(
        0.5 * full_load_torque_nm(p, 5000.0)
        - 0.5 * e.engine_brake_torque_nm * 5000.0 / e.limiter_rpm
    )


def test_engine_speed_is_wheel_speed_times_overall_ratio_in_every_gear(car: CarParams) -> None:
    world = World(car, 1, config=WorldConfig(auto_shift=False))
    for gear, ratio in enumerate(car.gearbox.ratios, start=2):  # AC encoding
        overall = ratio * car.gearbox.final_drive
        speed = 0.6 * car.engine.limiter_rpm / RPM_PER_RADPS / overall * car.rear_tyre.radius_m
        world.reset(speed_mps=speed, gear=gear)
        for _ in range(10):
            world.step(np.array([[0.0, 0.0, -1.0]]))
        axle = world.wheel_speed_radps[0, 2:].mean()
        assert world.gear[0] == gear
        assert world.rpm[0] == pytest.approx(axle * overall * RPM_PER_RADPS, rel=1e-3)


def test_automatic_shifter_goes_up_through_the_gears_at_the_upshift_speed(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=5.0)
    gears = [int(world.gear[0])]
    for _ in range(25 * 60):
        road_rpm_before = (
            world.vx_mps[0] / car.rear_tyre.radius_m * car.gearbox.final_drive * RPM_PER_RADPS
        )
        world.step(FULL_THROTTLE)
        if world.gear[0] != gears[-1]:
            assert world.gear[0] == gears[-1] + 1  # one gear at a time, never down under power
            ratio = car.gearbox.ratios[gears[-1] - 2]
            assert road_rpm_before * ratio <= car.gearbox.upshift_rpm * 1.001
            gears.append(int(world.gear[0]))
    assert gears[-1] >= len(car.gearbox.ratios)  # reached at least the second-highest gear


def test_automatic_shifter_goes_down_when_braking(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=0.9 * car.top_gear_speed_mps() * 0.8, gear=len(car.gearbox.ratios) + 1)
    top = world.gear[0]
    for _ in range(25 * 8):
        world.step(HARD_BRAKE)
    assert world.gear[0] < top
    assert world.gear[0] >= 2  # the automatic shifter never selects neutral or reverse


def test_manual_shifting_moves_one_gear_per_request_and_disables_the_automatic(
    car: CarParams,
) -> None:
    world = World(car, 1)
    world.reset(speed_mps=15.0, gear=3)
    world.step(FULL_THROTTLE, MANUAL_UP)
    assert world.gear[0] == 4
    for _ in range(10):
        world.step(FULL_THROTTLE, MANUAL)
    assert world.gear[0] == 4
    world.step(COAST, MANUAL_DOWN)
    assert world.gear[0] == 3


def test_rev_limiter_holds_the_engine_in_a_held_gear(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=3.0, gear=2)
    rpms = []
    for _ in range(25 * 8):
        world.step(FULL_THROTTLE, MANUAL)
        rpms.append(world.rpm[0])
    assert world.gear[0] == 2
    assert max(rpms) <= car.engine.limiter_rpm * 1.02
    assert rpms[-1] > car.engine.limiter_rpm - 3 * car.engine.limiter_band_rpm
    limit_speed = (
        car.engine.limiter_rpm
        / RPM_PER_RADPS
        / (car.gearbox.ratios[0] * car.gearbox.final_drive)
        * car.rear_tyre.radius_m
    )
    assert world.vx_mps[0] < limit_speed * 1.001


def test_a_downshift_that_would_over_rev_is_refused(car: CarParams) -> None:
    world = World(car, 1)
    top = len(car.gearbox.ratios) + 1
    world.reset(speed_mps=0.95 * car.top_gear_speed_mps(), gear=top)
    world.step(COAST, MANUAL_DOWN)
    world.step(COAST, MANUAL_DOWN)
    second_highest_limit = (
        car.engine.limiter_rpm
        / RPM_PER_RADPS
        / (car.gearbox.ratios[-2] * car.gearbox.final_drive)
        * car.rear_tyre.radius_m
    )
    assert 0.95 * car.top_gear_speed_mps() > second_highest_limit  # the request would over-rev
    assert world.gear[0] == top


def test_reverse_from_rest_drives_backwards(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(gear=1)  # neutral
    world.step(COAST, MANUAL_DOWN)
    assert world.gear[0] == 0  # AC encoding: reverse
    for _ in range(25 * 3):
        world.step(np.array([[0.0, 0.0, -1.0]]), MANUAL)
    assert world.vx_mps[0] < -1.0
    assert world.gear[0] == 0 and world.rpm[0] > car.engine.idle_rpm
    # the automatic shifter leaves reverse alone
    world.step(np.array([[0.0, 0.0, -1.0]]))
    assert world.gear[0] == 0


def test_reverse_is_refused_while_rolling_forward(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=10.0, gear=1)
    world.step(COAST, MANUAL_DOWN)
    assert world.gear[0] == 1

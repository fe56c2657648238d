"""Normal loads: static distribution, downforce, longitudinal and lateral transfer."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.sim import CarParams, World
from acgym.sim.car_params import car_param_array
from acgym.sim.dynamics import normal_loads

G = 9.80665
RHO = 1.225


def _loads(car: CarParams, v: float = 0.0, ax: float = 0.0, ay: float = 0.0) -> np.ndarray:
    out = np.empty(4)
    normal_loads(car_param_array(car), v, ax, ay, out)
    return out


def test_static_loads_sum_to_weight_with_the_files_distribution(car: CarParams) -> None:
    fz = _loads(car)
    m = car.chassis.mass_kg
    assert fz.sum() == pytest.approx(m * G, rel=1e-12)
    assert fz[:2].sum() == pytest.approx(m * G * car.chassis.front_weight_fraction, rel=1e-12)
    assert fz[0] == pytest.approx(fz[1]) and fz[2] == pytest.approx(fz[3])


def test_longitudinal_transfer_under_braking_is_m_a_h_over_l(car: CarParams) -> None:
    a = -8.0  # braking at 8 m/s^2
    static = _loads(car)
    braking = _loads(car, ax=a)
    c = car.chassis
    transfer = c.mass_kg * -a * c.cog_height_m / c.wheelbase_m
    assert braking[:2].sum() - static[:2].sum() == pytest.approx(transfer, rel=1e-12)
    assert static[2:].sum() - braking[2:].sum() == pytest.approx(transfer, rel=1e-12)
    assert braking.sum() == pytest.approx(static.sum(), rel=1e-12)


def test_lateral_transfer_loads_the_outside_wheels_by_m_ay_h(car: CarParams) -> None:
    ay = 9.0  # turning left: the right wheels are outside
    static = _loads(car)
    turning = _loads(car, ay=ay)
    c = car.chassis
    moment = (turning[1] - turning[0]) * 0.5 * c.track_front_m + (
        turning[3] - turning[2]
    ) * 0.5 * c.track_rear_m
    assert moment == pytest.approx(c.mass_kg * ay * c.cog_height_m, rel=1e-12)
    front_share = (turning[1] - static[1]) * c.track_front_m / (c.mass_kg * ay * c.cog_height_m)
    assert front_share == pytest.approx(c.front_roll_stiffness_fraction, rel=1e-12)
    assert turning.sum() == pytest.approx(static.sum(), rel=1e-12)


def test_downforce_adds_with_the_aero_balance(car: CarParams) -> None:
    v = 50.0
    extra = _loads(car, v=v) - _loads(car)
    down = 0.5 * RHO * car.aero.downforce_area_m2 * v * v
    assert extra.sum() == pytest.approx(down, rel=1e-9)
    assert extra[:2].sum() == pytest.approx(down * car.aero.front_downforce_fraction, rel=1e-9)


def test_a_lifted_wheel_carries_no_load(car: CarParams) -> None:
    fz = _loads(car, ay=60.0)
    assert fz[0] == 0.0 and fz[2] == 0.0


def test_world_loads_follow_the_deceleration_in_a_steady_stop(car: CarParams) -> None:
    world = World(car, 1)
    world.reset(speed_mps=20.0)
    assert world.normal_load_n[0] == pytest.approx(_loads(car), rel=1e-12)
    for _ in range(8):
        world.step(np.array([[0.0, -1.0, 0.0]]))
    ax = world.accel_mps2[0, 0]
    front_gain = world.normal_load_n[0, :2].sum() - _loads(car, v=world.vx_mps[0])[:2].sum()
    c = car.chassis
    # the transfer lags the deceleration by the suspension time constant: within 10%
    assert front_gain == pytest.approx(c.mass_kg * -ax * c.cog_height_m / c.wheelbase_m, rel=0.1)

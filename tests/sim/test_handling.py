"""Handling: understeer gradient, directional stability, compliance steer, ABS in a turn.

Steady states are measured at constant speed (a throttle loop holds it) with a constant
steer (SAE J266's constant-speed, variable-steer method): the steer angle beyond the
Ackermann angle ``L r / v`` over the lateral acceleration is the understeer gradient
``K`` (deg/g at the road wheels); ``K > 0`` is understeer. A car with ``K >= 0`` has no
critical speed (the linear bicycle model), so its yaw rate settles at any speed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from acgym.sim import CarParams, World, list_cars, load_car
from acgym.sim.car_params import car_param_array
from acgym.sim.layout import P_TYRE_REAR
from acgym.sim.tyres import combined_forces, magic_formula

G = 9.80665


def steer_input(car: CarParams, road_wheel_deg: float) -> float:
    """The steer input for a road-wheel angle (positive = left; AC's input is negative)."""
    wheel_deg = -road_wheel_deg * car.steering.ratio
    return float(car.steering.map.to_steer(wheel_deg))


def constant_steer_run(
    car: CarParams, speed_mps: float, road_wheel_deg: float, seconds: float = 8.0
) -> np.ndarray:
    """Yaw rate, lateral acceleration, speed and sideslip at each control step, ``(T, 4)``,
    with the speed held by a throttle loop; stops early when the car spins."""
    world = World(car, 1)
    world.reset(speed_mps=speed_mps)
    steer = steer_input(car, road_wheel_deg)
    gas = 0.5
    rows = []
    for _ in range(int(25 * seconds)):
        gas = float(np.clip(gas + 0.05 * (speed_mps - world.vx_mps[0]), 0.0, 1.0))
        world.step(np.array([[steer, 2.0 * gas - 1.0, -1.0]]))
        sideslip = math.atan2(world.vy_mps[0], world.vx_mps[0])
        rows.append((world.yaw_rate_radps[0], world.accel_mps2[0, 1], world.vx_mps[0], sideslip))
        if abs(sideslip) > 0.3:
            break
    return np.array(rows)


def understeer_gradient_deg_per_g(car: CarParams, speed_mps: float, steers_deg: tuple) -> float:
    """Slope of (steer - Ackermann steer) over lateral acceleration, deg/g, from steady
    states at constant speed."""
    excess, lateral_g = [], []
    for delta_deg in steers_deg:
        run = constant_steer_run(car, speed_mps, delta_deg)
        yaw_rate, _, vx, _ = run[-1]
        ackermann_deg = math.degrees(car.chassis.wheelbase_m * yaw_rate / vx)
        excess.append(delta_deg - ackermann_deg)
        lateral_g.append(vx * yaw_rate / G)
    return float(np.polyfit(lateral_g, excess, 1)[0])


@pytest.mark.parametrize("speed_mps", [20.0, 35.0, 50.0])
def test_the_road_car_understeers(speed_mps: float) -> None:
    """The MX-5 needs more steer than the Ackermann angle as the lateral acceleration grows,
    at every speed, by a road sports car's 1-4 deg/g (up to about 0.5 g)."""
    car = load_car("ks_mazda_miata")
    steers = {20.0: (1.0, 2.0, 3.0), 35.0: (0.4, 0.8, 1.2), 50.0: (0.2, 0.4, 0.6)}[speed_mps]
    gradient = understeer_gradient_deg_per_g(car, speed_mps, steers)
    assert 1.0 < gradient < 4.0, gradient


@pytest.mark.parametrize("road_wheel_deg", [0.3, 0.6])
def test_every_preset_is_stable_at_50_mps_with_a_small_constant_steer(
    car: CarParams, road_wheel_deg: float
) -> None:
    run = constant_steer_run(car, 50.0, road_wheel_deg, seconds=10.0)
    assert len(run) == 250, f"{car.name} spun"
    yaw_rate = run[:, 0]
    last_second = yaw_rate[-25:]
    # converged: the yaw rate stays within 1 % over the last second, at a steady turn
    assert np.ptp(last_second) < 0.01 * abs(last_second.mean()), car.name
    assert abs(run[-1, 3]) < math.radians(3.0)
    # no more than the kinematic (neutral-steer) yaw rate v delta / L, plus 2 %
    kinematic = 50.0 * math.radians(road_wheel_deg) / car.chassis.wheelbase_m
    assert yaw_rate[-1] < 1.02 * kinematic


def test_compliance_steer_adds_its_understeer_gradient() -> None:
    """Bundorf's cornering compliances add to the understeer gradient: front - rear."""
    car = load_car("bmw_z4_gt3")
    bare = dataclasses.replace(
        car,
        chassis=dataclasses.replace(
            car.chassis,
            front_cornering_compliance_deg_per_g=0.0,
            rear_cornering_compliance_deg_per_g=0.0,
        ),
    )
    compliant = dataclasses.replace(
        car,
        chassis=dataclasses.replace(
            car.chassis,
            front_cornering_compliance_deg_per_g=1.0,
            rear_cornering_compliance_deg_per_g=-0.5,
        ),
    )
    steers = (0.4, 0.8, 1.2)
    gain = understeer_gradient_deg_per_g(compliant, 35.0, steers)
    gain -= understeer_gradient_deg_per_g(bare, 35.0, steers)
    assert gain == pytest.approx(1.5, rel=0.1)


def abs_slip_share(car: CarParams) -> float:
    """The pure-slip Magic Formula at the ABS target slip, over its peak (written out)."""
    tyre = car.rear_tyre
    bx = tyre.b_x * car.brakes.abs_slip_fraction * tyre.peak_slip_ratio
    phi = bx - tyre.curvature_x * (bx - math.atan(bx))
    return math.sin(tyre.shape_x * math.atan(phi))


@pytest.mark.parametrize("name", [n for n in list_cars() if load_car(n).brakes.abs])
def test_abs_regulates_below_the_peak_where_the_tyre_keeps_lateral_grip(name: str) -> None:
    car = load_car(name)
    p = car_param_array(car)
    tyre = car.rear_tyre
    load_n = tyre.nominal_load_n
    target = -car.brakes.abs_slip_fraction * tyre.peak_slip_ratio
    alpha = 0.5 * tyre.peak_slip_angle_rad
    at_target = combined_forces(target, alpha, load_n, 1.0, p, P_TYRE_REAR)
    at_peak = combined_forces(-tyre.peak_slip_ratio, alpha, load_n, 1.0, p, P_TYRE_REAR)
    pure_target = combined_forces(target, 0.0, load_n, 1.0, p, P_TYRE_REAR)
    # nearly all the braking force, and more side force than at the peak slip ratio
    assert -pure_target[0] == pytest.approx(abs_slip_share(car) * tyre.mu_x * load_n, rel=1e-9)
    assert abs_slip_share(car) > 0.98
    assert at_target[1] > 1.05 * at_peak[1]
    # full braking in a straight line: every wheel at the ABS target
    world = World(car, 1)
    world.reset(speed_mps=30.0)
    for _ in range(10):
        world.step(np.array([[0.0, -1.0, 1.0]]))
    np.testing.assert_allclose(
        world.slip_ratio[0],
        -car.brakes.abs_slip_fraction
        * np.array([car.front_tyre.peak_slip_ratio] * 2 + [tyre.peak_slip_ratio] * 2),
        rtol=0.05,
    )


@pytest.mark.parametrize("name", [n for n in list_cars() if load_car(n).brakes.abs])
@pytest.mark.parametrize("speed_mps", [30.0, 45.0])
def test_full_braking_in_a_turn_keeps_an_abs_car_stable(name: str, speed_mps: float) -> None:
    """A steady turn at about 60 % of the grip, then the full brake with the steering
    held: the car slows to a stop on a tightening arc, without spinning."""
    car = load_car(name)
    lateral_mps2 = 0.6 * car.lateral_limit_mps2(speed_mps)
    world = World(car, 1)
    world.reset(speed_mps=speed_mps)
    delta_deg = math.degrees(car.chassis.wheelbase_m * lateral_mps2 / speed_mps**2)
    gas = 0.5
    for _ in range(150):  # find the steer for the lateral acceleration, at constant speed
        gas = float(np.clip(gas + 0.05 * (speed_mps - world.vx_mps[0]), 0.0, 1.0))
        world.step(np.array([[steer_input(car, delta_deg), 2.0 * gas - 1.0, -1.0]]))
        delta_deg += 0.02 * (lateral_mps2 - world.accel_mps2[0, 1])
    assert world.accel_mps2[0, 1] == pytest.approx(lateral_mps2, rel=0.05)
    heading_rad = world.yaw_rad[0]
    steer = steer_input(car, delta_deg)
    most_sideslip = 0.0
    for _ in range(25 * 8):
        world.step(np.array([[steer, -1.0, 1.0]]))
        most_sideslip = max(most_sideslip, abs(math.atan2(world.vy_mps[0], world.vx_mps[0])))
        if world.speed_mps[0] < 1.0:
            break
    assert world.speed_mps[0] < 1.0
    assert most_sideslip < math.radians(8.0), math.degrees(most_sideslip)
    assert 0.0 < world.yaw_rad[0] - heading_rad < math.radians(90.0)


@pytest.mark.parametrize("name", list_cars())
@pytest.mark.parametrize(("speed_mps", "fraction"), [(20.0, 0.5), (35.0, 0.7), (35.0, 0.85)])
def test_the_steady_slip_angles_predict_the_simulated_turn(
    name: str, speed_mps: float, fraction: float
) -> None:
    """``CarParams.steady_slip_angles_rad`` (the axles' shares of their peaks through the
    Magic Formula's inverse) against the slip angles of a steady turn in the simulator at
    constant speed: within the effects it leaves out (the drive force and the
    differential, the aligning torque), 0.7 to 1.25 of the simulated angles."""
    car = load_car(name)
    lateral_mps2 = fraction * car.lateral_limit_mps2(speed_mps)
    world = World(car, 1)
    world.reset(speed_mps=speed_mps)
    delta_deg = math.degrees(car.chassis.wheelbase_m * lateral_mps2 / speed_mps**2)
    gas = 0.5
    for _ in range(250):
        gas = float(np.clip(gas + 0.05 * (speed_mps - world.vx_mps[0]), 0.0, 1.0))
        world.step(np.array([[steer_input(car, delta_deg), 2.0 * gas - 1.0, -1.0]]))
        delta_deg += 0.02 * (lateral_mps2 - world.accel_mps2[0, 1])
    assert world.accel_mps2[0, 1] == pytest.approx(lateral_mps2, rel=0.05)
    simulated = np.abs(world.slip_angle_rad[0])
    front, rear = car.steady_slip_angles_rad(world.speed_mps[0], world.accel_mps2[0, 1])
    assert 0.7 < front / simulated[:2].mean() < 1.25
    assert 0.7 < rear / simulated[2:].mean() < 1.25


@pytest.mark.parametrize("name", list_cars())
def test_the_inverse_lateral_curve_gives_the_share_of_the_peak(name: str) -> None:
    tyre = load_car(name).front_tyre
    shares = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 1.3])
    alpha = tyre.lateral_slip_angle_rad(shares)
    assert np.all(np.diff(alpha) >= 0.0)
    assert alpha[-1] == alpha[-2] == pytest.approx(tyre.peak_slip_angle_rad)
    curve = [magic_formula(a, tyre.b_y, tyre.shape_y, tyre.curvature_y) for a in alpha[:5]]
    np.testing.assert_allclose(curve, shares[:5], atol=1e-3)
    # in the linear range the angle is the share over the slope B C
    assert alpha[1] == pytest.approx(0.1 / (tyre.b_y * tyre.shape_y), rel=0.02)

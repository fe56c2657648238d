"""Telemetry: the channel set, the game's frames and units, and the plausible extras."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acgym.protocol.channels import CHANNELS, REQUIRED_CHANNELS
from acgym.sim.car_params import load_car
from acgym.sim.session import SimSession
from acgym.sim.telemetry import (
    COLUMN_NAMES,
    COLUMNS,
    NUM_COLUMNS,
    SERVER_CHANNELS,
    STATIC_CAMBER_RAD,
    STATIC_SUSPENSION_TRAVEL_M,
    TELEMETRY_CHANNELS,
    TYRE_HOT_PRESSURE_PSI,
    TYRE_VERTICAL_STIFFNESS_NPM,
    row_to_state,
    yaw_rad_from_heading,
)
from acgym.units import GRAVITY_MPS2

DT_S = 1.0 / 25.0
COAST = [[0.0, -1.0, -1.0]]


@pytest.fixture(scope="module")
def session() -> SimSession:
    return SimSession("oval", "bmw_z4_gt3")


def test_every_channel_of_the_protocol_table_but_the_servers_own_is_produced(
    session: SimSession,
) -> None:
    session.reset()
    state = session.telemetry(0)
    expected = [c.wire for c in CHANNELS if c.wire not in SERVER_CHANNELS]
    assert sorted(state) == sorted(expected)
    assert set(REQUIRED_CHANNELS) <= set(state)
    for channel in CHANNELS:
        if channel.wire in SERVER_CHANNELS:
            continue
        value = state[channel.wire]
        if channel.size == 4:
            assert isinstance(value, list) and len(value) == 4
            assert all(type(v) is float for v in value)
        elif channel.dtype == "int":
            assert type(value) is int, channel.wire
        else:
            assert type(value) is float, channel.wire


def test_columns_name_every_value_of_a_row_once() -> None:
    assert len(COLUMN_NAMES) == NUM_COLUMNS == len(set(COLUMN_NAMES))
    assert COLUMN_NAMES[COLUMNS["tyres_load"] + 2] == "tyres_load[2]"
    assert COLUMN_NAMES[COLUMNS["speed"]] == "speed"
    row = np.arange(NUM_COLUMNS, dtype=np.float64)
    state = row_to_state(row)
    assert set(state) == set(TELEMETRY_CHANNELS)
    assert state["speed"] == COLUMNS["speed"]
    assert state["Mz"] == [float(COLUMNS["Mz"] + k) for k in range(4)]


def test_the_kernel_writes_every_column(session: SimSession) -> None:
    session.reset(speed_mps=20.0)
    session._rows[:] = np.nan
    session.step([[0.1, 0.0, -1.0]])
    assert np.isfinite(session.telemetry_array).all()


@pytest.mark.parametrize(
    ("heading_rad", "yaw_rad"),
    [
        (0.3, 0.3),
        (-0.3, -0.3),
        (math.pi, -math.pi),
        (-math.pi, -math.pi),
        (1.5 * math.pi, -0.5 * math.pi),
        (2.0 * math.pi + 0.3, 0.3),
        (-2.5 * math.pi, -0.5 * math.pi),
    ],
)
def test_yaw_is_the_heading_in_the_position_plane_wrapped_to_plus_minus_pi(
    heading_rad: float, yaw_rad: float
) -> None:
    assert yaw_rad_from_heading(heading_rad) == pytest.approx(yaw_rad, abs=1e-12)


def test_a_placed_car_reports_positions_and_velocities_in_the_games_axes(
    session: SimSession,
) -> None:
    # The oval's reference line starts at (0, 0) heading along +world_position_x.
    session.reset(distance_m=30.0, lateral_offset_m=2.0, heading_offset_rad=0.5, speed_mps=10.0)
    state = session.telemetry(0)
    assert state["world_position_x"] == pytest.approx(30.0)
    assert state["world_position_y"] == pytest.approx(2.0)
    assert state["world_position_z"] == pytest.approx(load_car("bmw_z4_gt3").chassis.cog_height_m)
    assert state["yaw"] == pytest.approx(0.5)
    assert state["speed"] == pytest.approx(10.0)
    assert state["local_velocity_x"] == pytest.approx(10.0)
    assert state["local_velocity_y"] == 0.0
    # velocity is AC's (x, y, z) = (plane y, up, plane x)
    assert state["velocity_x"] == pytest.approx(10.0 * math.sin(0.5))
    assert state["velocity_y"] == 0.0
    assert state["velocity_z"] == pytest.approx(10.0 * math.cos(0.5))
    rear_heading = [state[f"tyreContactHeading_RL_{a}"] for a in "xyz"]
    assert rear_heading == pytest.approx([math.sin(0.5), 0.0, math.cos(0.5)])
    assert state["NormalizedSplinePosition"] == pytest.approx(30.0 / session.length_m, rel=1e-3)


def test_a_left_turn_has_positive_yaw_rate_lateral_acceleration_and_growing_yaw(
    session: SimSession,
) -> None:
    session.reset(speed_mps=15.0)
    yaws, rates = [], []
    for _ in range(12):
        session.step([[-0.15, 0.0, -1.0]])  # steer left, a little gas
        state = session.telemetry(0)
        yaws.append(state["yaw"])
        rates.append(state["angular_velocity_y"])
    assert state["steerAngle"] < 0.0  # AC: negative steering-wheel angle = left
    assert state["angular_velocity_y"] > 0.1
    assert state["accelX"] > 0.2
    # the yaw channel integrates the yaw-rate channel (trapezoid over each period)
    increments = np.diff(yaws)
    expected = 0.5 * (np.array(rates[1:]) + np.array(rates[:-1])) * DT_S
    np.testing.assert_allclose(increments, expected, atol=2e-3)
    # the front tyres push left: ISO slip angle > 0, the aligning moment turns them back
    assert state["SlipAngle_fl"] > 0.0 and state["SlipAngle_fr"] > 0.0
    assert state["Mz"][0] < 0.0 and state["Mz"][1] < 0.0
    assert 0.0 < state["LastFF"] <= 1.0  # pushes the steering wheel to the right
    assert state["roll"] > 0.0  # the body leans right, out of a left turn
    assert state["tyres_load"][1] > state["tyres_load"][0]  # the outside (right) tyre


def test_throttle_and_brake_give_the_signs_of_longitudinal_acceleration_and_pitch(
    session: SimSession,
) -> None:
    session.reset(speed_mps=5.0)
    for _ in range(5):
        session.step([[0.0, 1.0, -1.0]])
    state = session.telemetry(0)
    assert state["accStatus"] == 1.0 and state["brakeStatus"] == 0.0
    assert state["accelY"] > 0.2
    assert state["pitch"] < 0.0  # squat: the rear goes down
    session.reset(speed_mps=40.0)
    for _ in range(5):
        session.step([[0.0, -1.0, 1.0]])
    state = session.telemetry(0)
    assert state["accStatus"] == 0.0 and state["brakeStatus"] == pytest.approx(1.0)
    assert state["accelY"] < -0.5
    assert state["pitch"] > 0.0  # dive: the nose goes down


def test_a_car_at_rest_has_static_loads_travels_and_radii(session: SimSession) -> None:
    car = load_car("bmw_z4_gt3")
    session.reset()
    state = session.telemetry(0)
    assert sum(state["tyres_load"]) == pytest.approx(car.chassis.mass_kg * GRAVITY_MPS2)
    assert state["SuspensionTravel"] == pytest.approx([STATIC_SUSPENSION_TRAVEL_M] * 4)
    front_load = state["tyres_load"][0]
    radius = car.front_tyre.radius_m - front_load / TYRE_VERTICAL_STIFFNESS_NPM
    assert state["tyre_loaded_radius"][0] == pytest.approx(radius)
    assert state["NdSlip"] == [0.0] * 4
    assert state["CamberRad"] == [STATIC_CAMBER_RAD] * 4
    assert state["dynamic_pressure"] == [TYRE_HOT_PRESSURE_PSI] * 4
    assert state["pitch"] == pytest.approx(0.0, abs=1e-12)
    assert state["roll"] == pytest.approx(0.0, abs=1e-12)
    assert state["actualGear"] == 2  # first gear, AC encoding
    assert state["RPM"] > 0.0


@pytest.mark.parametrize(
    ("lateral_offset_m", "tyres_out", "invalidated"),
    [(0.0, 0, 0), (7.5, 2, 0), (-7.5, 2, 0), (9.5, 4, 1)],
)
def test_tyres_out_counts_the_contact_points_off_the_track_surface(
    session: SimSession, lateral_offset_m: float, tyres_out: int, invalidated: int
) -> None:
    # the oval is 15 m wide: at 7.5 m the car straddles the border with two wheels out
    session.reset(distance_m=100.0, lateral_offset_m=lateral_offset_m)
    state = session.telemetry(0)
    assert state["numberOfTyresOut"] == tyres_out
    assert state["LapInvalidated"] == invalidated


def test_wheel_channels_rpm_and_dy_agree_with_the_cars_own_physics(session: SimSession) -> None:
    """Coasting straight in gear: every wheel rolls (wheel speed x radius = speed, slip
    ratio ~ 0), the clutch is closed (RPM = rear axle speed x gear ratio x final drive), and
    Dy is the tyre's load-sensitive friction at the tyre's reported load."""
    car = load_car("bmw_z4_gt3")
    session.reset(speed_mps=30.0)
    for _ in range(10):
        session.step(COAST)
    state = session.telemetry(0)
    speed = state["speed"]
    for t, tyre in zip(
        ("fl", "fr", "rl", "rr"), (car.front_tyre,) * 2 + (car.rear_tyre,) * 2, strict=True
    ):
        assert state[f"wheel_speed_{t}"] * tyre.radius_m == pytest.approx(speed, rel=0.01), t
        assert abs(state[f"tyre_slip_ratio_{t}"]) < 0.01, t
    load = dict(zip(("fl", "fr", "rl", "rr"), state["tyres_load"], strict=True))
    for t, tyre in zip(
        ("fl", "fr", "rl", "rr"), (car.front_tyre,) * 2 + (car.rear_tyre,) * 2, strict=True
    ):
        rel = 1.0 + tyre.load_sensitivity * (load[t] - tyre.nominal_load_n) / tyre.nominal_load_n
        assert state[f"Dy_{t}"] == pytest.approx(tyre.mu_y * rel, rel=1e-9), t
    gear = state["actualGear"] - 1  # AC encoding: 2 = first
    assert gear >= 1
    ratio = car.gearbox.ratios[gear - 1] * car.gearbox.final_drive
    axle_radps = 0.5 * (state["wheel_speed_rl"] + state["wheel_speed_rr"])
    assert state["RPM"] == pytest.approx(axle_radps * ratio * 30.0 / math.pi, rel=1e-6)


def test_g_forces_agree_with_the_motion_they_describe(session: SimSession) -> None:
    """accelY (g) against the speed's change over the neighbouring periods under full
    throttle; accelX (g) against the body's lateral acceleration, d(vy)/dt + vx r, in a
    turn."""
    session.reset(speed_mps=20.0)
    speeds, accel_y = [], []
    for _ in range(8):
        session.step([[0.0, 1.0, -1.0]])
        state = session.telemetry(0)
        speeds.append(state["speed"])
        accel_y.append(state["accelY"])
    for k in range(2, 7):  # central differences, away from the start and any shift
        measured_g = (speeds[k + 1] - speeds[k - 1]) / (2.0 * DT_S) / GRAVITY_MPS2
        assert accel_y[k] == pytest.approx(measured_g, rel=0.08, abs=0.02), k
    assert min(accel_y[2:7]) > 0.3
    session.reset(speed_mps=20.0)
    states = []
    for _ in range(80):  # a left turn at constant steering and throttle
        session.step([[-0.08, -0.2, -1.0]])
        states.append(session.telemetry(0))
    for k in (60, 78):  # past the turn-in transient (a central difference needs smoothness)
        # lateral acceleration of the body: d(vy)/dt + vx * yaw rate (central difference)
        dvy_dt = (states[k + 1]["local_velocity_y"] - states[k - 1]["local_velocity_y"]) / (
            2 * DT_S
        )
        state = states[k]
        lateral_g = (
            dvy_dt + state["local_velocity_x"] * state["angular_velocity_y"]
        ) / GRAVITY_MPS2
        assert state["accelX"] == pytest.approx(lateral_g, rel=0.02), k
        assert state["accelX"] > 0.5

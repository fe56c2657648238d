"""SimSession: placement, stepping, lap channels, batching, static and track info."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acgym.errors import ConfigError
from acgym.sim.car_params import load_car
from acgym.sim.session import SimSession
from acgym.sim.telemetry import COLUMNS
from acgym.track.builtin import load_builtin

COAST = [[0.0, -1.0, -1.0]]


@pytest.fixture(scope="module")
def session() -> SimSession:
    return SimSession("oval", "dallara_f317")


def test_the_default_reset_puts_the_car_at_rest_on_the_start_line(session: SimSession) -> None:
    session.reset(distance_m=500.0, speed_mps=30.0)
    session.reset()
    track = load_builtin("oval")
    state = session.telemetry(0)
    assert [state["world_position_x"], state["world_position_y"]] == pytest.approx(
        track.line_m[0].tolist()
    )
    assert state["yaw"] == pytest.approx(track.line_heading_rad[0])
    assert state["speed"] == 0.0
    assert state["NormalizedSplinePosition"] == pytest.approx(0.0, abs=1e-9)
    for channel in ("currentTime", "LapCount", "completedLaps", "BestLap", "iLastTime"):
        assert state[channel] == 0
    assert state["LapInvalidated"] == 0 and state["numberOfTyresOut"] == 0


def test_a_reset_at_speed_chooses_a_gear_that_suits_it(session: SimSession) -> None:
    session.reset(speed_mps=50.0)
    state = session.telemetry(0)
    assert state["actualGear"] > 3
    car = load_car("dallara_f317")
    assert state["RPM"] <= car.gearbox.upshift_rpm


def test_the_lap_time_runs_in_milliseconds_from_the_reset(session: SimSession) -> None:
    session.reset(speed_mps=20.0)
    for _ in range(10):
        session.step(COAST)
    assert session.telemetry(0)["currentTime"] == 400


def test_the_first_crossing_after_a_reset_behind_the_line_counts_a_lap_without_a_time(
    session: SimSession,
) -> None:
    session.reset(distance_m=session.length_m - 5.0, speed_mps=20.0)
    for _ in range(10):
        session.step(COAST)
    state = session.telemetry(0)
    assert state["LapCount"] == 1 and state["completedLaps"] == 1
    assert state["iLastTime"] == 0 and state["BestLap"] == 0
    # the line is crossed 5 m after the reset at about 20 m/s: about 250 ms of the 400 ms
    assert 130 <= state["currentTime"] <= 160
    assert state["NormalizedSplinePosition"] < 0.01


def test_reversing_over_the_start_line_counts_no_lap(session: SimSession) -> None:
    session.reset(distance_m=3.0, heading_offset_rad=math.pi, speed_mps=10.0)
    for _ in range(15):
        session.step(COAST)  # rolls backwards over the line, about 6 m
    state = session.telemetry(0)
    assert state["NormalizedSplinePosition"] > 0.99
    assert session.lap_distance_m[0] < 0.0
    assert state["LapCount"] == 0


def test_steps_count_states_and_go_on_over_resets() -> None:
    session = SimSession("oval", "ks_mazda_miata")
    assert session.telemetry(0)["steps"] == 1 and session.telemetry(0)["packetId"] == 0
    session.step(COAST)
    session.step(COAST)
    session.reset()
    state = session.telemetry(0)
    assert state["steps"] == 3 and state["packetId"] == 2 and session.steps == 3


def test_cars_in_one_session_match_cars_driven_alone() -> None:
    cars = ["dallara_f317", "ks_mazda_miata"]
    batch = SimSession("technical_circuit", cars)
    alone = [SimSession("technical_circuit", car) for car in cars]
    starts = {"distance_m": [10.0, 200.0], "speed_mps": [25.0, 15.0]}
    batch.reset(**starts)
    for k, single in enumerate(alone):
        single.reset(distance_m=starts["distance_m"][k], speed_mps=starts["speed_mps"][k])
    controls = np.array([[0.05, 0.5, -1.0], [-0.1, 1.0, -1.0]])
    for _ in range(20):
        batch.step(controls)
        for k, single in enumerate(alone):
            single.step(controls[k : k + 1])
    for k, single in enumerate(alone):
        np.testing.assert_array_equal(batch.telemetry_array[k], single.telemetry_array[0])
        assert batch.telemetry(k) == single.telemetry(0)


def test_resetting_some_cars_leaves_the_others_driving() -> None:
    session = SimSession("oval", "bmw_z4_gt3", num_cars=3)
    session.reset(speed_mps=30.0)
    for _ in range(5):
        session.step(np.tile(COAST, (3, 1)))
    before = session.telemetry_array.copy()
    session.reset([1], distance_m=100.0)
    after = session.telemetry_array
    np.testing.assert_array_equal(after[[0, 2]], before[[0, 2]])
    assert after[1, COLUMNS["world_position_x"]] == pytest.approx(100.0)
    assert after[1, COLUMNS["speed"]] == 0.0
    session.reset(np.array([True, False, False]), distance_m=50.0)
    assert session.telemetry(0)["world_position_x"] == pytest.approx(50.0)


def test_the_telemetry_array_is_a_read_only_view(session: SimSession) -> None:
    with pytest.raises(ValueError):
        session.telemetry_array[0, 0] = 1.0


def test_static_info_describes_the_track_and_the_car(session: SimSession) -> None:
    session.reset(distance_m=40.0)
    info = session.static_info()
    car = load_car("dallara_f317")
    assert info["TrackName"] == "oval" and info["TrackConfiguration"] == ""
    assert info["TrackLength"] == pytest.approx(session.length_m)
    assert info["CarName"] == "dallara_f317"
    assert info["WindSpeed"] == 0.0 and info["WindDirection"] == 0.0
    assert info["autoShifterOn"] == 1 and info["penaltiesEnabled"] == 0
    assert info["CAR_WHEELBASE"] == pytest.approx(car.chassis.wheelbase_m)
    assert info["CAR_TRACK"] == pytest.approx(car.chassis.track_rear_m)
    assert info["CAR_MASS"] == round(car.chassis.mass_kg)
    assert info["backend"] == "simulator"
    # AC axes [x, y, z] = [plane y, up, plane x]: the car is 40 m along +plane x
    assert info["WorldPosition"][2] == pytest.approx(40.0)
    assert info["WorldPosition"][0] == pytest.approx(0.0, abs=1e-9)
    front_left = info["TyreContactPoint_FL"]
    assert front_left[2] == pytest.approx(40.0 + car.chassis.lf_m)
    assert front_left[0] == pytest.approx(0.5 * car.chassis.track_front_m)  # left = +plane y


def test_track_info_gives_the_borders_the_line_and_one_value_per_line_point(
    session: SimSession,
) -> None:
    info = session.track_info()
    track = load_builtin("oval")
    assert len(info["left_lane"]) == len(track.left_m)
    assert info["fast_lane"][0] == pytest.approx(track.line_m[0].tolist())
    count = len(track.line_m)
    for key in ("throttle_arr", "brake_arr", "speed_arr", "angle_array"):
        assert len(info[key]) == count
    # on the first straight (along plane x = AC z) the plugin's angle is 90 degrees
    assert info["angle_array"][10] == pytest.approx(90.0)
    assert max(info["speed_arr"]) > 50.0
    assert all(0.0 <= b <= 1.0 for b in info["brake_arr"])


def test_config_gives_the_control_rate(session: SimSession) -> None:
    assert session.config()["ego_sampling_freq"] == 25.0


def test_bad_resets_and_controls_are_refused(session: SimSession) -> None:
    with pytest.raises(ConfigError):
        session.reset(distance_m=float("nan"))
    with pytest.raises(ConfigError):
        session.reset(speed_mps=-1.0)
    with pytest.raises(ConfigError):
        session.step([[0.0, 0.0]])
    with pytest.raises(ConfigError):
        session.reset([5])

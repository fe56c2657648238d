"""Actions: rate-limited relative controls, absolute controls, and the exact inverse.

(The car maps' reader is tested in tests/test_car_maps.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import acgym
from acgym.env.actions import (
    ActionMapper,
    CarMaps,
    controls_from_telemetry,
    telemetry_from_controls,
)

PACKAGE_CARS_DIR = Path(acgym.__file__).resolve().parent / "sim" / "cars"

CARS = ("dallara_f317", "bmw_z4_gt3", "ks_mazda_miata")


@pytest.fixture
def dallara():
    return CarMaps.from_folder(PACKAGE_CARS_DIR / "dallara_f317")


def test_relative_steer_rate_is_900_deg_per_s_through_the_steer_map(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0)
    # 900 deg/s * 0.04 s = 36 deg of wheel per step; 240 deg at steer 0.5341796875
    expected_steer_delta = 36.0 * 0.5341796875 / 240.0
    np.testing.assert_allclose(mapper.max_delta, [expected_steer_delta, 0.48, 0.48])
    controls = mapper.to_controls([1.0, 1.0, -1.0], [0.0, -1.0, -1.0])
    np.testing.assert_allclose(controls, [expected_steer_delta, -0.52, -1.0])
    assert dallara.steer.to_deg(controls[0]) == pytest.approx(36.0)


def test_relative_controls_are_clipped_to_the_cars_range(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0)
    controls = np.array([0.0, -1.0, -1.0])
    for _ in range(20):
        controls = mapper.to_controls([1.0, 1.0, 1.0], controls)
    np.testing.assert_allclose(controls, [0.5341796875, 1.0, 1.0])


def test_absolute_actions_are_the_controls_clipped_to_the_range(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0, relative=False)
    controls = mapper.to_controls([0.9, 0.25, -0.5], [0.3, 0.3, 0.3])
    np.testing.assert_allclose(controls, [0.5341796875, 0.25, -0.5])


def test_actions_of_the_wrong_shape_are_refused(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0)
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 3\).*got \(2,\)"):
        mapper.to_controls([0.0, 1.0], [0.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="finite"):
        mapper.to_controls([np.nan, 0.0, 0.0], [0.0, -1.0, -1.0])


def test_relative_steering_with_absolute_pedals(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0, relative_pedals=False)
    np.testing.assert_array_equal(mapper.relative, [True, False, False])
    # the steering moves by at most its rate, the pedals go where the action says, and
    # an action within a tenth of either end is full travel (a tanh policy reaches it)
    controls = mapper.to_controls([1.0, -0.27, 0.72], [0.1, 1.0, -1.0])
    np.testing.assert_allclose(controls, [0.1 + mapper.max_delta[0], -0.3, 0.8])
    np.testing.assert_allclose(mapper.to_actions([0.1, 1.0, -1.0], controls), [1.0, -0.27, 0.72])
    np.testing.assert_allclose(mapper.to_controls([0.0, 0.93, -0.95], controls)[1:], [1.0, -1.0])
    # without relative actions, relative_pedals changes nothing
    absolute = ActionMapper(
        dallara.steer, control_rate_hz=25.0, relative=False, relative_pedals=True
    )
    np.testing.assert_array_equal(absolute.relative, [False, False, False])


def test_the_config_picks_the_pedals_mode(dallara):
    from acgym.config import load_config

    config = load_config(None, ["env.actions.relative_pedals=false"]).env
    np.testing.assert_array_equal(
        ActionMapper.from_config(dallara.steer, config).relative, [True, False, False]
    )
    original = load_config(None, ["recipe=original"]).env
    np.testing.assert_array_equal(
        ActionMapper.from_config(dallara.steer, original).relative, [True] * 3
    )


MODES = {"relative": (True, True), "absolute": (False, True), "absolute pedals": (True, False)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("car_name", CARS)
def test_logged_controls_round_trip_to_the_same_actions(car_name, mode):
    car = CarMaps.from_folder(PACKAGE_CARS_DIR / car_name)
    relative, relative_pedals = MODES[mode]
    mapper = ActionMapper(
        car.steer, control_rate_hz=25.0, relative=relative, relative_pedals=relative_pedals
    )
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1.0, 1.0, size=(200, 3))
    if not relative:
        actions[:, 0] *= car.steer.full_lock_steer  # reachable absolute steer
    controls = np.empty_like(actions)
    current = np.array([0.0, -1.0, -1.0])
    for t, action in enumerate(actions):
        current = mapper.to_controls(action, current)
        controls[t] = current
    # controls -> telemetry channels -> controls -> actions
    telemetry = telemetry_from_controls(controls, car)
    recovered = controls_from_telemetry(telemetry[:, 0], telemetry[:, 1], telemetry[:, 2], car)
    np.testing.assert_allclose(recovered, controls, atol=1e-12)
    recovered_actions = mapper.to_actions(np.vstack([[0.0, -1.0, -1.0], controls[:-1]]), recovered)
    reached = (controls > mapper.low + 1e-9) & (controls < mapper.high - 1e-9)
    np.testing.assert_allclose(recovered_actions[reached], actions[reached], atol=1e-9)
    # and the recovered actions drive the controls to the same place
    replay = np.array([0.0, -1.0, -1.0])
    for t, action in enumerate(recovered_actions):
        replay = mapper.to_controls(action, replay)
        np.testing.assert_allclose(replay, controls[t], atol=1e-9)


def test_first_logged_step_counts_as_a_zero_relative_action(dallara):
    mapper = ActionMapper(dallara.steer, control_rate_hz=25.0)
    controls = np.array([[0.1, 0.2, -1.0], [0.1, 0.68, -1.0]])
    np.testing.assert_allclose(mapper.actions_from_controls(controls), [[0, 0, 0], [0, 1.0, 0]])


def test_telemetry_maps_steer_angle_and_pedals_to_controls(dallara):
    controls = controls_from_telemetry(120.0, 0.75, 0.0, dallara)
    np.testing.assert_allclose(controls, [0.5341796875 / 2, 0.5, -1.0])

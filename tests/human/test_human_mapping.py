"""Input mapping and calibration: axis ranges, inversion, dead zones, combined pedals, the
mapping file (atomic, other devices kept) and calibration from recorded axes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from acgym.errors import ConfigError, DataFileError
from acgym.human.mapping import (
    DeviceMapping,
    PedalAxis,
    SteerAxis,
    calibrate,
    load_mappings,
    save_mapping,
)


def test_steering_reads_full_lock_at_the_ends_and_straight_in_the_dead_zone() -> None:
    axis = SteerAxis(axis=0, left=-0.9, centre=0.1, right=0.9, dead_zone=0.1)
    assert axis.value(-0.9) == -1.0 and axis.value(0.9) == 1.0
    assert axis.value(0.1) == 0.0 and axis.value(0.1 + 0.05) == 0.0  # inside the dead zone
    fraction = (0.5 - 0.1) / (0.9 - 0.1)  # half way to the right lock
    assert axis.value(0.5) == pytest.approx((fraction - 0.1) / (1.0 - 0.1))  # dead zone taken out
    assert axis.value(-2.0) == -1.0  # beyond the calibrated end: full lock


def test_an_inverted_steering_axis_has_left_above_right() -> None:
    axis = SteerAxis(axis=0, left=1.0, centre=0.0, right=-1.0, dead_zone=0.0)
    assert axis.value(1.0) == -1.0 and axis.value(-0.5) == 0.5


def test_pedals_read_zero_released_and_one_pressed_whatever_the_direction() -> None:
    wheel = PedalAxis(axis=2, released=1.0, pressed=-1.0, dead_zone=0.0)  # a wheel's pedal
    assert wheel.value(1.0) == 0.0 and wheel.value(-1.0) == 1.0 and wheel.value(0.0) == 0.5
    trigger = PedalAxis(axis=5, released=-1.0, pressed=1.0, dead_zone=0.1)
    assert trigger.value(-0.85) == 0.0  # 7.5 % of the travel: in the dead zone
    assert trigger.value(1.0) == 1.0


def test_combined_pedals_share_one_axis_throttle_one_way_brake_the_other() -> None:
    mapping = DeviceMapping(
        name="old wheel",
        throttle=PedalAxis(axis=1, released=0.0, pressed=-1.0, dead_zone=0.0),
        brake=PedalAxis(axis=1, released=0.0, pressed=1.0, dead_zone=0.0),
    )
    assert mapping.combined_pedals
    assert (mapping.throttle.value(-0.6), mapping.brake.value(-0.6)) == (0.6, 0.0)
    assert (mapping.throttle.value(0.4), mapping.brake.value(0.4)) == (0.0, 0.4)
    with pytest.raises(ConfigError, match="share axis 1"):
        DeviceMapping(
            name="bad",
            throttle=PedalAxis(axis=1, released=0.0, pressed=1.0),
            brake=PedalAxis(axis=1, released=0.0, pressed=1.0),
        )


def test_impossible_ranges_are_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigError, match="calibrate again"):
        DeviceMapping(name="x", steer=SteerAxis(left=-1.0, centre=2.0, right=1.0))
    with pytest.raises(ConfigError, match=r"brake\.pressed equals brake\.released"):
        DeviceMapping(name="x", brake=PedalAxis(axis=4, released=0.0, pressed=0.0))
    with pytest.raises(ConfigError, match="unknown button commands"):
        DeviceMapping(name="x", buttons={"fly": 1})


def test_the_mapping_file_keeps_other_devices_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "devices.yaml"
    pad = DeviceMapping(name="pad")
    wheel = DeviceMapping(
        name="wheel",
        steer=SteerAxis(axis=0, left=1.0, centre=0.0, right=-1.0, dead_zone=0.01),
        throttle=PedalAxis(axis=2, released=1.0, pressed=-1.0),
        brake=PedalAxis(axis=3, released=1.0, pressed=-1.0),
        buttons={"pause": 9},
    )
    save_mapping(path, pad)
    save_mapping(path, wheel)
    loaded = load_mappings(path)
    assert loaded == {"pad": pad, "wheel": wheel}
    assert [p.name for p in path.parent.iterdir()] == ["devices.yaml"]  # no temp file left
    assert yaml.safe_load(path.read_text())["version"] == 1
    assert load_mappings(tmp_path / "none.yaml") == {}


def test_a_broken_mapping_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text("devices: [1, 2]\n")
    with pytest.raises(DataFileError, match="'devices' mapping"):
        load_mappings(path)
    path.write_text("devices:\n  pad:\n    steer: {axis: 0, lfet: -1}\n")
    with pytest.raises(ConfigError, match="device mapping 'pad'"):
        load_mappings(path)


def _phases(steer_axis: int, left_sign: float, throttle: tuple, brake: tuple) -> tuple:
    """Raw samples (T, 4) of the four calibration phases of a device whose resting axes
    are 0, 0, 1, 1 (a wheel's pedals rest at 1)."""
    rest = np.tile([0.0, 0.0, 1.0, 1.0], (20, 1)) + np.random.default_rng(0).normal(
        0, 0.003, (20, 4)
    )
    sweep = np.concatenate([np.linspace(0, left_sign, 30), np.linspace(left_sign, -left_sign, 60)])
    steer = np.tile(rest[0], (len(sweep), 1))
    steer[:, steer_axis] = sweep
    samples = []
    for axis, end in (throttle, brake):
        phase = np.tile(rest[0], (40, 1))
        start = rest[0, axis]
        phase[:, axis] = np.concatenate([np.linspace(start, end, 20), np.linspace(end, start, 20)])
        samples.append(phase)
    return rest, steer, samples[0], samples[1]


def test_calibration_finds_the_axes_their_ends_and_the_inversion() -> None:
    rest, steer, throttle, brake = _phases(0, +1.0, (2, -1.0), (3, -1.0))
    mapping = calibrate("wheel", rest, steer, throttle, brake)
    assert mapping.steer.axis == 0
    assert mapping.steer.left == pytest.approx(1.0) and mapping.steer.right == pytest.approx(-1.0)
    assert (mapping.throttle.axis, mapping.brake.axis) == (2, 3)
    assert mapping.throttle.released == pytest.approx(1.0, abs=0.01)
    assert mapping.throttle.pressed == pytest.approx(-1.0)
    assert 0.01 <= mapping.steer.dead_zone < 0.05  # from the resting noise
    assert mapping.steer.value(1.0) == -1.0  # the first way it turned is left


def test_calibration_finds_combined_pedals() -> None:
    rest, steer, throttle, brake = _phases(0, -1.0, (1, -1.0), (1, 1.0))
    mapping = calibrate("pad", rest, steer, throttle, brake)
    assert mapping.combined_pedals
    assert mapping.throttle.value(-1.0) == 1.0 and mapping.brake.value(1.0) == 1.0


def test_calibration_says_which_phase_moved_nothing() -> None:
    rest, steer, throttle, _ = _phases(0, -1.0, (2, -1.0), (3, -1.0))
    with pytest.raises(ConfigError, match="no axis moved during the brake phase"):
        calibrate("wheel", rest, steer, throttle, rest)

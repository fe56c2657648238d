"""Input devices: the keyboard's steering smoothing, a joystick read through its mapping
(buttons, unplugged and plugged back: SDL's joystick replaced by a stand-in with the same
calls), the scripted device, and choosing a device."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from acgym.errors import ConfigError
from acgym.human.devices import (
    DeviceInput,
    JoystickDevice,
    KeyboardDevice,
    KeyboardRates,
    KeyboardSmoother,
    ScriptedDevice,
    list_devices,
    open_device,
)
from acgym.human.mapping import DeviceMapping, PedalAxis, SteerAxis, save_mapping

JOYDEVICEADDED, JOYDEVICEREMOVED, JOYBUTTONDOWN = 1541, 1542, 1539


class FakeStick:
    """SDL's joystick calls, over settable axes."""

    def __init__(self, name: str, instance: int, axes: list[float]) -> None:
        self.name, self.instance, self.axes = name, instance, axes

    def get_name(self) -> str:
        return self.name

    def get_guid(self) -> str:
        return "030000006d04000024c2000011010000"

    def get_instance_id(self) -> int:
        return self.instance

    def get_numaxes(self) -> int:
        return len(self.axes)

    def get_numbuttons(self) -> int:
        return 12

    def get_numhats(self) -> int:
        return 1

    def get_axis(self, i: int) -> float:
        return self.axes[i]


def fake_pygame(sticks: list[FakeStick]) -> Any:
    joystick = SimpleNamespace(get_count=lambda: len(sticks), Joystick=lambda i: sticks[i])
    return SimpleNamespace(
        joystick=joystick,
        JOYDEVICEADDED=JOYDEVICEADDED,
        JOYDEVICEREMOVED=JOYDEVICEREMOVED,
        JOYBUTTONDOWN=JOYBUTTONDOWN,
    )


WHEEL = DeviceMapping(
    name="G29",
    steer=SteerAxis(axis=0, left=-1.0, centre=0.0, right=1.0, dead_zone=0.0),
    throttle=PedalAxis(axis=2, released=1.0, pressed=-1.0, dead_zone=0.0),
    brake=PedalAxis(axis=3, released=1.0, pressed=-1.0, dead_zone=0.0),
    buttons={"pause": 9, "reset": 3},
)


def test_the_keyboard_steers_smoothly_towards_the_lock_and_back() -> None:
    keys = KeyboardSmoother(KeyboardRates(steer_per_s=2.5, steer_return_per_s=4.0))
    assert keys.update(False, True, False, False, 0.2).steer == pytest.approx(0.5)
    assert keys.update(False, True, False, False, 1.0).steer == 1.0  # held: full lock
    assert keys.update(False, False, False, False, 0.1).steer == pytest.approx(0.6)  # back
    assert keys.update(True, False, False, False, 0.1).steer == pytest.approx(0.2)  # through 0
    pedals = keys.update(False, False, True, False, 0.1)
    assert pedals.throttle == pytest.approx(0.5) and pedals.brake == 0.0


def test_a_joystick_reads_its_mapping_and_buttons_give_commands() -> None:
    stick = FakeStick("G29", 7, [-0.5, 0.0, 1.0, 1.0])
    device = JoystickDevice(fake_pygame([stick]), 0, WHEEL)
    assert device.read(0.0) == DeviceInput(-0.5, 0.0, 0.0)
    stick.axes[2], stick.axes[3] = -1.0, 0.0
    assert device.read(0.0) == DeviceInput(-0.5, 1.0, 0.5)
    events = [SimpleNamespace(type=JOYBUTTONDOWN, instance_id=7, button=9)]
    events.append(SimpleNamespace(type=JOYBUTTONDOWN, instance_id=8, button=3))  # another pad
    assert device.handle_events(events) == ["pause"]


def test_an_unplugged_joystick_reads_released_until_plugged_back() -> None:
    stick = FakeStick("G29", 7, [0.3, 0.0, -1.0, 1.0])
    pygame = fake_pygame([stick])
    device = JoystickDevice(pygame, 0, WHEEL)
    device.handle_events([SimpleNamespace(type=JOYDEVICEREMOVED, instance_id=7)])
    assert not device.connected
    assert device.read(0.0) == DeviceInput()  # not the last throttle
    back = FakeStick("G29", 9, [0.3, 0.0, -1.0, 1.0])
    pygame.joystick.Joystick = lambda i: back
    device.handle_events([SimpleNamespace(type=JOYDEVICEADDED, device_index=0)])
    assert device.connected and device.read(0.0).throttle == 1.0
    events = [SimpleNamespace(type=JOYBUTTONDOWN, instance_id=9, button=3)]
    assert device.handle_events(events) == ["reset"]  # its new instance id


def test_a_mapping_that_reads_a_missing_axis_is_refused() -> None:
    with pytest.raises(ConfigError, match="reads axis 3 but the device has 2 axes"):
        JoystickDevice(fake_pygame([FakeStick("G29", 1, [0.0, 0.0])]), 0, WHEEL)


def test_open_device_uses_the_saved_mapping_and_names_what_it_found(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    save_mapping(path, WHEEL)
    pygame = fake_pygame([FakeStick("Logitech G29", 1, [0.0] * 4), FakeStick("G29", 2, [0.0] * 4)])
    assert [d.name for d in list_devices(pygame)] == ["Logitech G29", "G29"]
    device = open_device(pygame, "1", path)
    assert isinstance(device, JoystickDevice) and device.mapping == WHEEL
    with pytest.raises(ConfigError, match=r"matches --device 'T300'.*0: Logitech G29"):
        open_device(pygame, "T300", path)
    assert isinstance(open_device(fake_pygame([]), "auto", path), KeyboardDevice)


def test_the_scripted_device_plays_its_inputs_then_releases_and_can_be_unplugged() -> None:
    reads: list[int] = []
    device = ScriptedDevice(
        [DeviceInput(0.1, 1.0, 0.0), DeviceInput(0.2, 1.0, 0.0)],
        on_read=lambda now, k: reads.append(k),
    )
    assert device.read(0.0).steer == 0.1
    device.unplug()
    assert not device.connected and device.read(0.0) == DeviceInput()
    device.plug()
    assert device.read(0.0) == DeviceInput()  # the script is over
    device.press("restart")
    assert device.handle_events([]) == ["restart"] and device.handle_events([]) == []
    assert reads == [0, 1, 2]


class CalibratingStick:
    """A wheel whose raw axes follow the calibration's phases as a person would: still,
    full left then right, throttle pressed and released, brake pressed and released; each
    movement in the middle of its phase (timing slack at the phases' edges)."""

    name = "G29"
    mapping = WHEEL

    def __init__(self, phase_s: float) -> None:
        self.phase_s = phase_s
        self.start_s: float | None = None

    def raw_axes(self) -> list[float]:
        now = time.perf_counter()
        self.start_s = now if self.start_s is None else self.start_s
        t = (now - self.start_s) / self.phase_s
        phase, within = int(t), t - int(t)
        axes = [0.0, 0.0, 1.0, 1.0]  # pedals rest at 1, pressed at -1
        if phase == 1 and 0.2 < within < 0.8:
            axes[0] = -1.0 if within < 0.5 else 1.0
        elif phase in (2, 3) and 0.3 < within < 0.7:
            axes[phase] = -1.0
        return axes


def test_the_calibration_window_records_the_phases_and_derives_the_mapping() -> None:
    from acgym.human.calibration import PHASES, record_calibration
    from acgym.human.sdl import init_video

    phase_s = 0.5
    phases = tuple((name, text, phase_s) for name, text, _ in PHASES)
    mapping = record_calibration(init_video(), CalibratingStick(phase_s), 200.0, phases)
    assert (mapping.steer.axis, mapping.throttle.axis, mapping.brake.axis) == (0, 2, 3)
    assert mapping.steer.value(-1.0) == -1.0  # left was turned first
    assert mapping.throttle.value(-1.0) == 1.0 and mapping.throttle.value(1.0) == 0.0
    assert mapping.buttons == WHEEL.buttons

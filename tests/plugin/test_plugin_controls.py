"""Control backends: vJoy through a stand-in DLL, uinput through a recording file layer,
the mapping of controls onto axes, shift buttons, and clear failures."""

from __future__ import annotations

import logging
import struct
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from plugin_helpers import plugin_modules

from acgym.emulated_game.game import HID_USAGE_X, VJD_STAT_BUSY, VJD_STAT_MISS, VirtualVJoy

LOGGER = logging.getLogger("test_plugin_controls")


@pytest.fixture(scope="module")
def controls() -> Iterator[ModuleType]:
    with plugin_modules("acgym_controls") as (module,):
        yield module


def _controls(steer: float = 0.0, acc: float = -1.0, brake: float = -1.0, **flags: bool) -> dict:
    return {
        "steer": steer,
        "acc": acc,
        "brake": brake,
        "enable_gear_shift": flags.get("enable_gear_shift", False),
        "shift_up": flags.get("shift_up", False),
        "shift_down": flags.get("shift_down", False),
    }


@pytest.mark.parametrize("value", [-1.0, -0.5, 0.0, 0.123, 1.0])
def test_axis_mapping_is_linear_and_inverts(controls: ModuleType, value: float) -> None:
    for low, high in ((controls.VJOY_AXIS_MIN, controls.VJOY_AXIS_MAX), (0, 32767)):
        position = controls.to_axis(value, low, high)
        assert low <= position <= high
        assert controls.from_axis(position, low, high) == pytest.approx(
            value, abs=1.0 / (high - low)
        )
    assert controls.to_axis(-1.0, 1, 0x8000) == 1
    assert controls.to_axis(1.0, 1, 0x8000) == 0x8000
    assert controls.to_axis(5.0, 1, 0x8000) == 0x8000  # clipped
    assert controls.to_axis(float("nan"), 0, 100) == 50  # NaN is centred, not sent


def test_vjoy_moves_the_axes_and_releases_the_shift_button(controls: ModuleType) -> None:
    dll = VirtualVJoy()
    backend = controls.VJoyBackend(LOGGER, "(test)", 1, dll=dll).open()
    (steer, acc, brake), buttons = dll.read(1)
    assert (steer, acc, brake) == (pytest.approx(0.0, abs=1e-4), -1.0, -1.0)  # opened released
    backend.apply(_controls(0.5, 0.25, -1.0, enable_gear_shift=True, shift_up=True))
    (steer, acc, brake), buttons = dll.read(1)
    assert steer == pytest.approx(0.5, abs=1e-4) and acc == pytest.approx(0.25, abs=1e-4)
    assert buttons == {controls.BUTTON_SHIFT_UP}
    backend.update(now_s=0.0)  # not held long enough yet (monotonic time is far larger)
    backend.update(now_s=1e12)
    assert dll.read(1)[1] == frozenset()
    backend.apply(_controls(shift_down=True))  # not enabled: no button
    assert dll.read(1)[1] == frozenset()
    backend.close()
    assert dll.read(1) is None  # relinquished
    backend.close()  # safe twice


@pytest.mark.parametrize(
    ("status", "says"),
    [(VJD_STAT_BUSY, "owned by another program"), (VJD_STAT_MISS, "does not exist")],
)
def test_vjoy_says_what_is_wrong_with_the_device(
    controls: ModuleType, status: int, says: str
) -> None:
    class Dll(VirtualVJoy):
        def GetVJDStatus(self, rid: int) -> int:
            return status

    with pytest.raises(RuntimeError, match=says):
        controls.VJoyBackend(LOGGER, "(test)", 1, dll=Dll()).open()


def test_vjoy_without_an_axis_is_refused(controls: ModuleType) -> None:
    class Dll(VirtualVJoy):
        def GetVJDAxisExist(self, rid: int, usage: int) -> int:
            return int(usage != HID_USAGE_X)

    with pytest.raises(RuntimeError, match="no X axis"):
        controls.VJoyBackend(LOGGER, "(test)", 1, dll=Dll()).open()


class RecordingIo:
    """The uinput backend's file layer, recording what it does."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.ioctls: list[tuple[int, Any]] = []
        self.writes: list[bytes] = []
        self.closed = 0

    def open(self, path: str, flags: int) -> int:
        self.opened.append(path)
        return 42

    def write(self, fd: int, data: bytes) -> int:
        assert fd == 42
        self.writes.append(bytes(data))
        return len(data)

    def ioctl(self, fd: int, request: int, arg: Any) -> int:
        self.ioctls.append((request, arg))
        return 0

    def close(self, fd: int) -> None:
        self.closed += 1


def _events(controls: ModuleType, data: bytes) -> list[tuple[int, int, int]]:
    size = controls.INPUT_EVENT.size
    assert size == 24 and len(data) % size == 0
    return [controls.INPUT_EVENT.unpack_from(data, i)[2:] for i in range(0, len(data), size)]


def test_uinput_ioctl_numbers_are_the_kernels(controls: ModuleType) -> None:
    # linux/uinput.h on x86-64 / arm64
    assert controls.UI_SET_EVBIT == 0x40045564
    assert controls.UI_SET_KEYBIT == 0x40045565
    assert controls.UI_SET_ABSBIT == 0x40045567
    assert controls.UI_DEV_CREATE == 0x5501
    assert controls.UI_DEV_DESTROY == 0x5502
    assert controls.UI_GET_SYSNAME == 0x8040552C
    assert controls.UINPUT_USER_DEV.size == 80 + 8 + 4 + 4 * 4 * 64


def test_uinput_creates_a_joystick_and_writes_events(controls: ModuleType) -> None:
    io = RecordingIo()
    backend = controls.UinputBackend(LOGGER, "/dev/uinput", "", io=io).open()
    assert io.opened == ["/dev/uinput"]
    requests = [request for request, _ in io.ioctls]
    assert requests[-1] == controls.UI_DEV_CREATE
    assert {arg for request, arg in io.ioctls if request == controls.UI_SET_EVBIT} == {
        controls.EV_SYN,
        controls.EV_KEY,
        controls.EV_ABS,
    }
    assert {arg for request, arg in io.ioctls if request == controls.UI_SET_ABSBIT} == {0, 1, 2}
    assert controls.BTN_TRIGGER in {a for r, a in io.ioctls if r == controls.UI_SET_KEYBIT}
    record = io.writes[0]
    fields = controls.UINPUT_USER_DEV.unpack(record)
    assert fields[0].rstrip(b"\0") == b"acgym virtual joystick"
    absmax, absmin = fields[6 : 6 + 64], fields[6 + 64 : 6 + 128]
    assert absmax[:3] == (32767,) * 3 and absmin[:3] == (0, 0, 0)
    # opening centres the wheel and releases the pedals, then a report
    assert _events(controls, io.writes[1]) == [(3, 0, 16384), (3, 1, 0), (3, 2, 0), (0, 0, 0)]
    backend.apply(_controls(-1.0, 1.0, 0.0, enable_gear_shift=True, shift_down=True))
    assert _events(controls, io.writes[-1]) == [
        (3, 0, 0),
        (3, 1, 32767),
        (3, 2, 16384),
        (1, controls.BTN_THUMB, 1),
        (0, 0, 0),
    ]
    backend.update(now_s=1e12)
    assert _events(controls, io.writes[-1]) == [(1, controls.BTN_THUMB, 0), (0, 0, 0)]
    backend.close()
    assert (controls.UI_DEV_DESTROY, 0) in io.ioctls and io.closed == 1


def test_uinput_event_device_mode_writes_without_ioctl(controls: ModuleType) -> None:
    io = RecordingIo()
    backend = controls.UinputBackend(LOGGER, "/dev/uinput", "/dev/input/event7", io=io).open()
    backend.apply(_controls(0.0, 0.0, -1.0))
    backend.close()
    assert io.opened == ["/dev/input/event7"] and io.ioctls == []
    assert _events(controls, io.writes[-2])[:3] == [(3, 0, 16384), (3, 1, 16384), (3, 2, 0)]


def test_uinput_open_failure_says_what_to_do(controls: ModuleType) -> None:
    class Denied(RecordingIo):
        def open(self, path: str, flags: int) -> int:
            raise PermissionError(13, "Permission denied")

    with pytest.raises(RuntimeError, match="udev rule"):
        controls.UinputBackend(LOGGER, io=Denied()).open()


def test_uinput_sysname_and_event_node(controls: ModuleType, tmp_path: Any) -> None:
    class Named(RecordingIo):
        def ioctl(self, fd: int, request: int, arg: Any) -> int:
            if request == controls.UI_GET_SYSNAME:
                arg[: len(b"input23\0")] = b"input23\0"
            return 0

    assert controls.sysname(Named(), 42) == "input23"
    (tmp_path / "input23" / "event11").mkdir(parents=True)
    assert controls.event_node("input23", str(tmp_path)) == "/dev/input/event11"
    assert controls.event_node("input99", str(tmp_path)) == ""


def _config(**values: Any) -> dict[str, Any]:
    config = {
        "control_backend": "none",
        "vjoy_dll": "C:\\nowhere\\vJoyInterface.dll",
        "vjoy_device": 1,
        "uinput_path": "/nonexistent/uinput",
        "uinput_event_device": "",
    }
    config.update(values)
    return config


def test_make_backend_falls_back_to_none_and_says_why(controls: ModuleType) -> None:
    backend, error = controls.make_backend(_config(control_backend="none"), LOGGER)
    assert backend.name == "none" and error == ""
    backend, error = controls.make_backend(_config(control_backend="emulated"), LOGGER)
    assert backend.name == "none" and "emulated game" in error
    backend, error = controls.make_backend(_config(control_backend="uinput"), LOGGER)
    assert backend.name == "none" and "/nonexistent/uinput" in error
    backend.apply(_controls(0.5))  # logged once, nothing raised
    if sys.platform != "win32":
        backend, error = controls.make_backend(_config(control_backend="vjoy"), LOGGER)
        assert backend.name == "none" and "Windows" in error


def test_make_backend_emulated_uses_the_hosts_device(controls: ModuleType) -> None:
    dll = VirtualVJoy()

    class Host:
        @staticmethod
        def vjoy_dll() -> VirtualVJoy:
            return dll

    backend, error = controls.make_backend(_config(control_backend="emulated"), LOGGER, Host)
    assert error == "" and backend.name == "emulated" and backend.active
    backend.apply(_controls(1.0))
    assert dll.read(1)[0][0] == 1.0
    assert struct.calcsize("=qqHHi") == controls.INPUT_EVENT.size


def test_linux_paths_under_wine_go_through_drive_z(
    controls: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert controls.host_path("/dev/input/event7") == "/dev/input/event7"
    monkeypatch.setattr(controls.os, "name", "nt")
    assert controls.host_path("/dev/input/event7") == "Z:\\dev\\input\\event7"
    assert controls.host_path("Z:\\dev\\uinput") == "Z:\\dev\\uinput"

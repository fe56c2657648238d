"""Control backends: how the client's steer, acc and brake reach the car.

The game reads a joystick; the plugin moves a virtual one. Controls arrive in the
simulator's ranges (steer, acc, brake in [-1, 1], -1 = full left / released) and map
linearly onto three axes, the same mapping for every backend:

    X = steer, Y = throttle (acc), Z = brake;  -1 -> axis minimum, +1 -> axis maximum

plus button 1 = shift up and button 2 = shift down (pressed for ``BUTTON_HOLD_S``, then
released by ``update``, which the game thread calls every frame). Bind these axes and
buttons in the game's controls settings once (docs/plugin.md).

Backends (``control_backend`` in config.ini):

- ``vjoy``: Windows, the vJoy driver through ``vJoyInterface.dll`` (ctypes):
  ``AcquireVJD``, ``SetAxis``, ``SetBtn``. Axes 0x1..0x8000.
- ``uinput``: Linux. With ``fcntl`` (a native Python), creates a joystick through
  ``/dev/uinput`` (``UI_SET_EVBIT``/``UI_SET_ABSBIT``/``UI_SET_KEYBIT``, the
  ``uinput_user_dev`` record, ``UI_DEV_CREATE``). Under Proton the game's Python is a
  Windows build without ``fcntl``: set ``uinput_event_device`` to the event node of an
  existing joystick (``acgym plugin joystick`` creates one on the host) and events are
  written to it. Axes 0..32767.
- ``emulated``: the vJoy backend over the emulated game's virtual device (tests and
  ``acgym plugin emulate``).
- ``none``: controls are not applied (telemetry only).

A backend that cannot open says why in the log and in the plugin's config reply
(``control_backend_error``), and the plugin goes on without controls.

Python 3.3, standard library only.
"""

import os
import struct
import sys
import threading
import time

BUTTON_HOLD_S = 0.05
"""How long a shift button stays pressed (the game polls inputs every physics step)."""
BUTTON_SHIFT_UP = 1
BUTTON_SHIFT_DOWN = 2

# vJoy (public/vjoyinterface.h)
HID_USAGE_X = 0x30
HID_USAGE_Y = 0x31
HID_USAGE_Z = 0x32
VJOY_AXIS_MIN = 0x1
VJOY_AXIS_MAX = 0x8000
VJD_STAT_OWN, VJD_STAT_FREE, VJD_STAT_BUSY, VJD_STAT_MISS = 0, 1, 2, 3

# Linux input (linux/input-event-codes.h, linux/uinput.h)
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT = 0
ABS_X, ABS_Y, ABS_Z = 0x00, 0x01, 0x02
BTN_TRIGGER, BTN_THUMB, BTN_THUMB2, BTN_TOP = 0x120, 0x121, 0x122, 0x123
UINPUT_AXIS_MIN = 0
UINPUT_AXIS_MAX = 32767
BUS_VIRTUAL = 0x06
UINPUT_MAX_NAME_SIZE = 80
ABS_CNT = 64


def _ioc(direction, kind, number, size):
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


UI_DEV_CREATE = _ioc(0, "U", 1, 0)  # 0x5501
UI_DEV_DESTROY = _ioc(0, "U", 2, 0)  # 0x5502
UI_SET_EVBIT = _ioc(1, "U", 100, 4)  # 0x40045564
UI_SET_KEYBIT = _ioc(1, "U", 101, 4)  # 0x40045565
UI_SET_ABSBIT = _ioc(1, "U", 103, 4)  # 0x40045567
SYSNAME_BYTES = 64
UI_GET_SYSNAME = _ioc(2, "U", 44, SYSNAME_BYTES)  # 0x8040552c

INPUT_EVENT = struct.Struct("=qqHHi")
"""``struct input_event`` of a 64-bit kernel: timeval (two 8-byte longs), type, code,
value; fixed size (24 bytes) whatever the writing Python's ``long`` is (a Windows build
under Proton has 4-byte longs)."""
UINPUT_USER_DEV = struct.Struct("=80sHHHHI64i64i64i64i")
"""``struct uinput_user_dev``: name, input_id (bustype, vendor, product, version),
ff_effects_max, absmax, absmin, absfuzz, absflat."""


def clip(value):
    """A control clipped to [-1, 1] (NaN -> 0)."""
    value = float(value)
    if value != value:
        return 0.0
    return min(1.0, max(-1.0, value))


def to_axis(value, axis_min, axis_max):
    """Map a control in [-1, 1] linearly onto ``[axis_min, axis_max]`` (an int)."""
    fraction = (clip(value) + 1.0) / 2.0
    return int(round(axis_min + fraction * (axis_max - axis_min)))


def from_axis(position, axis_min, axis_max):
    """Inverse of ``to_axis``: the control in [-1, 1] of an axis position."""
    return 2.0 * (float(position) - axis_min) / (axis_max - axis_min) - 1.0


class Backend(object):
    """Base: holds the shift-button timing; subclasses move axes and buttons."""

    name = "none"

    def __init__(self, logger):
        self.logger = logger
        self.active = False
        self.error = ""
        self.applied = 0
        self._lock = threading.Lock()
        self._pressed = {}
        """Button -> monotonic time it was pressed."""

    def open(self):
        """Acquire the device; returns self. Raises ``OSError``/``RuntimeError``."""
        self.active = True
        return self

    def apply(self, controls):
        """Apply a controls dict (steer, acc, brake, enable_gear_shift, shift_up/down)."""
        with self._lock:
            if not self.active:
                return
            self._set_axes(controls["steer"], controls["acc"], controls["brake"])
            if controls.get("enable_gear_shift"):
                if controls.get("shift_up"):
                    self._press(BUTTON_SHIFT_UP)
                if controls.get("shift_down"):
                    self._press(BUTTON_SHIFT_DOWN)
            self._flush()
            self.applied += 1

    def update(self, now_s=None):
        """Release shift buttons held long enough (the game thread calls this per frame)."""
        if not self._pressed:
            return
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            released = False
            for button in list(self._pressed):
                if now_s - self._pressed[button] >= BUTTON_HOLD_S:
                    del self._pressed[button]
                    if self.active:
                        self._set_button(button, False)
                        released = True
            if released:
                self._flush()

    def close(self):
        """Centre the axes, release the buttons and the device. Safe twice."""
        with self._lock:
            if self.active:
                try:
                    self._set_axes(0.0, -1.0, -1.0)
                    for button in (BUTTON_SHIFT_UP, BUTTON_SHIFT_DOWN):
                        self._set_button(button, False)
                    self._flush()
                except Exception as exc:
                    self.logger.warning("control backend %s: releasing failed: %s", self.name, exc)
                self.active = False
                self._pressed.clear()
                self._release()

    def _press(self, button):
        if button not in self._pressed:
            self._pressed[button] = time.monotonic()
            self._set_button(button, True)

    def _set_axes(self, steer, acc, brake):
        pass

    def _set_button(self, button, pressed):
        pass

    def _flush(self):
        pass

    def _release(self):
        pass


class NoneBackend(Backend):
    """Controls are not applied (``control_backend = none``, or a backend that failed)."""

    name = "none"

    def __init__(self, logger, reason=""):
        Backend.__init__(self, logger)
        self.reason = reason
        self._told = False

    def open(self):
        return self

    def apply(self, controls):
        if not self._told:
            self._told = True
            self.logger.warning(
                "controls are not applied: %s",
                self.reason or "control_backend = none in config.ini",
            )


class VJoyBackend(Backend):
    """The vJoy driver: axes X, Y, Z and buttons 1, 2 of one vJoy device."""

    name = "vjoy"

    def __init__(self, logger, dll_path, device_id, dll=None):
        Backend.__init__(self, logger)
        self.dll_path = dll_path
        self.device_id = int(device_id)
        self._dll = dll

    def open(self):
        if self._dll is None:
            self._dll = _load_vjoy_dll(self.dll_path)
        dll = self._dll
        rid = self.device_id
        if hasattr(dll, "vJoyEnabled") and not dll.vJoyEnabled():
            raise RuntimeError(
                "the vJoy driver is installed but not enabled: run 'Configure vJoy' and enable it"
            )
        status = dll.GetVJDStatus(rid)
        if status == VJD_STAT_BUSY:
            raise RuntimeError(
                "vJoy device {0} is owned by another program (a feeder, a second game?): "
                "close it or set vjoy_device to a free device".format(rid)
            )
        if status == VJD_STAT_MISS:
            raise RuntimeError(
                "vJoy device {0} does not exist: run 'Configure vJoy' and add device {0} "
                "with axes X, Y, Z and 2 buttons".format(rid)
            )
        if hasattr(dll, "GetVJDAxisExist"):
            for usage, axis in ((HID_USAGE_X, "X"), (HID_USAGE_Y, "Y"), (HID_USAGE_Z, "Z")):
                if not dll.GetVJDAxisExist(rid, usage):
                    raise RuntimeError(
                        "vJoy device {0} has no {1} axis: enable axes X, Y, Z in "
                        "'Configure vJoy'".format(rid, axis)
                    )
        if status != VJD_STAT_OWN and not dll.AcquireVJD(rid):
            raise RuntimeError("vJoy refused to hand over device {0} (AcquireVJD)".format(rid))
        if hasattr(dll, "ResetVJD"):
            dll.ResetVJD(rid)
        self.active = True
        self._set_axes(0.0, -1.0, -1.0)
        return self

    def _set_axes(self, steer, acc, brake):
        dll, rid = self._dll, self.device_id
        dll.SetAxis(to_axis(steer, VJOY_AXIS_MIN, VJOY_AXIS_MAX), rid, HID_USAGE_X)
        dll.SetAxis(to_axis(acc, VJOY_AXIS_MIN, VJOY_AXIS_MAX), rid, HID_USAGE_Y)
        dll.SetAxis(to_axis(brake, VJOY_AXIS_MIN, VJOY_AXIS_MAX), rid, HID_USAGE_Z)

    def _set_button(self, button, pressed):
        self._dll.SetBtn(1 if pressed else 0, self.device_id, button)

    def _release(self):
        try:
            self._dll.RelinquishVJD(self.device_id)
        except Exception as exc:
            self.logger.warning("vJoy: RelinquishVJD failed: %s", exc)


def _load_vjoy_dll(path):
    try:
        import ctypes
    except ImportError:
        raise RuntimeError(
            "ctypes is missing from the game's Python: copy _ctypes.pyd into "
            "apps/python/acgym/DLLs (docs/plugin.md)"
        ) from None
    if not os.path.isfile(path):
        raise RuntimeError(
            "vJoy's DLL is not at {0}: install vJoy (2.1.9) or set vjoy_dll in config.ini".format(
                path
            )
        )
    return ctypes.CDLL(path)


class OsIo(object):
    """The file and ioctl calls of the uinput backend (tests pass a recording double)."""

    def open(self, path, flags):
        return os.open(path, flags)

    def write(self, fd, data):
        return os.write(fd, data)

    def ioctl(self, fd, request, arg):
        import fcntl

        return fcntl.ioctl(fd, request, arg)

    def close(self, fd):
        os.close(fd)


class UinputBackend(Backend):
    """A Linux joystick: created through uinput, or an existing event node (Proton)."""

    name = "uinput"

    def __init__(
        self,
        logger,
        uinput_path="/dev/uinput",
        event_device="",
        io=None,
        device_name="acgym virtual joystick",
    ):
        Backend.__init__(self, logger)
        self.uinput_path = uinput_path
        self.event_device = event_device
        self.device_name = device_name
        self.io = io if io is not None else OsIo()
        self.fd = None
        self.created = False
        self._events = []

    def open(self):
        if self.event_device:
            self.fd = self._open(self.event_device, "the joystick's event node")
        else:
            if self.io.__class__ is OsIo and not _has_fcntl():
                raise RuntimeError(
                    "this Python has no fcntl (the game's Python under Proton is a Windows "
                    "build): create the joystick on the host with `acgym plugin joystick` "
                    "and set uinput_event_device to the event node it prints"
                )
            self.fd = self._open(self.uinput_path, "uinput")
            try:
                create_joystick(self.io, self.fd, self.device_name)
            except Exception:
                self.io.close(self.fd)
                self.fd = None
                raise
            self.created = True
        self.active = True
        self._set_axes(0.0, -1.0, -1.0)
        self._flush()
        return self

    def _open(self, path, what):
        path = host_path(path)
        flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            return self.io.open(path, flags)
        except OSError as exc:
            hint = ""
            if getattr(exc, "errno", None) == 13:
                hint = (
                    ": permission denied; add a udev rule giving your user access (docs/plugin.md)"
                )
            raise RuntimeError(
                "cannot open {0} {1} ({2}){3}".format(what, path, exc, hint)
            ) from None

    def _set_axes(self, steer, acc, brake):
        for code, value in ((ABS_X, steer), (ABS_Y, acc), (ABS_Z, brake)):
            self._events.append((EV_ABS, code, to_axis(value, UINPUT_AXIS_MIN, UINPUT_AXIS_MAX)))

    def _set_button(self, button, pressed):
        code = BTN_TRIGGER if button == BUTTON_SHIFT_UP else BTN_THUMB
        self._events.append((EV_KEY, code, 1 if pressed else 0))

    def _flush(self):
        if not self._events or self.fd is None:
            return
        events = self._events + [(EV_SYN, SYN_REPORT, 0)]
        self._events = []
        now_s = time.time()
        seconds = int(now_s)
        micros = int((now_s - seconds) * 1e6)
        data = b"".join(
            INPUT_EVENT.pack(seconds, micros, kind, code, value) for kind, code, value in events
        )
        self.io.write(self.fd, data)

    def _release(self):
        if self.fd is None:
            return
        try:
            if self.created:
                self.io.ioctl(self.fd, UI_DEV_DESTROY, 0)
        finally:
            self.io.close(self.fd)
            self.fd = None


def host_path(path):
    """A Linux path as this Python can open it: under Proton/Wine (a Windows Python) the
    host's root is drive Z:, so ``/dev/input/event7`` is ``Z:\\dev\\input\\event7``."""
    if os.name == "nt" and path.startswith("/"):
        return "Z:" + path.replace("/", "\\")
    return path


def _has_fcntl():
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def create_joystick(io, fd, name):
    """Declare a joystick (axes X, Y, Z; 4 buttons) on an open uinput fd and create it."""
    io.ioctl(fd, UI_SET_EVBIT, EV_SYN)
    io.ioctl(fd, UI_SET_EVBIT, EV_KEY)
    io.ioctl(fd, UI_SET_EVBIT, EV_ABS)
    # Buttons make udev tag it ID_INPUT_JOYSTICK, so games (and Wine) list it.
    for code in (BTN_TRIGGER, BTN_THUMB, BTN_THUMB2, BTN_TOP):
        io.ioctl(fd, UI_SET_KEYBIT, code)
    for code in (ABS_X, ABS_Y, ABS_Z):
        io.ioctl(fd, UI_SET_ABSBIT, code)
    absmax = [0] * ABS_CNT
    absmin = [0] * ABS_CNT
    for code in (ABS_X, ABS_Y, ABS_Z):
        absmax[code] = UINPUT_AXIS_MAX
        absmin[code] = UINPUT_AXIS_MIN
    header = [name.encode("ascii", "replace")[: UINPUT_MAX_NAME_SIZE - 1], BUS_VIRTUAL]
    # pid.codes' vendor id for open-source projects, a product id, version 1, no effects.
    header += [0x1209, 0xAC61, 1, 0]
    values = header + absmax + absmin + [0] * ABS_CNT + [0] * ABS_CNT
    record = UINPUT_USER_DEV.pack(*values)
    io.write(fd, record)
    io.ioctl(fd, UI_DEV_CREATE, 0)


def sysname(io, fd):
    """The created device's sysfs name (``input23``) through ``UI_GET_SYSNAME``."""
    buffer = bytearray(SYSNAME_BYTES)
    io.ioctl(fd, UI_GET_SYSNAME, buffer)
    return bytes(buffer).split(b"\0", 1)[0].decode("ascii", "replace")


def event_node(input_sysname, sys_root="/sys/devices/virtual/input"):
    """The ``/dev/input/eventN`` of a created device, or "" when sysfs does not say."""
    folder = os.path.join(sys_root, input_sysname)
    try:
        names = sorted(name for name in os.listdir(folder) if name.startswith("event"))
    except OSError:
        return ""
    return "/dev/input/" + names[0] if names else ""


def make_backend(config, logger, host=None):
    """Open the configured backend; a failure gives a ``NoneBackend`` that says why.

    Returns:
        (backend, error message or "").
    """
    name = config["control_backend"]
    try:
        if name == "none":
            return NoneBackend(logger).open(), ""
        if name == "vjoy":
            if sys.platform != "win32":
                raise RuntimeError(
                    "vJoy is a Windows driver; this game runs on {0} (use uinput)".format(
                        sys.platform
                    )
                )
            backend = VJoyBackend(logger, config["vjoy_dll"], config["vjoy_device"])
        elif name == "uinput":
            backend = UinputBackend(logger, config["uinput_path"], config["uinput_event_device"])
        elif name == "emulated":
            if host is None:
                raise RuntimeError(
                    "control_backend = emulated works only inside acgym's emulated game; "
                    "use vjoy (Windows) or uinput (Linux/Proton) in the real game"
                )
            backend = VJoyBackend(logger, "(emulated)", config["vjoy_device"], dll=host.vjoy_dll())
            backend.name = "emulated"
        else:  # pragma: no cover - the config checks the choices
            raise RuntimeError("unknown control backend {0!r}".format(name))
        backend.open()
        logger.info("controls: %s backend ready", backend.name)
        return backend, ""
    except Exception as exc:
        message = "control backend {0}: {1}".format(name, exc)
        logger.error("%s; controls will NOT reach the car", message)
        return NoneBackend(logger, message).open(), message

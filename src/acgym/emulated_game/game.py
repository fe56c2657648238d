"""An emulated Assetto Corsa: the built-in simulator behind the game's app interfaces.

``EmulatedGame`` owns one car of a :class:`acgym.sim.SimSession` on a track and answers
what an app can ask the game: the ``ac`` module's calls
(:mod:`acgym.emulated_game.ac_module`), the three shared-memory pages
(:mod:`acgym.emulated_game.pages`), and a virtual vJoy device that the app's control
backend moves and the game reads every frame, as it reads a real joystick. One
:meth:`EmulatedGame.frame` is one graphics frame (one simulator step at the frame rate).

The simulator's telemetry is already in the game's frames (DESIGN.md; AC is y-up and
the simulator's plane is AC's (z, x)); the emulation hands it back in the shapes the game
uses, e.g. ``WorldPosition`` = (``world_position_y``, ``world_position_z``,
``world_position_x``) and the page's ``heading`` = ``-yaw``, so the plugin's mapping is
checked channel by channel. ``Steer`` is the steering-wheel angle in degrees (what the
game returns, whatever its document says).

Controls: the game reads virtual vJoy device 1 (when an app has acquired it) as the
player's wheel: axis X = steer, Y = throttle, Z = brake, each 0x1..0x8000 mapped linearly
onto [-1, 1] (the simulator's ranges), and buttons 1 / 2 = shift up / down on a press.
Without an acquired device the car gets the safe controls (centred, pedals released).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from acgym.errors import ConfigError
from acgym.protocol import channels as ch
from acgym.sim import WorldConfig
from acgym.sim import layout as L
from acgym.sim.session import SimSession
from acgym.sim.world import MIN_PHYSICS_HZ
from acgym.track.builtin import load_builtin
from acgym.track.track import Track

VJOY_AXIS_MIN = 0x1
VJOY_AXIS_MAX = 0x8000
HID_USAGE_X, HID_USAGE_Y, HID_USAGE_Z = 0x30, 0x31, 0x32
VJD_STAT_OWN, VJD_STAT_FREE, VJD_STAT_BUSY, VJD_STAT_MISS = 0, 1, 2, 3
BUTTON_SHIFT_UP = 1
BUTTON_SHIFT_DOWN = 2

AC_LIVE = 2
MPH_PER_MPS = 2.2369362920544


class VirtualVJoy:
    """A stand-in for ``vJoyInterface.dll``: the calls the plugin's vJoy backend makes.

    Thread-safe (the app moves it from its ego thread, the game reads it every frame).
    Return values follow the DLL: BOOL as 1/0, ``GetVJDStatus`` a ``VJD_STAT_*``.

    Args:
        devices: the configured device ids (vJoy's 1..16).
    """

    def __init__(self, devices: tuple[int, ...] = (1,)) -> None:
        self._lock = threading.Lock()
        self._axes = {rid: self._centred() for rid in devices}
        self._buttons: dict[int, set[int]] = {rid: set() for rid in devices}
        self._owned: set[int] = set()
        self.calls: dict[str, int] = {}

    @staticmethod
    def _centred() -> dict[int, int]:
        middle = (VJOY_AXIS_MIN + VJOY_AXIS_MAX) // 2
        return {HID_USAGE_X: middle, HID_USAGE_Y: middle, HID_USAGE_Z: middle}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def vJoyEnabled(self) -> int:
        return 1

    def GetVJDStatus(self, rid: int) -> int:
        with self._lock:
            if rid not in self._axes:
                return VJD_STAT_MISS
            return VJD_STAT_OWN if rid in self._owned else VJD_STAT_FREE

    def GetVJDAxisExist(self, rid: int, usage: int) -> int:
        return int(rid in self._axes and usage in (HID_USAGE_X, HID_USAGE_Y, HID_USAGE_Z))

    def AcquireVJD(self, rid: int) -> int:
        with self._lock:
            self._count("AcquireVJD")
            if rid not in self._axes:
                return 0
            self._owned.add(rid)
            return 1

    def RelinquishVJD(self, rid: int) -> int:
        with self._lock:
            self._count("RelinquishVJD")
            self._owned.discard(rid)
            return 1

    def ResetVJD(self, rid: int) -> int:
        with self._lock:
            if rid not in self._owned:
                return 0
            self._axes[rid] = self._centred()
            self._buttons[rid].clear()
            return 1

    def SetAxis(self, value: int, rid: int, usage: int) -> int:
        with self._lock:
            self._count("SetAxis")
            if rid not in self._owned or usage not in self._axes[rid]:
                return 0
            if not VJOY_AXIS_MIN <= int(value) <= VJOY_AXIS_MAX:
                return 0
            self._axes[rid][usage] = int(value)
            return 1

    def SetBtn(self, value: int, rid: int, button: int) -> int:
        with self._lock:
            self._count("SetBtn")
            if rid not in self._owned or not 1 <= button <= 128:
                return 0
            if value:
                self._buttons[rid].add(button)
            else:
                self._buttons[rid].discard(button)
            return 1

    def read(self, rid: int = 1) -> tuple[tuple[float, float, float], frozenset[int]] | None:
        """What the game sees: (steer, acc, brake) in [-1, 1] and the pressed buttons, or
        ``None`` when no app owns the device."""
        with self._lock:
            if rid not in self._owned:
                return None
            axes = self._axes[rid]
            values = tuple(
                2.0 * (axes[usage] - VJOY_AXIS_MIN) / (VJOY_AXIS_MAX - VJOY_AXIS_MIN) - 1.0
                for usage in (HID_USAGE_X, HID_USAGE_Y, HID_USAGE_Z)
            )
            return values, frozenset(self._buttons[rid])  # type: ignore[return-value]


class EmulatedGame:
    """One car of the built-in simulator, seen through the game's app interfaces.

    The ground truth is the simulator's own telemetry (:class:`acgym.sim.SimSession`,
    wire-named, in the game's frames); the ``ac`` calls and the pages give it back in the
    shapes the game uses, so the plugin's state can be checked channel by channel against
    :attr:`state`.

    Args:
        track: a :class:`Track` or a built-in track's name.
        car: a car preset name.
        frame_hz: graphics frames per second (one :meth:`frame` each).
        shared_memory: offer the shared-memory pages (the game does on Windows; the
            plugin falls back to the ``ac`` module without them).
        csp: offer Custom Shaders Patch's ``ac.ext_resetCar``.
        start_distance_m: where the car starts and is reset to, along the track's line.
        vjoy_devices: the virtual vJoy's configured devices.
        auto_shift: the game's automatic gearbox (``autoShifterOn``).

    Raises:
        ConfigError: a frame rate the simulator cannot step at.
    """

    def __init__(
        self,
        track: Track | str = "oval",
        car: str = "bmw_z4_gt3",
        *,
        frame_hz: float = 50.0,
        shared_memory: bool = True,
        csp: bool = True,
        start_distance_m: float = 0.0,
        vjoy_devices: tuple[int, ...] = (1,),
        auto_shift: bool = True,
    ) -> None:
        if not 10.0 <= frame_hz <= 400.0:
            raise ConfigError(f"emulated game: frame_hz {frame_hz}; expected 10 to 400")
        track = load_builtin(track) if isinstance(track, str) else track
        substeps = max(1, math.ceil(MIN_PHYSICS_HZ / frame_hz))
        self.session = SimSession(
            track,
            car,
            config=WorldConfig(
                control_hz=frame_hz, physics_hz=frame_hz * substeps, auto_shift=auto_shift
            ),
        )
        self.track = track
        self.world = self.session.world
        self.car = self.world.cars[0]
        self.frame_hz = float(frame_hz)
        self.frame_dt_s = 1.0 / frame_hz
        self.shared_memory = shared_memory
        self.csp = csp
        self.start_distance_m = start_distance_m
        self.vjoy = VirtualVJoy(vjoy_devices)
        self.frames = 0
        self.resets = 0
        self.log_lines: list[str] = []
        self.controls = (0.0, -1.0, -1.0)
        """The (steer, acc, brake) the car got in the last frame."""
        self.state: dict[str, Any] = {}
        """The simulator's telemetry of the current frame (wire names, game frames)."""
        self._buttons: frozenset[int] = frozenset()
        self._pages: dict[str, bytearray] = {}
        self._page_layouts: dict[str, Any] | None = None
        self.lock = threading.RLock()
        """Held while a frame runs: hold it to read :attr:`session` between frames."""
        self.reset_car()
        self.resets = 0

    # -- the game loop ------------------------------------------------------------------

    def frame(self) -> None:
        """One graphics frame: read the joystick, step the car, update the pages."""
        with self.lock:
            reading = self.vjoy.read(1)
            flags = None
            if reading is None:
                controls = (0.0, -1.0, -1.0)
                buttons: frozenset[int] = frozenset()
            else:
                controls, buttons = reading
                pressed = buttons - self._buttons
                up = BUTTON_SHIFT_UP in pressed
                down = BUTTON_SHIFT_DOWN in pressed
                if up or down:
                    flags = np.array([[1.0, float(up), float(down)]])
            self._buttons = buttons
            self.controls = controls
            self.session.step(np.array([controls], dtype=np.float64), flags)
            self.frames += 1
            self._refresh()

    def reset_car(self) -> None:
        """Back to the start (``ac.ext_resetCar``): standing on the line, a new lap."""
        with self.lock:
            self.session.reset(distance_m=self.start_distance_m)
            self.resets += 1
            self._refresh()

    def _refresh(self) -> None:
        self.state = self.session.telemetry(0)
        contacts = self.world.contact_points_m[0]
        self.contact_points_ac = tuple((float(p[1]), 0.0, float(p[0])) for p in contacts)
        self._write_pages()

    # -- what the game knows --------------------------------------------------------------

    def per_tyre(self, channel: str | ch.PerTyre) -> tuple[float, ...]:
        """Four values of a per-tyre channel: its four names (``ch.SLIP_ANGLE``) or a list
        channel (``ch.MZ``)."""
        if isinstance(channel, ch.PerTyre):
            return tuple(float(self.state[name]) for name in channel)
        return tuple(float(v) for v in self.state[channel])

    @property
    def heading_rad(self) -> float:
        """The game's heading (shared memory): ``-yaw``."""
        return -float(self.state[ch.YAW])

    @property
    def tyre_radius_m(self) -> tuple[float, float, float, float]:
        p = self.world.params[0]
        front = float(p[L.P_TYRE_FRONT + L.T_RADIUS_M])
        rear = float(p[L.P_TYRE_REAR + L.T_RADIUS_M])
        return (front, front, rear, rear)

    @property
    def max_rpm(self) -> int:
        return int(self.world.params[0][L.P_LIMITER_RPM])

    # -- shared memory --------------------------------------------------------------------

    def open_shared_page(self, name: str, size: int) -> bytearray:
        """A page for an app (``acpmf_physics`` / ``_graphics`` / ``_static``).

        Raises:
            OSError: the game offers no pages (``shared_memory=False``), or an unknown
                page (as opening a mapping that does not exist would).
        """
        if not self.shared_memory:
            raise OSError("the emulated game offers no shared memory (shared_memory=False)")
        if name not in ("acpmf_physics", "acpmf_graphics", "acpmf_static"):
            raise OSError(f"no shared memory page {name!r}")
        with self.lock:
            page = self._pages.get(name)
            if page is None or len(page) < size:
                page = bytearray(size)
                self._pages[name] = page
            self._write_pages()
            return page

    def set_page_layouts(self, structures: dict[str, Any]) -> None:
        """The ctypes structure of each page (the layout the game writes)."""
        self._page_layouts = structures

    def _write_pages(self) -> None:
        if not self._pages or self._page_layouts is None:
            return
        from acgym.emulated_game.pages import write_pages

        write_pages(self, self._page_layouts, self._pages)

    # -- logging --------------------------------------------------------------------------

    def log(self, line: str) -> None:
        """What the game writes to its log.txt (kept for tests)."""
        self.log_lines.append(str(line))
        del self.log_lines[:-1000]

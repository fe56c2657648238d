"""Input devices behind one interface: a joystick, gamepad or wheel, the keyboard, a script.

Every device gives, when asked at a control step, a :class:`DeviceInput` (steering in
[-1, 1], -1 full left; throttle and brake in [0, 1], 0 released) and says whether it is
still connected; :meth:`InputDevice.handle_events` reads the window's events (buttons,
a device unplugged or plugged back) and returns the commands its buttons triggered
(:data:`acgym.human.mapping.COMMANDS`). The drive session pauses the car as soon as a
device reports itself disconnected: its last input is never left applied.

* :class:`JoystickDevice`: an SDL joystick (gamepad, wheel and pedals) read through its
  :class:`~acgym.human.mapping.DeviceMapping`; reopened when plugged back.
* :class:`KeyboardDevice`: arrows or WASD; the steering moves towards full lock while a
  key is held and back to the centre when released, at set rates
  (:class:`KeyboardSmoother`), so that a key press is not a steering step.
* :class:`ScriptedDevice`: a list of inputs, one per control step, and commands, for
  tests and benchmarks; ``unplug()`` / ``plug()`` act as a cable would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from acgym.errors import ConfigError
from acgym.human.mapping import DeviceMapping, load_mappings


@dataclass(frozen=True)
class DeviceInput:
    """What a person's hands and feet ask for at one moment."""

    steer: float = 0.0
    """Steering, [-1, 1]: -1 full left, 1 full right."""
    throttle: float = 0.0
    """Throttle pedal, [0, 1]: 0 released."""
    brake: float = 0.0
    """Brake pedal, [0, 1]: 0 released."""


class InputDevice(Protocol):
    """What the drive session needs of a device."""

    name: str

    @property
    def connected(self) -> bool:
        """False once unplugged (until plugged back)."""
        ...

    def handle_events(self, events: Sequence[Any]) -> list[str]:
        """Read the window's events; the commands the device's buttons triggered."""
        ...

    def read(self, now_s: float) -> DeviceInput:
        """The input now (``now_s``: the session clock, for smoothing)."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


@dataclass(frozen=True)
class DeviceInfo:
    """One joystick the system sees."""

    index: int
    name: str
    guid: str
    num_axes: int
    num_buttons: int
    num_hats: int

    def describe(self) -> str:
        """One line for ``acgym drive --list-devices``."""
        return (
            f"{self.index}: {self.name} ({self.num_axes} axes, {self.num_buttons} buttons, "
            f"{self.num_hats} hats; guid {self.guid})"
        )


def list_devices(pygame: Any) -> list[DeviceInfo]:
    """The joysticks, gamepads and wheels SDL sees (``pygame.joystick`` started)."""
    found = []
    for index in range(pygame.joystick.get_count()):
        stick = pygame.joystick.Joystick(index)
        found.append(
            DeviceInfo(
                index,
                stick.get_name(),
                stick.get_guid(),
                stick.get_numaxes(),
                stick.get_numbuttons(),
                stick.get_numhats(),
            )
        )
    return found


class JoystickDevice:
    """An SDL joystick, gamepad or wheel, read through its mapping.

    Args:
        pygame: pygame, with its joystick system started.
        index: The device's index (:func:`list_devices`).
        mapping: Its axes and buttons (default: a gamepad's, :class:`DeviceMapping`).
    """

    def __init__(self, pygame: Any, index: int, mapping: DeviceMapping | None = None) -> None:
        self._pygame = pygame
        self._stick = pygame.joystick.Joystick(index)
        self.name = self._stick.get_name()
        self.guid = self._stick.get_guid()
        self.mapping = mapping or DeviceMapping(name=self.name)
        self._instance = self._stick.get_instance_id()
        self._connected = True
        needed = max(self.mapping.axes_used) + 1
        if self._stick.get_numaxes() < needed:
            raise ConfigError(
                f"{self.name}: the mapping reads axis {needed - 1} but the device has "
                f"{self._stick.get_numaxes()} axes: calibrate it (acgym drive --calibrate)"
            )

    @property
    def connected(self) -> bool:
        return self._connected

    def handle_events(self, events: Sequence[Any]) -> list[str]:
        pygame, commands = self._pygame, []
        by_button = {button: command for command, button in self.mapping.buttons.items()}
        for event in events:
            if event.type == pygame.JOYDEVICEREMOVED and event.instance_id == self._instance:
                self._connected = False
            elif event.type == pygame.JOYDEVICEADDED and not self._connected:
                stick = pygame.joystick.Joystick(event.device_index)
                if stick.get_guid() == self.guid and stick.get_name() == self.name:
                    self._stick, self._instance = stick, stick.get_instance_id()
                    self._connected = True
            elif (
                event.type == pygame.JOYBUTTONDOWN
                and event.instance_id == self._instance
                and event.button in by_button
            ):
                commands.append(by_button[event.button])
        return commands

    def read(self, now_s: float) -> DeviceInput:
        if not self._connected:
            return DeviceInput()
        m, axis = self.mapping, self._stick.get_axis
        return DeviceInput(
            m.steer.value(axis(m.steer.axis)),
            m.throttle.value(axis(m.throttle.axis)),
            m.brake.value(axis(m.brake.axis)),
        )

    def raw_axes(self) -> list[float]:
        """Every axis's raw value (for calibration)."""
        return [self._stick.get_axis(i) for i in range(self._stick.get_numaxes())]

    def close(self) -> None:
        self._connected = False


@dataclass(frozen=True)
class KeyboardRates:
    """How fast the keyboard's controls move, per second of a key held or released."""

    steer_per_s: float = 2.5
    """Steering travel towards full lock while a steering key is held (0.4 s to full)."""
    steer_return_per_s: float = 4.0
    """Steering travel back to the centre when no steering key is held."""
    pedal_per_s: float = 5.0
    """Pedal travel while its key is held (0.2 s to full)."""
    pedal_release_per_s: float = 10.0
    """Pedal travel back when its key is released."""


class KeyboardSmoother:
    """Keys held -> smoothly moving controls (the keyboard's steering smoothing)."""

    def __init__(self, rates: KeyboardRates | None = None) -> None:
        self.rates = rates or KeyboardRates()
        self.state = DeviceInput()

    def update(self, left: bool, right: bool, up: bool, down: bool, dt_s: float) -> DeviceInput:
        """Advance the controls by ``dt_s`` with these keys held."""
        r, s = self.rates, self.state
        target = float(right) - float(left)
        if target != 0.0:  # holding: towards the lock (through the centre, at return speed)
            rate = r.steer_per_s if target * s.steer >= 0 else r.steer_return_per_s
            steer = _towards(s.steer, target, rate * dt_s)
        else:
            steer = _towards(s.steer, 0.0, r.steer_return_per_s * dt_s)
        throttle = _towards(
            s.throttle, float(up), (r.pedal_per_s if up else r.pedal_release_per_s) * dt_s
        )
        brake = _towards(
            s.brake, float(down), (r.pedal_per_s if down else r.pedal_release_per_s) * dt_s
        )
        self.state = DeviceInput(steer, throttle, brake)
        return self.state


def _towards(value: float, target: float, step: float) -> float:
    if value < target:
        return min(target, value + step)
    return max(target, value - step)


class KeyboardDevice:
    """The keyboard: left / right (or A / D) steer, up (W) throttle, down (S) brake.

    Args:
        pygame: pygame, with its video system started (the window has the keyboard).
        rates: The smoothing rates.
    """

    name = "keyboard"

    def __init__(self, pygame: Any, rates: KeyboardRates | None = None) -> None:
        self._pygame = pygame
        self.smoother = KeyboardSmoother(rates)
        self._last_s: float | None = None

    @property
    def connected(self) -> bool:
        return True

    def handle_events(self, events: Sequence[Any]) -> list[str]:
        return []  # the window's own keys are its commands

    def read(self, now_s: float) -> DeviceInput:
        keys, pg = self._pygame.key.get_pressed(), self._pygame
        dt_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        return self.smoother.update(
            keys[pg.K_LEFT] or keys[pg.K_a],
            keys[pg.K_RIGHT] or keys[pg.K_d],
            keys[pg.K_UP] or keys[pg.K_w],
            keys[pg.K_DOWN] or keys[pg.K_s],
            dt_s,
        )

    def close(self) -> None:
        pass


class ScriptedDevice:
    """A device that plays a script: one input per :meth:`read`, then released pedals.

    Args:
        inputs: The inputs, in order; or a function of the read's index.
        name: The device's name.
        on_read: Called with ``(now_s, index)`` at every read (benchmarks time it).
    """

    def __init__(
        self,
        inputs: Sequence[DeviceInput] | Callable[[int], DeviceInput],
        *,
        name: str = "scripted",
        on_read: Callable[[float, int], None] | None = None,
    ) -> None:
        self.name = name
        self._inputs = inputs
        self._on_read = on_read
        self.reads = 0
        self._connected = True
        self._commands: list[str] = []

    @property
    def connected(self) -> bool:
        return self._connected

    def unplug(self) -> None:
        """As if the cable were pulled."""
        self._connected = False

    def plug(self) -> None:
        """As if plugged back."""
        self._connected = True

    def press(self, command: str) -> None:
        """A command button pressed (handed out by the next :meth:`handle_events`)."""
        self._commands.append(command)

    def handle_events(self, events: Sequence[Any]) -> list[str]:
        commands, self._commands = self._commands, []
        return commands

    def read(self, now_s: float) -> DeviceInput:
        index = self.reads
        self.reads += 1
        if self._on_read is not None:
            self._on_read(now_s, index)
        if not self._connected:
            return DeviceInput()
        if callable(self._inputs):
            return self._inputs(index)
        return self._inputs[index] if index < len(self._inputs) else DeviceInput()

    def close(self) -> None:
        self._connected = False


def open_device(pygame: Any, spec: str, mapping_path: Any) -> InputDevice:
    """The device ``spec`` names: ``auto`` (the first joystick, else the keyboard),
    ``keyboard``, a joystick's index (``0``) or part of its name (``G29``).

    Raises:
        ConfigError: No joystick matches ``spec``, naming the ones found.
    """
    if spec == "keyboard":
        return KeyboardDevice(pygame)
    devices = list_devices(pygame)
    if spec == "auto":
        if not devices:
            return KeyboardDevice(pygame)
        chosen = devices[0]
    else:
        matches = [
            d for d in devices if (spec.isdigit() and d.index == int(spec)) or spec in d.name
        ]
        if not matches:
            found = "; ".join(d.describe() for d in devices) or "none"
            raise ConfigError(
                f"no joystick, gamepad or wheel matches --device {spec!r} (found: {found}); "
                "check that it is plugged in, see acgym drive --list-devices, or use "
                "--device keyboard"
            )
        chosen = matches[0]
    mapping = load_mappings(mapping_path).get(chosen.name)
    return JoystickDevice(pygame, chosen.index, mapping)


__all__ = [
    "DeviceInfo",
    "DeviceInput",
    "InputDevice",
    "JoystickDevice",
    "KeyboardDevice",
    "KeyboardRates",
    "KeyboardSmoother",
    "ScriptedDevice",
    "list_devices",
    "open_device",
]

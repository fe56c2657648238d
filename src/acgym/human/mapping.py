"""Input mapping and calibration: which axis and button of a device does what, and its range.

A device's mapping (:class:`DeviceMapping`) names the steering axis with its raw values
at full left, centre and full right (an inverted axis simply has ``left > right``), each
pedal's axis with its raw values released and pressed, dead zones, and the buttons of the
drive window's commands. Pedals on one combined axis (older wheels, a gamepad's stick)
are two pedals on the same axis, released at the same centre value and pressed towards
opposite ends.

Mappings live in one YAML file per machine (:func:`default_mapping_path`, or ``--mapping
FILE``), keyed by the device's name, written atomically::

    version: 1
    devices:
      "Logitech G29 Driving Force Racing Wheel":
        steer: {axis: 0, left: -1.0, centre: 0.0, right: 1.0, dead_zone: 0.01}
        throttle: {axis: 2, released: 1.0, pressed: -1.0, dead_zone: 0.03}
        brake: {axis: 3, released: 1.0, pressed: -1.0, dead_zone: 0.03}
        buttons: {pause: 9, restart: 8, reset: 3, view: 2}

:func:`calibrate` derives a mapping from raw axis samples recorded while the person
holds still, turns the wheel fully left then right, and presses each pedal (``acgym drive
--calibrate`` records them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike

from acgym.errors import ConfigError, DataFileError
from acgym.fileio import write_text_atomic

MAPPING_FILE_VERSION = 1
"""Version of the mapping file's layout."""

COMMANDS = ("pause", "restart", "reset", "view")
"""The drive window's commands a button can trigger: pause / resume, restart the episode
from the start, put the car back on the track where it is, switch the view."""

DEFAULT_DEAD_ZONE = 0.05
"""Dead zone of an uncalibrated axis, as a fraction of its half range (steering) or range
(pedals)."""


@dataclass(frozen=True)
class SteerAxis:
    """The steering axis: raw values at full left, centre and full right."""

    axis: int = 0
    """Axis index on the device."""
    left: float = -1.0
    """Raw value at full left lock."""
    centre: float = 0.0
    """Raw value with the wheel (stick) straight."""
    right: float = 1.0
    """Raw value at full right lock (``left > right``: an inverted axis)."""
    dead_zone: float = DEFAULT_DEAD_ZONE
    """Fraction of each half range around the centre read as straight."""

    def value(self, raw: float) -> float:
        """The steering in [-1, 1] (-1 full left) of a raw axis value."""
        if (raw - self.centre) * (self.left - self.centre) > 0:  # the left half
            fraction = -(raw - self.centre) / (self.left - self.centre)
        else:
            fraction = (raw - self.centre) / (self.right - self.centre)
        magnitude = min(1.0, abs(fraction))
        if magnitude <= self.dead_zone:
            return 0.0
        return math.copysign((magnitude - self.dead_zone) / (1.0 - self.dead_zone), fraction)


@dataclass(frozen=True)
class PedalAxis:
    """A pedal's axis (or trigger): raw values released and fully pressed."""

    axis: int
    """Axis index on the device."""
    released: float = -1.0
    """Raw value with the pedal released."""
    pressed: float = 1.0
    """Raw value with the pedal fully pressed."""
    dead_zone: float = DEFAULT_DEAD_ZONE
    """Fraction of the travel from released read as released."""

    def value(self, raw: float) -> float:
        """The pedal in [0, 1] (0 released) of a raw axis value."""
        fraction = min(1.0, max(0.0, (raw - self.released) / (self.pressed - self.released)))
        if fraction <= self.dead_zone:
            return 0.0
        return (fraction - self.dead_zone) / (1.0 - self.dead_zone)


@dataclass(frozen=True)
class DeviceMapping:
    """What each axis and button of one device does."""

    name: str
    """The device's name as the system reports it (the key in the mapping file)."""
    steer: SteerAxis = field(default_factory=SteerAxis)
    """Steering."""
    throttle: PedalAxis = field(default_factory=lambda: PedalAxis(axis=5))
    """Throttle (default: a gamepad's right trigger)."""
    brake: PedalAxis = field(default_factory=lambda: PedalAxis(axis=4))
    """Brake (default: a gamepad's left trigger)."""
    buttons: Mapping[str, int] = field(
        default_factory=lambda: {"pause": 7, "restart": 6, "reset": 3, "view": 2}
    )
    """Command (one of :data:`COMMANDS`) -> button index."""

    def __post_init__(self) -> None:
        _check_mapping(self)

    @property
    def combined_pedals(self) -> bool:
        """Throttle and brake share one axis."""
        return self.throttle.axis == self.brake.axis

    @property
    def axes_used(self) -> tuple[int, ...]:
        """The axis indexes this mapping reads."""
        return tuple(sorted({self.steer.axis, self.throttle.axis, self.brake.axis}))

    def to_dict(self) -> dict[str, Any]:
        """The mapping's entry in the file (without the name, which is its key)."""
        data = asdict(self)
        del data["name"]
        data["buttons"] = dict(self.buttons)
        return data

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> DeviceMapping:
        """A mapping from its entry in the file.

        Raises:
            ConfigError: An unknown key, a missing axis or an impossible range.
        """
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"expected a mapping, got {type(data).__name__}")
            unknown = set(data) - {"steer", "throttle", "brake", "buttons"}
            if unknown:
                raise TypeError(f"unknown keys {sorted(unknown)}")
            fields: dict[str, Any] = {}
            if "steer" in data:
                fields["steer"] = SteerAxis(**data["steer"])
            if "throttle" in data:
                fields["throttle"] = PedalAxis(**data["throttle"])
            if "brake" in data:
                fields["brake"] = PedalAxis(**data["brake"])
            if "buttons" in data:
                fields["buttons"] = {str(k): int(v) for k, v in dict(data["buttons"]).items()}
            return cls(name=name, **fields)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"device mapping {name!r}: {exc}") from None


def _check_mapping(mapping: DeviceMapping) -> None:
    steer = mapping.steer
    if not (steer.left - steer.centre) * (steer.right - steer.centre) < 0:
        raise ConfigError(
            f"device mapping {mapping.name!r}: steer.centre ({steer.centre}) must lie strictly "
            f"between steer.left ({steer.left}) and steer.right ({steer.right}); calibrate "
            "again (acgym drive --calibrate)"
        )
    for label, pedal in (("throttle", mapping.throttle), ("brake", mapping.brake)):
        if pedal.pressed == pedal.released:
            raise ConfigError(
                f"device mapping {mapping.name!r}: {label}.pressed equals {label}.released "
                f"({pedal.pressed}); calibrate again (acgym drive --calibrate)"
            )
    for label, zone in (
        ("steer", steer.dead_zone),
        ("throttle", mapping.throttle.dead_zone),
        ("brake", mapping.brake.dead_zone),
    ):
        if not 0.0 <= zone < 1.0:
            raise ConfigError(
                f"device mapping {mapping.name!r}: {label}.dead_zone: expected [0, 1), got {zone}"
            )
    if mapping.combined_pedals:
        t, b = mapping.throttle, mapping.brake
        if t.released != b.released or (t.pressed - t.released) * (b.pressed - b.released) >= 0:
            raise ConfigError(
                f"device mapping {mapping.name!r}: throttle and brake share axis {t.axis}, so "
                "they need the same released value and pressed ends on opposite sides of it"
            )
    unknown = set(mapping.buttons) - set(COMMANDS)
    if unknown:
        raise ConfigError(
            f"device mapping {mapping.name!r}: unknown button commands {sorted(unknown)}; "
            f"expected some of {list(COMMANDS)}"
        )


def default_mapping_path() -> Path:
    """``$XDG_CONFIG_HOME/acgym/devices.yaml`` (``~/.config/acgym/devices.yaml``)."""
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "acgym" / "devices.yaml"


def load_mappings(path: Path | str) -> dict[str, DeviceMapping]:
    """Every device mapping of a file (``{}`` when the file does not exist).

    Raises:
        DataFileError: The file is not a mapping file.
        ConfigError: An entry is invalid.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot read the device mappings ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("devices", {}), dict):
        raise DataFileError(f"{path}: expected 'version' and a 'devices' mapping")
    if data.get("version", MAPPING_FILE_VERSION) != MAPPING_FILE_VERSION:
        raise DataFileError(
            f"{path}: mapping file version {data.get('version')!r}, this acgym reads "
            f"version {MAPPING_FILE_VERSION}"
        )
    return {
        str(name): DeviceMapping.from_dict(str(name), entry)
        for name, entry in data.get("devices", {}).items()
    }


def save_mapping(path: Path | str, mapping: DeviceMapping) -> Path:
    """Add or replace one device's mapping in the file, atomically (other devices kept)."""
    path = Path(path)
    mappings = load_mappings(path)
    mappings[mapping.name] = mapping
    data = {
        "version": MAPPING_FILE_VERSION,
        "devices": {name: m.to_dict() for name, m in sorted(mappings.items())},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------------------ calibration


def calibrate(
    name: str,
    rest: ArrayLike,
    steer: ArrayLike,
    throttle: ArrayLike,
    brake: ArrayLike,
    *,
    buttons: Mapping[str, int] | None = None,
) -> DeviceMapping:
    """A device's mapping from raw axis samples ``(T, num_axes)`` of four phases.

    Args:
        name: The device's name.
        rest: Hands and feet off (the centre and released values, and the noise that sets
            the dead zones).
        steer: The wheel (stick) turned fully left first, then fully right.
        throttle: The throttle pressed fully, then released.
        brake: The brake pressed fully, then released.
        buttons: The command buttons (default: :class:`DeviceMapping`'s).

    Raises:
        ConfigError: A phase moved no axis, or the throttle and the brake moved none apart
            from the steering.
    """
    rest_a, steer_a, throttle_a, brake_a = (
        np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (rest, steer, throttle, brake)
    )
    num_axes = rest_a.shape[1]
    if any(a.shape[1] != num_axes or len(a) == 0 for a in (steer_a, throttle_a, brake_a)):
        raise ConfigError(f"calibration of {name!r}: every phase needs samples of {num_axes} axes")
    centre = np.median(rest_a, axis=0)
    noise = np.max(np.abs(rest_a - centre), axis=0)
    steer_axis = _moved_axis(name, "steering", steer_a, centre, exclude=())
    deviation = steer_a[:, steer_axis] - centre[steer_axis]
    first_left = deviation[np.flatnonzero(np.abs(deviation) > 0.5 * np.abs(deviation).max())[0]]
    low, high = float(steer_a[:, steer_axis].min()), float(steer_a[:, steer_axis].max())
    left, right = (low, high) if first_left < 0 else (high, low)
    half_range = min(abs(left - centre[steer_axis]), abs(right - centre[steer_axis]))
    steer_mapping = SteerAxis(
        axis=steer_axis,
        left=left,
        centre=float(centre[steer_axis]),
        right=right,
        dead_zone=_dead_zone(noise[steer_axis], half_range),
    )
    pedals = [
        _pedal(name, label, samples, centre, noise, exclude=(steer_axis,))
        for label, samples in (("throttle", throttle_a), ("brake", brake_a))
    ]
    return DeviceMapping(
        name=name,
        steer=steer_mapping,
        throttle=pedals[0],
        brake=pedals[1],
        **({} if buttons is None else {"buttons": dict(buttons)}),
    )


MIN_AXIS_TRAVEL = 0.2
"""Smallest raw travel (of a [-1, 1] axis) that counts as a moved axis in calibration."""


def _moved_axis(
    name: str, label: str, samples: np.ndarray, centre: np.ndarray, exclude: tuple[int, ...]
) -> int:
    travel = np.max(np.abs(samples - centre), axis=0)
    travel[list(exclude)] = 0.0
    axis = int(np.argmax(travel))
    if travel[axis] < MIN_AXIS_TRAVEL:
        raise ConfigError(
            f"calibration of {name!r}: no axis moved during the {label} phase (largest travel "
            f"{travel[axis]:.3f}); move it through its whole range when asked"
        )
    return axis


def _pedal(
    name: str,
    label: str,
    samples: np.ndarray,
    centre: np.ndarray,
    noise: np.ndarray,
    exclude: tuple[int, ...],
) -> PedalAxis:
    axis = _moved_axis(name, label, samples, centre, exclude)
    deviation = samples[:, axis] - centre[axis]
    pressed = float(samples[int(np.argmax(np.abs(deviation))), axis])
    travel = abs(pressed - centre[axis])
    return replace(
        PedalAxis(axis=axis, released=float(centre[axis]), pressed=pressed),
        dead_zone=_dead_zone(noise[axis], travel),
    )


def _dead_zone(noise: float, travel: float) -> float:
    """Twice the resting noise as a fraction of the travel, at least 1 %, at most 20 %."""
    return float(min(0.2, max(0.01, 2.0 * noise / max(travel, 1e-9))))


__all__ = [
    "COMMANDS",
    "DeviceMapping",
    "PedalAxis",
    "SteerAxis",
    "calibrate",
    "default_mapping_path",
    "load_mappings",
    "save_mapping",
]

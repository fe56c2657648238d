"""Actions: the policy's [-1, 1]^3 output to the backend's controls, and back.

The action is ``[steer, accel, brake]``. The controls sent to a backend use the
simulator's own ranges: ``steer`` in ``[-s_max, s_max]`` where ``s_max`` is the normalized
steer at full lock from the car's ``steer_map.csv``, ``acc`` and ``brake`` in ``[-1, 1]``
with -1 the released pedal.

* Relative mode (the original's default): an action is a change per step,
  ``controls += action * max_delta`` with ``max_delta`` the rate limits times the control
  period (steering ``max_steer_rate`` deg/s of steering-wheel angle, converted to
  normalized steer through the steer map; pedals ``pedal_rate_per_s``), then clipped to
  the controls' range.
* Absolute mode: the action is the control, clipped to the range.

The inverse turns logged telemetry (``steerAngle`` deg, ``accStatus`` and ``brakeStatus``
in 0..1) back into controls (through the steer map, ``acc = 2 * accStatus - 1`` and the
inverse brake map) and consecutive controls into actions, for offline data. The original's
data loader divides ``steerAngle`` by the full-lock angle alone (not the steer map's
inverse) and interpolates the brake map cubically; here both maps are piecewise linear and
exactly inverse to each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.env.config import EnvConfig
from acgym.errors import CarFileError

FloatArray = NDArray[np.float64]

NUM_ACTIONS = 3
"""Action / control channels: steer, accel, brake."""

NEUTRAL_CONTROLS = (0.0, -1.0, -1.0)
"""Straight wheel, gas and brake released (the original's start and default controls)."""

STEER_MAP_COLUMNS = (("action_steerAngle", "steerAngle"), ("x_points", "y_points"))
"""The two header formats of ``steer_map.csv``: normalized steer, wheel angle in degrees."""

BRAKE_MAP_COLUMNS = ("x_points", "y_points")
"""Header of ``brake_map.csv``: brake input in [-1, 1], brake status in [0, 1]."""


@dataclass(frozen=True)
class SteerMap:
    """Normalized steer <-> steering-wheel angle (linear through zero).

    Attributes:
        full_lock_steer: Normalized steer at full lock (> 0), the controls' steer limit.
        full_lock_deg: Steering-wheel angle at full lock, degrees (> 0).
    """

    full_lock_steer: float
    full_lock_deg: float

    def __post_init__(self) -> None:
        for name in ("full_lock_steer", "full_lock_deg"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise CarFileError(f"steer map: {name} must be a positive number, got {value}")

    @property
    def deg_per_unit(self) -> float:
        """Steering-wheel degrees per unit of normalized steer."""
        return self.full_lock_deg / self.full_lock_steer

    def to_deg(self, steer: ArrayLike) -> FloatArray:
        """Normalized steer -> steering-wheel angle, degrees."""
        return np.asarray(steer, dtype=np.float64) * self.deg_per_unit

    def to_steer(self, angle_deg: ArrayLike) -> FloatArray:
        """Steering-wheel angle, degrees -> normalized steer."""
        return np.asarray(angle_deg, dtype=np.float64) / self.deg_per_unit


@dataclass(frozen=True, eq=False)
class BrakeMap:
    """Brake input in [-1, 1] <-> brake status in [0, 1], piecewise linear.

    Attributes:
        input_points: Brake inputs, ``(K,)`` strictly increasing, from -1 to 1.
        status_points: Brake status at each input, ``(K,)`` strictly increasing in [0, 1].
    """

    input_points: FloatArray
    status_points: FloatArray

    def __post_init__(self) -> None:
        x, y = self.input_points, self.status_points
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise CarFileError(
                f"brake map: expected two equal columns of >= 2 points, got {x.shape} and {y.shape}"
            )
        if not (np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0)):
            raise CarFileError(
                "brake map: x_points and y_points must both increase strictly (the map must be invertible)"
            )
        if not (np.isclose(x[0], -1.0) and np.isclose(x[-1], 1.0)):
            raise CarFileError(f"brake map: x_points must span [-1, 1], got [{x[0]}, {x[-1]}]")
        if y[0] < 0.0 or y[-1] > 1.0:
            raise CarFileError(f"brake map: y_points must lie in [0, 1], got [{y[0]}, {y[-1]}]")

    def status(self, brake: ArrayLike) -> FloatArray:
        """Brake input (clipped to [-1, 1]) -> brake status in [0, 1]."""
        brake = np.clip(np.asarray(brake, dtype=np.float64), -1.0, 1.0)
        return np.interp(brake, self.input_points, self.status_points)

    def input(self, status: ArrayLike) -> FloatArray:
        """Brake status (clipped to the map's range) -> brake input in [-1, 1]."""
        status = np.asarray(status, dtype=np.float64)
        return np.interp(status, self.status_points, self.input_points)


@dataclass(frozen=True)
class CarMaps:
    """A car's control maps, read from its folder."""

    name: str
    steer: SteerMap
    brake: BrakeMap

    @classmethod
    def from_folder(cls, folder: Path | str) -> CarMaps:
        """Read ``steer_map.csv`` and ``brake_map.csv`` from a car folder."""
        folder = Path(folder)
        return cls(
            name=folder.name,
            steer=read_steer_map(folder / "steer_map.csv"),
            brake=read_brake_map(folder / "brake_map.csv"),
        )


def _read_csv(path: Path) -> tuple[tuple[str, ...], FloatArray]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CarFileError(f"{path}: cannot read the car map ({exc})") from exc
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise CarFileError(f"{path}: the file is empty")
    header = tuple(name.strip() for name in lines[0].split(","))
    try:
        rows = np.array(
            [[float(v) for v in line.split(",")] for line in lines[1:]], dtype=np.float64
        )
    except ValueError as exc:
        raise CarFileError(f"{path}: expected numbers below the header ({exc})") from exc
    if rows.ndim != 2 or rows.shape[1] != len(header) or not np.all(np.isfinite(rows)):
        raise CarFileError(f"{path}: expected {len(header)} finite numbers per row")
    return header, rows


def read_steer_map(path: Path | str) -> SteerMap:
    """Read ``steer_map.csv``: two rows (full lock left, full lock right).

    Either header format is accepted (``action_steerAngle,steerAngle`` or
    ``x_points,y_points``); the first column is normalized steer, the second the wheel
    angle in degrees. As in the original, the second row gives the full lock; the first
    must mirror it.
    """
    path = Path(path)
    header, rows = _read_csv(path)
    if header not in STEER_MAP_COLUMNS:
        raise CarFileError(
            f"{path}: expected the header {' or '.join(','.join(c) for c in STEER_MAP_COLUMNS)}, got {','.join(header)}"
        )
    if rows.shape != (2, 2):
        raise CarFileError(f"{path}: expected 2 rows (full lock left and right), got {len(rows)}")
    if not np.allclose(rows[0], -rows[1]):
        raise CarFileError(f"{path}: the two rows must mirror each other, got {rows.tolist()}")
    return SteerMap(full_lock_steer=float(rows[1, 0]), full_lock_deg=float(rows[1, 1]))


def read_brake_map(path: Path | str) -> BrakeMap:
    """Read ``brake_map.csv`` (``x_points,y_points``)."""
    path = Path(path)
    header, rows = _read_csv(path)
    if header != BRAKE_MAP_COLUMNS:
        raise CarFileError(
            f"{path}: expected the header {','.join(BRAKE_MAP_COLUMNS)}, got {','.join(header)}"
        )
    try:
        return BrakeMap(input_points=rows[:, 0].copy(), status_points=rows[:, 1].copy())
    except CarFileError as exc:
        raise CarFileError(f"{path}: {exc}") from exc


class ActionMapper:
    """Actions <-> controls for one car, in relative or absolute mode.

    Works on a leading car / time axis: every array is ``(..., 3)``.

    Args:
        steer_map: The car's steer map.
        control_rate_hz: Steps per second.
        relative: Relative (rate-limited changes) or absolute actions.
        max_steer_rate_deg_s: Steering-wheel rate at action 1 in relative mode, deg/s.
        pedal_rate_per_s: Pedal-input rate at action 1 in relative mode, 1/s.
    """

    def __init__(
        self,
        steer_map: SteerMap,
        control_rate_hz: float,
        *,
        relative: bool = True,
        max_steer_rate_deg_s: float = 900.0,
        pedal_rate_per_s: float = 12.0,
    ) -> None:
        if not control_rate_hz > 0:
            raise ValueError(f"control_rate_hz: expected > 0, got {control_rate_hz}")
        self.steer_map = steer_map
        self.relative = relative
        period_s = 1.0 / control_rate_hz
        self.max_delta = np.array(
            [
                max_steer_rate_deg_s * period_s / steer_map.deg_per_unit,
                pedal_rate_per_s * period_s,
                pedal_rate_per_s * period_s,
            ]
        )
        """Largest change of each control per step in relative mode, ``(3,)``."""
        self.low = np.array([-steer_map.full_lock_steer, -1.0, -1.0])
        """Lower control limits, ``(3,)``."""
        self.high = np.array([steer_map.full_lock_steer, 1.0, 1.0])
        """Upper control limits, ``(3,)``."""

    @classmethod
    def from_config(cls, steer_map: SteerMap, config: EnvConfig) -> ActionMapper:
        """The mapper of ``config`` (rate, relative mode, rate limits) for a car."""
        return cls(
            steer_map,
            config.ego_sampling_freq,
            relative=config.use_relative_actions,
            max_steer_rate_deg_s=config.max_steer_rate,
            pedal_rate_per_s=config.actions.pedal_rate_per_s,
        )

    def check_actions(self, actions: ArrayLike, *, single: bool = False) -> FloatArray:
        """Validate an action array ``(..., 3)`` (``(3,)`` when ``single``), finite.

        Returns:
            A float64 copy.
        """
        array = np.array(actions, dtype=np.float64)
        expected = "(3,)" if single else "(..., 3)"
        if (array.shape != (NUM_ACTIONS,)) if single else (array.shape[-1:] != (NUM_ACTIONS,)):
            raise ValueError(
                f"actions: expected shape {expected} for [steer, accel, brake], got {array.shape}"
            )
        if not math.isfinite(array.sum()):  # a NaN or an infinity anywhere makes the sum so
            if not np.all(np.isfinite(array)):
                raise ValueError(f"actions: expected finite values, got {array}")
        return array

    def to_controls(
        self, actions: ArrayLike, current_controls: ArrayLike, *, checked: bool = False
    ) -> FloatArray:
        """Controls to apply after ``actions``, given the controls now applied.

        Args:
            actions: ``(..., 3)`` in [-1, 1] (values beyond are clipped by the limits).
            current_controls: ``(..., 3)`` controls applied now (ignored in absolute mode).
            checked: ``actions`` already came from :meth:`check_actions`.

        Returns:
            ``(..., 3)`` controls [steer, acc, brake] within the car's range.
        """
        if not checked:
            actions = self.check_actions(actions)
        if self.relative:
            new = actions * self.max_delta
            new += current_controls
        else:
            new = actions
        return np.minimum(np.maximum(new, self.low), self.high)  # np.clip, faster on 3 values

    def to_actions(self, previous_controls: ArrayLike, controls: ArrayLike) -> FloatArray:
        """The actions that move ``previous_controls`` to ``controls`` (the exact inverse).

        Relative mode: ``(controls - previous) / max_delta``, clipped to [-1, 1]; absolute:
        ``controls`` clipped to the range. ``to_controls(to_actions(p, c), p) == c`` for
        every reachable ``c``.
        """
        controls = np.asarray(controls, dtype=np.float64)
        if self.relative:
            delta = controls - np.asarray(previous_controls, dtype=np.float64)
            return np.clip(delta / self.max_delta, -1.0, 1.0)
        return np.clip(controls, self.low, self.high)

    def actions_from_controls(self, controls: ArrayLike) -> FloatArray:
        """Actions of a logged sequence of controls ``(T, 3)`` -> ``(T, 3)``.

        The first step has no predecessor: it counts as its own (a zero relative action),
        as in the original data loader.
        """
        controls = np.asarray(controls, dtype=np.float64)
        if controls.ndim != 2 or controls.shape[1] != NUM_ACTIONS:
            raise ValueError(f"controls: expected shape (T, 3), got {controls.shape}")
        previous = np.concatenate([controls[:1], controls[:-1]])
        return self.to_actions(previous, controls)


def controls_from_telemetry(
    steer_angle_deg: ArrayLike,
    acc_status: ArrayLike,
    brake_status: ArrayLike,
    car: CarMaps,
) -> FloatArray:
    """Applied controls from telemetry channels (steerAngle, accStatus, brakeStatus).

    Returns:
        ``(..., 3)`` controls [steer, acc, brake]: the steer map's inverse,
        ``2 * accStatus - 1`` and the brake map's inverse.
    """
    return np.stack(
        [
            car.steer.to_steer(steer_angle_deg),
            2.0 * np.asarray(acc_status, dtype=np.float64) - 1.0,
            car.brake.input(brake_status),
        ],
        axis=-1,
    )


def telemetry_from_controls(controls: ArrayLike, car: CarMaps) -> FloatArray:
    """The forward maps: controls ``(..., 3)`` -> ``(..., 3)`` [steerAngle deg, accStatus, brakeStatus]."""
    controls = np.asarray(controls, dtype=np.float64)
    return np.stack(
        [
            car.steer.to_deg(controls[..., 0]),
            0.5 * (controls[..., 1] + 1.0),
            car.brake.status(controls[..., 2]),
        ],
        axis=-1,
    )

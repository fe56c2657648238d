"""A car's control maps: ``steer_map.csv`` and ``brake_map.csv`` of a car folder.

The one reader of these files, for the simulator (``acgym.sim.car_params`` packs the maps
into its kernels) and for the environment (``acgym.env.actions`` turns actions into
controls and logged telemetry back into actions, for the game as for the simulator).
It lives below both (it imports nothing of the package but the errors): the maps are
the game car's, so an environment driving the game reads them without loading the
simulator, and a folder one side accepts the other accepts with the same numbers.

* ``steer_map.csv``: header ``action_steerAngle,steerAngle`` or ``x_points,y_points``;
  normalized steer input -> steering-wheel angle in degrees, 2 to
  :data:`MAX_STEER_MAP_POINTS` rows (the original's files have two: full lock left and
  right). Both columns increase strictly and the rows mirror each other (row ``i`` is
  minus row ``K - 1 - i``): straight ahead at 0, the same lock both ways. Linear between
  rows, clamped at the end rows (the steering lock).
* ``brake_map.csv``: header ``x_points,y_points``; brake input from -1 (released) to 1
  -> brake status in [0, 1], 2 to :data:`MAX_BRAKE_MAP_POINTS` rows, both columns
  increasing strictly (the map has an exact inverse, for logged data). Linear between
  rows. (The original's data loader interpolates it cubically; linear is what the
  simulator applies, and it is exactly invertible.)
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import CarFileError

FloatArray = NDArray[np.float64]

STEER_MAP_FILE = "steer_map.csv"
BRAKE_MAP_FILE = "brake_map.csv"

STEER_MAP_COLUMNS = (("action_steerAngle", "steerAngle"), ("x_points", "y_points"))
"""The two header formats of ``steer_map.csv``: normalized steer, wheel angle in degrees."""

BRAKE_MAP_COLUMNS = (("x_points", "y_points"),)
"""The header of ``brake_map.csv``: brake input in [-1, 1], brake status in [0, 1]."""

MAX_STEER_MAP_POINTS = 8
"""Most rows of a steer map (the simulator's kernels hold this many)."""

MAX_BRAKE_MAP_POINTS = 64
"""Most rows of a brake map (the simulator's kernels hold this many)."""

_STEER_COLUMNS = {
    "input_points": "the normalized steer (first column)",
    "angle_points_deg": "the steering-wheel angle (second column)",
}
_BRAKE_COLUMNS = {
    "input_points": "the brake input (x_points)",
    "status_points": "the brake status (y_points)",
}


def _as_points(owner: object, columns: dict[str, str], most: int) -> None:
    """Store ``owner``'s two point columns (attribute -> what it holds) as tuples of
    floats and check them: equal lengths, 2 to ``most`` finite rows, strictly increasing."""
    what = type(owner).__name__
    for name in columns:
        object.__setattr__(owner, name, tuple(float(v) for v in getattr(owner, name)))
    inputs, outputs = (getattr(owner, name) for name in columns)
    if len(inputs) != len(outputs):
        raise CarFileError(
            f"{what}: the columns differ in length ({len(inputs)} vs {len(outputs)})"
        )
    if not 2 <= len(inputs) <= most:
        raise CarFileError(f"{what}: expected 2 to {most} rows, got {len(inputs)}")
    if not all(math.isfinite(v) for v in inputs + outputs):
        raise CarFileError(f"{what}: every value must be a finite number")
    for name, label in columns.items():
        column = getattr(owner, name)
        if any(b <= a for a, b in itertools.pairwise(column)):
            raise CarFileError(
                f"{what}: {label} must increase strictly row by row, got {list(column)}"
            )


@dataclass(frozen=True)
class SteerMap:
    """Normalized steer <-> steering-wheel angle, piecewise linear, odd (mirrored rows).

    Attributes:
        input_points: Normalized steer inputs, ``(K,)`` strictly increasing, mirrored.
        angle_points_deg: Steering-wheel angle at each input, degrees, ``(K,)`` strictly
            increasing (negative = left, as in the game).
    """

    input_points: tuple[float, ...]
    angle_points_deg: tuple[float, ...]

    def __post_init__(self) -> None:
        _as_points(self, _STEER_COLUMNS, MAX_STEER_MAP_POINTS)
        for column in (self.input_points, self.angle_points_deg):
            if not np.allclose(column, -np.asarray(column[::-1])):
                raise CarFileError(
                    "SteerMap: the rows must mirror each other (straight ahead at 0, the "
                    f"same lock both ways), got inputs {list(self.input_points)} and "
                    f"angles {list(self.angle_points_deg)}"
                )

    @property
    def full_lock_steer(self) -> float:
        """Normalized steer at full lock (> 0): the controls' steer limit."""
        return self.input_points[-1]

    @property
    def full_lock_deg(self) -> float:
        """Steering-wheel angle at full lock, degrees (> 0)."""
        return self.angle_points_deg[-1]

    @property
    def deg_per_unit(self) -> float:
        """Steering-wheel degrees per unit of normalized steer, end to end (the slope of
        a two-row map; the mean slope of a longer one)."""
        return self.full_lock_deg / self.full_lock_steer

    def to_deg(self, steer: ArrayLike) -> FloatArray:
        """Normalized steer -> steering-wheel angle, degrees (clamped at the lock)."""
        return np.interp(np.asarray(steer, np.float64), self.input_points, self.angle_points_deg)

    def to_steer(self, angle_deg: ArrayLike) -> FloatArray:
        """Steering-wheel angle, degrees -> normalized steer (clamped at the lock)."""
        return np.interp(
            np.asarray(angle_deg, np.float64), self.angle_points_deg, self.input_points
        )


@dataclass(frozen=True)
class BrakeMap:
    """Brake input in [-1, 1] <-> brake status in [0, 1], piecewise linear.

    Attributes:
        input_points: Brake inputs, ``(K,)`` strictly increasing, from -1 to 1.
        status_points: Brake status at each input, ``(K,)`` strictly increasing in [0, 1].
    """

    input_points: tuple[float, ...]
    status_points: tuple[float, ...]

    def __post_init__(self) -> None:
        _as_points(self, _BRAKE_COLUMNS, MAX_BRAKE_MAP_POINTS)
        x, y = self.input_points, self.status_points
        if not (math.isclose(x[0], -1.0) and math.isclose(x[-1], 1.0)):
            raise CarFileError(
                f"BrakeMap: the brake inputs must cover [-1, 1] from end to end, got [{x[0]}, {x[-1]}]"
            )
        if y[0] < 0.0 or y[-1] > 1.0:
            raise CarFileError(
                f"BrakeMap: the brake status must lie in [0, 1], got [{y[0]}, {y[-1]}]"
            )

    def status(self, brake: ArrayLike) -> FloatArray:
        """Brake input (clamped to [-1, 1]) -> brake status in [0, 1]."""
        return np.interp(np.asarray(brake, np.float64), self.input_points, self.status_points)

    def input(self, status: ArrayLike) -> FloatArray:
        """Brake status (clamped to the map's range) -> brake input in [-1, 1]."""
        return np.interp(np.asarray(status, np.float64), self.status_points, self.input_points)


MapT = TypeVar("MapT", SteerMap, BrakeMap)


@dataclass(frozen=True)
class CarMaps:
    """A car's control maps, read from its folder.

    Attributes:
        name: The folder's name (the car's name).
        steer: ``steer_map.csv``.
        brake: ``brake_map.csv``.
    """

    name: str
    steer: SteerMap
    brake: BrakeMap

    @classmethod
    def from_folder(cls, folder: Path | str) -> CarMaps:
        """Read ``steer_map.csv`` and ``brake_map.csv`` from a car folder."""
        folder = Path(folder)
        return cls(
            name=folder.name,
            steer=read_steer_map(folder / STEER_MAP_FILE),
            brake=read_brake_map(folder / BRAKE_MAP_FILE),
        )


def read_steer_map(path: Path | str) -> SteerMap:
    """Read ``steer_map.csv`` (either header format; see the module docstring).

    Raises:
        CarFileError: Missing, unreadable or malformed, naming the file and the fault.
    """
    return _read_map(Path(path), STEER_MAP_COLUMNS, SteerMap)


def read_brake_map(path: Path | str) -> BrakeMap:
    """Read ``brake_map.csv`` (``x_points,y_points``; see the module docstring).

    Raises:
        CarFileError: Missing, unreadable or malformed, naming the file and the fault.
    """
    return _read_map(Path(path), BRAKE_MAP_COLUMNS, BrakeMap)


def _read_map(path: Path, headers: tuple[tuple[str, str], ...], kind: type[MapT]) -> MapT:
    """A map of ``kind`` from the file's two columns; its faults name the file."""
    inputs, outputs = _read_columns(path, headers)
    try:
        return kind(inputs, outputs)
    except CarFileError as exc:
        raise CarFileError(f"{path}: {exc}") from None


def _read_columns(
    path: Path, headers: tuple[tuple[str, str], ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The two numeric columns of a map file below one of ``headers``."""
    if not path.is_file():
        raise CarFileError(f"{path}: missing; every car folder needs {path.name}")
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CarFileError(f"{path}: cannot read the car map ({exc})") from exc
    if not rows:
        raise CarFileError(f"{path}: empty file; expected a header and at least two rows")
    header = tuple(cell.strip() for cell in rows[0][1])
    if header not in headers:
        raise CarFileError(
            f"{path}: header {','.join(header)!r} not understood; expected "
            + " or ".join(repr(",".join(h)) for h in headers)
        )
    xs, ys = [], []
    for number, row in rows[1:]:
        try:
            x, y = (float(cell) for cell in row)
        except ValueError as exc:
            raise CarFileError(f"{path}: line {number}: expected two numbers, got {row!r}") from exc
        xs.append(x)
        ys.append(y)
    return tuple(xs), tuple(ys)


__all__ = [
    "BRAKE_MAP_COLUMNS",
    "BRAKE_MAP_FILE",
    "MAX_BRAKE_MAP_POINTS",
    "MAX_STEER_MAP_POINTS",
    "STEER_MAP_COLUMNS",
    "STEER_MAP_FILE",
    "BrakeMap",
    "CarMaps",
    "SteerMap",
    "read_brake_map",
    "read_steer_map",
]

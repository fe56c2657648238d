"""Where a simulator episode starts: the reset options and seeded random starts.

A start is a placement relative to the track's reference line (the protocol's reset
options): ``distance_m`` along it, ``lateral_offset_m`` to its left, ``heading_offset_rad``
(anticlockwise) and ``speed_mps``. The config's :class:`~acgym.env.config.StartConfig`
gives the default; reset options of the same names override it for one episode, and
``random_start`` (or ``StartConfig.random``) draws the start from a seeded generator.

A random start always draws the same four numbers in the same order (distance, lateral
offset, heading offset, speed), so a generator seeded with ``s`` gives the same start in
the single environment and in car ``i`` of the vector environment seeded with ``s - i``
(Gymnasium seeds sub-environment ``i`` with ``seed + i``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from acgym.env.config import StartConfig
from acgym.errors import ConfigError

START_OPTIONS = ("distance_m", "lateral_offset_m", "heading_offset_rad", "speed_mps")
"""Reset options that place the car (the protocol's names)."""

RANDOM_START_OPTION = "random_start"
"""Reset option: draw this episode's start from the seeded generator (bool)."""


def start_placement(
    start: StartConfig,
    options: Mapping[str, Any],
    rng: np.random.Generator,
    length_m: float,
) -> dict[str, float]:
    """The placement of one episode.

    Args:
        start: The configured start.
        options: Reset options: any of ``START_OPTIONS`` and ``random_start``.
        rng: The episode's generator (drawn from only for a random start).
        length_m: Length of the reference line, m.

    Returns:
        ``{distance_m, lateral_offset_m, heading_offset_rad, speed_mps}``.

    Raises:
        ConfigError: An unknown option, or a value that is not a finite number.
    """
    unknown = sorted(set(options) - {*START_OPTIONS, RANDOM_START_OPTION})
    if unknown:
        raise ConfigError(
            f"reset options {unknown} are unknown; expected any of {[*START_OPTIONS, RANDOM_START_OPTION]}"
        )
    if bool(options.get(RANDOM_START_OPTION, start.random)):
        distance, lateral, heading, speed = rng.uniform(
            [0.0, -start.max_lateral_offset_m, -start.max_heading_offset_rad, 0.0],
            [
                length_m,
                start.max_lateral_offset_m,
                start.max_heading_offset_rad,
                start.max_speed_mps,
            ],
        ).tolist()
    else:
        distance, lateral, heading, speed = (
            start.distance_m,
            start.lateral_offset_m,
            start.heading_offset_rad,
            start.speed_mps,
        )
    placement = {
        "distance_m": distance,
        "lateral_offset_m": lateral,
        "heading_offset_rad": heading,
        "speed_mps": speed,
    }
    for name in START_OPTIONS:
        if name in options:
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ConfigError(f"reset option {name}: expected a number, got {value!r}")
            placement[name] = float(value)
        if not np.isfinite(placement[name]):
            raise ConfigError(
                f"reset option {name}: expected a finite number, got {placement[name]}"
            )
    if placement["speed_mps"] < 0:
        raise ConfigError(f"reset option speed_mps: expected >= 0, got {placement['speed_mps']}")
    return placement

"""Where a simulator episode starts: the reset options and seeded random starts.

A start is a placement relative to the track's reference line (the protocol's reset
options): ``distance_m`` along it, ``lateral_offset_m`` to its left, ``heading_offset_rad``
(anticlockwise) and ``speed_mps``. The config's :class:`~acgym.env.config.StartConfig`
gives the default; reset options of the same names override it for one episode, and
``random_start`` (or ``StartConfig.random``) draws the start from a seeded generator.
A random start's speed is uniform up to ``max_speed_mps``, or, with
``max_profile_speed_fraction`` set, a random fraction of the car's speed profile at the
drawn place (:class:`ProfileSpeed`): rolling into every corner at a speed it can be taken
at, as a racing car arrives there.

With ``failure_fraction`` set, a share of the random starts is placed shortly before
where recent episodes ended (:class:`EpisodeEnds`, the env's memory of its terminated
episodes): the corner that ends most episodes is where most of them then start.

A random start always draws the same four numbers in the same order (distance, lateral
offset, heading offset, speed), then, with ``failure_fraction`` set, three more (whether
to start before a failure, which one, how far before it), so a generator seeded with
``s`` gives the same start in the single environment and in car ``i`` of the vector
environment seeded with ``s - i`` (Gymnasium seeds sub-environment ``i`` with ``seed + i``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import StartConfig
from acgym.errors import ConfigError
from acgym.track.speed_profile import VehicleLimits, speed_profile

START_OPTIONS = ("distance_m", "lateral_offset_m", "heading_offset_rad", "speed_mps")
"""Reset options that place the car (the protocol's names)."""

RANDOM_START_OPTION = "random_start"
"""Reset option: draw this episode's start from the seeded generator (bool)."""

FAILURE_ENDS_OPTION = "failure_ends_m"
"""Reset option the env passes to its backend: the distances along the line where its
latest terminated episodes ended, m (``StartConfig.failure_fraction``)."""


class EpisodeEnds:
    """Where the latest terminated episodes ended: a ring of distances along the line.

    Args:
        capacity: How many ends are kept (the oldest go first).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ConfigError(f"EpisodeEnds: capacity must be >= 1, got {capacity}")
        self._ring_m = np.zeros(capacity)
        self._count = 0

    def __len__(self) -> int:
        return min(self._count, len(self._ring_m))

    def record(self, distances_m: NDArray[np.float64]) -> None:
        """Remember episodes that ended at ``distances_m`` along the line, m."""
        for distance_m in np.asarray(distances_m, dtype=np.float64).ravel().tolist():
            self._ring_m[self._count % len(self._ring_m)] = distance_m
            self._count += 1

    def distances_m(self) -> NDArray[np.float64]:
        """The remembered ends (a copy), m, in no particular order."""
        return self._ring_m[: len(self)].copy()


class ProfileSpeed:
    """The speed profile of a car along a reference line, computed at the first call.

    Args:
        line_m: The reference line, ``(M, 2)`` m, a closed loop.
        limits: Returns the car's limits (called once, when first needed).
    """

    def __init__(self, line_m: NDArray[np.float64], limits: Callable[[], VehicleLimits]) -> None:
        self._line_m = line_m
        self._limits = limits
        self._knots_m: NDArray[np.float64] | None = None
        self._speed_mps: NDArray[np.float64] | None = None

    def __call__(self, distance_m: float) -> float:
        """The profile's speed at ``distance_m`` along the line (wrapped), m/s."""
        if self._knots_m is None or self._speed_mps is None:
            profile = speed_profile(self._line_m, self._limits())
            length_m = float(np.hypot(*(self._line_m[0] - self._line_m[-1])))
            self._knots_m = np.append(profile.s_m, profile.s_m[-1] + length_m)
            self._speed_mps = np.append(profile.speed_mps, profile.speed_mps[0])
        knots = self._knots_m
        return float(np.interp(distance_m % knots[-1], knots, self._speed_mps))


def start_placement(
    start: StartConfig,
    options: Mapping[str, Any],
    rng: np.random.Generator,
    length_m: float,
    profile_speed: Callable[[float], float] | None = None,
    failure_ends_m: NDArray[np.float64] | None = None,
) -> dict[str, float]:
    """The placement of one episode.

    Args:
        start: The configured start.
        options: Reset options: any of ``START_OPTIONS`` and ``random_start``.
        rng: The episode's generator (drawn from only for a random start).
        length_m: Length of the reference line, m.
        profile_speed: The car's speed profile at a distance along the line, m/s; needed
            for random starts with ``start.max_profile_speed_fraction``.
        failure_ends_m: Where the latest terminated episodes ended along the line, m
            (:class:`EpisodeEnds`), for ``start.failure_fraction``; None or empty: none.

    Returns:
        ``{distance_m, lateral_offset_m, heading_offset_rad, speed_mps}``.

    Raises:
        ConfigError: An unknown option, a value that is not a finite number, or profile
            speeds asked for without a profile (not the simulator).
    """
    unknown = sorted(set(options) - {*START_OPTIONS, RANDOM_START_OPTION})
    if unknown:
        raise ConfigError(
            f"reset options {unknown} are unknown; expected any of {[*START_OPTIONS, RANDOM_START_OPTION]}"
        )
    if bool(options.get(RANDOM_START_OPTION, start.random)):
        fractions = start.min_profile_speed_fraction, start.max_profile_speed_fraction
        on_profile = fractions[1] > 0.0
        distance, lateral, heading, speed = rng.uniform(
            [0.0, -start.max_lateral_offset_m, -start.max_heading_offset_rad, 0.0],
            [
                length_m,
                start.max_lateral_offset_m,
                start.max_heading_offset_rad,
                1.0 if on_profile else start.max_speed_mps,
            ],
        ).tolist()
        if start.failure_fraction > 0.0:
            distance = _before_a_failure(start, rng, distance, length_m, failure_ends_m)
        if on_profile:
            if profile_speed is None:
                raise ConfigError(
                    "start.max_profile_speed_fraction needs the car's speed profile (the "
                    "built-in simulator); set it to 0 and use start.max_speed_mps"
                )
            fraction = fractions[0] + speed * (fractions[1] - fractions[0])
            speed = fraction * profile_speed(distance)
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


def _before_a_failure(
    start: StartConfig,
    rng: np.random.Generator,
    distance_m: float,
    length_m: float,
    failure_ends_m: NDArray[np.float64] | None,
) -> float:
    """``distance_m``, or, for ``start.failure_fraction`` of the draws when episodes
    have ended, a place up to ``start.failure_lead_m`` before one of those ends, m."""
    use, pick, lead = rng.random(3).tolist()
    if failure_ends_m is None or len(failure_ends_m) == 0 or use >= start.failure_fraction:
        return distance_m
    end_m = float(failure_ends_m[min(int(pick * len(failure_ends_m)), len(failure_ends_m) - 1)])
    return (end_m - lead * start.failure_lead_m) % length_m

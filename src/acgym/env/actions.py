"""Actions: the policy's [-1, 1]^3 output to the backend's controls, and back.

The action is ``[steer, accel, brake]``. The controls sent to a backend use the
simulator's own ranges: ``steer`` in ``[-s_max, s_max]`` where ``s_max`` is the normalized
steer at full lock from the car's ``steer_map.csv``, ``acc`` and ``brake`` in ``[-1, 1]``
with -1 the released pedal.

* Relative mode (the original's default): an action is a change per step,
  ``controls += action * max_delta`` with ``max_delta`` the rate limits times the control
  period (steering ``max_steer_rate`` deg/s of steering-wheel angle, converted to
  normalized steer through the steer map's full lock, ``SteerMap.deg_per_unit``: exact for
  the original's two-row maps, the mean rate for a longer one; pedals
  ``pedal_rate_per_s``), then clipped to the controls' range.
* Absolute mode: the action is the control, clipped to the range.
* Relative steering with absolute pedals (``actions.relative_pedals=false``, the
  ``progress`` recipe's): the steering is rate-limited as in relative mode, the gas and
  brake actions are the pedals. A relative pedal released at -1 stays there unless the
  policy pushes it up several steps running, so a policy that learned on straights to
  keep it released almost never tries the brake; an absolute pedal is tried whenever the
  policy's noise reaches it. The pedal is ``action / PEDAL_FULL_TRAVEL_ACTION`` clipped to
  [-1, 1]: a squashed-Gaussian policy never outputs exactly +-1, so without the band its
  deterministic throttle sits near 95 % on a straight (measured on the oval: a lap 4 %
  slower than with relative pedals, which clip at full travel).

The inverse turns logged telemetry (``steerAngle`` deg, ``accStatus`` and ``brakeStatus``
in 0..1) back into controls (through the steer map, ``acc = 2 * accStatus - 1`` and the
inverse brake map) and consecutive controls into actions, for offline data. The original's
data loader divides ``steerAngle`` by the full-lock angle alone (not the steer map's
inverse) and interpolates the brake map cubically; here both maps are piecewise linear and
exactly inverse to each other.

The car maps (``SteerMap``, ``BrakeMap``, ``CarMaps``) are :mod:`acgym.car_maps`'s, the
one reader of a car folder's ``steer_map.csv`` and ``brake_map.csv`` that the simulator
uses too; they are re-exported here for the environment's users.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.car_maps import BrakeMap, CarMaps, SteerMap
from acgym.env.config import EnvConfig

FloatArray = NDArray[np.float64]

NUM_ACTIONS = 3
"""Action / control channels: steer, accel, brake."""

PEDAL_FULL_TRAVEL_ACTION = 0.9
"""With relative steering and absolute pedals, a pedal action at or beyond this (either
sign) is full travel: floored, or released."""

NEUTRAL_CONTROLS = (0.0, -1.0, -1.0)
"""Straight wheel, gas and brake released (the original's start and default controls)."""


class ActionMapper:
    """Actions <-> controls for one car, in relative or absolute mode.

    Works on a leading car / time axis: every array is ``(..., 3)``.

    Args:
        steer_map: The car's steer map.
        control_rate_hz: Steps per second.
        relative: Relative (rate-limited changes) or absolute actions.
        relative_pedals: With ``relative``, the gas and brake are relative too; false:
            they are absolute (only the steering is rate-limited).
        max_steer_rate_deg_s: Steering-wheel rate at action 1 in relative mode, deg/s.
        pedal_rate_per_s: Pedal-input rate at action 1 in relative mode, 1/s.
    """

    def __init__(
        self,
        steer_map: SteerMap,
        control_rate_hz: float,
        *,
        relative: bool = True,
        relative_pedals: bool = True,
        max_steer_rate_deg_s: float = 900.0,
        pedal_rate_per_s: float = 12.0,
    ) -> None:
        if not control_rate_hz > 0:
            raise ValueError(f"control_rate_hz: expected > 0, got {control_rate_hz}")
        self.steer_map = steer_map
        self.relative = np.array(
            [relative, relative and relative_pedals, relative and relative_pedals]
        )
        """Which channels are relative (steer, gas, brake), ``(3,)`` bool."""
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
        # controls = actions * scale + current * keep covers every channel's mode; the
        # inverse's bounds are the action range of a relative channel, the control range
        # of an absolute one.
        absolute_pedal = 1.0 / PEDAL_FULL_TRAVEL_ACTION if relative else 1.0
        self._scale = np.where(self.relative, self.max_delta, [1.0, absolute_pedal, absolute_pedal])
        self._keep = self.relative.astype(np.float64)
        self._action_low = np.where(self.relative, -1.0, self.low)
        self._action_high = np.where(self.relative, 1.0, self.high)

    @classmethod
    def from_config(cls, steer_map: SteerMap, config: EnvConfig) -> ActionMapper:
        """The mapper of ``config`` (rate, relative mode, rate limits) for a car."""
        return cls(
            steer_map,
            config.ego_sampling_freq,
            relative=config.use_relative_actions,
            relative_pedals=config.actions.relative_pedals,
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
        new = actions * self._scale
        new += current_controls * self._keep
        return np.minimum(np.maximum(new, self.low), self.high)  # np.clip, faster on 3 values

    def to_actions(self, previous_controls: ArrayLike, controls: ArrayLike) -> FloatArray:
        """The actions that move ``previous_controls`` to ``controls`` (the exact inverse).

        A relative channel: ``(controls - previous) / max_delta``, clipped to [-1, 1]; an
        absolute one: ``controls`` clipped to the range. ``to_controls(to_actions(p, c), p)
        == c`` for every reachable ``c``.
        """
        controls = np.asarray(controls, dtype=np.float64)
        delta = controls - np.asarray(previous_controls, dtype=np.float64) * self._keep
        return np.clip(delta / self._scale, self._action_low, self._action_high)

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


__all__ = [
    "NEUTRAL_CONTROLS",
    "NUM_ACTIONS",
    "PEDAL_FULL_TRAVEL_ACTION",
    "ActionMapper",
    "BrakeMap",
    "CarMaps",
    "SteerMap",
    "controls_from_telemetry",
    "telemetry_from_controls",
]

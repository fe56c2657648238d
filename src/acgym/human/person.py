"""A person as a policy: a device's input -> the environment's action.

The person asks for controls (steering position, pedal positions); the environment's own
action inverse (``env.unwrapped.action_mapper``, an extension documented in
docs/environment.md) turns them into the action that moves the applied controls towards
them, within the same rate limits as an agent's actions in relative mode. So a person's
laps are driven, logged and read back for training exactly as an agent's or the
expert's.

Device -> controls: steering ``steer * full_lock`` (the car's steer map), throttle and
brake ``2 * pedal - 1`` (the controls' -1 is a released pedal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.actions import NEUTRAL_CONTROLS
from acgym.human.devices import DeviceInput


class Person:
    """Turns device inputs into actions of one environment.

    Args:
        action_mapper: The environment's ``env.unwrapped.action_mapper``.
    """

    def __init__(self, action_mapper: Any) -> None:
        self.mapper = action_mapper
        self.full_lock = float(action_mapper.high[0])
        self.controls = np.array(NEUTRAL_CONTROLS)

    def reset(self) -> None:
        """A new episode: the environment starts from neutral controls."""
        self.controls = np.array(NEUTRAL_CONTROLS)

    def wanted_controls(self, device_input: DeviceInput) -> NDArray[np.float64]:
        """``[steer, acc, brake]`` in the controls' ranges for an input."""
        return np.array(
            [
                np.clip(device_input.steer, -1.0, 1.0) * self.full_lock,
                2.0 * np.clip(device_input.throttle, 0.0, 1.0) - 1.0,
                2.0 * np.clip(device_input.brake, 0.0, 1.0) - 1.0,
            ]
        )

    def action(self, device_input: DeviceInput) -> NDArray[np.float32]:
        """The action towards the input's controls; the controls it leads to are kept
        (the environment applies the same)."""
        action = self.mapper.to_actions(self.controls, self.wanted_controls(device_input))
        self.controls = self.mapper.to_controls(action, self.controls)
        return action.astype(np.float32)

    def input_of_controls(self, controls: Any) -> DeviceInput:
        """The device input that asks for ``controls`` (the inverse of
        :meth:`wanted_controls`: replaying logged controls through a scripted device)."""
        steer, acc, brake = np.asarray(controls, dtype=np.float64).tolist()
        return DeviceInput(steer / self.full_lock, 0.5 * (acc + 1.0), 0.5 * (brake + 1.0))


__all__ = ["Person"]

"""The person's device as the game's client reads it (``record_controls_from_client``).

:class:`DeviceClientInputs` reads the device when a state of the game arrives and hands
the environment its values (:data:`acgym.env.derived.CLIENT_INPUT_CHANNELS`), which the
episode log writes beside the state, as the original client did. :class:`LastReading`
lets the drive session act on that same reading instead of reading the device again: in
the game, the input read at a state's arrival is sent at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from acgym.env.derived import ACC_STATUS_MANUAL, BRAKE_STATUS_MANUAL, STEER_ANGLE_MANUAL
from acgym.human.devices import DeviceInput, InputDevice


class DeviceClientInputs:
    """Reads ``device`` once per state (the environment's ``ClientInputs``).

    Args:
        device: The person's device.
    """

    def __init__(self, device: InputDevice) -> None:
        self.device = device
        self.last_input = DeviceInput()

    def read(self) -> dict[str, float]:
        """The device now (released and straight while it is unplugged)."""
        self.last_input = self.device.read(time.perf_counter())
        return {
            STEER_ANGLE_MANUAL: self.last_input.steer,
            ACC_STATUS_MANUAL: self.last_input.throttle,
            BRAKE_STATUS_MANUAL: self.last_input.brake,
        }

    def close(self) -> None:
        self.device.close()


class LastReading:
    """An input device whose reading is the client's last one (the device's connection
    and buttons are its own)."""

    def __init__(self, inputs: DeviceClientInputs) -> None:
        self.inputs = inputs
        self.name = inputs.device.name

    @property
    def connected(self) -> bool:
        return self.inputs.device.connected

    def handle_events(self, events: Sequence[Any]) -> list[str]:
        return self.inputs.device.handle_events(events)

    def read(self, now_s: float) -> DeviceInput:
        return self.inputs.last_input

    def close(self) -> None:
        self.inputs.close()


__all__ = ["DeviceClientInputs", "LastReading"]

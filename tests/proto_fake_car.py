"""A deterministic test double of a ``CarSource``: a car whose channels follow its step.

Every channel is a closed-form function of the step count, so a test can check that
what the client reads is exactly what the source produced for that step.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from acgym.protocol.channels import LEGACY_STATE_CHANNELS, default_value
from acgym.protocol.messages import Controls


def expected_speed_mps(step: int) -> float:
    """The double's speed at ``step``."""
    return 10.0 + 0.25 * step + math.sin(step) / 3.0


class FakeCar:
    """Test double of a car: records every call, produces closed-form channels."""

    def __init__(
        self, num_track_points: int = 100, reset_options: tuple[str, ...] | None = None
    ) -> None:
        self.step = 0
        self.controls: list[Controls] = []
        self.resets: list[dict[str, Any]] = []
        self.advances = 0
        self.num_track_points = num_track_points
        self.fail_advance = False
        self.nan_speed = False
        self.threads: set[str] = set()
        if reset_options is not None:
            self.reset_options = reset_options

    def _called(self) -> None:
        self.threads.add(threading.current_thread().name)

    def static_info(self) -> dict[str, Any]:
        self._called()
        return {
            "TrackName": "fake_ring",
            "TrackConfiguration": "",
            "TrackLength": 2.0 * math.pi * 100.0,
            "CarName": "fake_car",
            "WindSpeed": 0.0,
            "WindDirection": 0.0,
            "autoShifterOn": 1,
            "penaltiesEnabled": 0,
            "backend": "fake",
            "backend_version": "0",
            "TyreContactPoint_FL": (1.0, 0.0, 0.8),
            "isCarInPit": False,
        }

    def config(self) -> dict[str, Any]:
        self._called()
        return {"ego_sampling_freq": 25, "sampling_freq": 50, "fake": True}

    def track_info(self) -> dict[str, Any]:
        self._called()
        n = self.num_track_points
        angles = [2.0 * math.pi * i / n for i in range(n)]
        return {
            "left_lane": [(105.0 * math.cos(a), 105.0 * math.sin(a)) for a in angles],
            "right_lane": [(95.0 * math.cos(a), 95.0 * math.sin(a)) for a in angles],
            "fast_lane": [[100.0 * math.cos(a), 100.0 * math.sin(a)] for a in angles],
            "speed_arr": [30.0] * n,
        }

    def reset(self, options: dict[str, Any]) -> None:
        self._called()
        self.resets.append(dict(options))
        self.step = 0

    def apply(self, controls: Controls) -> None:
        self._called()
        self.controls.append(controls)

    def advance(self) -> None:
        self._called()
        if self.fail_advance:
            raise RuntimeError("fake car: advance failed on purpose")
        self.advances += 1
        self.step += 1

    def state(self) -> dict[str, Any]:
        self._called()
        state: dict[str, Any] = {wire: default_value(wire) for wire in LEGACY_STATE_CHANNELS}
        k = self.step
        state["packetId"] = k
        state["speed"] = math.nan if self.nan_speed else expected_speed_mps(k)
        state["world_position_x"] = 0.4 * k
        state["tyres_load"] = [3000.0 + k, 3001.0, 3002.0, 3003.0 - k]
        last = self.controls[-1] if self.controls else Controls()
        state["accStatus"] = (last.acc + 1.0) / 2.0
        state["steerAngle"] = 450.0 * last.steer
        state["LapInvalidated"] = False  # a bool: sent as 0
        state["done"] = 0
        return state

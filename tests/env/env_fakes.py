"""Test doubles of the environment tests: a circle track and a deterministic fake backend."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from acgym.env.actions import CarMaps, telemetry_from_controls
from acgym.env.backend import Controls
from acgym.track import Track

RADIUS_M = 100.0
"""Radius of the circle track's reference line, m."""

WIDTH_M = 10.0
"""Width of the circle track, m."""


def circle_track(radius_m: float = RADIUS_M, width_m: float = WIDTH_M, points: int = 720) -> Track:
    """A CCW circle: reference line of radius R, borders at R -/+ w/2 (left is inside)."""
    theta = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
    unit = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return Track.from_arrays(
        "circle",
        left_m=unit * (radius_m - 0.5 * width_m),
        right_m=unit * (radius_m + 0.5 * width_m),
        line_m=unit * radius_m,
    )


def full_state(**overrides: Any) -> dict[str, Any]:
    """A plausible state dict with every DESIGN.md channel (a parked car at (R, 0))."""
    state: dict[str, Any] = {
        "steps": 1,
        "packetId": 1,
        "currentTime": 0,
        "world_position_x": RADIUS_M,
        "world_position_y": 0.0,
        "world_position_z": 0.0,
        "yaw": math.pi / 2,
        "pitch": 0.0,
        "roll": 0.0,
        "speed": 0.0,
        "local_velocity_x": 0.0,
        "local_velocity_y": 0.0,
        "local_velocity_z": 0.0,
        "velocity_x": 0.0,
        "velocity_y": 0.0,
        "velocity_z": 0.0,
        "angular_velocity_x": 0.0,
        "angular_velocity_y": 0.0,
        "angular_velocity_z": 0.0,
        "accelX": 0.0,
        "accelY": 0.0,
        "accStatus": 0.0,
        "brakeStatus": 0.0,
        "steerAngle": 0.0,
        "actualGear": 2,
        "RPM": 3000.0,
        "LastFF": 0.0,
        "NormalizedSplinePosition": 0.0,
        "LapCount": 0,
        "completedLaps": 0,
        "BestLap": 0,
        "iLastTime": 0,
        "LapInvalidated": 0,
        "numberOfTyresOut": 0,
        "done": 0,
        "tyres_load": [3000.0, 3000.0, 3000.0, 3000.0],
    }
    for corner in ("fl", "fr", "rl", "rr"):
        state[f"SlipAngle_{corner}"] = 0.0
        state[f"tyre_slip_ratio_{corner}"] = 0.0
        state[f"wheel_speed_{corner}"] = 0.0
        state[f"Dy_{corner}"] = 1.5
    state.update(overrides)
    return state


class FakeBackend:
    """A point car on the circle track, lock-step, deterministic.

    Gas accelerates at ``accel_mps2`` per unit of accStatus, brakes decelerate at
    ``brake_mps2``; steer moves the car sideways (left for positive steer) at
    ``lateral_gain`` times speed per unit of steer. Laps count at the start line.

    Args:
        car: Car maps (to report steerAngle / accStatus / brakeStatus like a real car).
        start_speed_mps: Speed after every reset.
        done_at_step: Report ``done = 1`` from this server step on (None: never).
        lost_steps: Server step numbers that are skipped (lost packets).
        tyres_out: Tyres off the track reported when outside the track.
    """

    kind = "sim"
    control_rate_hz = 25.0
    supports_lock_step = True
    num_cars = 1
    exact_reset = False  # as the game: the env drives the original's flush steps

    def __init__(
        self,
        car: CarMaps,
        *,
        start_speed_mps: float = 20.0,
        accel_mps2: float = 5.0,
        brake_mps2: float = 10.0,
        lateral_gain: float = 0.5,
        done_at_step: int | None = None,
        lost_steps: tuple[int, ...] = (),
        radius_m: float = RADIUS_M,
        width_m: float = WIDTH_M,
        config: Mapping[str, Any] | None = None,
        static_info: Mapping[str, Any] | None = None,
    ) -> None:
        self.car = car
        self.start_speed_mps = start_speed_mps
        self.accel_mps2 = accel_mps2
        self.brake_mps2 = brake_mps2
        self.lateral_gain = lateral_gain
        self.done_at_step = done_at_step
        self.lost_steps = set(lost_steps)
        self.radius_m = radius_m
        self.width_m = width_m
        self.length_m = 2.0 * math.pi * radius_m
        self._config = dict(config or {"ego_sampling_freq": 25})
        self._static = dict(
            static_info
            or {
                "TrackName": "circle",
                "TrackConfiguration": "",
                "TrackLength": self.length_m,
                "CarName": car.name,
                "kind": "sim",
            }
        )
        self.connected = False
        self.states_lost = 0
        self.close_calls = 0
        self.reset_calls: list[dict[str, Any]] = []
        self.applied: list[Controls] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self.s_m = 0.0
        self.lateral_m = 0.0
        self.speed_mps = self.start_speed_mps
        self.server_step = 0
        self.time_ms = 0
        self.lap = 0
        self.lap_start_ms = 0
        self.best_ms = 0
        self.last_ms = 0
        self.controls = Controls(0.0, -1.0, -1.0)

    # --- Backend ----------------------------------------------------------------------

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.close_calls += 1
        self.connected = False

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self.reset_calls.append(dict(options or {}))
        if (options or {}).get("send_reset", True):
            self._reset_state()
        return self._advance(0.0)

    def apply(self, controls: Controls) -> None:
        self.applied.append(controls)
        self.controls = controls

    def observe(self) -> dict[str, Any]:
        return self._advance(1.0 / self.control_rate_hz)

    def static_info(self) -> dict[str, Any]:
        return dict(self._static)

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def track_info(self) -> dict[str, Any]:
        return {}

    # --- dynamics -----------------------------------------------------------------------

    def _advance(self, dt_s: float) -> dict[str, Any]:
        steer_deg, acc_status, brake_status = telemetry_from_controls(
            np.array([self.controls.steer, self.controls.acc, self.controls.brake]), self.car
        )
        accel = self.accel_mps2 * acc_status - self.brake_mps2 * brake_status
        self.speed_mps = max(0.0, self.speed_mps + accel * dt_s)
        self.lateral_m += self.lateral_gain * float(self.controls.steer) * self.speed_mps * dt_s
        self.s_m += self.speed_mps * dt_s
        self.time_ms += round(1000 * dt_s)
        if self.s_m >= self.length_m:
            self.s_m -= self.length_m
            self.lap += 1
            self.last_ms = self.time_ms - self.lap_start_ms
            self.best_ms = self.last_ms if not self.best_ms else min(self.best_ms, self.last_ms)
            self.lap_start_ms = self.time_ms
        self.server_step += 1
        while self.server_step in self.lost_steps:
            self.server_step += 1
            self.states_lost += 1
        theta = self.s_m / self.radius_m
        r = self.radius_m - self.lateral_m
        outside = abs(self.lateral_m) > 0.5 * self.width_m
        return full_state(
            steps=self.server_step,
            packetId=self.server_step,
            currentTime=self.time_ms - self.lap_start_ms,
            world_position_x=r * math.cos(theta),
            world_position_y=r * math.sin(theta),
            yaw=theta + math.pi / 2,
            speed=self.speed_mps,
            local_velocity_x=self.speed_mps,
            angular_velocity_y=self.speed_mps / self.radius_m,
            accStatus=float(acc_status),
            brakeStatus=float(brake_status),
            steerAngle=float(steer_deg),
            NormalizedSplinePosition=self.s_m / self.length_m,
            LapCount=self.lap,
            completedLaps=self.lap,
            BestLap=self.best_ms,
            iLastTime=self.last_ms,
            numberOfTyresOut=4 if outside else 0,
            done=1
            if self.done_at_step is not None and self.server_step >= self.done_at_step
            else 0,
            RPM=1000.0 + 100.0 * self.speed_mps,
        )

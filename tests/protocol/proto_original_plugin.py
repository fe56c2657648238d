"""A faithful test double of the ORIGINAL sensors_par plugin's servers (not our code).

Written from the documented behaviour (DESIGN.md, "The original plugin's wire
behaviour"), warts included:

- ego (UDP): reads at most 1024 bytes per datagram; ``connect`` -> ``identified`` and
  ``steps`` restarts (the first state carries 1); ``disconnect`` stops the stream and
  keeps the last controls; ``reset`` is only logged; anything else is parsed as JSON
  controls with ``server_steps``. **Any malformed datagram (not UTF-8, not JSON, no
  ``server_steps``, controls before ``connect``) kills the ego server for good**, as in
  the original: ``dead`` is then set, and the client gets ``disconnect``.
- states pushed every period as ``json.dumps`` of a flat dict of 90 keys, nobody
  draining anything.
- management (TCP): serial; reads 1024 bytes per ``recv``; a bare word per request, no
  terminator; ``reset`` has no reply; ``get_config`` answers ``str(dict)`` (a Python
  literal); ``get_track_info`` answers JSON that arrives in several TCP segments with
  pauses between them (the worst case of the original's single ``send``); the
  connection stays open after a reply; an unknown word breaks off the connection.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from typing import Any

# The 4-element list channels of the original, and its other state keys, in order.
LIST_KEYS = (
    "Mz",
    "dynamic_pressure",
    "tyre_loaded_radius",
    "tyres_load",
    "NdSlip",
    "SuspensionTravel",
    "CamberRad",
)
SCALAR_KEYS = (
    "steps timestamp_ac total_errors_out_of_sync packetId currentTime world_position_x world_position_y "
    "world_position_z speed local_velocity_x local_velocity_y local_velocity_z accelX accelY accStatus "
    "brakeStatus actualGear RPM steerAngle yaw pitch roll LastFF LapInvalidated NormalizedSplinePosition "
    "LapCount BestLap iLastTime completedLaps numberOfTyresOut isInPit penaltyTime angular_velocity_x "
    "angular_velocity_y angular_velocity_z velocity_x velocity_y velocity_z cgHeight SlipAngle_fl SlipAngle_fr "
    "SlipAngle_rl SlipAngle_rr"
).split()
TYRE_KEYS = [f"tyreContactHeading_{t}_{a}" for t in ("FL", "FR", "RL", "RR") for a in "xyz"]
PER_TYRE_PATTERNS = ("tyre_slip_ratio_{}", "Dy_{}", "wheel_speed_{}")
SUFFIX_PATTERNS = (
    "{}_tire_temperature_core",
    "{}_damper_linear_potentiometer",
    "{}_wheel_load",
    "{}_tire_pressure",
)

ORIGINAL_CONFIG = {
    "version": "0.0.1",
    "sampling_freq": 50,
    "sampling_time": 1 / 50,
    "ego_server_host_name": "0.0.0.0",
    "ego_server_port": 2345,
    "ego_sampling_freq": 25,
    "telemetry_sampling_freq": 0,
    "opponents_server_host_name": "0.0.0.0",
    "opponents_server_port": 2346,
    "simulation_management_server_host_name": "0.0.0.0",
    "simulation_management_server_port": 2347,
    "enable_profiler": False,
    "vjoy_executed_by_server": False,
    "enable_alternative_python_interpreter": False,
    "config_python_env_name": "p309",
    "config_python_executable": None,
    "screen_capture_worker": "screen_capture_worker.py",
    "ego_sampling_freq_event_name": "Local\\EgoSamplingFreqEvent",
    "screen_capture_enable": False,
    "final_image_width": 640 // 2,
    "final_image_height": 480 // 2,
    "screen_capture_freq": 25,
    "screen_capture_save_to_disk": False,
    "screen_capture_save_path": "captures",
    "screen_capture_verbose": False,
    "relocate_screen": True,
    "trigger_image_capture_event_name": "Local\\TriggerImageCapture",
    "color_mode": "gray",
}


def original_state(steps: int, controls: dict[str, Any], out_of_sync: int) -> dict[str, Any]:
    """The original's flat state dict (90 keys) for ``steps``."""
    state: dict[str, Any] = {key: 0.0 for key in SCALAR_KEYS}
    state["steps"] = steps
    state["timestamp_ac"] = time.perf_counter()
    state["total_errors_out_of_sync"] = out_of_sync
    state["packetId"] = 1000 + steps
    state["currentTime"] = 40 * steps
    state["speed"] = 20.0 + math.sin(steps)
    state["accStatus"] = (controls["acc"] + 1) / 2
    state["steerAngle"] = 450.0 * controls["steer"]
    state["actualGear"] = 3
    for key in TYRE_KEYS:
        state[key] = 0.5
    for pattern in PER_TYRE_PATTERNS:
        for tyre in ("fl", "fr", "rl", "rr"):
            state[pattern.format(tyre)] = 0.01
    for key in LIST_KEYS:
        state[key] = [1.0, 2.0, 3.0, 4.0]
    for pattern in SUFFIX_PATTERNS:
        for tyre in ("fl", "fr", "rl", "rr"):
            state[pattern.format(tyre)] = 80.0
    return state


class OriginalPluginDouble:
    """The original plugin's ego and management servers, on ephemeral loopback ports."""

    def __init__(
        self, rate_hz: float = 50.0, track_points: int = 3000, segment_bytes: int = 20000
    ) -> None:
        self.rate_hz = rate_hz
        self.track_points = track_points
        self.segment_bytes = segment_bytes
        self.ego = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.ego.bind(("127.0.0.1", 0))
        self.ego.settimeout(0.1)
        self.mgmt = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.mgmt.bind(("127.0.0.1", 0))
        self.mgmt.listen(5)
        self.mgmt.settimeout(0.1)
        self.client_addr: Any = None
        self.controls = {
            "steer": 0,
            "acc": -1,
            "brake": -1,
            "enable_gear_shift": False,
            "shift_up": False,
            "shift_down": False,
        }
        self.steps = 0
        self.out_of_sync = 0
        self.dead = False
        self.death: str | None = None
        self.received: list[bytes] = []
        self.words: list[str] = []
        self.resets = 0
        self.controls_received = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._ego_loop, daemon=True),
            threading.Thread(target=self._tick_loop, daemon=True),
            threading.Thread(target=self._mgmt_loop, daemon=True),
        ]

    @property
    def ego_port(self) -> int:
        return self.ego.getsockname()[1]

    @property
    def mgmt_port(self) -> int:
        return self.mgmt.getsockname()[1]

    def start(self) -> OriginalPluginDouble:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self.ego.close()
        self.mgmt.close()

    def __enter__(self) -> OriginalPluginDouble:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- ego: like ego_server.EgoServer.start_server -----------------------------------

    def _ego_loop(self) -> None:
        while not self._stop.is_set() and not self.dead:
            try:
                data, addr = self.ego.recvfrom(1024)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append(data)
            try:
                text = data.decode()
                if text == "connect":
                    with self._lock:
                        self.client_addr = None
                    self.ego.sendto(b"identified", addr)
                    time.sleep(0.1)  # the original sleeps before it resets the counter
                    with self._lock:
                        self.client_addr = addr
                        self.steps = 0
                elif text == "disconnect":
                    with self._lock:
                        self.client_addr = None
                elif text == "reset":
                    pass
                else:
                    controls = json.loads(text)
                    with self._lock:
                        if self.client_addr is None:
                            raise AttributeError("'NoneType' object has no attribute 'update'")
                        self.controls.update(controls)
                        if controls["server_steps"] != self.steps:
                            self.out_of_sync += 1
                        self.controls_received += 1
            except Exception as exc:  # the original's ego thread ends here, for good
                self.dead = True
                self.death = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if self.client_addr is not None:
                        self.ego.sendto(b"disconnect", self.client_addr)
                return

    def _tick_loop(self) -> None:
        period_s = 1.0 / self.rate_hz
        next_s = time.monotonic()
        while not self._stop.is_set():
            next_s += period_s
            time.sleep(max(0.0, next_s - time.monotonic()))
            with self._lock:
                if self.client_addr is None or self.dead:
                    continue
                self.steps += 1
                message = json.dumps(original_state(self.steps, self.controls, self.out_of_sync))
                try:
                    self.ego.sendto(message.encode(), self.client_addr)
                except OSError:
                    pass

    # -- management: like sensors_par.simulation_management_server_task ------------------

    def _mgmt_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.mgmt.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.1)
            try:
                self._serve_connection(conn)
            finally:
                conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(1024).decode("utf8")
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.words.append(data)
            if data == "reset":
                self.resets += 1
            elif data == "get_track_info":
                self._send_in_segments(conn, json.dumps(self._track()).encode("utf8"))
            elif data == "get_static_info":
                conn.sendall(json.dumps(self._static_info()).encode("utf8"))
            elif data == "get_config":
                conn.sendall(str(ORIGINAL_CONFIG).encode("utf8"))
            else:
                return  # unknown command: break

    def _send_in_segments(self, conn: socket.socket, data: bytes) -> None:
        for start in range(0, len(data), self.segment_bytes):
            conn.sendall(data[start : start + self.segment_bytes])
            time.sleep(0.02)  # shorter than the client's quiet period, longer than a segment

    def _static_info(self) -> dict[str, Any]:
        return {
            "TrackName": "ks_barcelona",
            "TrackConfiguration": "layout_gp",
            "WindSpeed": 0,
            "WindDirection": 0,
            "TrackLength": 4655.0,
            "CarName": "bmw_z4_gt3",
            "LastSplits": [0, 0, 0],
            "isCarInPitlane": 0,
            "isCarInPit": 0,
            "autoShifterOn": 1,
            "penaltiesEnabled": 1,
            "TyreContactPoint_FL": [1.0, 0.0, 2.0],
            "CAR_WHEEL_R": [0.34, 0.34, 0.35, 0.35],
            "CAR_TRACK": 1.6,
            "CAR_WHEELBASE": 2.5,
            "WorldPosition": [10.0, 0.5, -3.0],
        }

    def _track(self) -> dict[str, Any]:
        n = self.track_points
        angles = [2.0 * math.pi * i / n for i in range(n)]
        return {
            "left_lane": [(750.0 * math.cos(a), 750.0 * math.sin(a)) for a in angles],
            "right_lane": [(735.0 * math.cos(a), 735.0 * math.sin(a)) for a in angles],
            "fast_lane": [(742.5 * math.cos(a), 742.5 * math.sin(a)) for a in angles],
            "throttle_arr": [1.0] * n,
            "brake_arr": [0.0] * n,
            "speed_arr": [40.0] * n,
            "angle_array": [math.degrees(a) for a in angles],
        }

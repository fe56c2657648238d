"""The emulated game's shared-memory pages, written every frame.

The layouts are ctypes structures of the game's three pages (``SPageFilePhysics``,
``SPageFileGraphic``, ``SPageFileStatic``); the runner hands over the plugin's own
(plugin/acgym/acgym_shm.py), whose field order a test checks against the game's document.
Strings are ``wchar_t`` arrays held as 16-bit integers. Values come from the simulator's
telemetry (:attr:`EmulatedGame.state`), in the game's axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acgym.emulated_game.game import AC_LIVE
from acgym.units import KMH_PER_MPS

if TYPE_CHECKING:
    from acgym.emulated_game.game import EmulatedGame


def _set_text(chars: Any, value: str) -> None:
    codes = [ord(ch) for ch in value[: len(chars) - 1]]
    for index in range(len(chars)):
        chars[index] = codes[index] if index < len(codes) else 0


def _lap_text(ms: float) -> str:
    total_ms = int(ms)
    return f"{total_ms // 60000}:{(total_ms // 1000) % 60:02d}:{total_ms % 1000:03d}"


def _fill(array: Any, values: Any) -> None:
    for index, value in enumerate(values):
        array[index] = value


def write_pages(
    game: EmulatedGame, structures: dict[str, Any], pages: dict[str, bytearray]
) -> None:
    """Write the car's current state into every opened page."""
    st = game.state
    if "acpmf_physics" in pages:
        p = structures["acpmf_physics"].from_buffer(pages["acpmf_physics"])
        p.packetId = st["packetId"]
        p.gas = st["accStatus"]
        p.brake = st["brakeStatus"]
        p.fuel = 50.0
        p.gear = st["actualGear"]
        p.rpms = int(st["RPM"])
        p.steerAngle = st["steerAngle"]
        p.speedKmh = st["speed"] * KMH_PER_MPS
        _fill(p.velocity, (st["velocity_x"], st["velocity_y"], st["velocity_z"]))
        _fill(p.accG, (st["accelX"], 0.0, st["accelY"]))
        _fill(p.wheelSlip, [abs(v) for v in game.per_tyre("tyre_slip_ratio_{t}")])
        _fill(p.wheelLoad, game.per_tyre("tyres_load"))
        _fill(p.wheelsPressure, game.per_tyre("dynamic_pressure"))
        _fill(p.wheelAngularSpeed, game.per_tyre("wheel_speed_{t}"))
        _fill(p.tyreCoreTemperature, game.per_tyre("{t}_tire_temperature_core"))
        _fill(p.camberRAD, game.per_tyre("CamberRad"))
        _fill(p.suspensionTravel, game.per_tyre("SuspensionTravel"))
        p.heading = game.heading_rad
        p.pitch = st["pitch"]
        p.roll = st["roll"]
        p.cgHeight = st["cgHeight"]
        p.numberOfTyresOut = st["numberOfTyresOut"]
        p.autoShifterOn = 1 if game.world.config.auto_shift else 0
        _fill(
            p.localAngularVel,
            (st["angular_velocity_x"], st["angular_velocity_y"], st["angular_velocity_z"]),
        )
        p.finalFF = st["LastFF"]
        p.clutch = 1.0
        _fill(p.tyreContactPoint, [c for point in game.contact_points_ac for c in point])
        _fill(p.tyreContactNormal, [0.0, 1.0, 0.0] * 4)
        heading = [
            st[f"tyreContactHeading_{w}_{a}"] for w in ("FL", "FR", "RL", "RR") for a in "xyz"
        ]
        _fill(p.tyreContactHeading, heading)
        p.brakeBias = 0.6
        _fill(
            p.localVelocity,
            (st["local_velocity_y"], st["local_velocity_z"], st["local_velocity_x"]),
        )
    if "acpmf_graphics" in pages:
        g = structures["acpmf_graphics"].from_buffer(pages["acpmf_graphics"])
        g.packetId = st["packetId"]
        g.status = AC_LIVE
        g.session = 0
        _set_text(g.currentTime, _lap_text(st["currentTime"]))
        _set_text(g.lastTime, _lap_text(st["iLastTime"]))
        _set_text(g.bestTime, _lap_text(st["BestLap"]))
        g.completedLaps = st["completedLaps"]
        g.position = 1
        g.iCurrentTime = st["currentTime"]
        g.iLastTime = st["iLastTime"]
        g.iBestTime = st["BestLap"]
        g.isInPit = st["isInPit"]
        _set_text(g.tyreCompound, "emulated")
        g.normalizedCarPosition = st["NormalizedSplinePosition"]
        _fill(
            g.carCoordinates,
            (st["world_position_y"], st["world_position_z"], st["world_position_x"]),
        )
        g.penaltyTime = st["penaltyTime"]
        g.surfaceGrip = 1.0
        g.windSpeed = 0.0
        g.windDirection = 0.0
    if "acpmf_static" in pages:
        s = structures["acpmf_static"].from_buffer(pages["acpmf_static"])
        _set_text(s.smVersion, "1.7")
        _set_text(s.acVersion, "emulated")
        s.numberOfSessions = 1
        s.numCars = 1
        _set_text(s.carModel, game.car.name)
        _set_text(s.track, game.track.name)
        _set_text(s.playerName, "acgym")
        _set_text(s.playerNick, "acgym")
        s.maxRpm = game.max_rpm
        _fill(s.tyreRadius, game.tyre_radius_m)
        s.penaltiesEnabled = 0
        s.trackSPlineLength = game.track.length_m
        _set_text(s.trackConfiguration, game.track.configuration)

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
from acgym.protocol import channels as ch
from acgym.units import KMH_PER_MPS

if TYPE_CHECKING:
    from acgym.emulated_game.game import EmulatedGame


def _set_text(chars: Any, value: str) -> None:
    codes = [ord(c) for c in value[: len(chars) - 1]]
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
        p.packetId = st[ch.PACKET_ID]
        p.gas = st[ch.ACC_STATUS]
        p.brake = st[ch.BRAKE_STATUS]
        p.fuel = 50.0
        p.gear = st[ch.ACTUAL_GEAR]
        p.rpms = int(st[ch.RPM])
        p.steerAngle = st[ch.STEER_ANGLE]
        p.speedKmh = st[ch.SPEED] * KMH_PER_MPS
        _fill(p.velocity, (st[ch.VELOCITY_X], st[ch.VELOCITY_Y], st[ch.VELOCITY_Z]))
        _fill(p.accG, (st[ch.ACCEL_X], 0.0, st[ch.ACCEL_Y]))
        _fill(p.wheelSlip, [abs(v) for v in game.per_tyre(ch.TYRE_SLIP_RATIO)])
        _fill(p.wheelLoad, game.per_tyre(ch.TYRES_LOAD))
        _fill(p.wheelsPressure, game.per_tyre(ch.DYNAMIC_PRESSURE))
        _fill(p.wheelAngularSpeed, game.per_tyre(ch.WHEEL_SPEED))
        _fill(p.tyreCoreTemperature, game.per_tyre(ch.TIRE_TEMPERATURE_CORE))
        _fill(p.camberRAD, game.per_tyre(ch.CAMBER_RAD))
        _fill(p.suspensionTravel, game.per_tyre(ch.SUSPENSION_TRAVEL))
        p.heading = game.heading_rad
        p.pitch = st[ch.PITCH]
        p.roll = st[ch.ROLL]
        p.cgHeight = st[ch.CG_HEIGHT]
        p.numberOfTyresOut = st[ch.NUMBER_OF_TYRES_OUT]
        p.autoShifterOn = 1 if game.world.config.auto_shift else 0
        _fill(
            p.localAngularVel,
            (st[ch.ANGULAR_VELOCITY_X], st[ch.ANGULAR_VELOCITY_Y], st[ch.ANGULAR_VELOCITY_Z]),
        )
        p.finalFF = st[ch.LAST_FF]
        p.clutch = 1.0
        _fill(p.tyreContactPoint, [c for point in game.contact_points_ac for c in point])
        _fill(p.tyreContactNormal, [0.0, 1.0, 0.0] * 4)
        _fill(p.tyreContactHeading, [st[name] for name in ch.TYRE_CONTACT_HEADING])
        p.brakeBias = 0.6
        _fill(
            p.localVelocity,
            (st[ch.LOCAL_VELOCITY_Y], st[ch.LOCAL_VELOCITY_Z], st[ch.LOCAL_VELOCITY_X]),
        )
    if "acpmf_graphics" in pages:
        g = structures["acpmf_graphics"].from_buffer(pages["acpmf_graphics"])
        g.packetId = st[ch.PACKET_ID]
        g.status = AC_LIVE
        g.session = 0
        _set_text(g.currentTime, _lap_text(st[ch.CURRENT_TIME]))
        _set_text(g.lastTime, _lap_text(st[ch.I_LAST_TIME]))
        _set_text(g.bestTime, _lap_text(st[ch.BEST_LAP]))
        g.completedLaps = st[ch.COMPLETED_LAPS]
        g.position = 1
        g.iCurrentTime = st[ch.CURRENT_TIME]
        g.iLastTime = st[ch.I_LAST_TIME]
        g.iBestTime = st[ch.BEST_LAP]
        g.isInPit = st[ch.IS_IN_PIT]
        _set_text(g.tyreCompound, "emulated")
        g.normalizedCarPosition = st[ch.NORMALIZED_SPLINE_POSITION]
        _fill(
            g.carCoordinates,
            (st[ch.WORLD_POSITION_Y], st[ch.WORLD_POSITION_Z], st[ch.WORLD_POSITION_X]),
        )
        g.penaltyTime = st[ch.PENALTY_TIME]
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

"""THE table of telemetry channels: wire names, internal names, units, dtypes.

The wire names are the original sensors_par plugin's (existing datasets and configs use
them); this module is the only place in the package where they are spelled out. Inside
the package, code uses the snake_case ``name`` with its unit. Run
``python -m acgym.protocol.channels`` to print the table.

Axes (DESIGN.md): ``world_position_x/y/z`` are AC's (z, x, y); ``velocity_x/y/z`` are
AC's (x, y, z) as is; ``local_velocity_x`` is forward; ``accelX`` lateral and ``accelY``
longitudinal; ``yaw = -heading``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Dtype = Literal["int", "float"]

TYRES = ("fl", "fr", "rl", "rr")
"""Tyre order of every per-tyre channel and 4-element list: front-left, front-right,
rear-left, rear-right."""


class Channel(NamedTuple):
    """One telemetry channel of the state dict."""

    wire: str
    """Name on the wire and in datasets (the original plugin's)."""
    name: str
    """Internal snake_case name, with its unit."""
    unit: str
    """Unit: SI where possible; ``1`` for dimensionless, ``count``, ``flag`` (0/1)."""
    dtype: Dtype
    """``int`` or ``float``."""
    size: int
    """1 for a scalar, 4 for a per-tyre list (order ``TYRES``)."""
    required: bool
    """Every backend must send it."""
    legacy: bool
    """The original plugin sent it (a legacy server always sends it)."""
    doc: str
    """What it means."""


def _ch(
    wire: str,
    name: str,
    unit: str,
    dtype: Dtype,
    doc: str,
    *,
    required: bool = False,
    legacy: bool = True,
    size: int = 1,
) -> Channel:
    return Channel(wire, name, unit, dtype, size, required, legacy, doc)


def _per_tyre(
    wire_fmt: str,
    name_fmt: str,
    unit: str,
    doc: str,
    *,
    required: bool = False,
    upper: bool = False,
) -> list[Channel]:
    return [
        _ch(
            wire_fmt.format(t=t.upper() if upper else t),
            name_fmt.format(t=t),
            unit,
            "float",
            f"{doc} ({t})",
            required=required,
        )
        for t in TYRES
    ]


def _xyz(wire_fmt: str, name_fmt: str, unit: str, doc: str, *, required: bool) -> list[Channel]:
    return [
        _ch(
            wire_fmt.format(a=a),
            name_fmt.format(a=a),
            unit,
            "float",
            f"{doc}, {a}",
            required=required,
        )
        for a in "xyz"
    ]


# fmt: off
CHANNELS: tuple[Channel, ...] = (
    _ch("steps", "steps", "count", "int", "server step counter: 1 for the first state after connect", required=True),
    _ch("timestamp_ac", "server_clock_s", "s", "float", "server's monotonic clock when the state was read"),
    _ch("total_errors_out_of_sync", "out_of_sync_count", "count", "int", "controls whose server_steps was not the last state sent"),
    _ch("packetId", "packet_id", "count", "int", "the game's own packet id (the simulator's step count)", required=True),
    _ch("currentTime", "lap_time_ms", "ms", "int", "current lap time", required=True),
    _ch("world_position_x", "position_x_m", "m", "float", "world position, AC z", required=True),
    _ch("world_position_y", "position_y_m", "m", "float", "world position, AC x", required=True),
    _ch("world_position_z", "position_z_m", "m", "float", "world position, AC y (up)", required=True),
    _ch("speed", "speed_mps", "m/s", "float", "speed", required=True),
    *_xyz("local_velocity_{a}", "local_velocity_{a}_mps", "m/s", "car-frame velocity (x forward, y lateral)", required=True),
    _ch("accelX", "accel_lateral_g", "g", "float", "lateral acceleration", required=True),
    _ch("accelY", "accel_longitudinal_g", "g", "float", "longitudinal acceleration", required=True),
    _ch("accStatus", "throttle", "1", "float", "applied throttle, 0..1", required=True),
    _ch("brakeStatus", "brake", "1", "float", "applied brake, 0..1", required=True),
    _ch("actualGear", "gear_ac", "count", "int", "gear, AC encoding: 0 reverse, 1 neutral, 2 first", required=True),
    _ch("RPM", "engine_rpm", "rpm", "float", "engine speed", required=True),
    _ch("steerAngle", "steering_wheel_angle_deg", "deg", "float", "steering-wheel angle", required=True),
    _ch("yaw", "yaw_rad", "rad", "float", "yaw, -heading", required=True),
    _ch("pitch", "pitch_rad", "rad", "float", "pitch", required=True),
    _ch("roll", "roll_rad", "rad", "float", "roll", required=True),
    _ch("LastFF", "force_feedback", "1", "float", "last force-feedback value", required=True),
    _ch("LapInvalidated", "lap_invalidated", "flag", "int", "current lap invalidated", required=True),
    _ch("NormalizedSplinePosition", "spline_position", "1", "float", "0..1 along the AI line", required=True),
    _ch("LapCount", "lap_count", "count", "int", "laps in the session", required=True),
    _ch("BestLap", "best_lap_ms", "ms", "int", "best lap time, 0 = none", required=True),
    _ch("iLastTime", "last_lap_ms", "ms", "int", "last lap time, 0 = none", required=True),
    _ch("completedLaps", "completed_laps", "count", "int", "completed laps", required=True),
    _ch("numberOfTyresOut", "num_tyres_out", "count", "int", "tyres off the track surface", required=True),
    _ch("isInPit", "in_pit", "flag", "int", "car in the pit box"),
    _ch("penaltyTime", "penalty_time_s", "s", "float", "penalty time"),
    *_xyz("angular_velocity_{a}", "angular_velocity_{a}_radps", "rad/s", "car-frame angular velocity (y = yaw rate)", required=True),
    *_xyz("velocity_{a}", "velocity_{a}_mps", "m/s", "world-frame velocity, AC axes", required=True),
    _ch("cgHeight", "cg_height_m", "m", "float", "centre-of-gravity height"),
    *_per_tyre("SlipAngle_{t}", "slip_angle_{t}_deg", "deg", "tyre slip angle", required=True),
    *[
        _ch(f"tyreContactHeading_{t.upper()}_{a}", f"tyre_contact_heading_{t}_{a}", "1", "float", f"contact heading vector ({t}), {a}")
        for t in TYRES
        for a in "xyz"
    ],
    *_per_tyre("tyre_slip_ratio_{t}", "slip_ratio_{t}", "1", "tyre slip ratio", required=True),
    _ch("Mz", "self_aligning_torque_nm", "N m", "float", "self-aligning torque per tyre", size=4),
    *_per_tyre("Dy_{t}", "lateral_friction_{t}", "1", "lateral friction coefficient", required=True),
    _ch("dynamic_pressure", "tyre_pressure_psi", "psi", "float", "tyre pressure per tyre", size=4),
    _ch("tyre_loaded_radius", "tyre_loaded_radius_m", "m", "float", "loaded tyre radius per tyre", size=4),
    _ch("tyres_load", "tyre_load_n", "N", "float", "vertical load per tyre", size=4),
    _ch("NdSlip", "normalized_slip", "1", "float", "normalized slip per tyre", size=4),
    _ch("SuspensionTravel", "suspension_travel_m", "m", "float", "suspension travel per tyre", size=4),
    _ch("CamberRad", "camber_rad", "rad", "float", "camber per tyre", size=4),
    *_per_tyre("wheel_speed_{t}", "wheel_speed_{t}_radps", "rad/s", "wheel angular speed", required=True),
    *_per_tyre("{t}_tire_temperature_core", "tyre_core_temp_{t}_c", "degC", "tyre core temperature"),
    *_per_tyre("{t}_damper_linear_potentiometer", "damper_travel_{t}_m", "m", "damper travel"),
    *_per_tyre("{t}_wheel_load", "wheel_load_{t}_n", "N", "vertical load"),
    *_per_tyre("{t}_tire_pressure", "tyre_pressure_{t}_psi", "psi", "tyre pressure"),
    _ch("done", "done", "flag", "int", "1 when the session ended or the server disconnected", required=True, legacy=False),
)
# fmt: on
"""Every known channel, in the original plugin's order (``done`` last: the original
client added it)."""

BY_WIRE: dict[str, Channel] = {c.wire: c for c in CHANNELS}
"""Channel by wire name."""

BY_NAME: dict[str, Channel] = {c.name: c for c in CHANNELS}
"""Channel by internal name."""

WIRE_TO_NAME: dict[str, str] = {c.wire: c.name for c in CHANNELS}
"""Wire name to internal name."""

NAME_TO_WIRE: dict[str, str] = {c.name: c.wire for c in CHANNELS}
"""Internal name to wire name."""

REQUIRED_CHANNELS: tuple[str, ...] = tuple(c.wire for c in CHANNELS if c.required)
"""Wire names every backend must send in every state."""

LIST_CHANNELS: tuple[str, ...] = tuple(c.wire for c in CHANNELS if c.size == 4)
"""Wire names whose value is a 4-element per-tyre list."""

LEGACY_STATE_CHANNELS: tuple[str, ...] = tuple(c.wire for c in CHANNELS if c.legacy)
"""Wire names of the original plugin's state (90 keys), in its order."""


def default_value(wire: str) -> int | float | list[float]:
    """The zero value of a channel: ``0``, ``0.0`` or ``[0.0] * 4``."""
    channel = BY_WIRE[wire]
    if channel.size == 4:
        return [0.0] * 4
    return 0 if channel.dtype == "int" else 0.0


def to_internal(state: dict[str, object]) -> dict[str, object]:
    """Rename a wire-named state to internal names; unknown channels keep their name."""
    return {WIRE_TO_NAME.get(key, key): value for key, value in state.items()}


def to_wire(state: dict[str, object]) -> dict[str, object]:
    """Rename an internally named state to wire names; unknown channels keep their name."""
    return {NAME_TO_WIRE.get(key, key): value for key, value in state.items()}


def markdown_table() -> str:
    """The channel table as Markdown (for docs)."""
    lines = [
        "| wire | name | unit | dtype | size | required | original |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CHANNELS:
        lines.append(
            f"| {c.wire} | {c.name} | {c.unit} | {c.dtype} | {c.size} | "
            f"{'yes' if c.required else ''} | {'yes' if c.legacy else ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())

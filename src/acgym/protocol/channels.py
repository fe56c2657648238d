"""THE table of telemetry channels: wire names, internal names, units, dtypes.

The wire names are the original sensors_par plugin's (existing datasets and configs use
them); this module is the only place in the package where they are spelled out. The rest
of the package names a channel by its constant here (``from acgym.protocol import
channels as ch``, then ``state[ch.SPEED]``, ``ch.SLIP_ANGLE.fl``), and the table below is
built from those constants, so the two cannot drift apart. A constant is the wire name in
upper snake case (``currentTime`` -> ``CURRENT_TIME``, ``iLastTime`` -> ``I_LAST_TIME``);
a per-tyre channel is one :class:`PerTyre` of four names in ``TYRES`` order
(``SLIP_ANGLE = per_tyre("SlipAngle_{t}")``). Inside the package, code uses the snake_case
``name`` with its unit. Run ``python -m acgym.protocol.channels`` to print the table.

Two places spell wire names on purpose (tests/test_channel_names.py checks the rest):

* the game plugin (``plugin/acgym``): Python 3.3 inside the game, it cannot import the
  package; its wire module is the sanctioned mirror, checked against this table by tests;
* ``acgym.emulated_game``: its ``acsys`` names and ``ac`` dispatch keys are the game's
  own API (``acsys.CS.RPM``, shared-memory fields), which happen to equal some wire
  names; where it reads the simulator's state it uses these constants.

The channels the environment derives and logs beside these (``gap``, ``LapDist``,
``out_of_track``, ...) are not on the wire: their names live in :mod:`acgym.env.derived`.

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


class PerTyre(NamedTuple):
    """The four wire names of a per-tyre channel, in ``TYRES`` order."""

    fl: str
    fr: str
    rl: str
    rr: str


def per_tyre(template: str) -> PerTyre:
    """The four names of ``template``: ``{t}`` is the tyre (``fl``), ``{T}`` the same in
    upper case (``FL``)."""
    return PerTyre(*(template.format(t=t, T=t.upper()) for t in TYRES))


# --- the wire names, in the table's order -----------------------------------------------
STEPS = "steps"
TIMESTAMP_AC = "timestamp_ac"
TOTAL_ERRORS_OUT_OF_SYNC = "total_errors_out_of_sync"
PACKET_ID = "packetId"
CURRENT_TIME = "currentTime"
WORLD_POSITION_X = "world_position_x"
WORLD_POSITION_Y = "world_position_y"
WORLD_POSITION_Z = "world_position_z"
SPEED = "speed"
LOCAL_VELOCITY_X = "local_velocity_x"
LOCAL_VELOCITY_Y = "local_velocity_y"
LOCAL_VELOCITY_Z = "local_velocity_z"
ACCEL_X = "accelX"
ACCEL_Y = "accelY"
ACC_STATUS = "accStatus"
BRAKE_STATUS = "brakeStatus"
ACTUAL_GEAR = "actualGear"
RPM = "RPM"
STEER_ANGLE = "steerAngle"
YAW = "yaw"
PITCH = "pitch"
ROLL = "roll"
LAST_FF = "LastFF"
LAP_INVALIDATED = "LapInvalidated"
NORMALIZED_SPLINE_POSITION = "NormalizedSplinePosition"
LAP_COUNT = "LapCount"
BEST_LAP = "BestLap"
I_LAST_TIME = "iLastTime"
COMPLETED_LAPS = "completedLaps"
NUMBER_OF_TYRES_OUT = "numberOfTyresOut"
IS_IN_PIT = "isInPit"
PENALTY_TIME = "penaltyTime"
ANGULAR_VELOCITY_X = "angular_velocity_x"
ANGULAR_VELOCITY_Y = "angular_velocity_y"
ANGULAR_VELOCITY_Z = "angular_velocity_z"
VELOCITY_X = "velocity_x"
VELOCITY_Y = "velocity_y"
VELOCITY_Z = "velocity_z"
CG_HEIGHT = "cgHeight"
SLIP_ANGLE = per_tyre("SlipAngle_{t}")
TYRE_CONTACT_HEADING_X = per_tyre("tyreContactHeading_{T}_x")
TYRE_CONTACT_HEADING_Y = per_tyre("tyreContactHeading_{T}_y")
TYRE_CONTACT_HEADING_Z = per_tyre("tyreContactHeading_{T}_z")
TYRE_SLIP_RATIO = per_tyre("tyre_slip_ratio_{t}")
MZ = "Mz"
DY = per_tyre("Dy_{t}")
DYNAMIC_PRESSURE = "dynamic_pressure"
TYRE_LOADED_RADIUS = "tyre_loaded_radius"
TYRES_LOAD = "tyres_load"
ND_SLIP = "NdSlip"
SUSPENSION_TRAVEL = "SuspensionTravel"
CAMBER_RAD = "CamberRad"
WHEEL_SPEED = per_tyre("wheel_speed_{t}")
TIRE_TEMPERATURE_CORE = per_tyre("{t}_tire_temperature_core")
DAMPER_LINEAR_POTENTIOMETER = per_tyre("{t}_damper_linear_potentiometer")
WHEEL_LOAD = per_tyre("{t}_wheel_load")
TIRE_PRESSURE = per_tyre("{t}_tire_pressure")
DONE = "done"

TYRE_CONTACT_HEADING: tuple[str, ...] = tuple(
    name
    for names in zip(
        TYRE_CONTACT_HEADING_X, TYRE_CONTACT_HEADING_Y, TYRE_CONTACT_HEADING_Z, strict=True
    )
    for name in names
)
"""The twelve contact-heading names in the table's order: fl's x, y, z, then fr, rl, rr."""


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
    wires: PerTyre, name_fmt: str, unit: str, doc: str, *, required: bool = False
) -> list[Channel]:
    return [
        _ch(wire, name_fmt.format(t=t), unit, "float", f"{doc} ({t})", required=required)
        for wire, t in zip(wires, TYRES, strict=True)
    ]


def _xyz(
    wires: tuple[str, str, str], name_fmt: str, unit: str, doc: str, *, required: bool
) -> list[Channel]:
    return [
        _ch(wire, name_fmt.format(a=a), unit, "float", f"{doc}, {a}", required=required)
        for wire, a in zip(wires, "xyz", strict=True)
    ]


def _contact_headings() -> list[Channel]:
    """Each tyre's heading vector, x, y, z (tyre by tyre)."""
    tyre_axes = [(t, a) for t in TYRES for a in "xyz"]
    return [
        _ch(
            wire,
            f"tyre_contact_heading_{t}_{a}",
            "1",
            "float",
            f"contact heading vector ({t}), {a}",
        )
        for wire, (t, a) in zip(TYRE_CONTACT_HEADING, tyre_axes, strict=True)
    ]


# fmt: off
CHANNELS: tuple[Channel, ...] = (
    _ch(STEPS, "steps", "count", "int", "server step counter: 1 for the first state after connect", required=True),
    _ch(TIMESTAMP_AC, "server_clock_s", "s", "float", "server's monotonic clock when the state was read"),
    _ch(TOTAL_ERRORS_OUT_OF_SYNC, "out_of_sync_count", "count", "int", "controls whose server_steps was not the last state sent"),
    _ch(PACKET_ID, "packet_id", "count", "int", "the game's own packet id (the simulator's step count)", required=True),
    _ch(CURRENT_TIME, "lap_time_ms", "ms", "int", "current lap time", required=True),
    _ch(WORLD_POSITION_X, "position_x_m", "m", "float", "world position, AC z", required=True),
    _ch(WORLD_POSITION_Y, "position_y_m", "m", "float", "world position, AC x", required=True),
    _ch(WORLD_POSITION_Z, "position_z_m", "m", "float", "world position, AC y (up)", required=True),
    _ch(SPEED, "speed_mps", "m/s", "float", "speed", required=True),
    *_xyz((LOCAL_VELOCITY_X, LOCAL_VELOCITY_Y, LOCAL_VELOCITY_Z), "local_velocity_{a}_mps", "m/s", "car-frame velocity (x forward, y lateral)", required=True),
    _ch(ACCEL_X, "accel_lateral_g", "g", "float", "lateral acceleration", required=True),
    _ch(ACCEL_Y, "accel_longitudinal_g", "g", "float", "longitudinal acceleration", required=True),
    _ch(ACC_STATUS, "throttle", "1", "float", "applied throttle, 0..1", required=True),
    _ch(BRAKE_STATUS, "brake", "1", "float", "applied brake, 0..1", required=True),
    _ch(ACTUAL_GEAR, "gear_ac", "count", "int", "gear, AC encoding: 0 reverse, 1 neutral, 2 first", required=True),
    _ch(RPM, "engine_rpm", "rpm", "float", "engine speed", required=True),
    _ch(STEER_ANGLE, "steering_wheel_angle_deg", "deg", "float", "steering-wheel angle", required=True),
    _ch(YAW, "yaw_rad", "rad", "float", "yaw, -heading", required=True),
    _ch(PITCH, "pitch_rad", "rad", "float", "pitch", required=True),
    _ch(ROLL, "roll_rad", "rad", "float", "roll", required=True),
    _ch(LAST_FF, "force_feedback", "1", "float", "last force-feedback value", required=True),
    _ch(LAP_INVALIDATED, "lap_invalidated", "flag", "int", "current lap invalidated", required=True),
    _ch(NORMALIZED_SPLINE_POSITION, "spline_position", "1", "float", "0..1 along the AI line", required=True),
    _ch(LAP_COUNT, "lap_count", "count", "int", "laps in the session", required=True),
    _ch(BEST_LAP, "best_lap_ms", "ms", "int", "best lap time, 0 = none", required=True),
    _ch(I_LAST_TIME, "last_lap_ms", "ms", "int", "last lap time, 0 = none", required=True),
    _ch(COMPLETED_LAPS, "completed_laps", "count", "int", "completed laps", required=True),
    _ch(NUMBER_OF_TYRES_OUT, "num_tyres_out", "count", "int", "tyres off the track surface", required=True),
    _ch(IS_IN_PIT, "in_pit", "flag", "int", "car in the pit box"),
    _ch(PENALTY_TIME, "penalty_time_s", "s", "float", "penalty time"),
    *_xyz((ANGULAR_VELOCITY_X, ANGULAR_VELOCITY_Y, ANGULAR_VELOCITY_Z), "angular_velocity_{a}_radps", "rad/s", "car-frame angular velocity (y = yaw rate)", required=True),
    *_xyz((VELOCITY_X, VELOCITY_Y, VELOCITY_Z), "velocity_{a}_mps", "m/s", "world-frame velocity, AC axes", required=True),
    _ch(CG_HEIGHT, "cg_height_m", "m", "float", "centre-of-gravity height"),
    *_per_tyre(SLIP_ANGLE, "slip_angle_{t}_deg", "deg", "tyre slip angle", required=True),
    *_contact_headings(),
    *_per_tyre(TYRE_SLIP_RATIO, "slip_ratio_{t}", "1", "tyre slip ratio", required=True),
    _ch(MZ, "self_aligning_torque_nm", "N m", "float", "self-aligning torque per tyre", size=4),
    *_per_tyre(DY, "lateral_friction_{t}", "1", "lateral friction coefficient", required=True),
    _ch(DYNAMIC_PRESSURE, "tyre_pressure_psi", "psi", "float", "tyre pressure per tyre", size=4),
    _ch(TYRE_LOADED_RADIUS, "tyre_loaded_radius_m", "m", "float", "loaded tyre radius per tyre", size=4),
    _ch(TYRES_LOAD, "tyre_load_n", "N", "float", "vertical load per tyre", size=4),
    _ch(ND_SLIP, "normalized_slip", "1", "float", "normalized slip per tyre", size=4),
    _ch(SUSPENSION_TRAVEL, "suspension_travel_m", "m", "float", "suspension travel per tyre", size=4),
    _ch(CAMBER_RAD, "camber_rad", "rad", "float", "camber per tyre", size=4),
    *_per_tyre(WHEEL_SPEED, "wheel_speed_{t}_radps", "rad/s", "wheel angular speed", required=True),
    *_per_tyre(TIRE_TEMPERATURE_CORE, "tyre_core_temp_{t}_c", "degC", "tyre core temperature"),
    *_per_tyre(DAMPER_LINEAR_POTENTIOMETER, "damper_travel_{t}_m", "m", "damper travel"),
    *_per_tyre(WHEEL_LOAD, "wheel_load_{t}_n", "N", "vertical load"),
    *_per_tyre(TIRE_PRESSURE, "tyre_pressure_{t}_psi", "psi", "tyre pressure"),
    _ch(DONE, "done", "flag", "int", "1 when the session ended or the server disconnected", required=True, legacy=False),
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

"""The simulator's telemetry: every channel of the game's state, same names, units, frames.

One row of ``NUM_COLUMNS`` float64 values per car, filled by the compiled
:func:`fill_row` from the car's parameters, state and outputs
(:mod:`acgym.sim.layout`), its lap timing (:mod:`acgym.sim.lap_timing`) and its
projection on the track. :func:`row_to_state` turns one row into the wire-named state dict
(``acgym.protocol.channels``): integers for the integer channels, 4-element lists for the
per-tyre lists.

Columns are grouped: the integer channels, then the float scalars, then the per-tyre
lists (4 columns each, order fl, fr, rl, rr), each group in the protocol table's order;
``COLUMNS[wire]`` is a channel's first column, ``COLUMN_NAMES`` names every column. The
server-side channels ``timestamp_ac`` and ``total_errors_out_of_sync`` are a server's to
add.

Frames (DESIGN.md). The simulator's plane is the telemetry's
(``world_position_x``, ``world_position_y``) plane, which is AC's (z, x); AC is y-up, so
``world_position_z`` is AC's height. In the game's right-handed frame, looking down the
up axis, (x, z) is a clockwise pair, so (z, x) is anticlockwise: the plane is the real
track seen from above, not a mirror image, and "left" in it is the driver's left (the
original plugin swaps its fast_lane.ai borders for the same reason). Hence:

* ``yaw`` = -(AC heading) = the heading in this plane, anticlockwise from
  +``world_position_x``, wrapped to [-pi, pi) (:func:`yaw_rad_from_heading`);
* ``velocity_x/y/z`` = AC's (x, y, z) world velocity = (plane y, 0, plane x);
* ``local_velocity_x`` forward, ``local_velocity_y`` to the left (AC's local x), ``_z`` up;
* ``angular_velocity_y`` = yaw rate, anticlockwise positive (d yaw / dt);
  ``angular_velocity_x/z`` (pitch and roll rates) are 0: the body is planar;
* ``accelX`` = lateral acceleration (left positive), ``accelY`` = longitudinal
  (forward positive), in g;
* ``tyreContactHeading_*`` = each tyre's heading as a unit vector in AC's world axes.

What the planar model does not have is filled with plausible, documented values (no
thermal, pressure, suspension or camber model): ``SuspensionTravel`` (and the damper
channels) grows in proportion to the tyre load from ``STATIC_SUSPENSION_TRAVEL_M`` at the
static load; ``pitch``/``roll`` follow from those travels; ``tyre_loaded_radius`` = radius
- load / ``TYRE_VERTICAL_STIFFNESS_NPM``; ``dynamic_pressure`` = ``TYRE_HOT_PRESSURE_PSI``;
core temperatures ``TYRE_CORE_TEMPERATURE_C``; ``CamberRad`` = ``STATIC_CAMBER_RAD``;
``Mz`` = ``-trail * Fy`` with a pneumatic trail falling linearly from ``PNEUMATIC_TRAIL_M``
to 0 at ``ALIGNING_SLIDE_FACTOR`` times the peak slip angle; ``LastFF`` = the front
aligning torque on the steering (positive pushes the wheel to the right, AC's steer sign),
normalised by its peak at the static load and clipped to [-1, 1]; ``NdSlip`` = the
combined normalised slip ``hypot(kappa / kappa_peak, alpha / alpha_peak)`` (> 1 sliding).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.protocol import channels as ch
from acgym.sim.lap_timing import (
    LT_BEST_MS,
    LT_CURRENT_MS,
    LT_INVALID,
    LT_LAP_COUNT,
    LT_LAST_MS,
)
from acgym.sim.layout import (
    NUM_WHEELS,
    O_AX_MPS2,
    O_AY_MPS2,
    O_BRAKE,
    O_FY_N,
    O_GAS,
    O_MU_Y,
    O_NORMAL_LOAD_N,
    O_ROAD_WHEEL_RAD,
    O_SLIP_ANGLE_RAD,
    O_SLIP_RATIO,
    O_STEER_WHEEL_DEG,
    P_COG_HEIGHT_M,
    P_LF_M,
    P_LR_M,
    P_MASS_KG,
    P_TRACK_FRONT_M,
    P_TRACK_REAR_M,
    P_TYRE_FRONT,
    P_TYRE_REAR,
    S_ENGINE_RPM,
    S_GEAR,
    S_VX_MPS,
    S_VY_MPS,
    S_WHEEL_OMEGA,
    S_X_M,
    S_Y_M,
    S_YAW_RAD,
    S_YAW_RATE_RADPS,
    T_ALPHA_PEAK_RAD,
    T_INV_ALPHA_PEAK,
    T_INV_KAPPA_PEAK,
    T_MU_Y,
    T_RADIUS_M,
)
from acgym.units import GRAVITY_MPS2

FloatArray = NDArray[np.float64]

# --- the plausible values of what the planar model lacks (module docstring) -------------
STATIC_SUSPENSION_TRAVEL_M = 0.03
"""Suspension travel at the static tyre load, m (grows in proportion to the load)."""
TYRE_VERTICAL_STIFFNESS_NPM = 250_000.0
"""Vertical stiffness of a tyre, N/m (loaded radius = radius - load / stiffness)."""
TYRE_HOT_PRESSURE_PSI = 27.5
"""Tyre pressure, psi (hot, constant: no thermal model)."""
TYRE_CORE_TEMPERATURE_C = 85.0
"""Tyre core temperature, degC (constant: no thermal model)."""
STATIC_CAMBER_RAD = -0.035
"""Camber of every tyre, rad (negative: top leaning inward; constant)."""
PNEUMATIC_TRAIL_M = 0.03
"""Pneumatic trail of a tyre at zero slip angle, m."""
ALIGNING_SLIDE_FACTOR = 1.5
"""The pneumatic trail reaches 0 at this multiple of the tyre's peak slip angle."""
_ALIGNING_PEAK_SHARE = 0.5
"""Peak of trail(alpha) * Fy(alpha) as a share of PNEUMATIC_TRAIL_M * mu * Fz (about 0.5
for these curves): the normalisation of LastFF."""

SERVER_CHANNELS = (ch.TIMESTAMP_AC, ch.TOTAL_ERRORS_OUT_OF_SYNC)
"""Channels of the protocol table that a server adds, not the simulator."""

INT_CHANNELS: tuple[str, ...] = (
    ch.STEPS,
    ch.PACKET_ID,
    ch.CURRENT_TIME,
    ch.ACTUAL_GEAR,
    ch.LAP_INVALIDATED,
    ch.LAP_COUNT,
    ch.BEST_LAP,
    ch.I_LAST_TIME,
    ch.COMPLETED_LAPS,
    ch.NUMBER_OF_TYRES_OUT,
    ch.IS_IN_PIT,
    ch.DONE,
)
"""Integer channels, in the protocol table's order (the first columns)."""

_PER_TYRE_SCALARS: tuple[ch.PerTyre, ...] = (
    ch.SLIP_ANGLE,
    ch.TYRE_SLIP_RATIO,
    ch.DY,
    ch.WHEEL_SPEED,
    ch.TIRE_TEMPERATURE_CORE,
    ch.DAMPER_LINEAR_POTENTIOMETER,
    ch.WHEEL_LOAD,
    ch.TIRE_PRESSURE,
)
"""The per-tyre scalar channels the kernel writes as 4 consecutive columns."""

FLOAT_CHANNELS: tuple[str, ...] = (
    ch.WORLD_POSITION_X,
    ch.WORLD_POSITION_Y,
    ch.WORLD_POSITION_Z,
    ch.SPEED,
    ch.LOCAL_VELOCITY_X,
    ch.LOCAL_VELOCITY_Y,
    ch.LOCAL_VELOCITY_Z,
    ch.ACCEL_X,
    ch.ACCEL_Y,
    ch.ACC_STATUS,
    ch.BRAKE_STATUS,
    ch.RPM,
    ch.STEER_ANGLE,
    ch.YAW,
    ch.PITCH,
    ch.ROLL,
    ch.LAST_FF,
    ch.NORMALIZED_SPLINE_POSITION,
    ch.PENALTY_TIME,
    ch.ANGULAR_VELOCITY_X,
    ch.ANGULAR_VELOCITY_Y,
    ch.ANGULAR_VELOCITY_Z,
    ch.VELOCITY_X,
    ch.VELOCITY_Y,
    ch.VELOCITY_Z,
    ch.CG_HEIGHT,
    *ch.SLIP_ANGLE,
    *ch.TYRE_CONTACT_HEADING,
    *ch.TYRE_SLIP_RATIO,
    *ch.DY,
    *ch.WHEEL_SPEED,
    *ch.TIRE_TEMPERATURE_CORE,
    *ch.DAMPER_LINEAR_POTENTIOMETER,
    *ch.WHEEL_LOAD,
    *ch.TIRE_PRESSURE,
)
"""Float scalar channels, in the protocol table's order."""

LIST_CHANNELS: tuple[str, ...] = (
    ch.MZ,
    ch.DYNAMIC_PRESSURE,
    ch.TYRE_LOADED_RADIUS,
    ch.TYRES_LOAD,
    ch.ND_SLIP,
    ch.SUSPENSION_TRAVEL,
    ch.CAMBER_RAD,
)
"""Per-tyre 4-element list channels (fl, fr, rl, rr), in the protocol table's order."""

TELEMETRY_CHANNELS: tuple[str, ...] = INT_CHANNELS + FLOAT_CHANNELS + LIST_CHANNELS
"""Every channel the simulator produces (wire names), in column order."""


def _layout() -> tuple[dict[str, int], tuple[str, ...]]:
    columns: dict[str, int] = {}
    names: list[str] = []
    for wire in TELEMETRY_CHANNELS:
        channel = ch.BY_WIRE.get(wire)
        size = 4 if wire in LIST_CHANNELS else 1
        if channel is None or channel.size != size:
            raise RuntimeError(  # a programming error: the protocol table changed
                f"telemetry channel {wire!r} is not in acgym.protocol.channels with size {size}"
            )
        if (channel.dtype == "int") != (wire in INT_CHANNELS):
            raise RuntimeError(f"telemetry channel {wire!r}: dtype {channel.dtype} mismatch")
        columns[wire] = len(names)
        names.extend([wire] if size == 1 else [f"{wire}[{k}]" for k in range(size)])
    return columns, tuple(names)


COLUMNS, COLUMN_NAMES = _layout()
"""``COLUMNS``: first column of each channel; ``COLUMN_NAMES``: the name of every column
(``tyres_load[2]`` for the third element of a list channel)."""

NUM_COLUMNS = len(COLUMN_NAMES)
"""Columns of a telemetry row."""

NUM_INT = len(INT_CHANNELS)
_FLOAT_END = NUM_INT + len(FLOAT_CHANNELS)
_LIST_SLICES = tuple((wire, COLUMNS[wire]) for wire in LIST_CHANNELS)

# Column constants for the compiled kernel (module globals are compile-time constants).
_C_STEPS = COLUMNS[ch.STEPS]
_C_PACKET = COLUMNS[ch.PACKET_ID]
_C_CURRENT_TIME = COLUMNS[ch.CURRENT_TIME]
_C_GEAR = COLUMNS[ch.ACTUAL_GEAR]
_C_INVALID = COLUMNS[ch.LAP_INVALIDATED]
_C_LAP_COUNT = COLUMNS[ch.LAP_COUNT]
_C_BEST = COLUMNS[ch.BEST_LAP]
_C_LAST = COLUMNS[ch.I_LAST_TIME]
_C_COMPLETED = COLUMNS[ch.COMPLETED_LAPS]
_C_TYRES_OUT = COLUMNS[ch.NUMBER_OF_TYRES_OUT]
_C_IN_PIT = COLUMNS[ch.IS_IN_PIT]
_C_DONE = COLUMNS[ch.DONE]
_C_POS_X = COLUMNS[ch.WORLD_POSITION_X]
_C_POS_Y = COLUMNS[ch.WORLD_POSITION_Y]
_C_POS_Z = COLUMNS[ch.WORLD_POSITION_Z]
_C_SPEED = COLUMNS[ch.SPEED]
_C_LOCAL_VX = COLUMNS[ch.LOCAL_VELOCITY_X]
_C_LOCAL_VY = COLUMNS[ch.LOCAL_VELOCITY_Y]
_C_LOCAL_VZ = COLUMNS[ch.LOCAL_VELOCITY_Z]
_C_ACCEL_X = COLUMNS[ch.ACCEL_X]
_C_ACCEL_Y = COLUMNS[ch.ACCEL_Y]
_C_GAS = COLUMNS[ch.ACC_STATUS]
_C_BRAKE = COLUMNS[ch.BRAKE_STATUS]
_C_RPM = COLUMNS[ch.RPM]
_C_STEER = COLUMNS[ch.STEER_ANGLE]
_C_YAW = COLUMNS[ch.YAW]
_C_PITCH = COLUMNS[ch.PITCH]
_C_ROLL = COLUMNS[ch.ROLL]
_C_FF = COLUMNS[ch.LAST_FF]
_C_SPLINE = COLUMNS[ch.NORMALIZED_SPLINE_POSITION]
_C_PENALTY = COLUMNS[ch.PENALTY_TIME]
_C_ANG_X = COLUMNS[ch.ANGULAR_VELOCITY_X]
_C_ANG_Y = COLUMNS[ch.ANGULAR_VELOCITY_Y]
_C_ANG_Z = COLUMNS[ch.ANGULAR_VELOCITY_Z]
_C_VEL_X = COLUMNS[ch.VELOCITY_X]
_C_VEL_Y = COLUMNS[ch.VELOCITY_Y]
_C_VEL_Z = COLUMNS[ch.VELOCITY_Z]
_C_CG_HEIGHT = COLUMNS[ch.CG_HEIGHT]
_C_SLIP_ANGLE = COLUMNS[ch.SLIP_ANGLE.fl]
_C_CONTACT_HEADING = COLUMNS[ch.TYRE_CONTACT_HEADING[0]]
_C_SLIP_RATIO = COLUMNS[ch.TYRE_SLIP_RATIO.fl]
_C_DY = COLUMNS[ch.DY.fl]
_C_WHEEL_SPEED = COLUMNS[ch.WHEEL_SPEED.fl]
_C_CORE_TEMP = COLUMNS[ch.TIRE_TEMPERATURE_CORE.fl]
_C_DAMPER = COLUMNS[ch.DAMPER_LINEAR_POTENTIOMETER.fl]
_C_WHEEL_LOAD = COLUMNS[ch.WHEEL_LOAD.fl]
_C_TYRE_PRESSURE = COLUMNS[ch.TIRE_PRESSURE.fl]
_C_MZ = COLUMNS[ch.MZ]
_C_DYN_PRESSURE = COLUMNS[ch.DYNAMIC_PRESSURE]
_C_LOADED_RADIUS = COLUMNS[ch.TYRE_LOADED_RADIUS]
_C_LOAD = COLUMNS[ch.TYRES_LOAD]
_C_ND_SLIP = COLUMNS[ch.ND_SLIP]
_C_SUSPENSION = COLUMNS[ch.SUSPENSION_TRAVEL]
_C_CAMBER = COLUMNS[ch.CAMBER_RAD]


def _check_contiguous_blocks() -> None:
    """The kernel writes per-tyre scalars as 4 consecutive columns: check they are."""
    for names in _PER_TYRE_SCALARS:
        cols = [COLUMNS[name] for name in names]
        if cols != list(range(cols[0], cols[0] + NUM_WHEELS)):
            raise RuntimeError(f"telemetry columns of {names} are not consecutive")


_check_contiguous_blocks()


@numba.njit(cache=True)
def yaw_rad_from_heading(heading_rad: float) -> float:
    """Telemetry ``yaw`` from the simulator's heading (the one place this relation lives).

    The heading is anticlockwise from +``world_position_x`` in the
    (``world_position_x``, ``world_position_y``) plane. That plane is AC's (z, x) plane;
    the plugin reports ``yaw = -heading_ac``. In AC's right-handed y-up frame, (x, z) seen
    from above is a clockwise pair and the game's heading grows clockwise (0 facing +z,
    forward = (x, z) = (-sin h, cos h)), so swapping the axes and negating give the same
    sense: ``yaw`` is the heading in this plane, wrapped to [-pi, pi). The original
    environment casts its rays at ``yaw + angle`` in this plane and the env does the same
    (``acgym.env.observations.heading_rad_from_yaw`` is the identity).

    Args:
        heading_rad: Heading, rad, any real value.

    Returns:
        ``yaw``, rad in [-pi, pi).
    """
    return (heading_rad + math.pi) % (2.0 * math.pi) - math.pi


@numba.njit(cache=True)
def fill_row(
    p: FloatArray,
    s: FloatArray,
    o: FloatArray,
    timing: FloatArray,
    spline_pos: float,
    tyres_out: int,
    packet_id: int,
    out: FloatArray,
) -> None:
    """Write one car's telemetry row.

    Args:
        p: ``(NUM_PARAMS,)`` car parameters.
        s: ``(NUM_STATE,)`` car state.
        o: ``(NUM_OUTPUTS,)`` outputs of the car's last internal step.
        timing: ``(NUM_TIMING,)`` the car's lap timing (already advanced to this state).
        spline_pos: Position along the reference line, 0..1.
        tyres_out: Tyres off the track surface.
        packet_id: Simulator steps since the session started (``steps`` = it + 1).
        out: ``(NUM_COLUMNS,)`` row, overwritten.
    """
    psi = s[S_YAW_RAD]
    c = math.cos(psi)
    sn = math.sin(psi)
    vx = s[S_VX_MPS]
    vy = s[S_VY_MPS]
    h_cg = p[P_COG_HEIGHT_M]

    out[_C_STEPS] = packet_id + 1
    out[_C_PACKET] = packet_id
    out[_C_CURRENT_TIME] = timing[LT_CURRENT_MS]
    out[_C_GEAR] = s[S_GEAR] + 1.0
    out[_C_INVALID] = timing[LT_INVALID]
    out[_C_LAP_COUNT] = timing[LT_LAP_COUNT]
    out[_C_BEST] = timing[LT_BEST_MS]
    out[_C_LAST] = timing[LT_LAST_MS]
    out[_C_COMPLETED] = timing[LT_LAP_COUNT]
    out[_C_TYRES_OUT] = tyres_out
    out[_C_IN_PIT] = 0.0
    out[_C_DONE] = 0.0

    out[_C_POS_X] = s[S_X_M]
    out[_C_POS_Y] = s[S_Y_M]
    out[_C_POS_Z] = h_cg
    out[_C_SPEED] = math.sqrt(vx * vx + vy * vy)
    out[_C_LOCAL_VX] = vx
    out[_C_LOCAL_VY] = vy
    out[_C_LOCAL_VZ] = 0.0
    out[_C_ACCEL_X] = o[O_AY_MPS2] / GRAVITY_MPS2
    out[_C_ACCEL_Y] = o[O_AX_MPS2] / GRAVITY_MPS2
    out[_C_GAS] = o[O_GAS]
    out[_C_BRAKE] = o[O_BRAKE]
    out[_C_RPM] = s[S_ENGINE_RPM]
    out[_C_STEER] = o[O_STEER_WHEEL_DEG]
    out[_C_YAW] = yaw_rad_from_heading(psi)
    out[_C_SPLINE] = spline_pos
    out[_C_PENALTY] = 0.0
    out[_C_ANG_X] = 0.0
    out[_C_ANG_Y] = s[S_YAW_RATE_RADPS]
    out[_C_ANG_Z] = 0.0
    vel_plane_x = vx * c - vy * sn
    vel_plane_y = vx * sn + vy * c
    out[_C_VEL_X] = vel_plane_y  # AC x
    out[_C_VEL_Y] = 0.0  # AC y (up)
    out[_C_VEL_Z] = vel_plane_x  # AC z
    out[_C_CG_HEIGHT] = h_cg

    lf = p[P_LF_M]
    lr = p[P_LR_M]
    wheelbase = lf + lr
    weight = p[P_MASS_KG] * GRAVITY_MPS2
    delta = o[O_ROAD_WHEEL_RAD]
    aligning_front = 0.0
    for w in range(NUM_WHEELS):
        front = w < 2
        base = P_TYRE_FRONT if front else P_TYRE_REAR
        static_load = 0.5 * weight * (lr if front else lf) / wheelbase
        load = o[O_NORMAL_LOAD_N + w]
        alpha = o[O_SLIP_ANGLE_RAD + w]
        kappa = o[O_SLIP_RATIO + w]
        travel = STATIC_SUSPENSION_TRAVEL_M * load / static_load
        out[_C_SLIP_ANGLE + w] = math.degrees(alpha)
        heading_w = psi + delta if front else psi
        out[_C_CONTACT_HEADING + 3 * w] = math.sin(heading_w)  # AC x
        out[_C_CONTACT_HEADING + 3 * w + 1] = 0.0  # AC y (up)
        out[_C_CONTACT_HEADING + 3 * w + 2] = math.cos(heading_w)  # AC z
        out[_C_SLIP_RATIO + w] = kappa
        out[_C_DY + w] = o[O_MU_Y + w]
        out[_C_WHEEL_SPEED + w] = s[S_WHEEL_OMEGA + w]
        out[_C_CORE_TEMP + w] = TYRE_CORE_TEMPERATURE_C
        out[_C_DAMPER + w] = travel
        out[_C_WHEEL_LOAD + w] = load
        out[_C_TYRE_PRESSURE + w] = TYRE_HOT_PRESSURE_PSI
        slide_rad = ALIGNING_SLIDE_FACTOR * p[base + T_ALPHA_PEAK_RAD]
        trail = PNEUMATIC_TRAIL_M * max(0.0, 1.0 - abs(alpha) / slide_rad)
        mz = -trail * o[O_FY_N + w]
        if front:
            aligning_front += mz
        out[_C_MZ + w] = mz
        out[_C_DYN_PRESSURE + w] = TYRE_HOT_PRESSURE_PSI
        out[_C_LOADED_RADIUS + w] = p[base + T_RADIUS_M] - load / TYRE_VERTICAL_STIFFNESS_NPM
        out[_C_LOAD + w] = load
        sx = kappa * p[base + T_INV_KAPPA_PEAK]
        sy = alpha * p[base + T_INV_ALPHA_PEAK]
        out[_C_ND_SLIP + w] = math.sqrt(sx * sx + sy * sy)
        out[_C_SUSPENSION + w] = travel
        out[_C_CAMBER + w] = STATIC_CAMBER_RAD
    # pitch: nose down positive (front travel above rear); roll: leaning right positive
    travel_front = 0.5 * (out[_C_SUSPENSION] + out[_C_SUSPENSION + 1])
    travel_rear = 0.5 * (out[_C_SUSPENSION + 2] + out[_C_SUSPENSION + 3])
    out[_C_PITCH] = math.atan((travel_front - travel_rear) / wheelbase)
    roll_front = (out[_C_SUSPENSION + 1] - out[_C_SUSPENSION]) / p[P_TRACK_FRONT_M]
    roll_rear = (out[_C_SUSPENSION + 3] - out[_C_SUSPENSION + 2]) / p[P_TRACK_REAR_M]
    out[_C_ROLL] = math.atan(0.5 * (roll_front + roll_rear))
    # Steering-wheel torque, AC sign (positive pushes the wheel right): in a left turn the
    # front aligning moment is clockwise (mz < 0) and turns the wheels back to the right.
    ff_ref = (
        _ALIGNING_PEAK_SHARE
        * PNEUMATIC_TRAIL_M
        * p[P_TYRE_FRONT + T_MU_Y]
        * weight
        * lr
        / wheelbase
    )
    out[_C_FF] = min(1.0, max(-1.0, -aligning_front / ff_ref))


def row_to_state(row: FloatArray) -> dict[str, Any]:
    """One telemetry row as the wire-named state dict (ints, floats, 4-element lists).

    Args:
        row: ``(NUM_COLUMNS,)`` float64.

    Returns:
        ``{wire name: value}``: integer channels first, then floats, then the lists.
    """
    values = row.tolist()
    state = dict(zip(INT_CHANNELS, map(int, values[:NUM_INT]), strict=False))
    state.update(zip(FLOAT_CHANNELS, values[NUM_INT:_FLOAT_END], strict=False))
    for wire, start in _LIST_SLICES:
        state[wire] = values[start : start + 4]
    return state

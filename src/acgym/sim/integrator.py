"""The fused batch kernel: every car, every internal step of one control period.

:func:`step_cars` advances all cars by one control period in one compiled call. Cars are
taken in chunks of ``CHUNK`` (:mod:`acgym.sim.layout`): per car and control period it
maps the controls once (steer map, steering ratio, brake map), applies a manual shift
request and copies the car's state into the chunk's rows of the batch workspace
(structure of arrays); then runs ``num_substeps`` internal steps of the chunk
(:mod:`acgym.sim.dynamics`: the tyre pass and the wheel and body pass in SIMD lanes, one
car per lane, the drivetrain pass car by car) and copies the states and outputs back.
The track surface under each tyre is looked up with the track's compiled inside test
(:func:`acgym.track.queries.inside_point` on the track's quad grid), in every internal
step for a car within reach of a border, so grip and rolling resistance change the
moment a wheel leaves the surface. On a track that crosses itself, each car's progress
along the track (``progress_m``, its lap timing's projection) picks its level: the other
level's surface and borders are hidden from its inside tests and border distance
(:func:`acgym.track.queries.hidden_levels`).

Cars are independent and each car's arithmetic runs in a fixed order (the lane passes
are branch-free): results are bit-identical for identical inputs, whatever the batch size
or the car's place in it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.dynamics import drivetrain_pass, tyre_pass, wheel_body_pass
from acgym.sim.layout import (
    C_ACC,
    C_BRAKE,
    C_STEER,
    CHUNK,
    G_DOWN,
    G_ENABLE,
    G_UP,
    NUM_OUTPUTS,
    NUM_STATE,
    NUM_TYRE_PARAMS,
    O_BRAKE,
    O_CONTACT_X_M,
    O_CONTACT_Y_M,
    O_GAS,
    O_ROAD_WHEEL_RAD,
    O_STEER_WHEEL_DEG,
    P_ABS,
    P_ABS_SLIP_FRACTION,
    P_AERO_FRONT,
    P_BRAKE_FRONT,
    P_BRAKE_MAP_IN,
    P_BRAKE_MAP_OUT,
    P_BRAKE_MAX_NM,
    P_COG_HEIGHT_M,
    P_DIFF_POWER_LOCK,
    P_DIFF_PRELOAD_NM,
    P_DRAG_COEF,
    P_FRONT_COMPLIANCE_RAD_PER_MPS2,
    P_LF_M,
    P_LIFT_COEF,
    P_LOAD_TAU_S,
    P_LR_M,
    P_MASS_KG,
    P_NUM_BRAKE_POINTS,
    P_NUM_STEER_POINTS,
    P_OFFTRACK_GRIP,
    P_OFFTRACK_ROLLING_RESISTANCE,
    P_REAR_COMPLIANCE_RAD_PER_MPS2,
    P_ROLL_STIFFNESS_FRONT,
    P_SHIFT_TIME_S,
    P_SLIP_SPEED_MPS,
    P_STEER_MAP_DEG,
    P_STEER_MAP_IN,
    P_STEER_RATIO,
    P_TRACK_FRONT_M,
    P_TRACK_REAR_M,
    P_TYRE_FRONT,
    P_TYRE_REAR,
    P_YAW_INERTIA_KGM2,
    S_GEAR,
    S_SHIFT_TIMER_S,
    S_VX_MPS,
    S_VY_MPS,
    S_WHEEL_OMEGA,
    S_X_M,
    S_Y_M,
    S_YAW_RAD,
    W_ABS,
    W_ABS_SLIP_FRACTION,
    W_AERO_FRONT,
    W_AUTO_SHIFT,
    W_BRAKE_FRONT,
    W_BRAKE_MAX_NM,
    W_BRAKE_STATUS,
    W_COG_HEIGHT_M,
    W_COS_DELTA,
    W_DIFF_POWER_LOCK,
    W_DIFF_PRELOAD_NM,
    W_DRAG_COEF,
    W_FRONT_COMPLIANCE,
    W_GAS,
    W_HALF_TRACK_FRONT_M,
    W_HALF_TRACK_REAR_M,
    W_LF_M,
    W_LIFT_COEF,
    W_LOAD_TAU_S,
    W_LR_M,
    W_MASS_KG,
    W_OFFTRACK_GRIP,
    W_OFFTRACK_ROLLING_RESISTANCE,
    W_ON_TRACK,
    W_OUT,
    W_REAR_COMPLIANCE,
    W_ROLL_STIFFNESS_FRONT,
    W_SIN_DELTA,
    W_SLIP_SPEED_MPS,
    W_STATE,
    W_TYRE_FRONT,
    W_TYRE_REAR,
    W_YAW_INERTIA_KGM2,
    WORK_ROWS,
)
from acgym.sim.powertrain import interp_clamped, manual_shift_gear
from acgym.sim.tyres import FASTMATH
from acgym.track.queries import hidden_levels, inside_point, nearest_segment

MAX_ACCEL_MPS2 = 50.0
"""Bound on a car's acceleration (5 g, generous), which bounds its travel in a period."""
REACH_MARGIN_M = 0.5
"""Extra distance from the borders before a car counts as near one, m."""


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _half_diagonal(p: NDArray[np.float64]) -> float:
    """Largest distance from the centre of gravity to a tyre contact point, m."""
    lf = p[P_LF_M]
    lr = p[P_LR_M]
    half_t = 0.5 * max(p[P_TRACK_FRONT_M], p[P_TRACK_REAR_M])
    return math.sqrt(max(lf, lr) ** 2 + half_t * half_t)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _clip_unit(value: float) -> float:
    if value > 1.0:
        return 1.0
    if value < -1.0:
        return -1.0
    return value


_KERNEL = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}


@numba.njit(**_KERNEL)
def contact_points(
    p: NDArray[np.float64],
    x_m: float,
    y_m: float,
    yaw_rad: float,
    out_x: NDArray[np.float64],
    out_y: NDArray[np.float64],
) -> None:
    """World positions of the four tyre contact points (fl, fr, rl, rr) of a car at a pose
    into ``out_*``, m."""
    c = math.cos(yaw_rad)
    sn = math.sin(yaw_rad)
    half_tf = 0.5 * p[P_TRACK_FRONT_M]
    half_tr = 0.5 * p[P_TRACK_REAR_M]
    for w in range(4):
        if w < 2:
            xw = p[P_LF_M]
            yw = half_tf if w == 0 else -half_tf
        else:
            xw = -p[P_LR_M]
            yw = half_tr if w == 2 else -half_tr
        out_x[w] = x_m + c * xw - sn * yw
        out_y[w] = y_m + sn * xw + c * yw


@numba.njit(**_KERNEL)
def _flags_at_points(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    on_track: NDArray[np.float64],
    stride: int,
    grid_params: NDArray[np.float64],
    cell_start: NDArray[np.int32],
    items: NDArray[np.int32],
    quads: NDArray[np.float64],
    quad_levels: NDArray[np.int64],
    hidden: np.int64,
) -> None:
    """``on_track[w * stride]`` = 1.0 where contact point ``(xs[w], ys[w])`` is on the
    track (on the surface not ``hidden``)."""
    for w in range(4):
        inside = inside_point(
            xs[w], ys[w], grid_params, cell_start, items, quads, quad_levels, hidden
        )
        on_track[w * stride] = 1.0 if inside else 0.0


@numba.njit(**_KERNEL)
def surface_flags(
    p: NDArray[np.float64],
    x_m: float,
    y_m: float,
    yaw_rad: float,
    on_track: NDArray[np.float64],
    stride: int,
    grid_params: NDArray[np.float64],
    cell_start: NDArray[np.int32],
    items: NDArray[np.int32],
    quads: NDArray[np.float64],
    quad_levels: NDArray[np.int64],
    hidden: np.int64,
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
) -> None:
    """``on_track[w * stride]`` = 1.0 where tyre ``w`` of a car at a pose is on the track
    (the surface not ``hidden``: the car's level)."""
    contact_points(p, x_m, y_m, yaw_rad, xs, ys)
    _flags_at_points(
        xs, ys, on_track, stride, grid_params, cell_start, items, quads, quad_levels, hidden
    )


@numba.njit(**_KERNEL)
def locate_car(
    p: NDArray[np.float64],
    s: NDArray[np.float64],
    on_track: NDArray[np.float64],
    use_track: bool,
    grid_params: NDArray[np.float64],
    cell_start: NDArray[np.int32],
    items: NDArray[np.int32],
    quads: NDArray[np.float64],
    quad_levels: NDArray[np.int64],
    border_params: NDArray[np.float64],
    border_start: NDArray[np.int32],
    border_items: NDArray[np.int32],
    border_segments: NDArray[np.float64],
    border_levels: NDArray[np.int64],
    hidden: np.int64,
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
) -> float:
    """The four contact points of a car state (into ``xs``, ``ys``, m), their surface
    flags (``on_track[w]`` = 1.0 / 0.0; all 1.0 without a track) and the centre's squared
    distance to the nearest border, m^2 (inf without a track), on the car's level
    (``hidden``: the levels it does not see, ``acgym.track.queries.hidden_levels``).

    A car whose contact points all lie closer to its centre than the nearest border does
    has every tyre on the side of the borders that its centre is on: one inside test of
    the centre decides the four flags (the surface is the region between the borders).
    Otherwise each contact point is tested.
    """
    x = s[S_X_M]
    y = s[S_Y_M]
    contact_points(p, x, y, s[S_YAW_RAD], xs, ys)
    if not use_track:
        for w in range(4):
            on_track[w] = 1.0
        return math.inf
    _, _, d2 = nearest_segment(
        x, y, border_params, border_start, border_items, border_segments, border_levels, hidden
    )
    reach = _half_diagonal(p) + REACH_MARGIN_M
    if d2 > reach * reach:
        inside = inside_point(x, y, grid_params, cell_start, items, quads, quad_levels, hidden)
        for w in range(4):
            on_track[w] = 1.0 if inside else 0.0
    else:
        _flags_at_points(
            xs, ys, on_track, 1, grid_params, cell_start, items, quads, quad_levels, hidden
        )
    return d2


def work_size(num_cars: int) -> int:
    """Length of the batch workspace for ``num_cars`` cars (whole chunks)."""
    return -(-num_cars // CHUNK) * WORK_ROWS * CHUNK


@numba.njit(**_KERNEL)
def pack_constants(params: NDArray[np.float64], work: NDArray[np.float64]) -> None:
    """Write every car's constants into its lane of the batch workspace (once per world).

    Args:
        params: ``(N, NUM_PARAMS)`` car parameters.
        work: The workspace, :func:`work_size` values.
    """
    num_cars = params.shape[0]
    for i in range(-(-num_cars // CHUNK) * CHUNK):
        # the spare lanes of a partial last chunk take the last car's constants
        p = params[min(i, num_cars - 1)]
        at = (i // CHUNK) * WORK_ROWS * CHUNK + i % CHUNK
        work[at + W_MASS_KG * CHUNK] = p[P_MASS_KG]
        work[at + W_YAW_INERTIA_KGM2 * CHUNK] = p[P_YAW_INERTIA_KGM2]
        work[at + W_LF_M * CHUNK] = p[P_LF_M]
        work[at + W_LR_M * CHUNK] = p[P_LR_M]
        work[at + W_HALF_TRACK_FRONT_M * CHUNK] = 0.5 * p[P_TRACK_FRONT_M]
        work[at + W_HALF_TRACK_REAR_M * CHUNK] = 0.5 * p[P_TRACK_REAR_M]
        work[at + W_COG_HEIGHT_M * CHUNK] = p[P_COG_HEIGHT_M]
        work[at + W_ROLL_STIFFNESS_FRONT * CHUNK] = p[P_ROLL_STIFFNESS_FRONT]
        work[at + W_LOAD_TAU_S * CHUNK] = p[P_LOAD_TAU_S]
        work[at + W_DRAG_COEF * CHUNK] = p[P_DRAG_COEF]
        work[at + W_LIFT_COEF * CHUNK] = p[P_LIFT_COEF]
        work[at + W_AERO_FRONT * CHUNK] = p[P_AERO_FRONT]
        work[at + W_FRONT_COMPLIANCE * CHUNK] = p[P_FRONT_COMPLIANCE_RAD_PER_MPS2]
        work[at + W_REAR_COMPLIANCE * CHUNK] = p[P_REAR_COMPLIANCE_RAD_PER_MPS2]
        work[at + W_ABS * CHUNK] = p[P_ABS]
        work[at + W_ABS_SLIP_FRACTION * CHUNK] = p[P_ABS_SLIP_FRACTION]
        work[at + W_BRAKE_MAX_NM * CHUNK] = p[P_BRAKE_MAX_NM]
        work[at + W_BRAKE_FRONT * CHUNK] = p[P_BRAKE_FRONT]
        work[at + W_DIFF_PRELOAD_NM * CHUNK] = p[P_DIFF_PRELOAD_NM]
        work[at + W_DIFF_POWER_LOCK * CHUNK] = p[P_DIFF_POWER_LOCK]
        work[at + W_SLIP_SPEED_MPS * CHUNK] = p[P_SLIP_SPEED_MPS]
        work[at + W_OFFTRACK_GRIP * CHUNK] = p[P_OFFTRACK_GRIP]
        work[at + W_OFFTRACK_ROLLING_RESISTANCE * CHUNK] = p[P_OFFTRACK_ROLLING_RESISTANCE]
        for k in range(NUM_TYRE_PARAMS):
            work[at + (W_TYRE_FRONT + k) * CHUNK] = p[P_TYRE_FRONT + k]
            work[at + (W_TYRE_REAR + k) * CHUNK] = p[P_TYRE_REAR + k]


@numba.njit(**_KERNEL)
def step_cars(
    params: NDArray[np.float64],
    state: NDArray[np.float64],
    outputs: NDArray[np.float64],
    on_track: NDArray[np.float64],
    controls: NDArray[np.float64],
    gear_flags: NDArray[np.float64],
    auto_shift: bool,
    dt: float,
    num_substeps: int,
    use_track: bool,
    grid_params: NDArray[np.float64],
    cell_start: NDArray[np.int32],
    items: NDArray[np.int32],
    quads: NDArray[np.float64],
    quad_levels: NDArray[np.int64],
    border_params: NDArray[np.float64],
    border_start: NDArray[np.int32],
    border_items: NDArray[np.int32],
    border_segments: NDArray[np.float64],
    border_levels: NDArray[np.int64],
    crossing_s_m: NDArray[np.float64],
    length_m: float,
    progress_m: NDArray[np.float64],
    border_d2: NDArray[np.float64],
    work: NDArray[np.float64],
) -> int:
    """Advance every car by one control period (``num_substeps`` steps of ``dt``), in place.

    Args:
        params: ``(N, NUM_PARAMS)`` car parameters.
        state: ``(N, NUM_STATE)`` car states, advanced.
        outputs: ``(N, NUM_OUTPUTS)`` outputs of the last internal step, overwritten.
        on_track: ``(N, 4)`` surface flags of the tyres (1.0 on the track) at the cars'
            present poses (the caller sets them on reset), updated.
        controls: ``(N, 3)`` steer, acc, brake in [-1, 1] (clipped): steer -1 = full left,
            +1 = full right; pedals -1 = released, +1 = pressed fully.
        gear_flags: ``(N, 3)`` enable_gear_shift, shift_up, shift_down (> 0.5 = set).
        auto_shift: Automatic shifting for cars whose ``enable_gear_shift`` is not set.
        dt: Internal step, s.
        num_substeps: Internal steps per control period.
        use_track: Look the surface up on the track (else every tyre is on the surface).
        grid_params, cell_start, items, quads, quad_levels: The track's quad index
            (``Track.quad_index.arrays``); dummies when ``use_track`` is false.
        border_params, border_start, border_items, border_segments, border_levels: The
            track's border segment index (``Track.border_index.arrays``); dummies likewise.
        crossing_s_m, length_m: The track's crossings (``Track.crossing_s_m``, ``(0, 2)``
            without) and the length of its line, m.
        progress_m: ``(N,)`` each car's distance along the line, m, that picks its level
            at a crossing (NaN: none, every level is seen); read only.
        border_d2: ``(N,)`` squared distance of each car's centre to the nearest border at
            its present pose, m^2 (:func:`locate_car`; the caller sets it on reset),
            updated.
        work: The batch workspace with the cars' constants (:func:`pack_constants`).

    Surface flags: a car whose centre is farther from every border than it can travel in
    the period plus its half-diagonal cannot change any tyre's surface, so its flags are
    looked up once; a car near a border is looked up in every internal step. Both give
    the same flags.

    Returns:
        -1 when every car was stepped; else the first car whose controls are not finite
        (then no car was stepped).
    """
    num_cars = state.shape[0]
    for i in range(num_cars):
        for c in range(3):
            if not math.isfinite(controls[i, c]):
                return i  # nothing stepped: the caller reports the bad row
    xs = np.empty(4)
    ys = np.empty(4)
    near_border = np.zeros(CHUNK, dtype=np.bool_)
    hidden = np.zeros(CHUNK, dtype=np.int64)
    period = dt * num_substeps
    for first in range(0, num_cars, CHUNK):
        count = min(CHUNK, num_cars - first)
        chunk_at = (first // CHUNK) * WORK_ROWS * CHUNK
        chunk = work[chunk_at : chunk_at + WORK_ROWS * CHUNK]
        for j in range(count):
            i = first + j
            p = params[i]
            s = state[i]
            at = chunk_at + j
            steer = _clip_unit(controls[i, C_STEER])
            acc = _clip_unit(controls[i, C_ACC])
            brake = _clip_unit(controls[i, C_BRAKE])
            wheel_deg = interp_clamped(
                steer, p, P_STEER_MAP_IN, P_STEER_MAP_DEG, int(p[P_NUM_STEER_POINTS])
            )
            # AC's sign: negative steer / steering-wheel angle turns left; the body frame
            # has y to the left, so a left turn is a positive road-wheel angle.
            delta = -math.radians(wheel_deg / p[P_STEER_RATIO])
            gas = 0.5 * (acc + 1.0)
            brake_status = interp_clamped(
                brake, p, P_BRAKE_MAP_IN, P_BRAKE_MAP_OUT, int(p[P_NUM_BRAKE_POINTS])
            )
            manual = gear_flags[i, G_ENABLE] > 0.5
            if manual and s[S_SHIFT_TIMER_S] <= 0.0:
                gear = int(s[S_GEAR])
                axle_omega = 0.5 * (s[S_WHEEL_OMEGA + 2] + s[S_WHEEL_OMEGA + 3])
                new_gear = manual_shift_gear(
                    p,
                    gear,
                    gear_flags[i, G_UP] > 0.5,
                    gear_flags[i, G_DOWN] > 0.5,
                    s[S_VX_MPS],
                    axle_omega,
                )
                if new_gear != gear:
                    s[S_GEAR] = new_gear
                    s[S_SHIFT_TIMER_S] = p[P_SHIFT_TIME_S]
            work[at + W_COS_DELTA * CHUNK] = math.cos(delta)
            work[at + W_SIN_DELTA * CHUNK] = math.sin(delta)
            work[at + W_GAS * CHUNK] = gas
            work[at + W_BRAKE_STATUS * CHUNK] = brake_status
            work[at + W_AUTO_SHIFT * CHUNK] = 1.0 if auto_shift and not manual else 0.0
            for k in range(NUM_STATE):
                work[at + (W_STATE + k) * CHUNK] = s[k]
            for w in range(4):
                work[at + (W_ON_TRACK + w) * CHUNK] = on_track[i, w]
            near_border[j] = False
            hidden[j] = hidden_levels(progress_m[i], crossing_s_m, length_m)
            if use_track:
                # ``on_track`` and ``border_d2`` are those of the car's present pose (set at
                # the end of the previous step or by the reset)
                speed = math.sqrt(s[S_VX_MPS] * s[S_VX_MPS] + s[S_VY_MPS] * s[S_VY_MPS])
                reach = (speed + 0.5 * MAX_ACCEL_MPS2 * period) * period + _half_diagonal(p)
                reach += REACH_MARGIN_M
                near_border[j] = border_d2[i] < reach * reach
            outputs[i, O_STEER_WHEEL_DEG] = wheel_deg
            outputs[i, O_ROAD_WHEEL_RAD] = delta
            outputs[i, O_GAS] = gas
            outputs[i, O_BRAKE] = brake_status
        # spare lanes (a partial chunk) run a copy of the chunk's last car: the lane passes
        # always run every lane, on finite values; their results are never read
        last = chunk_at + count - 1
        for k in range(W_STATE, WORK_ROWS):
            value = work[last + k * CHUNK]
            for j in range(count, CHUNK):
                work[chunk_at + j + k * CHUNK] = value
        for _ in range(num_substeps):
            for j in range(count):
                if near_border[j]:
                    at = chunk_at + j
                    surface_flags(
                        params[first + j],
                        work[at + (W_STATE + S_X_M) * CHUNK],
                        work[at + (W_STATE + S_Y_M) * CHUNK],
                        work[at + (W_STATE + S_YAW_RAD) * CHUNK],
                        work[at + W_ON_TRACK * CHUNK :],
                        CHUNK,
                        grid_params,
                        cell_start,
                        items,
                        quads,
                        quad_levels,
                        hidden[j],
                        xs,
                        ys,
                    )
            tyre_pass(chunk)
            drivetrain_pass(params, first, chunk, count, dt)
            wheel_body_pass(chunk, count, dt)
        for j in range(count):
            i = first + j
            p = params[i]
            s = state[i]
            at = chunk_at + j
            for k in range(NUM_STATE):
                s[k] = work[at + (W_STATE + k) * CHUNK]
            for k in range(NUM_OUTPUTS):
                if k < O_STEER_WHEEL_DEG or k > O_BRAKE:  # the applied controls are set
                    outputs[i, k] = work[at + (W_OUT + k) * CHUNK]
            border_d2[i] = locate_car(
                p,
                s,
                on_track[i],
                use_track,
                grid_params,
                cell_start,
                items,
                quads,
                quad_levels,
                border_params,
                border_start,
                border_items,
                border_segments,
                border_levels,
                hidden[j],
                xs,
                ys,
            )
            for w in range(4):  # locate_car left the contact points in xs, ys
                outputs[i, O_CONTACT_X_M + w] = xs[w]
                outputs[i, O_CONTACT_Y_M + w] = ys[w]
    return -1

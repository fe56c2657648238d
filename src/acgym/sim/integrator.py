"""The fused batch kernel: every car, every internal step of one control period.

:func:`step_cars` loops over cars (outer) and internal steps (inner) in one compiled
call, so a control step costs one Python call whatever the number of cars. Per car and
control period it maps the controls once (steer map, steering ratio, brake map), applies
a manual shift request, then runs ``num_substeps`` calls of
:func:`acgym.sim.dynamics.substep`. The track surface under each tyre is looked up in
every internal step with the track's compiled inside test
(:func:`acgym.track.queries.inside_point` on the track's quad grid), so grip and rolling
resistance change the moment a wheel leaves the surface.

Cars are independent and each car's arithmetic runs in a fixed order: results are
bit-identical for identical inputs, whatever the batch size or the car's place in it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.dynamics import NUM_SCRATCH_ROWS, substep
from acgym.sim.layout import (
    C_ACC,
    C_BRAKE,
    C_STEER,
    G_DOWN,
    G_ENABLE,
    G_UP,
    O_BRAKE,
    O_CONTACT_X_M,
    O_CONTACT_Y_M,
    O_GAS,
    O_ROAD_WHEEL_RAD,
    O_STEER_WHEEL_DEG,
    P_BRAKE_MAP_IN,
    P_BRAKE_MAP_OUT,
    P_LF_M,
    P_LR_M,
    P_NUM_BRAKE_POINTS,
    P_NUM_STEER_POINTS,
    P_SHIFT_TIME_S,
    P_STEER_MAP_DEG,
    P_STEER_MAP_IN,
    P_STEER_RATIO,
    P_TRACK_FRONT_M,
    P_TRACK_REAR_M,
    S_GEAR,
    S_SHIFT_TIMER_S,
    S_VX_MPS,
    S_VY_MPS,
    S_WHEEL_OMEGA,
    S_X_M,
    S_Y_M,
    S_YAW_RAD,
)
from acgym.sim.powertrain import interp_clamped, manual_shift_gear
from acgym.sim.tyres import FASTMATH
from acgym.track.queries import inside_point, nearest_segment

MAX_ACCEL_MPS2 = 50.0
"""Bound on a car's acceleration (5 g, generous), which bounds its travel in a period."""
REACH_MARGIN_M = 0.5
"""Extra distance from the borders before a car counts as near one, m."""


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _half_diagonal(p: NDArray[np.float64]) -> float:
    """Largest distance from the centre of gravity to a tyre contact point, m."""
    lf = p[P_LF_M]
    lr = p[P_LR_M]
    half_t = 0.5 * max(p[P_TRACK_FRONT_M], p[P_TRACK_REAR_M])
    return math.sqrt(max(lf, lr) ** 2 + half_t * half_t)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _clip_unit(value: float) -> float:
    if value > 1.0:
        return 1.0
    if value < -1.0:
        return -1.0
    return value


@numba.njit(cache=True, fastmath=FASTMATH)
def wheel_positions(
    p: NDArray[np.float64],
    s: NDArray[np.float64],
    out_x: NDArray[np.float64],
    out_y: NDArray[np.float64],
) -> None:
    """World positions of the four tyre contact points (fl, fr, rl, rr) into ``out_*``, m."""
    c = math.cos(s[S_YAW_RAD])
    sn = math.sin(s[S_YAW_RAD])
    half_tf = 0.5 * p[P_TRACK_FRONT_M]
    half_tr = 0.5 * p[P_TRACK_REAR_M]
    for w in range(4):
        if w < 2:
            xw = p[P_LF_M]
            yw = half_tf if w == 0 else -half_tf
        else:
            xw = -p[P_LR_M]
            yw = half_tr if w == 2 else -half_tr
        out_x[w] = s[S_X_M] + c * xw - sn * yw
        out_y[w] = s[S_Y_M] + sn * xw + c * yw


@numba.njit(cache=True, fastmath=FASTMATH)
def update_surface(
    p: NDArray[np.float64],
    s: NDArray[np.float64],
    on_track: NDArray[np.float64],
    use_track: bool,
    grid_params: NDArray[np.float64],
    cell_start: NDArray[np.int32],
    items: NDArray[np.int32],
    quads: NDArray[np.float64],
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
) -> None:
    """Set ``on_track[w]`` (1.0 / 0.0) for the four tyres of one car; all 1.0 without a track."""
    if not use_track:
        for w in range(4):
            on_track[w] = 1.0
        return
    wheel_positions(p, s, xs, ys)
    for w in range(4):
        inside = inside_point(xs[w], ys[w], grid_params, cell_start, items, quads)
        on_track[w] = 1.0 if inside else 0.0


@numba.njit(cache=True, fastmath=FASTMATH)
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
    border_params: NDArray[np.float64],
    border_start: NDArray[np.int32],
    border_items: NDArray[np.int32],
    border_segments: NDArray[np.float64],
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
        grid_params, cell_start, items, quads: The track's quad grid
            (:func:`acgym.track.spatial.quad_grid`); dummies when ``use_track`` is false.
        border_params, border_start, border_items, border_segments: The track's border
            segment grid (:func:`acgym.track.spatial.segment_grid`); dummies likewise.

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
    scratch = np.empty((NUM_SCRATCH_ROWS, 4))
    xs = np.empty(4)
    ys = np.empty(4)
    for i in range(num_cars):
        p = params[i]
        s = state[i]
        o = outputs[i]
        surface = on_track[i]
        steer = _clip_unit(controls[i, C_STEER])
        acc = _clip_unit(controls[i, C_ACC])
        brake = _clip_unit(controls[i, C_BRAKE])
        wheel_deg = interp_clamped(
            steer, p, P_STEER_MAP_IN, P_STEER_MAP_DEG, int(p[P_NUM_STEER_POINTS])
        )
        # AC's sign: negative steer / steering-wheel angle turns left; the body frame has
        # y to the left, so a left turn is a positive road-wheel angle.
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
        cos_delta = math.cos(delta)
        sin_delta = math.sin(delta)
        car_auto = auto_shift and not manual
        near_border = False
        if use_track:
            # the flags in ``on_track`` are those of the car's present pose (set at the end
            # of the previous step or by the reset)
            _, _, d2 = nearest_segment(
                s[S_X_M], s[S_Y_M], border_params, border_start, border_items, border_segments
            )
            speed = math.sqrt(s[S_VX_MPS] * s[S_VX_MPS] + s[S_VY_MPS] * s[S_VY_MPS])
            period = dt * num_substeps
            reach = (speed + 0.5 * MAX_ACCEL_MPS2 * period) * period + _half_diagonal(p)
            reach += REACH_MARGIN_M
            near_border = d2 < reach * reach
        for _ in range(num_substeps):
            if near_border:
                update_surface(
                    p, s, surface, use_track, grid_params, cell_start, items, quads, xs, ys
                )
            substep(
                p, s, o, cos_delta, sin_delta, gas, brake_status, surface, car_auto, dt, scratch
            )
        update_surface(p, s, surface, use_track, grid_params, cell_start, items, quads, xs, ys)
        wheel_positions(p, s, xs, ys)
        for w in range(4):
            o[O_CONTACT_X_M + w] = xs[w]
            o[O_CONTACT_Y_M + w] = ys[w]
        o[O_STEER_WHEEL_DEG] = wheel_deg
        o[O_ROAD_WHEEL_RAD] = delta
        o[O_GAS] = gas
        o[O_BRAKE] = brake_status
    return -1

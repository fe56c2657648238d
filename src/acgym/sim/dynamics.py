"""One internal time step of a chunk of cars: loads, tyres, drivetrain, wheels, rigid body.

The model (details and references in ``docs/sim.md``):

* **Rigid body** in the plane: position ``(x, y)``, heading ``psi``, car-frame velocity
  ``(vx, vy)`` and yaw rate ``r``::

      m (dvx/dt - r vy) = sum Fx_i - 0.5 rho CdA vx |vx|
      m (dvy/dt + r vx) = sum Fy_i
      Iz dr/dt          = sum (x_i Fy_i - y_i Fx_i)

  with the tyre forces rotated into the car frame by each wheel's steer angle: the front
  wheels at the road-wheel angle less the front's compliance steer, the rear wheels at
  the rear's compliance steer. Compliance steer lumps roll steer, roll camber and
  lateral-force and aligning-torque compliance per axle (Bundorf's cornering
  compliances): ``-D ay`` with ``ay`` the lagged lateral acceleration (the body's roll).
* **Normal loads**: static distribution + aerodynamic downforce (front/rear split) +
  longitudinal transfer ``m ax h / L`` + lateral transfer ``m ay h / t`` per axle split by
  the roll-stiffness distribution; ``ax``/``ay`` lag the body accelerations by the
  suspension time constant (first order), which also breaks the algebraic loop.
* **Wheels**: four spin states, ``I dw/dt = T_drive - R Fx - T_brake - T_roll``, with
  brake and rolling-resistance torques as Coulomb friction (they stop a wheel, never
  reverse it), a clutch-type limited-slip differential between the rear wheels and an
  ABS that holds a braked wheel's slip ratio at or under its target (a share of the
  tyre's peak slip ratio).
* **Tyres**: :mod:`acgym.sim.tyres` (Magic Formula, combined slip, load sensitivity).
  Slips divide by ``max(|vx_wheel|, v_slip)``, which keeps them finite at a standstill.

Integration (fixed step ``dt``; semi-implicit Euler): tyre forces are evaluated at the
start of the step; the stiff parts are implicit, linearised with the tyres' tangent slip
stiffnesses (the Magic Formula's slope: ``B C D`` near zero slip, zero at and past the
peak, where the force no longer grows): each wheel's spin (then the differential clutch
and the Coulomb brakes as projections), then the body's ``vx`` (scalar) and ``(vy, r)``
(2x2 solve). Positions use the new velocities. This is stable at 200 Hz and above from a
standstill to top speed with no chatter: at low speed a tyre acts as a stiff damper,
which the implicit steps absorb.

Layout: an internal step runs on a chunk of up to ``CHUNK`` cars held in the batch
workspace (structure of arrays, ``W_*`` rows of :mod:`acgym.sim.layout`) in three passes:
:func:`tyre_pass` (loads, steer angles, slips, tyre forces; one SIMD lane per car),
:func:`drivetrain_pass` (gears, clutch, engine: per car, table look-ups) and
:func:`wheel_body_pass` (wheel spin, differential, brakes, rigid body; SIMD lanes). The
two lane passes are branch-free (selects) and always run all ``CHUNK`` lanes (a partial
chunk's spare lanes hold copies of one of its cars): every car runs the same vector
instructions, with no scalar remainder loop, so a car moves exactly as it would alone,
whatever lane it has and however many cars share its chunk.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.layout import (
    CHUNK,
    O_AX_MPS2,
    O_AY_MPS2,
    O_DRIVE_TORQUE_NM,
    O_ENGINE_TORQUE_NM,
    O_FX_N,
    O_FY_N,
    O_MU_Y,
    O_NORMAL_LOAD_N,
    O_SLIP_ANGLE_RAD,
    O_SLIP_RATIO,
    P_AERO_FRONT,
    P_COG_HEIGHT_M,
    P_DRIVETRAIN_EFFICIENCY,
    P_ENGINE_INERTIA_KGM2,
    P_IDLE_RPM,
    P_LAUNCH_RPM,
    P_LF_M,
    P_LIFT_COEF,
    P_LIMITER_RPM,
    P_LR_M,
    P_MASS_KG,
    P_ROLL_STIFFNESS_FRONT,
    P_SHIFT_TIME_S,
    P_TRACK_FRONT_M,
    P_TRACK_REAR_M,
    P_TYRE_REAR,
    S_AX_FILT_MPS2,
    S_AY_FILT_MPS2,
    S_ENGINE_RPM,
    S_GEAR,
    S_SHIFT_TIMER_S,
    S_TIME_S,
    S_VX_MPS,
    S_VY_MPS,
    S_WHEEL_OMEGA,
    S_X_M,
    S_Y_M,
    S_YAW_RAD,
    S_YAW_RATE_RADPS,
    T_INERTIA_KGM2,
    T_KAPPA_PEAK,
    T_RADIUS_M,
    T_ROLLING_RESISTANCE,
    W_ABS,
    W_ABS_SLIP_FRACTION,
    W_AERO_FRONT,
    W_AUTO_SHIFT,
    W_AXLE_TORQUE_NM,
    W_BRAKE_FRONT,
    W_BRAKE_MAX_NM,
    W_BRAKE_STATUS,
    W_COG_HEIGHT_M,
    W_COS_DELTA,
    W_COS_FRONT,
    W_COS_REAR,
    W_DIFF_POWER_LOCK,
    W_DIFF_PRELOAD_NM,
    W_DRAG_COEF,
    W_FRONT_COMPLIANCE,
    W_FX,
    W_FY,
    W_FZ,
    W_GAS,
    W_HALF_TRACK_FRONT_M,
    W_HALF_TRACK_REAR_M,
    W_INV_SLIP_SPEED,
    W_KX,
    W_KY,
    W_LF_M,
    W_LIFT_COEF,
    W_LOAD_TAU_S,
    W_LR_M,
    W_MASS_KG,
    W_MU_X,
    W_OFFTRACK_GRIP,
    W_OFFTRACK_ROLLING_RESISTANCE,
    W_ON_TRACK,
    W_OUT,
    W_RATIO,
    W_REAR_COMPLIANCE,
    W_REFLECTED_INERTIA_KGM2,
    W_ROLL_STIFFNESS_FRONT,
    W_SIN_DELTA,
    W_SIN_FRONT,
    W_SIN_REAR,
    W_SLIP_SPEED_MPS,
    W_STATE,
    W_TYRE_FRONT,
    W_TYRE_REAR,
    W_VXW,
    W_VYW,
    W_WHEEL_SLIP_SPEED,
    W_YAW_INERTIA_KGM2,
)
from acgym.sim.powertrain import auto_shift_gear, engine_torque_nm, overall_ratio
from acgym.sim.tyres import FASTMATH, combined_forces, fast_atan, fast_sincos
from acgym.units import GRAVITY_MPS2

RPM_PER_RADPS = 30.0 / math.pi
TWO_PI = 2.0 * math.pi
NEUTRAL_REV_TAU_S = 0.3
"""Time constant of a free engine's speed (neutral) toward its throttle set point, s."""
STIFF_LIMIT = 0.5
"""Largest ``dt * stiffness / mass`` of the body's tyre damping left to the explicit step."""
MAX_COMPLIANCE_STEER_RAD = 0.1
"""Bound on an axle's compliance steer angle, rad (the small-angle series below is exact to
1e-16 within it; real compliance steer stays under a few degrees)."""

_KERNEL = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}
_INLINE = {"cache": True, "inline": "always", "fastmath": FASTMATH, "error_model": "numpy"}


@numba.njit(**_INLINE)
def small_sincos(angle: float) -> tuple[float, float]:
    """``(sin, cos)`` of ``|angle| <= MAX_COMPLIANCE_STEER_RAD`` by their Taylor series
    (error < 1e-16 there; exactly ``(0, 1)`` at 0)."""
    a2 = angle * angle
    sine = angle * (1.0 - a2 * (1.0 / 6.0 - a2 * (1.0 / 120.0 - a2 * (1.0 / 5040.0))))
    cosine = 1.0 - a2 * (0.5 - a2 * (1.0 / 24.0 - a2 * (1.0 / 720.0 - a2 * (1.0 / 40320.0))))
    return sine, cosine


@numba.njit(**_INLINE)
def compliance_steer_rad(coefficient: float, ay_mps2: float) -> float:
    """An axle's compliance steer ``-coefficient * ay``, bounded, rad (> 0 steers left)."""
    angle = -coefficient * ay_mps2
    angle = angle if angle < MAX_COMPLIANCE_STEER_RAD else MAX_COMPLIANCE_STEER_RAD
    return angle if angle > -MAX_COMPLIANCE_STEER_RAD else -MAX_COMPLIANCE_STEER_RAD


@numba.njit(**_INLINE)
def _coulomb(omega: float, step: float) -> float:
    """Reduce ``|omega|`` by ``step`` >= 0 without crossing zero (implicit dry friction)."""
    down = omega - step
    up = omega + step
    return down if omega > step else (up if omega < -step else 0.0)


@numba.njit(**_INLINE)
def wheel_loads(
    mass_kg: float,
    lf_m: float,
    lr_m: float,
    cog_height_m: float,
    roll_front: float,
    track_front_m: float,
    track_rear_m: float,
    lift_coef: float,
    aero_front: float,
    vx_mps: float,
    ax_mps2: float,
    ay_mps2: float,
) -> tuple[float, float, float, float]:
    """Normal loads of the four tyres (fl, fr, rl, rr), N; below zero clamped (wheel lift).

    Args:
        mass_kg, lf_m, lr_m, cog_height_m: Mass, CoG to the axles, CoG height.
        roll_front: Share of the lateral load transfer on the front axle.
        track_front_m, track_rear_m: Track widths.
        lift_coef: ``0.5 rho ClA``, N/(m/s)^2 (downforce > 0); ``aero_front`` its front share.
        vx_mps: Forward speed (downforce), m/s.
        ax_mps2: Longitudinal acceleration for the load transfer, m/s^2 (> 0 speeding up).
        ay_mps2: Lateral acceleration, m/s^2 (> 0 to the left: loads the right wheels).
    """
    wheelbase = lf_m + lr_m
    down = lift_coef * vx_mps * vx_mps
    long_transfer = mass_kg * ax_mps2 * cog_height_m / wheelbase
    front_axle = mass_kg * GRAVITY_MPS2 * lr_m / wheelbase + down * aero_front - long_transfer
    rear_axle = mass_kg * GRAVITY_MPS2 * lf_m / wheelbase + down * (1.0 - aero_front)
    rear_axle += long_transfer
    lat_front = roll_front * mass_kg * ay_mps2 * cog_height_m / track_front_m
    lat_rear = (1.0 - roll_front) * mass_kg * ay_mps2 * cog_height_m / track_rear_m
    return (
        max(0.5 * front_axle - lat_front, 0.0),
        max(0.5 * front_axle + lat_front, 0.0),
        max(0.5 * rear_axle - lat_rear, 0.0),
        max(0.5 * rear_axle + lat_rear, 0.0),
    )


@numba.njit(**_INLINE)
def normal_loads(
    p: NDArray[np.float64], vx_mps: float, ax_mps2: float, ay_mps2: float, out: NDArray[np.float64]
) -> None:
    """:func:`wheel_loads` of a car parameter array ``(NUM_PARAMS,)`` into ``out[0:4]``, N."""
    loads = wheel_loads(
        p[P_MASS_KG],
        p[P_LF_M],
        p[P_LR_M],
        p[P_COG_HEIGHT_M],
        p[P_ROLL_STIFFNESS_FRONT],
        p[P_TRACK_FRONT_M],
        p[P_TRACK_REAR_M],
        p[P_LIFT_COEF],
        p[P_AERO_FRONT],
        vx_mps,
        ax_mps2,
        ay_mps2,
    )
    for w in range(4):
        out[w] = loads[w]


# --- the three passes of an internal step over a chunk ------------------------------------
# ``ws`` is a chunk's part of the batch workspace: quantity W_X of its car ``at`` is
# ws[at + W_X * CHUNK]. The loops over the cars read and write rows at constant distances,
# which lets the compiler run the cars in SIMD lanes. The passes are inlined into the batch
# kernel: as separately compiled functions, the kernel freshly compiled and the kernel
# loaded from Numba's cache ran different machine code for them (under fast-math, other
# bits in the last place), so the first process after a compilation disagreed with all
# later ones (tests/sim/test_world.py runs both).


@numba.njit(**_INLINE)
def _tyre(
    ws: NDArray[np.float64],
    at: int,
    w: int,
    tyre_row: int,
    xw: float,
    yw: float,
    c: float,
    sn: float,
    vx: float,
    vy: float,
    r: float,
    fz: float,
) -> None:
    """Slips and forces of wheel ``w`` of the car at ``ws[at]``, into its workspace rows."""
    vx_hub = vx - r * yw
    vy_hub = vy + r * xw
    vxw = vx_hub * c + vy_hub * sn
    vyw = vy_hub * c - vx_hub * sn
    slip_speed = abs(vxw)
    v_slip = ws[at + W_SLIP_SPEED_MPS * CHUNK]
    slip_speed = slip_speed if slip_speed > v_slip else v_slip
    inv_slip_speed = 1.0 / slip_speed
    radius = ws[at + (tyre_row + T_RADIUS_M) * CHUNK]
    kappa = (ws[at + (W_STATE + S_WHEEL_OMEGA + w) * CHUNK] * radius - vxw) * inv_slip_speed
    alpha = -fast_atan(vyw * inv_slip_speed)
    on_track = ws[at + (W_ON_TRACK + w) * CHUNK] > 0.5
    grip = 1.0 if on_track else ws[at + W_OFFTRACK_GRIP * CHUNK]
    fx, fy, mu_x, mu_y, kx, ky = combined_forces(
        kappa, alpha, fz, grip, ws, at + tyre_row * CHUNK, CHUNK
    )
    ws[at + (W_FZ + w) * CHUNK] = fz
    ws[at + (W_FX + w) * CHUNK] = fx
    ws[at + (W_FY + w) * CHUNK] = fy
    ws[at + (W_KX + w) * CHUNK] = kx
    ws[at + (W_KY + w) * CHUNK] = ky
    ws[at + (W_WHEEL_SLIP_SPEED + w) * CHUNK] = slip_speed
    ws[at + (W_INV_SLIP_SPEED + w) * CHUNK] = inv_slip_speed
    ws[at + (W_VXW + w) * CHUNK] = vxw
    ws[at + (W_VYW + w) * CHUNK] = vyw
    ws[at + (W_MU_X + w) * CHUNK] = mu_x
    ws[at + (W_OUT + O_SLIP_RATIO + w) * CHUNK] = kappa
    ws[at + (W_OUT + O_SLIP_ANGLE_RAD + w) * CHUNK] = alpha
    ws[at + (W_OUT + O_NORMAL_LOAD_N + w) * CHUNK] = fz
    ws[at + (W_OUT + O_MU_Y + w) * CHUNK] = mu_y


@numba.njit(**_INLINE)
def tyre_pass(ws: NDArray[np.float64]) -> None:
    """Normal loads, steer angles, slips and tyre forces at the start of an internal step,
    for every lane of a chunk (``ws``: the chunk's workspace)."""
    for at in range(CHUNK):  # a constant trip count: every lane runs the same vector code
        vx = ws[at + (W_STATE + S_VX_MPS) * CHUNK]
        vy = ws[at + (W_STATE + S_VY_MPS) * CHUNK]
        r = ws[at + (W_STATE + S_YAW_RATE_RADPS) * CHUNK]
        ay_lag = ws[at + (W_STATE + S_AY_FILT_MPS2) * CHUNK]
        half_tf = ws[at + W_HALF_TRACK_FRONT_M * CHUNK]
        half_tr = ws[at + W_HALF_TRACK_REAR_M * CHUNK]
        lf = ws[at + W_LF_M * CHUNK]
        lr = ws[at + W_LR_M * CHUNK]
        fz0, fz1, fz2, fz3 = wheel_loads(
            ws[at + W_MASS_KG * CHUNK],
            lf,
            lr,
            ws[at + W_COG_HEIGHT_M * CHUNK],
            ws[at + W_ROLL_STIFFNESS_FRONT * CHUNK],
            2.0 * half_tf,
            2.0 * half_tr,
            ws[at + W_LIFT_COEF * CHUNK],
            ws[at + W_AERO_FRONT * CHUNK],
            vx,
            ws[at + (W_STATE + S_AX_FILT_MPS2) * CHUNK],
            ay_lag,
        )
        # axle steer angles: the front road-wheel angle less its compliance steer, and the
        # rear compliance steer; both follow the lagged lateral acceleration (the roll)
        sin_e, cos_e = small_sincos(
            compliance_steer_rad(ws[at + W_FRONT_COMPLIANCE * CHUNK], ay_lag)
        )
        cos_delta = ws[at + W_COS_DELTA * CHUNK]
        sin_delta = ws[at + W_SIN_DELTA * CHUNK]
        cos_f = cos_delta * cos_e - sin_delta * sin_e
        sin_f = sin_delta * cos_e + cos_delta * sin_e
        sin_r, cos_r = small_sincos(
            compliance_steer_rad(ws[at + W_REAR_COMPLIANCE * CHUNK], ay_lag)
        )
        ws[at + W_COS_FRONT * CHUNK] = cos_f
        ws[at + W_SIN_FRONT * CHUNK] = sin_f
        ws[at + W_COS_REAR * CHUNK] = cos_r
        ws[at + W_SIN_REAR * CHUNK] = sin_r
        _tyre(ws, at, 0, W_TYRE_FRONT, lf, half_tf, cos_f, sin_f, vx, vy, r, fz0)
        _tyre(ws, at, 1, W_TYRE_FRONT, lf, -half_tf, cos_f, sin_f, vx, vy, r, fz1)
        _tyre(ws, at, 2, W_TYRE_REAR, -lr, half_tr, cos_r, sin_r, vx, vy, r, fz2)
        _tyre(ws, at, 3, W_TYRE_REAR, -lr, -half_tr, cos_r, sin_r, vx, vy, r, fz3)


@numba.njit(**_INLINE)
def drivetrain_pass(
    params: NDArray[np.float64],
    first_car: int,
    ws: NDArray[np.float64],
    count: int,
    dt: float,
) -> None:
    """Automatic shifting, clutch and engine of an internal step, car by car (table
    look-ups): the axle torque, the engine inertia felt at the wheels and the gear's ratio
    into the workspace; gear, shift timer and engine speed updated.

    Args:
        params: ``(N, NUM_PARAMS)`` car parameters; the chunk's cars are rows
            ``first_car ..``.
        first_car: Index of the chunk's first car.
        ws: The chunk's workspace; count: its cars.
        dt: Internal step, s.
    """
    for j in range(count):
        p = params[first_car + j]
        at = j
        gas = ws[at + W_GAS * CHUNK]
        gear = int(ws[at + (W_STATE + S_GEAR) * CHUNK])
        timer = ws[at + (W_STATE + S_SHIFT_TIMER_S) * CHUNK]
        axle_omega = 0.5 * (
            ws[at + (W_STATE + S_WHEEL_OMEGA + 2) * CHUNK]
            + ws[at + (W_STATE + S_WHEEL_OMEGA + 3) * CHUNK]
        )
        if ws[at + W_AUTO_SHIFT * CHUNK] > 0.5 and timer <= 0.0:
            vx = ws[at + (W_STATE + S_VX_MPS) * CHUNK]
            new_gear = auto_shift_gear(p, gear, vx / p[P_TYRE_REAR + T_RADIUS_M])
            if new_gear != gear:
                gear = new_gear
                ws[at + (W_STATE + S_GEAR) * CHUNK] = gear
                timer = p[P_SHIFT_TIME_S]
        ratio = overall_ratio(p, gear)
        wheel_rpm = axle_omega * ratio * RPM_PER_RADPS
        idle_rpm = p[P_IDLE_RPM]
        engine_torque = 0.0
        axle_torque = 0.0
        reflected_inertia = 0.0
        rpm_old = ws[at + (W_STATE + S_ENGINE_RPM) * CHUNK]
        if ratio != 0.0 and timer <= 0.0:
            clutch_rpm = idle_rpm + gas * (p[P_LAUNCH_RPM] - idle_rpm)
            if wheel_rpm >= clutch_rpm:
                rpm = wheel_rpm
                engine_torque = engine_torque_nm(p, rpm, gas)
                reflected_inertia = p[P_ENGINE_INERTIA_KGM2] * ratio * ratio
            else:
                rpm = clutch_rpm
                engine_torque = max(engine_torque_nm(p, rpm, gas), 0.0)
            axle_torque = engine_torque * ratio * p[P_DRIVETRAIN_EFFICIENCY]
        elif ratio != 0.0:
            rpm = max(wheel_rpm, idle_rpm)
        else:
            target = idle_rpm + gas * (p[P_LIMITER_RPM] - idle_rpm)
            rpm = rpm_old + (target - rpm_old) * min(dt / NEUTRAL_REV_TAU_S, 1.0)
        ws[at + (W_STATE + S_ENGINE_RPM) * CHUNK] = rpm
        ws[at + (W_STATE + S_SHIFT_TIMER_S) * CHUNK] = max(timer - dt, 0.0)
        ws[at + W_AXLE_TORQUE_NM * CHUNK] = axle_torque
        ws[at + W_REFLECTED_INERTIA_KGM2 * CHUNK] = reflected_inertia
        ws[at + W_RATIO * CHUNK] = ratio
        ws[at + (W_OUT + O_ENGINE_TORQUE_NM) * CHUNK] = engine_torque
        ws[at + (W_OUT + O_DRIVE_TORQUE_NM) * CHUNK] = axle_torque


@numba.njit(**_INLINE)
def _free_spin(
    ws: NDArray[np.float64],
    at: int,
    w: int,
    tyre_row: int,
    drive: float,
    extra_inertia: float,
    dt: float,
) -> tuple[float, float]:
    """Wheel ``w``'s spin after the drive torque and its tyre force, implicit in the tyre's
    slip stiffness: ``(omega, effective inertia)``."""
    radius = ws[at + (tyre_row + T_RADIUS_M) * CHUNK]
    inertia = ws[at + (tyre_row + T_INERTIA_KGM2) * CHUNK] + extra_inertia
    stiffness = ws[at + (W_KX + w) * CHUNK] * ws[at + (W_INV_SLIP_SPEED + w) * CHUNK]
    j = inertia + dt * radius * radius * stiffness
    omega = ws[at + (W_STATE + S_WHEEL_OMEGA + w) * CHUNK]
    return omega + dt * (drive - radius * ws[at + (W_FX + w) * CHUNK]) / j, j


@numba.njit(**_INLINE)
def _brake_wheel(
    ws: NDArray[np.float64],
    at: int,
    w: int,
    tyre_row: int,
    free: float,
    j: float,
    brake_nm: float,
    dt: float,
) -> float:
    """Brakes, rolling resistance and ABS on wheel ``w`` (Coulomb friction, projected
    implicitly); stores the wheel's new speed and the tyre force linearised to it.

    Returns:
        The wheel's longitudinal tyre force for the body, N.
    """
    radius = ws[at + (tyre_row + T_RADIUS_M) * CHUNK]
    on_track = ws[at + (W_ON_TRACK + w) * CHUNK] > 0.5
    crr = (
        ws[at + (tyre_row + T_ROLLING_RESISTANCE) * CHUNK]
        if on_track
        else ws[at + W_OFFTRACK_ROLLING_RESISTANCE * CHUNK]
    )
    fz = ws[at + (W_FZ + w) * CHUNK]
    roll_step = dt * crr * fz * radius / j
    omega_old = ws[at + (W_STATE + S_WHEEL_OMEGA + w) * CHUNK]
    braked = _coulomb(free, roll_step + dt * brake_nm / j)
    # anti-lock: the brake never pulls the wheel past the ABS target slip ratio, a share of
    # the tyre's peak (below it, where the tyre keeps lateral grip)
    slip_speed = ws[at + (W_WHEEL_SLIP_SPEED + w) * CHUNK]
    vxw = ws[at + (W_VXW + w) * CHUNK]
    band = (
        ws[at + W_ABS_SLIP_FRACTION * CHUNK]
        * ws[at + (tyre_row + T_KAPPA_PEAK) * CHUNK]
        * slip_speed
    )
    rolled = _coulomb(free, roll_step)
    forward = vxw >= 0.0
    limit = max((vxw - band) / radius, 0.0) if forward else min((vxw + band) / radius, 0.0)
    past = braked < limit if forward else braked > limit
    free_beyond = free > limit if forward else free < limit
    held = limit if free_beyond else rolled
    active = (ws[at + W_ABS * CHUNK] > 0.5) & (brake_nm > 0.0) & past
    omega = held if active else braked
    ws[at + (W_STATE + S_WHEEL_OMEGA + w) * CHUNK] = omega
    # the tyre force seen by the body, linearised to the wheel's new speed
    fx = ws[at + (W_FX + w) * CHUNK]
    fx += ws[at + (W_KX + w) * CHUNK] * radius * (omega - omega_old) / slip_speed
    fx_max = ws[at + (W_MU_X + w) * CHUNK] * fz
    fx = fx if fx < fx_max else fx_max
    fx = fx if fx > -fx_max else -fx_max
    ws[at + (W_OUT + O_FX_N + w) * CHUNK] = fx
    ws[at + (W_OUT + O_FY_N + w) * CHUNK] = ws[at + (W_FY + w) * CHUNK]
    return fx


@numba.njit(**_INLINE)
def _body_terms(
    ws: NDArray[np.float64],
    at: int,
    w: int,
    fx: float,
    xw: float,
    yw: float,
    c: float,
    sn: float,
) -> tuple[float, float, float, float, float, float, float]:
    """Wheel ``w``'s force and moment on the body and its share of the body's tyre
    Jacobian: ``(Fx, Fy, Mz, jac_x, jac_aa, jac_ab, jac_bb)``."""
    fy = ws[at + (W_FY + w) * CHUNK]
    fx_body = fx * c - fy * sn
    fy_body = fx * sn + fy * c
    inv_slip_speed = ws[at + (W_INV_SLIP_SPEED + w) * CHUNK]
    ratio_y = ws[at + (W_VYW + w) * CHUNK] * inv_slip_speed
    c_lat = ws[at + (W_KY + w) * CHUNK] * inv_slip_speed / (1.0 + ratio_y * ratio_y)
    b = xw * c + yw * sn
    return (
        fx_body,
        fy_body,
        xw * fy_body - yw * fx_body,
        ws[at + (W_KX + w) * CHUNK] * c * c * inv_slip_speed,
        c_lat * c * c,
        c_lat * c * b,
        c_lat * b * b,
    )


@numba.njit(**_INLINE)
def wheel_body_pass(ws: NDArray[np.float64], count: int, dt: float) -> None:
    """Wheel spin, differential, brakes and the rigid body of an internal step, for the
    first ``count`` cars of a chunk (``ws``: the chunk's workspace; after
    :func:`tyre_pass` and :func:`drivetrain_pass`). The compiler keeps this loop scalar
    (one car at a time; the same instructions for every car)."""
    for at in range(count):
        axle_torque = ws[at + W_AXLE_TORQUE_NM * CHUNK]
        reflected = ws[at + W_REFLECTED_INERTIA_KGM2 * CHUNK]
        # --- wheel spin: implicit in the tyre's slip stiffness --------------------------
        free0, j0 = _free_spin(ws, at, 0, W_TYRE_FRONT, 0.0, 0.0, dt)
        free1, j1 = _free_spin(ws, at, 1, W_TYRE_FRONT, 0.0, 0.0, dt)
        free2, j2 = _free_spin(ws, at, 2, W_TYRE_REAR, 0.5 * axle_torque, 0.5 * reflected, dt)
        free3, j3 = _free_spin(ws, at, 3, W_TYRE_REAR, 0.5 * axle_torque, 0.5 * reflected, dt)
        # limited-slip differential: a clutch between the rear wheels, its capacity grows
        # with the torque
        capacity = ws[at + W_DIFF_PRELOAD_NM * CHUNK]
        capacity += ws[at + W_DIFF_POWER_LOCK * CHUNK] * abs(axle_torque)
        lock = (free3 - free2) / (dt * (1.0 / j2 + 1.0 / j3))
        lock = lock if lock < capacity else capacity
        lock = lock if lock > -capacity else -capacity
        free2 += dt * lock / j2
        free3 -= dt * lock / j3
        # brakes and rolling resistance
        brake = ws[at + W_BRAKE_STATUS * CHUNK] * ws[at + W_BRAKE_MAX_NM * CHUNK]
        front_share = ws[at + W_BRAKE_FRONT * CHUNK]
        brake_front = 0.5 * brake * front_share
        brake_rear = 0.5 * brake * (1.0 - front_share)
        fx0 = _brake_wheel(ws, at, 0, W_TYRE_FRONT, free0, j0, brake_front, dt)
        fx1 = _brake_wheel(ws, at, 1, W_TYRE_FRONT, free1, j1, brake_front, dt)
        fx2 = _brake_wheel(ws, at, 2, W_TYRE_REAR, free2, j2, brake_rear, dt)
        fx3 = _brake_wheel(ws, at, 3, W_TYRE_REAR, free3, j3, brake_rear, dt)
        # clutch locked: the engine turns with the driven wheels' new speed
        axle_omega = 0.5 * (
            ws[at + (W_STATE + S_WHEEL_OMEGA + 2) * CHUNK]
            + ws[at + (W_STATE + S_WHEEL_OMEGA + 3) * CHUNK]
        )
        locked_rpm = axle_omega * ws[at + W_RATIO * CHUNK] * RPM_PER_RADPS
        rpm = ws[at + (W_STATE + S_ENGINE_RPM) * CHUNK]
        ws[at + (W_STATE + S_ENGINE_RPM) * CHUNK] = locked_rpm if reflected > 0.0 else rpm

        # --- rigid body: vx implicit (scalar), (vy, r) implicit (2x2) -------------------
        lf = ws[at + W_LF_M * CHUNK]
        lr = ws[at + W_LR_M * CHUNK]
        half_tf = ws[at + W_HALF_TRACK_FRONT_M * CHUNK]
        half_tr = ws[at + W_HALF_TRACK_REAR_M * CHUNK]
        cos_f = ws[at + W_COS_FRONT * CHUNK]
        sin_f = ws[at + W_SIN_FRONT * CHUNK]
        cos_r = ws[at + W_COS_REAR * CHUNK]
        sin_r = ws[at + W_SIN_REAR * CHUNK]
        t0 = _body_terms(ws, at, 0, fx0, lf, half_tf, cos_f, sin_f)
        t1 = _body_terms(ws, at, 1, fx1, lf, -half_tf, cos_f, sin_f)
        t2 = _body_terms(ws, at, 2, fx2, -lr, half_tr, cos_r, sin_r)
        t3 = _body_terms(ws, at, 3, fx3, -lr, -half_tr, cos_r, sin_r)
        sum_fx = t0[0] + t1[0] + t2[0] + t3[0]
        sum_fy = t0[1] + t1[1] + t2[1] + t3[1]
        sum_mz = t0[2] + t1[2] + t2[2] + t3[2]
        jac_x = t0[3] + t1[3] + t2[3] + t3[3]
        jac_aa = t0[4] + t1[4] + t2[4] + t3[4]
        jac_ab = t0[5] + t1[5] + t2[5] + t3[5]
        jac_bb = t0[6] + t1[6] + t2[6] + t3[6]
        m = ws[at + W_MASS_KG * CHUNK]
        iz = ws[at + W_YAW_INERTIA_KGM2 * CHUNK]
        vx = ws[at + (W_STATE + S_VX_MPS) * CHUNK]
        vy = ws[at + (W_STATE + S_VY_MPS) * CHUNK]
        r = ws[at + (W_STATE + S_YAW_RATE_RADPS) * CHUNK]
        drag = ws[at + W_DRAG_COEF * CHUNK] * vx * abs(vx)
        # Only the stiffness an explicit step cannot take (lambda dt > STIFF_LIMIT) is
        # treated implicitly: above a few m/s the body update is explicit and exact in the
        # steady state; at low speed, where a tyre is a stiff damper, the excess is implicit.
        jac_x = max(jac_x - STIFF_LIMIT * m / dt, 0.0)
        dvx = dt * (sum_fx - drag + m * vy * r) / (m + dt * jac_x)
        aa = max(jac_aa - STIFF_LIMIT * m / dt, 0.0)
        bb = max(jac_bb - STIFF_LIMIT * iz / dt, 0.0)
        both = (aa > 0.0) & (bb > 0.0)
        ab = jac_ab * math.sqrt(aa * bb / (jac_aa * jac_bb)) if both else 0.0
        a11 = m + dt * aa
        a12 = dt * (ab + m * vx)
        a21 = dt * ab
        a22 = iz + dt * bb
        b1 = dt * (sum_fy - m * vx * r)
        b2 = dt * sum_mz
        det = a11 * a22 - a12 * a21
        dvy = (b1 * a22 - a12 * b2) / det
        dr = (a11 * b2 - a21 * b1) / det
        ax = dvx / dt - r * vy
        ay = dvy / dt + r * vx
        vx += dvx
        vy += dvy
        r += dr
        ws[at + (W_STATE + S_VX_MPS) * CHUNK] = vx
        ws[at + (W_STATE + S_VY_MPS) * CHUNK] = vy
        ws[at + (W_STATE + S_YAW_RATE_RADPS) * CHUNK] = r
        yaw = ws[at + (W_STATE + S_YAW_RAD) * CHUNK] + dt * r
        ws[at + (W_STATE + S_YAW_RAD) * CHUNK] = yaw
        # heading reduced to [-pi, pi] for the polynomial sine/cosine (yaw is not wrapped)
        sy, cy = fast_sincos(yaw - TWO_PI * math.floor(yaw / TWO_PI + 0.5))
        ws[at + (W_STATE + S_X_M) * CHUNK] += dt * (vx * cy - vy * sy)
        ws[at + (W_STATE + S_Y_M) * CHUNK] += dt * (vx * sy + vy * cy)
        lag = dt / (ws[at + W_LOAD_TAU_S * CHUNK] + dt)
        ax_lag = ws[at + (W_STATE + S_AX_FILT_MPS2) * CHUNK]
        ay_lag = ws[at + (W_STATE + S_AY_FILT_MPS2) * CHUNK]
        ws[at + (W_STATE + S_AX_FILT_MPS2) * CHUNK] = ax_lag + lag * (ax - ax_lag)
        ws[at + (W_STATE + S_AY_FILT_MPS2) * CHUNK] = ay_lag + lag * (ay - ay_lag)
        ws[at + (W_STATE + S_TIME_S) * CHUNK] += dt
        ws[at + (W_OUT + O_AX_MPS2) * CHUNK] = ax
        ws[at + (W_OUT + O_AY_MPS2) * CHUNK] = ay

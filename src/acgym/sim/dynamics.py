"""One internal time step of one car: loads, tyres, drivetrain, wheels, rigid body.

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
and the Coulomb brakes as projections), then the body's ``vx`` (scalar) and ``(vy, r)`` (2x2 solve). Positions use
the new velocities. This is stable at 200 Hz and above from a standstill to top speed
with no chatter: at low speed a tyre acts as a stiff damper, which the implicit steps
absorb.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.layout import (
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
    P_ABS,
    P_ABS_SLIP_FRACTION,
    P_AERO_FRONT,
    P_BRAKE_FRONT,
    P_BRAKE_MAX_NM,
    P_COG_HEIGHT_M,
    P_DIFF_POWER_LOCK,
    P_DIFF_PRELOAD_NM,
    P_DRAG_COEF,
    P_DRIVETRAIN_EFFICIENCY,
    P_ENGINE_INERTIA_KGM2,
    P_FRONT_COMPLIANCE_RAD_PER_MPS2,
    P_IDLE_RPM,
    P_LAUNCH_RPM,
    P_LF_M,
    P_LIFT_COEF,
    P_LIMITER_RPM,
    P_LOAD_TAU_S,
    P_LR_M,
    P_MASS_KG,
    P_OFFTRACK_GRIP,
    P_OFFTRACK_ROLLING_RESISTANCE,
    P_REAR_COMPLIANCE_RAD_PER_MPS2,
    P_ROLL_STIFFNESS_FRONT,
    P_SHIFT_TIME_S,
    P_SLIP_SPEED_MPS,
    P_TRACK_FRONT_M,
    P_TRACK_REAR_M,
    P_TYRE_FRONT,
    P_TYRE_REAR,
    P_YAW_INERTIA_KGM2,
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

# rows of the per-call scratch array (each row holds one value per wheel)
_FZ, _FX, _FY, _KX, _KY, _SLIP_SPEED, _VXW, _VYW, _OMEGA_FREE, _INERTIA, _MU_X, _INV_SLIP_SPEED = (
    range(12)
)
NUM_SCRATCH_ROWS = 12


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _coulomb(omega: float, step: float) -> float:
    """Reduce ``|omega|`` by ``step`` >= 0 without crossing zero (implicit dry friction)."""
    if omega > step:
        return omega - step
    if omega < -step:
        return omega + step
    return 0.0


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def small_sincos(angle: float) -> tuple[float, float]:
    """``(sin, cos)`` of ``|angle| <= MAX_COMPLIANCE_STEER_RAD`` by their Taylor series
    (error < 1e-16 there; exactly ``(0, 1)`` at 0)."""
    a2 = angle * angle
    sine = angle * (1.0 - a2 * (1.0 / 6.0 - a2 * (1.0 / 120.0 - a2 * (1.0 / 5040.0))))
    cosine = 1.0 - a2 * (0.5 - a2 * (1.0 / 24.0 - a2 * (1.0 / 720.0 - a2 * (1.0 / 40320.0))))
    return sine, cosine


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def compliance_steer_rad(coefficient: float, ay_mps2: float) -> float:
    """An axle's compliance steer ``-coefficient * ay``, bounded, rad (> 0 steers left)."""
    angle = -coefficient * ay_mps2
    if angle > MAX_COMPLIANCE_STEER_RAD:
        return MAX_COMPLIANCE_STEER_RAD
    if angle < -MAX_COMPLIANCE_STEER_RAD:
        return -MAX_COMPLIANCE_STEER_RAD
    return angle


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def normal_loads(
    p: NDArray[np.float64], vx_mps: float, ax_mps2: float, ay_mps2: float, out: NDArray[np.float64]
) -> None:
    """Normal loads of the four tyres, written to ``out[0:4]`` (fl, fr, rl, rr), N.

    Args:
        p: Car parameters.
        vx_mps: Forward speed (downforce), m/s.
        ax_mps2: Longitudinal acceleration for the load transfer, m/s^2 (> 0 speeding up).
        ay_mps2: Lateral acceleration, m/s^2 (> 0 to the left: loads the right wheels).
        out: Output, at least 4 values; loads below zero are clamped to zero (wheel lift).
    """
    m = p[P_MASS_KG]
    lf = p[P_LF_M]
    lr = p[P_LR_M]
    wheelbase = lf + lr
    h = p[P_COG_HEIGHT_M]
    down = p[P_LIFT_COEF] * vx_mps * vx_mps
    long_transfer = m * ax_mps2 * h / wheelbase
    front_axle = m * GRAVITY_MPS2 * lr / wheelbase + down * p[P_AERO_FRONT] - long_transfer
    rear_axle = m * GRAVITY_MPS2 * lf / wheelbase + down * (1.0 - p[P_AERO_FRONT]) + long_transfer
    roll_front = p[P_ROLL_STIFFNESS_FRONT]
    lat_front = roll_front * m * ay_mps2 * h / p[P_TRACK_FRONT_M]
    lat_rear = (1.0 - roll_front) * m * ay_mps2 * h / p[P_TRACK_REAR_M]
    out[0] = max(0.5 * front_axle - lat_front, 0.0)
    out[1] = max(0.5 * front_axle + lat_front, 0.0)
    out[2] = max(0.5 * rear_axle - lat_rear, 0.0)
    out[3] = max(0.5 * rear_axle + lat_rear, 0.0)


@numba.njit(cache=True, fastmath=FASTMATH)
def substep(
    p: NDArray[np.float64],
    s: NDArray[np.float64],
    o: NDArray[np.float64],
    cos_delta: float,
    sin_delta: float,
    gas: float,
    brake_status: float,
    on_track: NDArray[np.float64],
    auto_shift: bool,
    dt: float,
    scratch: NDArray[np.float64],
) -> None:
    """Advance one car by one internal step ``dt``, in place.

    Args:
        p: Car parameters ``(NUM_PARAMS,)``.
        s: Car state ``(NUM_STATE,)``, updated.
        o: Outputs ``(NUM_OUTPUTS,)``, overwritten with this step's slips, loads, forces.
        cos_delta: Cosine of the front road-wheel angle.
        sin_delta: Sine of the front road-wheel angle (> 0 steers left).
        gas: Throttle in [0, 1].
        brake_status: Brake status in [0, 1] (after the brake map).
        on_track: ``(4,)`` 1.0 where a wheel is on the track surface, 0.0 off it.
        auto_shift: Let the automatic shifter act.
        dt: Step, s.
        scratch: ``(NUM_SCRATCH_ROWS, 4)`` work array.
    """
    m = p[P_MASS_KG]
    lf = p[P_LF_M]
    lr = p[P_LR_M]
    half_tf = 0.5 * p[P_TRACK_FRONT_M]
    half_tr = 0.5 * p[P_TRACK_REAR_M]
    v_slip = p[P_SLIP_SPEED_MPS]
    vx = s[S_VX_MPS]
    vy = s[S_VY_MPS]
    r = s[S_YAW_RATE_RADPS]

    fz = scratch[_FZ]
    ay_lag = s[S_AY_FILT_MPS2]
    normal_loads(p, vx, s[S_AX_FILT_MPS2], ay_lag, fz)

    # axle steer angles: the front road-wheel angle less its compliance steer, and the rear
    # compliance steer; both follow the lagged lateral acceleration (the body's roll)
    sin_e, cos_e = small_sincos(compliance_steer_rad(p[P_FRONT_COMPLIANCE_RAD_PER_MPS2], ay_lag))
    cos_f = cos_delta * cos_e - sin_delta * sin_e
    sin_f = sin_delta * cos_e + cos_delta * sin_e
    sin_r, cos_r = small_sincos(compliance_steer_rad(p[P_REAR_COMPLIANCE_RAD_PER_MPS2], ay_lag))

    # --- tyre slips and forces at the start of the step ---------------------------------
    for w in range(4):
        front = w < 2
        if front:
            xw = lf
            yw = half_tf if w == 0 else -half_tf
            c = cos_f
            sn = sin_f
            base = P_TYRE_FRONT
        else:
            xw = -lr
            yw = half_tr if w == 2 else -half_tr
            c = cos_r
            sn = sin_r
            base = P_TYRE_REAR
        vx_hub = vx - r * yw
        vy_hub = vy + r * xw
        vxw = vx_hub * c + vy_hub * sn
        vyw = vy_hub * c - vx_hub * sn
        slip_speed = abs(vxw)
        if slip_speed < v_slip:
            slip_speed = v_slip
        inv_slip_speed = 1.0 / slip_speed
        radius = p[base + T_RADIUS_M]
        kappa = (s[S_WHEEL_OMEGA + w] * radius - vxw) * inv_slip_speed
        alpha = -fast_atan(vyw * inv_slip_speed)
        grip = 1.0 if on_track[w] > 0.5 else p[P_OFFTRACK_GRIP]
        fx, fy, mu_x, mu_y, kx, ky = combined_forces(kappa, alpha, fz[w], grip, p, base)
        scratch[_FX, w] = fx
        scratch[_FY, w] = fy
        scratch[_KX, w] = kx
        scratch[_KY, w] = ky
        scratch[_SLIP_SPEED, w] = slip_speed
        scratch[_INV_SLIP_SPEED, w] = inv_slip_speed
        scratch[_VXW, w] = vxw
        scratch[_VYW, w] = vyw
        scratch[_MU_X, w] = mu_x
        o[O_SLIP_RATIO + w] = kappa
        o[O_SLIP_ANGLE_RAD + w] = alpha
        o[O_NORMAL_LOAD_N + w] = fz[w]
        o[O_MU_Y + w] = mu_y

    # --- gearbox, clutch, engine ----------------------------------------------------------
    gear = int(s[S_GEAR])
    axle_omega = 0.5 * (s[S_WHEEL_OMEGA + 2] + s[S_WHEEL_OMEGA + 3])
    if auto_shift and s[S_SHIFT_TIMER_S] <= 0.0:
        new_gear = auto_shift_gear(p, gear, vx / p[P_TYRE_REAR + T_RADIUS_M])
        if new_gear != gear:
            gear = new_gear
            s[S_GEAR] = gear
            s[S_SHIFT_TIMER_S] = p[P_SHIFT_TIME_S]
    ratio = overall_ratio(p, gear)
    wheel_rpm = axle_omega * ratio * RPM_PER_RADPS
    idle_rpm = p[P_IDLE_RPM]
    engine_torque = 0.0
    axle_torque = 0.0
    reflected_inertia = 0.0
    if ratio != 0.0 and s[S_SHIFT_TIMER_S] <= 0.0:
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
        rpm = s[S_ENGINE_RPM] + (target - s[S_ENGINE_RPM]) * min(dt / NEUTRAL_REV_TAU_S, 1.0)
    s[S_ENGINE_RPM] = rpm
    s[S_SHIFT_TIMER_S] = max(s[S_SHIFT_TIMER_S] - dt, 0.0)
    o[O_ENGINE_TORQUE_NM] = engine_torque
    o[O_DRIVE_TORQUE_NM] = axle_torque

    # --- wheel spin: implicit in the tyre's slip stiffness --------------------------------
    omega_free = scratch[_OMEGA_FREE]
    inertia_eff = scratch[_INERTIA]
    for w in range(4):
        base = P_TYRE_FRONT if w < 2 else P_TYRE_REAR
        radius = p[base + T_RADIUS_M]
        inertia = p[base + T_INERTIA_KGM2]
        drive = 0.0
        if w >= 2:
            inertia += 0.5 * reflected_inertia
            drive = 0.5 * axle_torque
        j = inertia + dt * radius * radius * scratch[_KX, w] * scratch[_INV_SLIP_SPEED, w]
        inertia_eff[w] = j
        omega_free[w] = s[S_WHEEL_OMEGA + w] + dt * (drive - radius * scratch[_FX, w]) / j
    # limited-slip differential: a clutch between the rear wheels, capacity grows with torque
    capacity = p[P_DIFF_PRELOAD_NM] + p[P_DIFF_POWER_LOCK] * abs(axle_torque)
    lock = (omega_free[3] - omega_free[2]) / (dt * (1.0 / inertia_eff[2] + 1.0 / inertia_eff[3]))
    if lock > capacity:
        lock = capacity
    elif lock < -capacity:
        lock = -capacity
    omega_free[2] += dt * lock / inertia_eff[2]
    omega_free[3] -= dt * lock / inertia_eff[3]
    # brakes and rolling resistance: Coulomb friction, projected implicitly
    brake_torque = brake_status * p[P_BRAKE_MAX_NM]
    brake_front = p[P_BRAKE_FRONT]
    has_abs = p[P_ABS] > 0.5
    abs_slip = p[P_ABS_SLIP_FRACTION]
    for w in range(4):
        front = w < 2
        base = P_TYRE_FRONT if front else P_TYRE_REAR
        radius = p[base + T_RADIUS_M]
        j = inertia_eff[w]
        crr = (
            p[base + T_ROLLING_RESISTANCE]
            if on_track[w] > 0.5
            else p[P_OFFTRACK_ROLLING_RESISTANCE]
        )
        brake_w = 0.5 * brake_torque * (brake_front if front else 1.0 - brake_front)
        roll_step = dt * crr * fz[w] * radius / j
        omega_old = s[S_WHEEL_OMEGA + w]
        free = omega_free[w]
        omega = _coulomb(free, roll_step + dt * brake_w / j)
        if has_abs and brake_w > 0.0:
            # anti-lock: the brake never pulls the wheel past the ABS target slip ratio, a
            # share of the tyre's peak (below it, where the tyre keeps lateral grip)
            vxw = scratch[_VXW, w]
            band = abs_slip * p[base + T_KAPPA_PEAK] * scratch[_SLIP_SPEED, w]
            if vxw >= 0.0:
                limit = max((vxw - band) / radius, 0.0)
                if omega < limit:
                    omega = limit if free > limit else _coulomb(free, roll_step)
            else:
                limit = min((vxw + band) / radius, 0.0)
                if omega > limit:
                    omega = limit if free < limit else _coulomb(free, roll_step)
        s[S_WHEEL_OMEGA + w] = omega
        # the tyre force seen by the body, linearised to the wheel's new speed
        fx = (
            scratch[_FX, w]
            + scratch[_KX, w] * radius * (omega - omega_old) / scratch[_SLIP_SPEED, w]
        )
        fx_max = scratch[_MU_X, w] * fz[w]
        if fx > fx_max:
            fx = fx_max
        elif fx < -fx_max:
            fx = -fx_max
        scratch[_FX, w] = fx
        o[O_FX_N + w] = fx
        o[O_FY_N + w] = scratch[_FY, w]

    if reflected_inertia > 0.0:
        # clutch locked: the engine turns with the driven wheels' new speed
        s[S_ENGINE_RPM] = (
            0.5 * (s[S_WHEEL_OMEGA + 2] + s[S_WHEEL_OMEGA + 3]) * ratio * RPM_PER_RADPS
        )

    # --- rigid body: vx implicit (scalar), (vy, r) implicit (2x2) -------------------------
    sum_fx = 0.0
    sum_fy = 0.0
    sum_mz = 0.0
    jac_x = 0.0
    jac_aa = 0.0
    jac_ab = 0.0
    jac_bb = 0.0
    for w in range(4):
        front = w < 2
        if front:
            xw = lf
            yw = half_tf if w == 0 else -half_tf
            c = cos_f
            sn = sin_f
        else:
            xw = -lr
            yw = half_tr if w == 2 else -half_tr
            c = cos_r
            sn = sin_r
        fx = scratch[_FX, w]
        fy = scratch[_FY, w]
        fx_body = fx * c - fy * sn
        fy_body = fx * sn + fy * c
        sum_fx += fx_body
        sum_fy += fy_body
        sum_mz += xw * fy_body - yw * fx_body
        inv_slip_speed = scratch[_INV_SLIP_SPEED, w]
        jac_x += scratch[_KX, w] * c * c * inv_slip_speed
        ratio_y = scratch[_VYW, w] * inv_slip_speed
        c_lat = scratch[_KY, w] * inv_slip_speed / (1.0 + ratio_y * ratio_y)
        b = xw * c + yw * sn
        jac_aa += c_lat * c * c
        jac_ab += c_lat * c * b
        jac_bb += c_lat * b * b
    drag = p[P_DRAG_COEF] * vx * abs(vx)
    # Only the stiffness an explicit step cannot take (lambda dt > STIFF_LIMIT) is treated
    # implicitly: above a few m/s the body update is explicit and exact in the steady
    # state; at low speed, where a tyre is a stiff damper, the excess is implicit.
    iz = p[P_YAW_INERTIA_KGM2]
    jac_x = max(jac_x - STIFF_LIMIT * m / dt, 0.0)
    dvx = dt * (sum_fx - drag + m * vy * r) / (m + dt * jac_x)
    aa = max(jac_aa - STIFF_LIMIT * m / dt, 0.0)
    bb = max(jac_bb - STIFF_LIMIT * iz / dt, 0.0)
    ab = 0.0
    if aa > 0.0 and bb > 0.0:
        ab = jac_ab * math.sqrt(aa * bb / (jac_aa * jac_bb))
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
    s[S_VX_MPS] = vx
    s[S_VY_MPS] = vy
    s[S_YAW_RATE_RADPS] = r
    yaw = s[S_YAW_RAD] + dt * r
    s[S_YAW_RAD] = yaw
    # heading reduced to [-pi, pi] for the polynomial sine/cosine (yaw is not wrapped)
    sy, cy = fast_sincos(yaw - TWO_PI * math.floor(yaw / TWO_PI + 0.5))
    s[S_X_M] += dt * (vx * cy - vy * sy)
    s[S_Y_M] += dt * (vx * sy + vy * cy)
    lag = dt / (p[P_LOAD_TAU_S] + dt)
    s[S_AX_FILT_MPS2] += lag * (ax - s[S_AX_FILT_MPS2])
    s[S_AY_FILT_MPS2] += lag * (ay - s[S_AY_FILT_MPS2])
    s[S_TIME_S] += dt
    o[O_AX_MPS2] = ax
    o[O_AY_MPS2] = ay

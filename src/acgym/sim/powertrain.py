"""Engine, clutch, gearbox and shifting (compiled; read the car parameter array).

* Engine torque: ``T = gas T_full(rpm) - (1 - gas) T_brake rpm / rpm_limit``, where
  ``T_full`` is the car's full-load curve (linear interpolation, clamped at the ends)
  times a rev-limiter cut that falls linearly from 1 to 0 over ``limiter_band_rpm`` below
  ``limiter_rpm``, and the second term is engine braking (friction, pumping).
* Clutch: while the engine speed implied by the driven wheels is below the clutch speed
  ``idle + gas (launch - idle)`` the clutch slips: the engine holds that speed and passes
  its (non-negative) torque; above it the clutch is locked: engine speed = wheel speed x
  overall ratio and the engine inertia is felt at the wheels (``I_e G^2``). During a
  shift (``shift_time_s``) and in neutral the clutch is open.
* Gears (internal): ``-1`` reverse, ``0`` neutral, ``1..n`` forward. Telemetry's AC
  encoding is ``gear + 1`` (0 = reverse, 1 = neutral, 2 = first).
* Overall ratio ``G`` (signed): ``ratio[g] * final`` forward, ``-reverse * final`` in
  reverse, 0 in neutral. Axle torque = ``T G efficiency``.
* Automatic shifter: up at ``upshift_rpm``; down when below ``downshift_rpm`` if the lower
  gear stays under the upshift speed; from neutral it engages first. It never selects
  or leaves reverse. Manual shifts (the control flags) go one gear per request, refuse a
  downshift that would over-rev the engine and refuse reverse above
  ``REVERSE_MAX_SPEED_MPS``.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.layout import (
    P_DOWNSHIFT_RPM,
    P_ENGINE_BRAKE_NM,
    P_FINAL_DRIVE,
    P_GEAR_RATIOS,
    P_LIMITER_BAND_RPM,
    P_LIMITER_RPM,
    P_NUM_GEARS,
    P_NUM_TORQUE_POINTS,
    P_REVERSE_RATIO,
    P_TORQUE_NM,
    P_TORQUE_RPM,
    P_UPSHIFT_RPM,
)
from acgym.sim.tyres import FASTMATH

REVERSE_MAX_SPEED_MPS = 1.0
"""Reverse engages only below this forward speed."""

DOWNSHIFT_MARGIN = 0.95
"""The automatic shifter shifts down only if the lower gear stays under this share of
the upshift speed (no up-down hunting)."""


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def interp_clamped(x: float, p: NDArray[np.float64], xs: int, ys: int, n: int) -> float:
    """Piecewise-linear ``y(x)`` through ``n`` points stored at ``p[xs:]`` / ``p[ys:]``."""
    if x <= p[xs]:
        return p[ys]
    last = n - 1
    if x >= p[xs + last]:
        return p[ys + last]
    k = 1
    while p[xs + k] < x:
        k += 1
    x0 = p[xs + k - 1]
    t = (x - x0) / (p[xs + k] - x0)
    return p[ys + k - 1] + t * (p[ys + k] - p[ys + k - 1])


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def full_load_torque_nm(p: NDArray[np.float64], rpm: float) -> float:
    """Full-load torque at ``rpm`` with the rev-limiter cut, N m."""
    torque = interp_clamped(rpm, p, P_TORQUE_RPM, P_TORQUE_NM, int(p[P_NUM_TORQUE_POINTS]))
    cut = (p[P_LIMITER_RPM] - rpm) / p[P_LIMITER_BAND_RPM]
    if cut >= 1.0:
        return torque
    if cut <= 0.0:
        return 0.0
    return torque * cut


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def engine_torque_nm(p: NDArray[np.float64], rpm: float, gas: float) -> float:
    """Engine torque at ``rpm`` and throttle ``gas`` in [0, 1] (engine braking < 0), N m."""
    friction = p[P_ENGINE_BRAKE_NM] * rpm / p[P_LIMITER_RPM]
    return gas * full_load_torque_nm(p, rpm) - (1.0 - gas) * friction


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def overall_ratio(p: NDArray[np.float64], gear: int) -> float:
    """Signed engine-to-wheel ratio in ``gear`` (internal encoding), 0 in neutral."""
    if gear > 0:
        return p[P_GEAR_RATIOS + gear - 1] * p[P_FINAL_DRIVE]
    if gear < 0:
        return -p[P_REVERSE_RATIO] * p[P_FINAL_DRIVE]
    return 0.0


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def auto_shift_gear(p: NDArray[np.float64], gear: int, road_omega_radps: float) -> int:
    """The automatic shifter's choice of gear (``gear`` unchanged when no shift).

    It decides on the road speed (``road_omega_radps`` = forward speed / driven-wheel
    radius), not on the engine speed, so wheelspin does not shift it up.

    Args:
        p: Car parameters.
        gear: Current gear (internal encoding).
        road_omega_radps: Forward speed over the driven wheels' radius, rad/s.
    """
    if gear == 0:
        return 1
    if gear < 0:
        return gear
    rpm_per_radps = 30.0 / np.pi
    road_rpm = road_omega_radps * overall_ratio(p, gear) * rpm_per_radps
    num_gears = int(p[P_NUM_GEARS])
    if gear < num_gears and road_rpm >= p[P_UPSHIFT_RPM]:
        return gear + 1
    if gear > 1 and road_rpm < p[P_DOWNSHIFT_RPM]:
        lower_rpm = road_omega_radps * overall_ratio(p, gear - 1) * rpm_per_radps
        if lower_rpm < DOWNSHIFT_MARGIN * p[P_UPSHIFT_RPM]:
            return gear - 1
    return gear


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def manual_shift_gear(
    p: NDArray[np.float64], gear: int, up: bool, down: bool, vx_mps: float, axle_omega_radps: float
) -> int:
    """The gear after a manual request (one step; refused when unsafe)."""
    num_gears = int(p[P_NUM_GEARS])
    if up and not down:
        return gear + 1 if gear < num_gears else gear
    if down and not up:
        if gear == 0:
            return -1 if vx_mps < REVERSE_MAX_SPEED_MPS else 0
        if gear == 1 or gear < 0:
            return gear - 1 if gear == 1 else gear
        lower_rpm = axle_omega_radps * overall_ratio(p, gear - 1) * 30.0 / np.pi
        if lower_rpm > p[P_LIMITER_RPM]:
            return gear
        return gear - 1
    return gear

"""Tyre forces: Magic Formula (Pacejka) with load sensitivity and combined slip.

Pure slip (Pacejka, *Tire and Vehicle Dynamics*, 3rd ed. 2012, eq. 4.49)::

    F = D sin(C atan(B x - E (B x - atan(B x))))

with ``x`` the slip ratio kappa (longitudinal) or the slip angle alpha in rad (lateral),
``C`` the shape factor, ``E`` the curvature factor and the peak ``D = mu(Fz) Fz``. The
peak friction falls with load (the tyre's load sensitivity, Pacejka's ``p_Dx2``/``p_Dy2``)::

    mu(Fz) = mu0 (1 + s (Fz - Fz0) / Fz0),   s < 0,   floored at MU_FLOOR_FRACTION mu0

``B`` is not given directly: a car file gives the slip at the peak, and ``B`` follows from
``B x_peak - E (B x_peak - atan(B x_peak)) = tan(pi / (2 C))`` (:func:`stiffness_factor`),
so the peak lies exactly where the file says at every load.

Combined slip uses the normalised-slip (similarity) method (Pacejka 2012, sec. 4.3.2;
Pacejka & Sharp 1991): with ``sx = kappa / kappa_peak``, ``sy = alpha / alpha_peak`` and
``s = hypot(sx, sy)``, each force is its pure-slip curve evaluated at the combined slip
``s`` and directed along the slip::

    Fx = Fx0(s kappa_peak) sx / s,     Fy = Fy0(s alpha_peak) sy / s

so the resultant stays inside the friction ellipse (semi-axes ``mu_x Fz``, ``mu_y Fz``)
and either force falls as the other slip grows.

Sign conventions: ``kappa = (omega R - vx) / max(|vx|, v_slip)`` (positive when driving),
``alpha = -atan(vy / max(|vx|, v_slip))`` in the wheel frame (positive when the contact
patch slides to the right, and then ``Fy > 0`` pushes left). The low-speed slip speed
``v_slip`` keeps the slips finite at a standstill (see :mod:`acgym.sim.dynamics`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.sim.layout import (
    T_ALPHA_PEAK_RAD,
    T_B_X,
    T_B_Y,
    T_C_X,
    T_C_Y,
    T_E_X,
    T_E_Y,
    T_FZ0_N,
    T_INV_ALPHA_PEAK,
    T_INV_FZ0,
    T_INV_KAPPA_PEAK,
    T_KAPPA_PEAK,
    T_LOAD_SENS,
    T_MU_X,
    T_MU_Y,
)

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
"""LLVM fast-math flags of the simulator's kernels: reordering and fused multiply-add,
but NaN and infinity keep their meaning. Results are bit-identical run to run on one
machine (one compiled binary); they may differ in the last bits between CPUs."""

MU_FLOOR_FRACTION = 0.25
"""The load-sensitive friction coefficient never falls below this share of ``mu0``."""

_MIN_COMBINED_SLIP = 1e-12


def stiffness_factor(peak_slip: float, shape: float, curvature: float) -> float:
    """Magic Formula ``B`` that puts the peak of the pure-slip curve at ``peak_slip``.

    Args:
        peak_slip: Slip ratio (or slip angle in rad) at the peak, > 0.
        shape: Shape factor ``C``, in (1, 2).
        curvature: Curvature factor ``E``, < 1.

    Returns:
        ``B`` in 1/(unit of slip).
    """
    target = math.tan(math.pi / (2.0 * shape))
    # u - E (u - atan u) is increasing in u for E < 1: bisection is robust.
    lo, hi = 0.0, max(1.0, 4.0 * target / max(1.0 - curvature, 1e-3) + 4.0)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        value = mid - curvature * (mid - math.atan(mid))
        if value < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi) / peak_slip


# Polynomials for atan on |t| <= tan(pi/8), sin and cos on |y| <= pi/2: least-squares fits
# of atan(t)/t, sin(y)/y and cos(y) in t^2 (y^2) on Chebyshev nodes (numpy.linalg.lstsq,
# 8000 nodes; degrees 7, 6 and 7). Max abs error 2.9e-13 (atan), 8e-14 (sin) and 5e-14
# (cos), checked in tests/sim/test_tyres.py; about 3x faster than the libm calls, which
# dominate the cost.
_ATAN = (
    0.9999999999992705,
    -0.3333333327838446,
    0.1999999318890753,
    -0.14285391260689598,
    0.11103534944754886,
    -0.08993217580720168,
    0.06977006728418403,
    -0.03770176626590659,
)
_SIN = (
    0.9999999999999537,
    -0.16666666666467728,
    0.008333333320382505,
    -0.00019841266686351696,
    2.75569531415377e-06,
    -2.5030276321095515e-08,
    1.5411331951334158e-10,
)
_COS = (
    1.0000000000000244,
    -0.4999999999999284,
    0.041666666665843774,
    -0.00138888888613516,
    2.4801582883077466e-05,
    -2.7556935977498557e-07,
    2.0858312289652855e-09,
    -1.1007153386901216e-11,
)
_TAN_PI_8 = 0.41421356237309503
_TAN_3PI_8 = 2.414213562373095


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def _atan_core(t: float) -> float:
    u = t * t
    poly = _ATAN[7]
    poly = poly * u + _ATAN[6]
    poly = poly * u + _ATAN[5]
    poly = poly * u + _ATAN[4]
    poly = poly * u + _ATAN[3]
    poly = poly * u + _ATAN[2]
    poly = poly * u + _ATAN[1]
    poly = poly * u + _ATAN[0]
    return t * poly


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def fast_atan(x: float) -> float:
    """``atan(x)`` to 3e-13 rad (range reduction to |t| <= tan(pi/8) + polynomial)."""
    a = abs(x)
    if a <= _TAN_PI_8:
        r = _atan_core(a)
    elif a <= _TAN_3PI_8:
        r = 0.25 * math.pi + _atan_core((a - 1.0) / (a + 1.0))
    else:
        r = 0.5 * math.pi - _atan_core(1.0 / a)
    return r if x >= 0.0 else -r


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def fast_sin(y: float) -> float:
    """``sin(y)`` for ``|y| <= 2 pi`` to 1e-13 (reflection to |y| <= pi/2 + polynomial)."""
    a = abs(y)
    if a > math.pi:
        a = a - 2.0 * math.pi
        y = -y
        a = -a
    if a > 0.5 * math.pi:
        a = math.pi - a
    u = a * a
    poly = _SIN[6]
    poly = poly * u + _SIN[5]
    poly = poly * u + _SIN[4]
    poly = poly * u + _SIN[3]
    poly = poly * u + _SIN[2]
    poly = poly * u + _SIN[1]
    poly = poly * u + _SIN[0]
    r = a * poly
    return r if y >= 0.0 else -r


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def fast_sincos(y: float) -> tuple[float, float]:
    """``(sin(y), cos(y))`` for ``|y| <= pi`` to 1e-13 (one reflection, two polynomials)."""
    a = abs(y)
    cos_sign = 1.0
    if a > 0.5 * math.pi:
        a = math.pi - a
        cos_sign = -1.0
    u = a * a
    ps = _SIN[6]
    ps = ps * u + _SIN[5]
    ps = ps * u + _SIN[4]
    ps = ps * u + _SIN[3]
    ps = ps * u + _SIN[2]
    ps = ps * u + _SIN[1]
    ps = ps * u + _SIN[0]
    pc = _COS[7]
    pc = pc * u + _COS[6]
    pc = pc * u + _COS[5]
    pc = pc * u + _COS[4]
    pc = pc * u + _COS[3]
    pc = pc * u + _COS[2]
    pc = pc * u + _COS[1]
    pc = pc * u + _COS[0]
    sine = a * ps
    return (sine if y >= 0.0 else -sine), cos_sign * pc


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def magic_formula(slip: float, b: float, c: float, e: float) -> float:
    """Normalised Magic Formula ``sin(C atan(B x - E (B x - atan(B x))))`` (peak 1)."""
    bx = b * slip
    return fast_sin(c * fast_atan(bx - e * (bx - fast_atan(bx))))


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def magic_formula_slope(slip: float, b: float, c: float, e: float) -> tuple[float, float]:
    """Normalised Magic Formula and its derivative with respect to the slip.

    Returns:
        ``(g, dg/dx)`` with ``g = sin(C atan(phi))``, ``phi = B x - E (B x - atan(B x))``,
        ``dg/dx = cos(C atan(phi)) C phi' / (1 + phi^2)``,
        ``phi' = B (1 - E + E / (1 + (B x)^2))``. ``C < 2`` keeps ``C atan(phi)`` within
        ``(-pi, pi)``.
    """
    bx = b * slip
    phi = bx - e * (bx - fast_atan(bx)) if e != 0.0 else bx  # E = 0 skips an atan
    sine, cosine = fast_sincos(c * fast_atan(phi))
    dphi = b * (1.0 - e + e / (1.0 + bx * bx))
    return sine, cosine * c * dphi / (1.0 + phi * phi)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def load_friction(mu0: float, load_sens: float, fz_n: float, fz0_n: float) -> float:
    """Peak friction coefficient at load ``fz_n`` (degressive, floored)."""
    mu = mu0 * (1.0 + load_sens * (fz_n - fz0_n) / fz0_n)
    floor = MU_FLOOR_FRACTION * mu0
    return mu if mu > floor else floor


@numba.njit(cache=True, inline="always", fastmath=FASTMATH)
def combined_forces(
    kappa: float, alpha_rad: float, fz_n: float, grip: float, p: NDArray[np.float64], base: int
) -> tuple[float, float, float, float, float, float]:
    """Tyre forces under combined slip.

    Args:
        kappa: Longitudinal slip ratio.
        alpha_rad: Slip angle, rad (ISO sign, see the module docstring).
        fz_n: Normal load, N (<= 0 gives no force).
        grip: Surface friction factor (1 on the track).
        p: Car parameter array ``(NUM_PARAMS,)``.
        base: Offset of the tyre block (``P_TYRE_FRONT`` or ``P_TYRE_REAR``).

    Returns:
        ``(fx_n, fy_n, mu_x, mu_y, kx_n, ky_nprad)``: forces in the wheel frame, the peak
        friction coefficients at this load and surface, and the tangent slip stiffnesses:
        the slopes of the pure-slip curves at the combined slip (N per unit slip ratio,
        N/rad), ``B C D`` at zero slip, zero at and past the peak. The integrator's
        implicit steps use them as the Jacobian of the tyre forces.
    """
    if fz_n <= 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    # load-sensitive peak friction (see load_friction), written out to share one product
    rel = 1.0 + p[base + T_LOAD_SENS] * (fz_n - p[base + T_FZ0_N]) * p[base + T_INV_FZ0]
    if rel < MU_FLOOR_FRACTION:
        rel = MU_FLOOR_FRACTION
    mu_x = grip * rel * p[base + T_MU_X]
    mu_y = grip * rel * p[base + T_MU_Y]
    sx = kappa * p[base + T_INV_KAPPA_PEAK]
    sy = alpha_rad * p[base + T_INV_ALPHA_PEAK]
    s2 = sx * sx + sy * sy
    if s2 < _MIN_COMBINED_SLIP * _MIN_COMBINED_SLIP:
        kx = mu_x * fz_n * p[base + T_B_X] * p[base + T_C_X]
        ky = mu_y * fz_n * p[base + T_B_Y] * p[base + T_C_Y]
        return kx * kappa, ky * alpha_rad, mu_x, mu_y, kx, ky
    s = math.sqrt(s2)
    inv_s = 1.0 / s
    dx = mu_x * fz_n
    dy = mu_y * fz_n
    gx, slope_x = magic_formula_slope(
        s * p[base + T_KAPPA_PEAK], p[base + T_B_X], p[base + T_C_X], p[base + T_E_X]
    )
    gy, slope_y = magic_formula_slope(
        s * p[base + T_ALPHA_PEAK_RAD], p[base + T_B_Y], p[base + T_C_Y], p[base + T_E_Y]
    )
    # slopes of the pure-slip curves at the combined slip; zero past the peak
    kx = dx * slope_x if slope_x > 0.0 else 0.0
    ky = dy * slope_y if slope_y > 0.0 else 0.0
    return dx * gx * sx * inv_s, dy * gy * sy * inv_s, mu_x, mu_y, kx, ky


@numba.njit(cache=True)
def tyre_forces(
    kappa: NDArray[np.float64],
    alpha_rad: NDArray[np.float64],
    fz_n: NDArray[np.float64],
    p: NDArray[np.float64],
    base: int,
    grip: float = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised :func:`combined_forces` over equal-shape 1-D arrays (for tests and plots).

    Returns:
        ``(fx_n, fy_n)``, each shaped like ``kappa``.
    """
    n = kappa.shape[0]
    fx = np.empty(n)
    fy = np.empty(n)
    for i in range(n):
        fx[i], fy[i], _, _, _, _ = combined_forces(kappa[i], alpha_rad[i], fz_n[i], grip, p, base)
    return fx, fy

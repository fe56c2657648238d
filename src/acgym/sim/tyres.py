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


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
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


# The kernels below are branch-free (selects, one division): the batch kernel evaluates
# them for many cars at once in SIMD lanes (acgym.sim.dynamics).


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def fast_atan(x: float) -> float:
    """``atan(x)`` to 3e-13 rad (range reduction to |t| <= tan(pi/8) + polynomial)."""
    a = abs(x)
    big = a > _TAN_3PI_8
    middle = a > _TAN_PI_8
    # t = a, (a - 1) / (a + 1) or -1 / a, and atan(a) = offset + atan(t)
    numerator = -1.0 if big else (a - 1.0 if middle else a)
    denominator = a if big else (a + 1.0 if middle else 1.0)
    offset = 0.5 * math.pi if big else (0.25 * math.pi if middle else 0.0)
    r = offset + _atan_core(numerator / denominator)
    return r if x >= 0.0 else -r


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def _sin_poly(a: float) -> float:
    u = a * a
    poly = _SIN[6]
    poly = poly * u + _SIN[5]
    poly = poly * u + _SIN[4]
    poly = poly * u + _SIN[3]
    poly = poly * u + _SIN[2]
    poly = poly * u + _SIN[1]
    poly = poly * u + _SIN[0]
    return a * poly


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def fast_sin(y: float) -> float:
    """``sin(y)`` for ``|y| <= 2 pi`` to 1e-13 (reflection to |y| <= pi/2 + polynomial)."""
    a = abs(y)
    wrapped = a > math.pi
    sign_y = -y if wrapped else y
    a = 2.0 * math.pi - a if wrapped else a
    a = math.pi - a if a > 0.5 * math.pi else a
    r = _sin_poly(a)
    return r if sign_y >= 0.0 else -r


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def fast_sincos(y: float) -> tuple[float, float]:
    """``(sin(y), cos(y))`` for ``|y| <= pi`` to 1e-13 (one reflection, two polynomials)."""
    a = abs(y)
    reflect = a > 0.5 * math.pi
    a = math.pi - a if reflect else a
    u = a * a
    pc = _COS[7]
    pc = pc * u + _COS[6]
    pc = pc * u + _COS[5]
    pc = pc * u + _COS[4]
    pc = pc * u + _COS[3]
    pc = pc * u + _COS[2]
    pc = pc * u + _COS[1]
    pc = pc * u + _COS[0]
    sine = _sin_poly(a)
    return (sine if y >= 0.0 else -sine), (-pc if reflect else pc)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def magic_formula(slip: float, b: float, c: float, e: float) -> float:
    """Normalised Magic Formula ``sin(C atan(B x - E (B x - atan(B x))))`` (peak 1)."""
    bx = b * slip
    return fast_sin(c * fast_atan(bx - e * (bx - fast_atan(bx))))


@numba.njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def magic_formula_curve(
    slips: NDArray[np.float64], b: float, c: float, e: float
) -> NDArray[np.float64]:
    """:func:`magic_formula` at every slip of a 1-D array (for tables and inverses)."""
    out = np.empty(slips.shape[0])
    for i in range(slips.shape[0]):
        out[i] = magic_formula(slips[i], b, c, e)
    return out


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def magic_formula_slope(slip: float, b: float, c: float, e: float) -> tuple[float, float]:
    """Normalised Magic Formula and its derivative with respect to the slip.

    Returns:
        ``(g, dg/dx)`` with ``g = sin(C atan(phi))``, ``phi = B x - E (B x - atan(B x))``,
        ``dg/dx = cos(C atan(phi)) C phi' / (1 + phi^2)``,
        ``phi' = B (1 - E + E / (1 + (B x)^2))``. ``C < 2`` keeps ``C atan(phi)`` within
        ``(-pi, pi)``.
    """
    bx = b * slip
    phi = bx - e * (bx - fast_atan(bx))
    sine, cosine = fast_sincos(c * fast_atan(phi))
    dphi = b * (1.0 - e + e / (1.0 + bx * bx))
    return sine, cosine * c * dphi / (1.0 + phi * phi)


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def load_friction(mu0: float, load_sens: float, fz_n: float, fz0_n: float) -> float:
    """Peak friction coefficient at load ``fz_n`` (degressive, floored)."""
    mu = mu0 * (1.0 + load_sens * (fz_n - fz0_n) / fz0_n)
    floor = MU_FLOOR_FRACTION * mu0
    return mu if mu > floor else floor


@numba.njit(cache=True, inline="always", fastmath=FASTMATH, error_model="numpy")
def combined_forces(
    kappa: float,
    alpha_rad: float,
    fz_n: float,
    grip: float,
    p: NDArray[np.float64],
    base: int,
    stride: int = 1,
) -> tuple[float, float, float, float, float, float]:
    """Tyre forces under combined slip.

    Args:
        kappa: Longitudinal slip ratio.
        alpha_rad: Slip angle, rad (ISO sign, see the module docstring).
        fz_n: Normal load, N (<= 0 gives no force).
        grip: Surface friction factor (1 on the track).
        p: The tyre's parameters: ``p[base + T_* * stride]`` (``T_*`` of
            :mod:`acgym.sim.layout`), e.g. a car parameter array ``(NUM_PARAMS,)`` with
            ``base = P_TYRE_FRONT`` and ``stride = 1``.
        base: Offset of the tyre block.
        stride: Distance between two of the tyre's parameters in ``p``.

    Returns:
        ``(fx_n, fy_n, mu_x, mu_y, kx_n, ky_nprad)``: forces in the wheel frame, the peak
        friction coefficients at this load and surface, and the tangent slip stiffnesses:
        the slopes of the pure-slip curves at the combined slip (N per unit slip ratio,
        N/rad), ``B C D`` at zero slip, zero at and past the peak. The integrator's
        implicit steps use them as the Jacobian of the tyre forces.
    """
    # load-sensitive peak friction (see load_friction), written out to share one product
    rel = (
        1.0
        + p[base + T_LOAD_SENS * stride]
        * (fz_n - p[base + T_FZ0_N * stride])
        * p[base + T_INV_FZ0 * stride]
    )
    rel = rel if rel > MU_FLOOR_FRACTION else MU_FLOOR_FRACTION
    mu_x = grip * rel * p[base + T_MU_X * stride]
    mu_y = grip * rel * p[base + T_MU_Y * stride]
    loaded = fz_n > 0.0
    load = fz_n if loaded else 0.0
    dx = mu_x * load
    dy = mu_y * load
    b_x = p[base + T_B_X * stride]
    c_x = p[base + T_C_X * stride]
    b_y = p[base + T_B_Y * stride]
    c_y = p[base + T_C_Y * stride]
    sx = kappa * p[base + T_INV_KAPPA_PEAK * stride]
    sy = alpha_rad * p[base + T_INV_ALPHA_PEAK * stride]
    s2 = sx * sx + sy * sy
    # at (numerically) zero slip the curves are linear: F = B C D x; the combined slip s
    # below must not divide by zero
    tiny = s2 < _MIN_COMBINED_SLIP * _MIN_COMBINED_SLIP
    s = math.sqrt(_MIN_COMBINED_SLIP * _MIN_COMBINED_SLIP if tiny else s2)
    inv_s = 1.0 / s
    gx, slope_x = magic_formula_slope(
        s * p[base + T_KAPPA_PEAK * stride], b_x, c_x, p[base + T_E_X * stride]
    )
    gy, slope_y = magic_formula_slope(
        s * p[base + T_ALPHA_PEAK_RAD * stride], b_y, c_y, p[base + T_E_Y * stride]
    )
    # slopes of the pure-slip curves at the combined slip; zero past the peak
    kx = dx * slope_x if slope_x > 0.0 else 0.0
    ky = dy * slope_y if slope_y > 0.0 else 0.0
    fx = dx * gx * sx * inv_s
    fy = dy * gy * sy * inv_s
    kx_zero = dx * b_x * c_x
    ky_zero = dy * b_y * c_y
    fx = kx_zero * kappa if tiny else fx
    fy = ky_zero * alpha_rad if tiny else fy
    kx = kx_zero if tiny else kx
    ky = ky_zero if tiny else ky
    mu_x = mu_x if loaded else 0.0
    mu_y = mu_y if loaded else 0.0
    return fx, fy, mu_x, mu_y, kx, ky


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

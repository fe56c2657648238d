"""The Magic Formula tyre model: peaks where Pacejka puts them, combined slip, load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acgym.sim import CarParams
from acgym.sim.car_params import car_param_array
from acgym.sim.layout import P_TYRE_FRONT, P_TYRE_REAR
from acgym.sim.tyres import (
    fast_atan,
    fast_sin,
    fast_sincos,
    magic_formula,
    magic_formula_slope,
    stiffness_factor,
    tyre_forces,
)


def test_polynomial_atan_and_sin_match_libm() -> None:
    x = np.concatenate(
        (
            np.linspace(-60, 60, 120_001),
            np.geomspace(1e-9, 1e9, 2001),
            -np.geomspace(1e-9, 1e9, 2001),
        )
    )
    assert max(abs(fast_atan(v) - math.atan(v)) for v in x) < 5e-13
    y = np.linspace(-2 * math.pi, 2 * math.pi, 60_001)
    assert max(abs(fast_sin(v) - math.sin(v)) for v in y) < 2e-13
    z = np.linspace(-math.pi, math.pi, 60_001)
    assert max(abs(fast_sincos(v)[0] - math.sin(v)) for v in z) < 2e-13
    assert max(abs(fast_sincos(v)[1] - math.cos(v)) for v in z) < 2e-13


@pytest.mark.parametrize(
    ("shape", "curvature"), [(1.3, -1.0), (1.65, 0.0), (1.35, -0.8), (1.5, 0.5)]
)
def test_stiffness_factor_puts_the_peak_at_the_given_slip(shape: float, curvature: float) -> None:
    b = stiffness_factor(0.1, shape, curvature)
    # closed form: the peak is where C atan(phi) = pi/2
    bx = b * 0.1
    phi = bx - curvature * (bx - math.atan(bx))
    assert shape * math.atan(phi) == pytest.approx(math.pi / 2, abs=1e-10)
    slips = np.linspace(0.0, 0.5, 50_001)
    curve = [magic_formula(x, b, shape, curvature) for x in slips]
    assert slips[int(np.argmax(curve))] == pytest.approx(0.1, abs=2e-5)
    assert max(curve) == pytest.approx(1.0, abs=1e-12)


def test_magic_formula_slope_is_its_derivative() -> None:
    b, c, e = stiffness_factor(0.12, 1.3, -1.0), 1.3, -1.0
    for x in (0.0, 0.03, 0.1, 0.12, 0.3, 1.0):
        h = 1e-6
        numeric = (magic_formula(x + h, b, c, e) - magic_formula(x - h, b, c, e)) / (2 * h)
        value, slope = magic_formula_slope(x, b, c, e)
        assert value == pytest.approx(magic_formula(x, b, c, e), abs=1e-14)
        assert slope == pytest.approx(numeric, rel=1e-5, abs=1e-6)
    assert magic_formula_slope(0.0, b, c, e)[1] == pytest.approx(b * c)  # B C D at the origin


def _forces(
    car: CarParams, kappa: np.ndarray, alpha: np.ndarray, fz: float, front: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    p = car_param_array(car)
    base = P_TYRE_FRONT if front else P_TYRE_REAR
    return tyre_forces(
        np.asarray(kappa, float), np.asarray(alpha, float), np.full(len(kappa), fz), p, base
    )


def test_pure_slip_peaks_at_mu_fz_at_the_files_peak_slip(car: CarParams) -> None:
    tyre = car.front_tyre
    fz = tyre.nominal_load_n
    kappa = np.linspace(0.0, 0.4, 40_001)
    fx, _ = _forces(car, kappa, np.zeros_like(kappa), fz)
    assert kappa[np.argmax(fx)] == pytest.approx(tyre.peak_slip_ratio, abs=1e-4)
    assert fx.max() == pytest.approx(tyre.mu_x * fz, rel=1e-9)
    alpha = np.linspace(0.0, 0.4, 40_001)
    _, fy = _forces(car, np.zeros_like(alpha), alpha, fz)
    assert alpha[np.argmax(fy)] == pytest.approx(tyre.peak_slip_angle_rad, abs=1e-4)
    assert fy.max() == pytest.approx(tyre.mu_y * fz, rel=1e-9)
    # odd in the slip, zero at zero slip, cornering stiffness B C D at the origin
    fx_neg, _ = _forces(car, -kappa[:100], np.zeros(100), fz)
    np.testing.assert_allclose(fx_neg, -fx[:100], atol=1e-9)
    small = 1e-6
    _, fy_small = _forces(car, np.zeros(1), np.array([small]), fz)
    assert fy_small[0] / small == pytest.approx(tyre.b_y * tyre.shape_y * tyre.mu_y * fz, rel=1e-5)


def test_combined_slip_reduces_the_lateral_force(car: CarParams) -> None:
    tyre = car.front_tyre
    fz = tyre.nominal_load_n
    alpha = np.full(6, 0.5 * tyre.peak_slip_angle_rad)
    kappa = np.array([0.0, 0.02, 0.05, 0.1, 0.2, -0.1])
    fx, fy = _forces(car, kappa, alpha, fz)
    assert np.all(np.diff(fy[:5]) < 0.0)  # more braking or driving slip, less side force
    assert fy[5] == pytest.approx(fy[3], rel=1e-12)  # symmetric in the sign of kappa
    # the resultant never leaves the friction ellipse
    kappas, alphas = np.meshgrid(np.linspace(-1, 1, 81), np.linspace(-0.8, 0.8, 81))
    fx, fy = _forces(car, kappas.ravel(), alphas.ravel(), fz)
    assert np.all((fx / (tyre.mu_x * fz)) ** 2 + (fy / (tyre.mu_y * fz)) ** 2 <= 1.0 + 1e-9)


def test_peak_friction_falls_with_load_but_force_still_grows(car: CarParams) -> None:
    tyre = car.rear_tyre
    loads = tyre.nominal_load_n * np.array([0.5, 1.0, 1.5, 2.0])
    peaks = []
    for fz in loads:
        _, fy = _forces(car, np.zeros(1), np.array([tyre.peak_slip_angle_rad]), fz, front=False)
        peaks.append(fy[0])
    mu = np.array(peaks) / loads
    expected = tyre.mu_y * (
        1 + tyre.load_sensitivity * (loads - tyre.nominal_load_n) / tyre.nominal_load_n
    )
    np.testing.assert_allclose(mu, expected, rtol=1e-9)
    assert np.all(np.diff(mu) < 0) and np.all(np.diff(peaks) > 0)


def test_no_load_no_force(car: CarParams) -> None:
    fx, fy = _forces(car, np.array([0.1, -0.5]), np.array([0.05, 0.3]), 0.0)
    assert np.all(fx == 0.0) and np.all(fy == 0.0)

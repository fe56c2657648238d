"""Speed profile: closed forms on circles, straights and braking zones; the g-g limits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import brentq

from acgym.errors import ConfigError, TrackFileError
from acgym.track.speed_profile import SpeedProfile, VehicleLimits, smooth_along_m, speed_profile
from acgym.units import AIR_DENSITY_KGPM3, GRAVITY_MPS2

G = GRAVITY_MPS2
RHO = AIR_DENSITY_KGPM3

F3_LIMITS = VehicleLimits(
    mass_kg=665.0,
    mu_lat=1.6,
    mu_long=1.6,
    drag_area_m2=0.75,
    downforce_area_m2=2.0,
    max_power_w=175e3,
    max_speed_mps=75.0,
    driven_load_fraction=0.55,
)
"""A Formula 3-like car (with driver); the simulator's presets replace it later."""


def circle(radius_m: float, num_points: int) -> np.ndarray:
    angle = np.linspace(0.0, 2.0 * np.pi, num_points, endpoint=False)
    return radius_m * np.stack((np.cos(angle), np.sin(angle)), axis=1)


def wobbly_loop(num_points: int = 2000) -> np.ndarray:
    """A closed, counter-clockwise loop with fast and slow corners, about 2.8 km."""
    angle = np.linspace(0.0, 2.0 * np.pi, num_points, endpoint=False)
    radius_m = 450.0 * (1.0 + 0.25 * np.cos(3.0 * angle) + 0.08 * np.sin(7.0 * angle))
    return radius_m[:, None] * np.stack((np.cos(angle), np.sin(angle)), axis=1)


def grip_only(limits: VehicleLimits, **changes: float) -> VehicleLimits:
    """The same car without drag and rolling resistance (or with other changes)."""
    fields = {"drag_area_m2": 0.0, "rolling_resistance": 0.0} | changes
    return dataclasses.replace(limits, **fields)


@pytest.mark.parametrize("downforce_area_m2", [0.0, 2.0])
def test_speed_on_a_circle_is_the_closed_form_cornering_limit(downforce_area_m2: float) -> None:
    radius_m, mu = 60.0, 1.6
    limits = grip_only(F3_LIMITS, downforce_area_m2=downforce_area_m2, max_speed_mps=200.0)
    points = circle(radius_m, 400)

    profile = speed_profile(points, limits)

    mass_kg = limits.mass_kg
    expected_mps = np.sqrt(
        mu * G * radius_m / (1.0 - mu * RHO * downforce_area_m2 * radius_m / (2.0 * mass_kg))
    )
    np.testing.assert_allclose(profile.speed_mps, expected_mps, rtol=1e-12)
    np.testing.assert_allclose(profile.curvature_1pm, 1.0 / radius_m, rtol=1e-12)
    np.testing.assert_allclose(profile.long_accel_mps2, 0.0, atol=1e-9)
    grip_mps2 = mu * (G + 0.5 * RHO * downforce_area_m2 * expected_mps**2 / mass_kg)
    np.testing.assert_allclose(profile.lat_accel_mps2, grip_mps2, rtol=1e-12)
    perimeter_m = np.hypot(*(np.roll(points, -1, axis=0) - points).T).sum()
    assert profile.lap_time_s == pytest.approx(perimeter_m / expected_mps, rel=1e-12)


def test_speed_on_a_circle_with_drag_settles_where_leftover_traction_equals_drag() -> None:
    radius_m = 60.0
    limits = F3_LIMITS
    profile = speed_profile(circle(radius_m, 400), limits)

    k_down = 0.5 * RHO * limits.downforce_area_m2 / limits.mass_kg
    k_drag = 0.5 * RHO * limits.drag_area_m2 / limits.mass_kg

    def ellipse_use(speed_mps: float) -> float:
        normal_mps2 = G + k_down * speed_mps**2
        lateral = speed_mps**2 / radius_m / (limits.mu_lat * normal_mps2)
        resistance_mps2 = k_drag * speed_mps**2 + limits.rolling_resistance * G
        traction = resistance_mps2 / (limits.mu_long * limits.driven_load_fraction * normal_mps2)
        return lateral**2 + traction**2 - 1.0

    no_drag_mps = float(grip_only(limits).cornering_speed_mps(1.0 / radius_m))
    steady_mps = brentq(ellipse_use, 1.0, no_drag_mps)
    assert steady_mps < no_drag_mps
    np.testing.assert_allclose(profile.speed_mps, steady_mps, rtol=1e-6)


def test_top_speed_on_a_long_straight_matches_the_power_drag_balance() -> None:
    limits = dataclasses.replace(F3_LIMITS, max_speed_mps=200.0)
    straight = np.stack((np.arange(0.0, 8000.0, 2.0), np.zeros(4000)), axis=1)

    profile = speed_profile(straight, limits, initial_speed_mps=0.0, closed=False)

    def power_balance_w(speed_mps: float) -> float:
        drag_n = 0.5 * RHO * limits.drag_area_m2 * speed_mps**2
        rolling_n = limits.rolling_resistance * limits.mass_kg * G
        return limits.max_power_w - (drag_n + rolling_n) * speed_mps

    top_mps = brentq(power_balance_w, 1.0, 200.0)
    assert profile.speed_mps[0] == 0.0
    assert np.all(np.diff(profile.speed_mps) > 0.0)
    assert profile.speed_mps.max() <= top_mps * (1.0 + 1e-12)
    assert profile.speed_mps[-1] == pytest.approx(top_mps, rel=1e-3)
    # From standstill the driven wheels' grip is all there is: no drag, power unbounded.
    launch_mps2 = limits.mu_long * limits.driven_load_fraction * G - limits.rolling_resistance * G
    assert profile.long_accel_mps2[0] == pytest.approx(launch_mps2, rel=1e-12)


@pytest.mark.parametrize("added_mass_kg", [0.0, 150.0])
def test_power_limited_speed_follows_the_energy_balance_with_the_added_mass(
    added_mass_kg: float,
) -> None:
    # No drag, no rolling resistance, grip to spare: (m + m_add) v dv/ds = P / v, so
    # v^3 = v0^3 + 3 P s / (m + m_add).
    limits = grip_only(F3_LIMITS, mu_long=5.0, max_speed_mps=500.0, added_mass_kg=added_mass_kg)
    straight = np.stack((np.arange(0.0, 2000.0, 0.5), np.zeros(4000)), axis=1)
    start_mps = 30.0
    profile = speed_profile(straight, limits, initial_speed_mps=start_mps, closed=False)
    mass_kg = limits.mass_kg + added_mass_kg
    expected = np.cbrt(start_mps**3 + 3.0 * limits.max_power_w * profile.s_m / mass_kg)
    np.testing.assert_allclose(profile.speed_mps, expected, rtol=2e-3)


def test_added_mass_changes_neither_the_top_speed_nor_the_launch() -> None:
    limits = dataclasses.replace(F3_LIMITS, max_speed_mps=200.0)
    heavy = dataclasses.replace(limits, added_mass_kg=200.0)
    straight = np.stack((np.arange(0.0, 8000.0, 2.0), np.zeros(4000)), axis=1)
    light_run = speed_profile(straight, limits, initial_speed_mps=0.0, closed=False)
    heavy_run = speed_profile(straight, heavy, initial_speed_mps=0.0, closed=False)
    assert heavy_run.speed_mps[-1] == pytest.approx(light_run.speed_mps[-1], rel=1e-3)
    assert heavy_run.long_accel_mps2[0] == light_run.long_accel_mps2[0]  # traction-limited
    assert np.all(heavy_run.speed_mps <= light_run.speed_mps)
    assert heavy_run.speed_mps[500] < light_run.speed_mps[500]


def test_top_speed_is_capped_by_max_speed() -> None:
    limits = dataclasses.replace(F3_LIMITS, max_speed_mps=50.0)
    straight = np.stack((np.arange(0.0, 4000.0, 2.0), np.zeros(2000)), axis=1)
    profile = speed_profile(straight, limits, initial_speed_mps=0.0, closed=False)
    assert profile.speed_mps.max() == 50.0
    assert profile.speed_mps[-1] == 50.0


def hairpin_line(radius_m: float, straight_m: float, spacing_m: float):
    """Straight along +x, a left semicircle of ``radius_m``, straight back; exact curvature."""
    approach = np.arange(0.0, straight_m, spacing_m)
    num_arc = round(np.pi * radius_m / spacing_m)
    angle = np.arange(num_arc) * np.pi / num_arc
    arc = np.stack((straight_m + radius_m * np.sin(angle), radius_m * (1.0 - np.cos(angle))), 1)
    back = np.arange(straight_m, 0.0, -spacing_m)
    points = np.vstack(
        (
            np.stack((approach, np.zeros_like(approach)), 1),
            arc,
            np.stack((back, np.full_like(back, 2.0 * radius_m)), 1),
        )
    )
    curvature = np.concatenate(
        (np.zeros(len(approach)), np.full(num_arc, 1.0 / radius_m), np.zeros(len(back)))
    )
    return points, curvature, len(approach)


def test_braking_zone_before_a_hairpin_is_constant_deceleration_to_the_corner_speed() -> None:
    radius_m, spacing_m, top_mps = 15.0, 0.5, 60.0
    limits = grip_only(F3_LIMITS, downforce_area_m2=0.0, max_speed_mps=top_mps)
    points, curvature, entry = hairpin_line(radius_m, 600.0, spacing_m)

    profile = speed_profile(points, limits, curvature_1pm=curvature, closed=False)

    corner_mps = np.sqrt(limits.mu_lat * G * radius_m)
    decel_mps2 = limits.mu_long * G
    arc = slice(entry, entry + round(np.pi * radius_m / spacing_m))
    np.testing.assert_allclose(profile.speed_mps[arc], corner_mps, rtol=1e-12)

    to_corner_m = profile.s_m[entry] - profile.s_m[:entry]
    speed2 = profile.speed_mps[:entry] ** 2
    braking = speed2 < top_mps**2
    # v^2 = v_corner^2 + 2 a d, to within the one segment the discrete pass coasts into
    # the corner (where the tyres have no grip left for braking).
    upper = corner_mps**2 + 2.0 * decel_mps2 * to_corner_m[braking]
    lower = corner_mps**2 + 2.0 * decel_mps2 * (to_corner_m[braking] - spacing_m)
    assert np.all(speed2[braking] <= upper * (1.0 + 1e-12))
    assert np.all(speed2[braking] >= lower * (1.0 - 1e-12))
    braking_distance_m = (top_mps**2 - corner_mps**2) / (2.0 * decel_mps2)
    assert to_corner_m[braking].max() == pytest.approx(braking_distance_m, abs=2.0 * spacing_m)
    np.testing.assert_allclose(
        profile.long_accel_mps2[:entry][braking][:-1], -decel_mps2, rtol=1e-9
    )


def friction_use(profile: SpeedProfile, limits: VehicleLimits) -> tuple[np.ndarray, np.ndarray]:
    """Friction-ellipse use of every segment of a loop, where the pass evaluated it.

    A segment whose tyres drive (net acceleration plus drag and rolling resistance at its
    first point is positive) is limited at its first point; a braking segment at its
    last. Returns the ellipse use and the traction's share of the power limit.
    """
    speed, accel = profile.speed_mps, profile.long_accel_mps2
    k_down = 0.5 * RHO * limits.downforce_area_m2 / limits.mass_kg
    k_drag = 0.5 * RHO * limits.drag_area_m2 / limits.mass_kg
    roll_mps2 = limits.rolling_resistance * G
    braking = accel + k_drag * speed**2 + roll_mps2 < 0.0
    at = np.where(braking, np.roll(np.arange(len(speed)), -1), np.arange(len(speed)))
    v = speed[at]
    normal_mps2 = G + k_down * v**2
    resistance_mps2 = k_drag * v**2 + roll_mps2
    tyre_mps2 = np.where(braking, -accel - resistance_mps2, accel + resistance_mps2)
    long_max_mps2 = (
        limits.mu_long * normal_mps2 * np.where(braking, 1.0, limits.driven_load_fraction)
    )
    lateral = np.abs(profile.lat_accel_mps2[at]) / (limits.mu_lat * normal_mps2)
    use = (np.maximum(tyre_mps2, 0.0) / long_max_mps2) ** 2 + lateral**2
    power_use = np.where(braking, 0.0, tyre_mps2 * v * limits.mass_kg / limits.max_power_w)
    return use, power_use


def test_friction_ellipse_and_power_are_never_exceeded_and_are_used() -> None:
    profile = speed_profile(wobbly_loop(), F3_LIMITS)
    use, power_use = friction_use(profile, F3_LIMITS)
    assert use.max() <= 1.0 + 1e-6
    assert power_use.max() <= 1.0 + 1e-9
    # The car is always at some limit: grip or power (or top speed).
    at_limit = (use > 1.0 - 1e-6) | (power_use > 1.0 - 1e-6)
    at_limit |= profile.speed_mps >= F3_LIMITS.max_speed_mps - 1e-9
    assert at_limit.mean() > 0.98
    assert np.all(np.abs(profile.lat_accel_mps2) > 0.0)


def test_flying_lap_does_not_depend_on_where_the_loop_starts() -> None:
    points = wobbly_loop()
    profile = speed_profile(points, F3_LIMITS)
    shift = 777
    shifted = speed_profile(np.roll(points, -shift, axis=0), F3_LIMITS)
    np.testing.assert_allclose(shifted.speed_mps, np.roll(profile.speed_mps, -shift), rtol=1e-9)
    assert shifted.lap_time_s == pytest.approx(profile.lap_time_s, rel=1e-12)


def test_standing_start_lap_is_slower_than_the_flying_lap() -> None:
    points = wobbly_loop()
    flying = speed_profile(points, F3_LIMITS)
    standing = speed_profile(points, F3_LIMITS, initial_speed_mps=0.0)
    assert standing.speed_mps[0] == 0.0
    assert standing.lap_time_s > flying.lap_time_s
    # After the launch the laps agree: the start only matters until the car catches up.
    np.testing.assert_allclose(standing.speed_mps[-200:], flying.speed_mps[-200:], rtol=1e-12)


def test_lap_time_is_the_sum_of_segment_lengths_over_mean_speeds() -> None:
    points = wobbly_loop()
    profile = speed_profile(points, F3_LIMITS)
    seg_m = np.hypot(*(np.roll(points, -1, axis=0) - points).T)
    mean_mps = 0.5 * (profile.speed_mps + np.roll(profile.speed_mps, -1))
    assert profile.lap_time_s == pytest.approx(np.sum(seg_m / mean_mps), rel=1e-12)
    assert profile.s_m[-1] + seg_m[-1] == pytest.approx(seg_m.sum(), rel=1e-12)


def test_curvature_smoothing_removes_noise_and_keeps_a_constant() -> None:
    radius_m = 100.0
    points = circle(radius_m, round(2.0 * np.pi * radius_m / 1.5))
    noisy = points + np.random.default_rng(0).normal(scale=0.01, size=points.shape)
    raw = speed_profile(noisy, F3_LIMITS, curvature_smoothing_m=0.0).curvature_1pm
    smooth = speed_profile(noisy, F3_LIMITS).curvature_1pm
    assert np.std(smooth - 1.0 / radius_m) < 0.2 * np.std(raw - 1.0 / radius_m)
    assert np.mean(smooth) == pytest.approx(1.0 / radius_m, rel=0.02)

    seg_m = np.full(50, 2.0)
    np.testing.assert_allclose(smooth_along_m(np.full(50, 0.3), seg_m, 5.0), 0.3, rtol=1e-14)


def test_invalid_limits_and_lines_raise_typed_errors() -> None:
    with pytest.raises(ConfigError, match="mass_kg"):
        dataclasses.replace(F3_LIMITS, mass_kg=-1.0)
    with pytest.raises(ConfigError, match="added_mass_kg"):
        dataclasses.replace(F3_LIMITS, added_mass_kg=-1.0)
    with pytest.raises(ConfigError, match="driven_load_fraction"):
        dataclasses.replace(F3_LIMITS, driven_load_fraction=1.5)
    with pytest.raises(ConfigError, match="lift"):
        dataclasses.replace(F3_LIMITS, downforce_area_m2=-20.0)
    with pytest.raises(TrackFileError, match=r"\(M, 2\)"):
        speed_profile(np.zeros((10, 3)), F3_LIMITS)
    with pytest.raises(TrackFileError, match="curvature_1pm"):
        speed_profile(circle(50.0, 100), F3_LIMITS, curvature_1pm=np.zeros(99))
    with pytest.raises(ConfigError, match="initial_speed_mps"):
        speed_profile(circle(50.0, 100), F3_LIMITS, initial_speed_mps=-1.0)

"""Speed profile along a racing line for a car's limits, and the lap-time estimate.

The model is a quasi-steady point mass on a g-g (friction-ellipse) diagram:

* lateral grip ``a_lat_max(v) = mu_lat * (g + k_down * v^2)`` with
  ``k_down = 0.5 * rho * ClA / m`` (downforce adds normal load);
* traction ``mu_long * f_driven * (g + k_down * v^2)`` (downforce is shared between the
  axles like the static weight), capped by power: ``(m + m_add) a = P / v - R(v)`` with
  ``R`` the drag and rolling resistance and ``m_add`` the mass the power also has to
  accelerate (rotating parts; see :class:`VehicleLimits`);
* braking ``mu_long * (g + k_down * v^2)`` on all four wheels;
* the tyre's longitudinal share shrinks with the lateral share on an ellipse,
  ``(a_x / a_x_max)^2 + (a_y / a_y_max)^2 <= 1``;
* drag ``0.5 * rho * CdA * v^2 / m`` and rolling resistance ``c_rr * g`` (on the static
  weight) slow the car in both passes: they cost speed when accelerating and help when
  braking.

The speed at each point is the smallest of the steady cornering limit (and
``max_speed_mps``), a forward pass (how fast the car can accelerate there) and a backward
pass (how fast it may go and still brake for what follows). Each pass steps through the
points with the acceleration evaluated at the point whose speed it already knows and
integrates ``v^2`` exactly for that constant acceleration over the segment. On a closed
loop both passes wrap around and repeat until the speed where they started agrees with
the speed they come back with, so the lap is a flying lap. The top speed follows from
the power/drag balance and ``max_speed_mps``. The passes are sequential, so they are
compiled with numba (a 4,000-point lap takes a few milliseconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError, TrackFileError
from acgym.track import polyline
from acgym.units import AIR_DENSITY_KGPM3, GRAVITY_MPS2

FloatArray = NDArray[np.float64]

DEFAULT_CURVATURE_SMOOTHING_M = 2.0
"""Standard deviation of the Gaussian (in arc length) that smooths the line's curvature, m.

The three-point curvature of a recorded racing line (about 1.5 m between points,
centimetre noise) jitters from point to point. A Gaussian with a 2 m standard deviation
(a window of about four points either side) cuts that jitter about 3.5 times on the
original Monza line's straights, while its sharpest corner (the first chicane, about
20 m radius) loses about 5 % of its peak curvature. A constant curvature stays exactly
constant. Pass ``curvature_smoothing_m=0`` for clean, computed lines.
"""

_CONVERGED_MPS = 1e-9
"""Change of the speed at the start of a wrapped pass below which a closed loop is done, m/s."""

_MAX_LAPS = 50
"""Most wrap-around laps a pass may take on a closed loop (it converges in two or three)."""


@dataclass(frozen=True)
class VehicleLimits:
    """What the speed profile needs to know about a car (SI units).

    The friction coefficients and the power may be a car's physical figures or
    effective values fitted to a vehicle model (``acgym.sim``'s
    ``CarParams.vehicle_limits`` fits them to its own tyre and powertrain models).

    Attributes:
        mass_kg: Mass with driver and fuel, kg.
        mu_lat: Lateral friction coefficient of the grip ``mu_lat (g + k_down v^2)``:
            the tyres' peak, or a value fitted to the car's cornering limit.
        mu_long: Longitudinal friction coefficient (braking and traction), likewise.
        drag_area_m2: Drag coefficient times frontal area, Cd*A, m^2.
        downforce_area_m2: Lift coefficient times area, Cl*A, m^2 (positive = downforce;
            a fitted value may be an effective, grip-equivalent one).
        max_power_w: Power at the driven wheels that drives the car, W (e.g. the peak
            engine power times the drivetrain efficiency).
        max_speed_mps: Highest speed, m/s: the rev limit in top gear, or lower where the
            car's drive force in top gear meets its resistance first (the power/drag
            balance with ``max_power_w`` alone can overestimate it when the top gear
            runs past the power peak).
        driven_load_fraction: Share of the car's weight on the driven wheels (traction).
        rolling_resistance: Rolling-resistance coefficient (force / normal load).
        air_density_kgpm3: Air density, kg/m^3.
        added_mass_kg: Mass added to ``mass_kg`` in the power-limited longitudinal
            equation only, ``(m + m_add) a = P / v - R(v)``: the translational equivalent
            of the rotating wheels and engine (``sum I / r^2``, reflected through the
            gears) and, if fitted, of the time lost in gear shifts, kg. Traction and
            braking limits act on ``mass_kg`` (the tyres' force moves the car; the
            brakes and the engine turn the wheels). 0 = a point mass.
    """

    mass_kg: float
    mu_lat: float
    mu_long: float
    drag_area_m2: float
    downforce_area_m2: float
    max_power_w: float
    max_speed_mps: float
    driven_load_fraction: float
    rolling_resistance: float = 0.015
    air_density_kgpm3: float = AIR_DENSITY_KGPM3
    added_mass_kg: float = 0.0

    def __post_init__(self) -> None:
        positive = {
            "mass_kg": self.mass_kg,
            "mu_lat": self.mu_lat,
            "mu_long": self.mu_long,
            "max_power_w": self.max_power_w,
            "max_speed_mps": self.max_speed_mps,
            "air_density_kgpm3": self.air_density_kgpm3,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0.0):
                raise ConfigError(f"VehicleLimits.{name}: expected a positive number, got {value}")
        for name in ("drag_area_m2", "rolling_resistance", "added_mass_kg"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"VehicleLimits.{name}: expected >= 0, got {value}")
        if not 0.0 < self.driven_load_fraction <= 1.0:
            raise ConfigError(
                "VehicleLimits.driven_load_fraction: expected a share in (0, 1], got "
                f"{self.driven_load_fraction}"
            )
        if not math.isfinite(self.downforce_area_m2):
            raise ConfigError("VehicleLimits.downforce_area_m2: expected a finite number")
        # Lift (negative Cl*A) must leave the tyres loaded up to the top speed.
        if self.normal_accel_mps2(self.max_speed_mps) <= 0.0:
            raise ConfigError(
                f"VehicleLimits.downforce_area_m2 = {self.downforce_area_m2}: the lift "
                f"exceeds the weight below max_speed_mps = {self.max_speed_mps}"
            )

    @property
    def downforce_per_mass_1pm(self) -> float:
        """``0.5 * rho * ClA / m``: downforce per unit mass and per (m/s)^2, 1/m."""
        return 0.5 * self.air_density_kgpm3 * self.downforce_area_m2 / self.mass_kg

    @property
    def drag_per_mass_1pm(self) -> float:
        """``0.5 * rho * CdA / m``: drag deceleration per (m/s)^2, 1/m."""
        return 0.5 * self.air_density_kgpm3 * self.drag_area_m2 / self.mass_kg

    def normal_accel_mps2(self, speed_mps: ArrayLike) -> FloatArray:
        """Normal load per unit mass (gravity plus downforce), m/s^2, shaped like the input."""
        speed = np.asarray(speed_mps, dtype=np.float64)
        return GRAVITY_MPS2 + self.downforce_per_mass_1pm * speed**2

    def cornering_speed_mps(self, curvature_1pm: ArrayLike) -> FloatArray:
        """Steady cornering speed limit for a curvature, m/s (``max_speed_mps`` at most).

        Solves ``v^2 |kappa| = mu_lat * (g + k_down * v^2)``:
        ``v = sqrt(mu_lat * g / (|kappa| - mu_lat * k_down))``; unbounded (hence
        ``max_speed_mps``) when downforce grows faster than the need for grip.
        """
        kappa = np.abs(np.asarray(curvature_1pm, dtype=np.float64))
        excess_1pm = kappa - self.mu_lat * self.downforce_per_mass_1pm
        with np.errstate(divide="ignore"):
            speed2 = np.where(
                excess_1pm > 0.0,
                self.mu_lat * GRAVITY_MPS2 / np.maximum(excess_1pm, 1e-300),
                np.inf,
            )
        return np.minimum(np.sqrt(speed2), self.max_speed_mps)

    def acceleration_mps2(self, speed_mps: ArrayLike, curvature_1pm: ArrayLike = 0.0) -> FloatArray:
        """The profile's forward acceleration at a speed and curvature, m/s^2.

        Traction (inside the friction ellipse), capped by power, less drag and rolling
        resistance: the acceleration of the forward pass. Shaped like the broadcast inputs.
        """
        speed, kappa = np.broadcast_arrays(
            np.asarray(speed_mps, dtype=np.float64), np.asarray(curvature_1pm, dtype=np.float64)
        )
        consts = self._constants()
        out = np.empty(speed.shape)
        for index in np.ndindex(speed.shape):
            out[index] = _net_accel(float(speed[index]), abs(float(kappa[index])), consts, False)
        return out

    def _constants(self) -> FloatArray:
        """The scalars the compiled passes need, in the order ``_net_accel`` reads them."""
        return np.array(
            [
                GRAVITY_MPS2,
                self.downforce_per_mass_1pm,
                self.drag_per_mass_1pm,
                self.rolling_resistance * GRAVITY_MPS2,
                self.mu_lat,
                self.mu_long,
                self.driven_load_fraction,
                self.max_power_w / (self.mass_kg + self.added_mass_kg),
                self.mass_kg / (self.mass_kg + self.added_mass_kg),
            ]
        )


@dataclass(frozen=True)
class SpeedProfile:
    """Speeds and accelerations along a line, and the lap time.

    Attributes:
        s_m: Distance along the line at each point, ``(M,)`` m from 0.
        speed_mps: Speed at each point, ``(M,)`` m/s.
        long_accel_mps2: Longitudinal acceleration over the segment from each point to the
            next, ``(M,)`` m/s^2 (the last entry of an open line repeats the one before).
        lat_accel_mps2: Lateral acceleration at each point, ``speed^2 * curvature``,
            ``(M,)`` m/s^2, positive to the left.
        curvature_1pm: The (smoothed) curvature used, ``(M,)`` 1/m, positive turning left.
        lap_time_s: Time to drive the line (the closed loop once, or the open line), s.
    """

    s_m: FloatArray
    speed_mps: FloatArray
    long_accel_mps2: FloatArray
    lat_accel_mps2: FloatArray
    curvature_1pm: FloatArray
    lap_time_s: float


def speed_profile(
    line_m: ArrayLike,
    limits: VehicleLimits,
    *,
    curvature_1pm: ArrayLike | None = None,
    initial_speed_mps: float | None = None,
    closed: bool = True,
    curvature_smoothing_m: float = DEFAULT_CURVATURE_SMOOTHING_M,
) -> SpeedProfile:
    """Fastest speed profile along a line for a car's limits.

    Args:
        line_m: The line, ``(M, 2)`` metres, in the direction of travel; a closed loop
            without a repeated closing point when ``closed``.
        limits: The car.
        curvature_1pm: Curvature to use instead of the line's own, ``(M,)`` 1/m (taken
            as is, no smoothing).
        initial_speed_mps: Speed at the first point, m/s (e.g. 0 for a standing start;
            on a loop the lap still ends into a flying next lap). ``None``: a flying lap
            on a closed loop, the cornering limit on an open line.
        closed: The line is a loop (the segment from the last point to the first is
            driven and the next lap follows).
        curvature_smoothing_m: Standard deviation of the Gaussian, in arc length, that
            smooths the line's three-point curvature, m; 0 uses it raw.

    Returns:
        The profile. On a closed loop the lap time includes the closing segment.

    Raises:
        TrackFileError: The line or the curvature has the wrong shape or non-finite
            values.
        ConfigError: A speed or smoothing parameter is negative.
    """
    points_m = _as_line(line_m)
    num_points = len(points_m)
    seg_len_m = np.hypot(*polyline.segment_vectors_m(points_m).T)
    if not closed:
        seg_len_m[-1] = seg_len_m[-2]  # no closing segment; a placeholder never driven
    if np.any(seg_len_m[: num_points if closed else -1] <= 0.0):
        bad = int(np.flatnonzero(seg_len_m <= 0.0)[0])
        raise TrackFileError(f"line point {bad} repeats the next one; drop duplicates")
    s_m = np.concatenate(([0.0], np.cumsum(seg_len_m[:-1])))

    if curvature_1pm is None:
        if curvature_smoothing_m < 0.0:
            raise ConfigError(
                f"curvature_smoothing_m: expected >= 0 m, got {curvature_smoothing_m}"
            )
        kappa = _three_point_curvature(points_m, closed)
        if curvature_smoothing_m > 0.0:
            kappa = smooth_along_m(kappa, seg_len_m, curvature_smoothing_m, closed=closed)
    else:
        kappa = np.array(curvature_1pm, dtype=np.float64)
        if kappa.shape != (num_points,) or not np.all(np.isfinite(kappa)):
            raise TrackFileError(
                f"curvature_1pm: expected {num_points} finite values (one per line point), "
                f"got shape {kappa.shape}"
            )
    if initial_speed_mps is not None and not initial_speed_mps >= 0.0:
        raise ConfigError(f"initial_speed_mps: expected >= 0 m/s, got {initial_speed_mps}")

    cap_mps = limits.cornering_speed_mps(kappa)
    abs_kappa = np.abs(kappa)
    consts = limits._constants()

    if closed:
        # Flying lap: both passes wrap around the loop from its slowest corner.
        start = int(np.argmin(cap_mps))
        forward = _sweep(cap_mps, abs_kappa, seg_len_m, consts, start, cap_mps[start], True, True)
        start = int(np.argmin(forward))
        speed = _sweep(forward, abs_kappa, seg_len_m, consts, start, forward[start], True, False)
        if initial_speed_mps is not None:
            # A given start speed: accelerate from it, never faster than the flying lap
            # (whose backward pass already brakes for the next lap's first corners).
            speed = _sweep(
                speed, abs_kappa, seg_len_m, consts, 0, float(initial_speed_mps), False, True
            )
    else:
        first_mps = cap_mps[0] if initial_speed_mps is None else float(initial_speed_mps)
        forward = _sweep(cap_mps, abs_kappa, seg_len_m, consts, 0, first_mps, False, True)
        last = num_points - 1
        speed = _sweep(forward, abs_kappa, seg_len_m, consts, last, forward[last], False, False)

    next_speed = np.roll(speed, -1)
    long_accel = (next_speed**2 - speed**2) / (2.0 * seg_len_m)
    # Constant acceleration over a segment: its time is the length over the mean speed.
    with np.errstate(divide="ignore"):
        seg_time_s = 2.0 * seg_len_m / (speed + next_speed)
    if closed:
        lap_time_s = float(np.sum(seg_time_s))
    else:
        long_accel[-1] = long_accel[-2]
        lap_time_s = float(np.sum(seg_time_s[:-1]))
    if not math.isfinite(lap_time_s):
        raise ConfigError("the car stops on the line (zero speed at two neighbouring points)")

    profile = SpeedProfile(
        s_m=s_m,
        speed_mps=speed,
        long_accel_mps2=long_accel,
        lat_accel_mps2=speed**2 * kappa,
        curvature_1pm=kappa,
        lap_time_s=lap_time_s,
    )
    for array in (s_m, speed, long_accel, profile.lat_accel_mps2, kappa):
        array.setflags(write=False)
    return profile


def smooth_along_m(
    values: FloatArray, seg_len_m: FloatArray, sigma_m: float, *, closed: bool = True
) -> FloatArray:
    """Gaussian-weighted average of per-point values over arc length.

    Each point's weight is its share of the line (half of each adjacent segment), so
    unevenly spaced points count by the length they stand for; weights are normalised, so
    a constant stays exactly constant. The window spans three standard deviations at the
    median spacing.

    Args:
        values: One value per point, ``(M,)``.
        seg_len_m: Length of the segment from each point to the next, ``(M,)`` m (the
            last one closes the loop; ignored on an open line).
        sigma_m: Standard deviation of the Gaussian, m.
        closed: The points form a loop (the window wraps around).

    Returns:
        The smoothed values, ``(M,)``.
    """
    num_points = len(values)
    seg = seg_len_m.copy()
    if not closed:
        seg[-1] = 0.0
    half_width = math.ceil(3.0 * sigma_m / float(np.median(seg_len_m))) + 1
    half_width = min(half_width, (num_points - 1) // 2)
    offsets = np.arange(-half_width, half_width + 1)
    # Arc length of every point of the loop unrolled over three laps, so that offsets
    # across the closing segment get the right distance.
    s_m = np.concatenate(([0.0], np.cumsum(seg[:-1])))
    loop_m = float(seg.sum())
    index = np.arange(num_points)[:, None] + offsets[None, :]
    lap, wrapped = np.divmod(index, num_points)
    distance_m = s_m[wrapped] + lap * loop_m - s_m[:, None]
    share_m = 0.5 * (seg + np.roll(seg, 1))  # an open line's ends get half a segment
    weight = np.exp(-0.5 * (distance_m / sigma_m) ** 2) * share_m[wrapped]
    if not closed:
        weight[(index < 0) | (index >= num_points)] = 0.0
    return np.sum(weight * values[wrapped], axis=1) / np.sum(weight, axis=1)


def _three_point_curvature(points_m: FloatArray, closed: bool) -> FloatArray:
    """Signed curvature at each point; the ends of an open line copy their neighbour."""
    kappa = polyline.signed_curvature_1pm(points_m)
    if not closed:
        kappa[0], kappa[-1] = kappa[1], kappa[-2]
    return kappa


def _as_line(line_m: ArrayLike) -> FloatArray:
    points = np.array(line_m, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise TrackFileError(
            f"line_m: expected an (M, 2) array of x, y in metres with M >= 3, got {points.shape}"
        )
    if not np.all(np.isfinite(points)):
        raise TrackFileError("line_m: the line has non-finite points")
    return points


@njit(cache=True)
def _net_accel(speed_mps: float, abs_kappa_1pm: float, consts: FloatArray, braking: bool) -> float:
    """Net acceleration the car can reach (or, braking, the deceleration), m/s^2."""
    gravity, k_down, k_drag, roll_mps2 = consts[0], consts[1], consts[2], consts[3]
    mu_lat, mu_long, driven, power_per_kg = consts[4], consts[5], consts[6], consts[7]
    mass_share = consts[8]  # m / (m + m_add)
    speed2 = speed_mps * speed_mps
    normal_mps2 = gravity + k_down * speed2
    lat_share = speed2 * abs_kappa_1pm / (mu_lat * normal_mps2)
    ellipse = math.sqrt(max(0.0, 1.0 - lat_share * lat_share))
    resist_mps2 = k_drag * speed2 + roll_mps2
    if braking:
        return mu_long * normal_mps2 * ellipse + resist_mps2
    traction_mps2 = mu_long * driven * normal_mps2 * ellipse - resist_mps2
    if speed_mps > 0.0:
        # the power also spins up the rotating parts: (m + m_add) a = P / v - R
        power_mps2 = power_per_kg / speed_mps - resist_mps2 * mass_share
        return min(traction_mps2, power_mps2)
    return traction_mps2


@njit(cache=True)
def _sweep(
    cap_mps: FloatArray,
    abs_kappa_1pm: FloatArray,
    seg_len_m: FloatArray,
    consts: FloatArray,
    start: int,
    start_speed_mps: float,
    closed: bool,
    forward: bool,
) -> FloatArray:
    """One pass of the profile: forward (accelerating) or backward (braking).

    Starts at ``start`` with ``start_speed_mps`` (capped) and steps, in the pass's
    direction, to each next point: ``v_next^2 = v^2 + 2 a ds`` with ``a`` evaluated at
    the known point, then capped by ``cap_mps``. A closed pass wraps around and repeats
    until the start speed it comes back with agrees with the one it left with; an open
    pass stops at the end of the line.
    """
    num_points = cap_mps.size
    speed = cap_mps.copy()
    speed[start] = min(start_speed_mps, cap_mps[start])
    steps = num_points if closed else (num_points - 1 - start if forward else start)
    for _ in range(_MAX_LAPS):
        here = start
        change_mps = 0.0
        for step in range(steps):
            # Going backwards, the braking deceleration is what the speed may gain.
            if forward:
                there = here + 1 if here + 1 < num_points else 0
                ds_m = seg_len_m[here]
                gain_mps2 = _net_accel(speed[here], abs_kappa_1pm[here], consts, False)
            else:
                there = here - 1 if here > 0 else num_points - 1
                ds_m = seg_len_m[there]
                gain_mps2 = _net_accel(speed[here], abs_kappa_1pm[here], consts, True)
            speed2 = speed[here] * speed[here] + 2.0 * gain_mps2 * ds_m
            new = math.sqrt(speed2) if speed2 > 0.0 else 0.0
            new = min(new, cap_mps[there])
            if step == num_points - 1:
                change_mps = abs(new - speed[there])
            speed[there] = new
            here = there
        if not closed or change_mps <= _CONVERGED_MPS:
            break
    return speed

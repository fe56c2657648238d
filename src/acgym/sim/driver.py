"""The expert driver: path tracking on the reference line and speed-profile tracking.

Vectorised over the N cars of a :class:`~acgym.sim.session.SimSession`: :meth:`controls`
reads the cars' states and returns ``(N, 3)`` controls in the simulator's ranges (steer,
acc, brake in [-1, 1]; -1 = full left / released). Gear shifts are left to the
simulator's automatic shifter.

**Lateral** (pure pursuit with a speed-dependent look-ahead, a steady-state
feed-forward, and a yaw-rate loop). The target point is on the reference line
``L_d = clip(look_ahead_m + look_ahead_s * v)`` ahead of the car's projection; pure
pursuit (Coulter 1992) turns it into the path curvature ``kappa = 2 y_t / d_t^2``
(``(x_t, y_t)`` the target in the frame of the car's direction of travel, ``d_t`` its
distance). That direction is the heading plus the sideslip the car has in a steady turn on
the line there, ``lr kappa_line - alpha_r`` (Kapania & Gerdes 2015): measured from the
heading alone, a car on the line at the limit (nose in by 2-3 degrees) sees the target
beside it and settles about a metre wide. The road-wheel angle is the steady-state
angle for ``kappa`` at the car's speed: the kinematic angle ``atan(L kappa)`` plus the
front minus the rear axle's steady slip angle at the lateral acceleration ``v^2 kappa``
(:func:`steady_slip_table`, the tyres' Magic Formula with downforce and load transfer)
plus the front's compliance steer; then a yaw-rate loop ``K_r L (kappa - r / v)``,
normalised by the car's kinematic yaw gain ``v / L``, adds lock while the car turns less
than asked and takes it off while it turns more. Two limits act like a driver's hands:
when the rear tyres slide past their peak slip angle the angle is blended towards the
direction of the front axle's velocity (catching the slide), and the front tyres are
never steered more than ``front_slip_limit`` times their peak slip angle (more lock only
scrubs); both angles include the front's compliance steer, which the rack has to make up
for. The angle goes back through the steering ratio and the inverse of the car's steer
map to a steer input.

**Longitudinal** (the speed profile, PI with feed-forward). The target is the speed
profile of the track's reference line (:func:`acgym.track.speed_profile.speed_profile`
with the car's :meth:`~acgym.sim.car_params.CarParams.vehicle_limits`, the friction
scaled by ``lateral_grip_margin`` / ``longitudinal_grip_margin``), read ``preview_s``
ahead for the lags of the brakes and the load transfer. The profile's acceleration is
the feed-forward (its braking fades out while the car is slower than the profile) and a
PI loop on the speed error closes the gap. A positive command is throttle (the power it
takes, with the profile's added mass for the rotating parts), a negative one brake status
(over the deceleration of the full brake torque). The feet of a driver: the throttle ceiling drops while a driven
wheel spins past its peak slip ratio or the front tyres work past ``understeer_limit`` of
their peak slip angle (the front washing out: drive would take load off it), recovering
at ``ceiling_recovery_per_s``; threshold braking: on a car without ABS the brake ceiling
rises and falls with the most locked wheel's slip ratio below and above
``lock_slip_target`` of its peak (the simulator's ABS does this for the cars that have
one).

The driver keeps no state across laps but the PI integral and the two ceilings
(:meth:`reset` clears them); it is deterministic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError
from acgym.sim import layout as L
from acgym.sim.car_params import CarParams
from acgym.sim.session import SimSession
from acgym.track.speed_profile import SpeedProfile, VehicleLimits, speed_profile
from acgym.units import GRAVITY_MPS2

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class DriverConfig:
    """Gains and margins of the expert driver (the defaults drive every preset on every
    built-in track).

    Attributes:
        lateral_grip_margin: Factor on the cars' lateral friction in the tracked profile.
        longitudinal_grip_margin: Factor on the cars' longitudinal friction (0.85: a car
            without ABS braking in a turn locks its inside front wheel, unloaded by the
            lateral transfer under the same brake torque as the outside one, before the
            profile's one friction ellipse is used up; at 0.95 the F317 and the MX-5 ran
            off the road in long braking turns into hairpins).
        look_ahead_m: Pure-pursuit look-ahead at a standstill, m.
        look_ahead_s: Look-ahead added per m/s of speed, s.
        max_look_ahead_m: Longest look-ahead, m.
        yaw_rate_gain: Yaw-rate loop gain (road-wheel angle per unit of ``L (kappa - r/v)``).
        catch_start: Rear slip angle, in peaks, where catching a slide starts.
        catch_span: Further rear slip, in peaks, over which the catch becomes complete.
        front_slip_limit: Largest front slip angle steered for, in peaks.
        understeer_limit: Front slip angle, in peaks, past which the throttle ceiling is
            cut (the front is washing out: more drive would take its load away).
        preview_s: How far ahead (in time at the current speed) the profile is read, s.
        speed_gain_1ps: Proportional gain of the speed loop, (m/s^2)/(m/s).
        speed_integral_1ps2: Integral gain of the speed loop, (m/s^2)/m.
        integral_limit_mps2: Bound of the integral term, m/s^2.
        feedforward_band_mps: The profile's braking fades out over this much of the car
            being slower than the profile, m/s.
        slip_ratio_limit: Slip ratio, in peaks, past which a driven wheel spins.
        ceiling_cut: Factor on the throttle ceiling in each step a wheel spins or the
            front washes out.
        ceiling_recovery_per_s: Rate at which the throttle ceiling recovers, 1/s.
        lock_slip_target: Braking slip ratio, in peaks, that threshold braking holds the
            most locked wheel at (cars without ABS).
        lock_gain_per_s: Rate of the brake ceiling per peak of slip-ratio error, 1/s.
    """

    lateral_grip_margin: float = 0.95
    longitudinal_grip_margin: float = 0.85
    look_ahead_m: float = 4.0
    look_ahead_s: float = 0.3
    max_look_ahead_m: float = 80.0
    yaw_rate_gain: float = 0.4
    catch_start: float = 0.9
    catch_span: float = 0.5
    front_slip_limit: float = 1.1
    understeer_limit: float = 0.95
    preview_s: float = 0.12
    speed_gain_1ps: float = 1.5
    speed_integral_1ps2: float = 0.3
    integral_limit_mps2: float = 2.0
    feedforward_band_mps: float = 2.0
    slip_ratio_limit: float = 1.0
    ceiling_cut: float = 0.7
    ceiling_recovery_per_s: float = 4.0
    lock_slip_target: float = 0.85
    lock_gain_per_s: float = 5.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ConfigError(f"DriverConfig.{field.name}: expected >= 0, got {value}")
        for name in ("lateral_grip_margin", "longitudinal_grip_margin"):
            if not 0.0 < getattr(self, name) <= 1.5:
                raise ConfigError(
                    f"DriverConfig.{name}: expected in (0, 1.5], got {getattr(self, name)}"
                )
        if self.catch_span <= 0.0 or self.ceiling_cut >= 1.0:
            raise ConfigError("DriverConfig: catch_span must be > 0 and ceiling_cut < 1")


def yaw_settling_mps2(car: CarParams) -> float:
    """``v`` times the slower rate of the car's linear (bicycle-model) lateral modes, m/s^2.

    With axle cornering stiffnesses ``C = 2 B C D`` at the static loads (Magic Formula
    slope at zero slip), the sideslip mode settles at ``(C_f + C_r) / (m v)`` and the yaw
    mode at ``(C_f l_f^2 + C_r l_r^2) / (I_z v)``, 1/s; the smaller numerator is returned.
    """
    chassis = car.chassis
    front_n, rear_n = car.static_axle_loads_n
    stiffness = []
    for tyre, load in ((car.front_tyre, front_n), (car.rear_tyre, rear_n)):
        stiffness.append(tyre.b_y * tyre.shape_y * tyre.peak_mu(0.5 * load)[1] * load)
    c_f, c_r = stiffness
    sideslip = (c_f + c_r) / chassis.mass_kg
    yaw = (c_f * chassis.lf_m**2 + c_r * chassis.lr_m**2) / chassis.yaw_inertia_kgm2
    return min(sideslip, yaw)


def margin_limits(limits: VehicleLimits, config: DriverConfig) -> VehicleLimits:
    """``limits`` with the friction scaled by the driver's margins."""
    return dataclasses.replace(
        limits,
        mu_lat=limits.mu_lat * config.lateral_grip_margin,
        mu_long=limits.mu_long * config.longitudinal_grip_margin,
    )


SLIP_TABLE_SPEEDS = 21
"""Speeds of the steady slip-angle table, from 0 to the car's top speed."""
SLIP_TABLE_ACCELS = 33
"""Lateral accelerations of the table, from 0 to 1.25 times the car's limit at top speed."""


def steady_slip_table(car: CarParams) -> tuple[float, float, FloatArray]:
    """The car's steady-state front and rear slip angles
    (:meth:`~acgym.sim.car_params.CarParams.steady_slip_angles_rad`) on a grid.

    Returns:
        ``(speed_step_mps, accel_step_mps2, table)``: ``table[i, j]`` the front and rear
        slip angles (rad) at ``i * speed_step_mps`` and ``j * accel_step_mps2``,
        ``(SLIP_TABLE_SPEEDS, SLIP_TABLE_ACCELS, 2)``.
    """
    top_mps = car.top_speed_mps()
    speed_step = top_mps / (SLIP_TABLE_SPEEDS - 1)
    accel_step = 1.25 * car.lateral_limit_mps2(top_mps) / (SLIP_TABLE_ACCELS - 1)
    shares = np.array(
        [
            [
                car.axle_lateral_shares(i * speed_step, j * accel_step)
                for j in range(SLIP_TABLE_ACCELS)
            ]
            for i in range(SLIP_TABLE_SPEEDS)
        ]
    )
    table = np.stack(
        (
            car.front_tyre.lateral_slip_angle_rad(shares[..., 0]),
            car.rear_tyre.lateral_slip_angle_rad(shares[..., 1]),
        ),
        axis=-1,
    )
    return speed_step, accel_step, table


class ExpertDriver:
    """Drives every car of a session along its track's reference line at the profile's speed.

    Args:
        session: The cars and the track.
        config: Gains and margins.

    Attributes:
        profiles: Per car, the speed profile it tracks (friction scaled by the margins).
        reference_profiles: Per car, the profile with the car's own ``vehicle_limits()``:
            its ``lap_time_s`` is the lap-time estimate a flying lap is measured against.
    """

    def __init__(self, session: SimSession, config: DriverConfig | None = None) -> None:
        self.session = session
        self.config = config or DriverConfig()
        track = session.track
        cars: tuple[CarParams, ...] = session.world.cars
        # one profile pair, one set of maps per distinct car (cars of one preset share it)
        profiles: dict[int, tuple[SpeedProfile, SpeedProfile]] = {}
        car_limits: dict[int, VehicleLimits] = {}
        groups: dict[int, list[int]] = {}
        for i, car in enumerate(cars):
            groups.setdefault(id(car), []).append(i)
            if id(car) not in profiles:
                car_limits[id(car)] = limits = car.vehicle_limits()
                profiles[id(car)] = (
                    speed_profile(track.line_m, margin_limits(limits, self.config)),
                    speed_profile(track.line_m, limits),
                )
        self.profiles = tuple(profiles[id(car)][0] for car in cars)
        self.reference_profiles = tuple(profiles[id(car)][1] for car in cars)
        # per-car tables and constants, (N, ...) arrays
        self._groups = [(np.array(idx), cars[idx[0]]) for idx in groups.values()]
        self._speed = np.stack([p.speed_mps for p in self.profiles])
        self._accel = np.stack([p.long_accel_mps2 for p in self.profiles])
        self._knots_m = np.append(track.line_s_m, track.length_m)
        self._wheelbase = np.array([c.chassis.wheelbase_m for c in cars])
        self._lf = np.array([c.chassis.lf_m for c in cars])
        self._lr = np.array([c.chassis.lr_m for c in cars])
        self._alpha_peak_f = np.array([c.front_tyre.peak_slip_angle_rad for c in cars])
        self._alpha_peak_r = np.array([c.rear_tyre.peak_slip_angle_rad for c in cars])
        self._kappa_peak = np.array(
            [[c.front_tyre.peak_slip_ratio] * 2 + [c.rear_tyre.peak_slip_ratio] * 2 for c in cars]
        )
        self._has_abs = np.array([c.brakes.abs for c in cars])
        self._front_compliance = np.array(  # rad of front compliance steer per m/s^2
            [
                math.radians(c.chassis.front_cornering_compliance_deg_per_g) / GRAVITY_MPS2
                for c in cars
            ]
        )
        self._line_kappa = track.line_curvature_1pm
        self._yaw_rate_const = np.array([yaw_settling_mps2(c) for c in cars])
        limits = [car_limits[id(c)] for c in cars]
        self._power_per_kg = np.array([lim.max_power_w / lim.mass_kg for lim in limits])
        # the power also accelerates the rotating parts (the profile's added mass)
        self._mass_factor = np.array([1.0 + lim.added_mass_kg / lim.mass_kg for lim in limits])
        self._drag_per_kg = np.array([lim.drag_per_mass_1pm for lim in limits])
        self._roll_mps2 = np.array([lim.rolling_resistance * GRAVITY_MPS2 for lim in limits])
        # deceleration of the full brake torque (brake status 1) on a rolling car
        self._brake_full_mps2 = np.array(
            [
                c.brakes.max_torque_nm
                * (
                    c.brakes.front_fraction / c.front_tyre.radius_m
                    + (1.0 - c.brakes.front_fraction) / c.rear_tyre.radius_m
                )
                / c.chassis.mass_kg
                for c in cars
            ]
        )
        tables = {id(car): steady_slip_table(car) for _, car in self._groups}
        self._slip_steps = np.array([tables[id(c)][:2] for c in cars])
        self._slip_table = np.stack([tables[id(c)][2] for c in cars])
        self._dt_s = session.world.control_dt_s
        n = session.num_cars
        self._integral = np.zeros(n)
        self._gas_ceiling = np.ones(n)
        self._brake_ceiling = np.ones(n)
        self._rows = np.arange(n)

    def reset(self, car_indices: ArrayLike | None = None) -> None:
        """Forget the speed loop's integral and the pedal ceilings (all cars, or some)."""
        idx = slice(None) if car_indices is None else np.asarray(car_indices)
        self._integral[idx] = 0.0
        self._gas_ceiling[idx] = 1.0
        self._brake_ceiling[idx] = 1.0

    def target_speed_mps(self, distance_m: ArrayLike) -> FloatArray:
        """``(N,)`` the tracked profile's speed at each car's distance along the line, m/s."""
        return self._sample(self._speed, np.asarray(distance_m, dtype=np.float64))

    def _sample(self, table: FloatArray, distance_m: FloatArray) -> FloatArray:
        """Linear interpolation of per-car, per-line-point ``table`` ``(N, M)`` at ``(N,)``."""
        knots = self._knots_m
        s = distance_m % knots[-1]
        index = np.clip(np.searchsorted(knots, s, side="right") - 1, 0, len(knots) - 2)
        nxt = (index + 1) % (len(knots) - 1)
        w = (s - knots[index]) / (knots[index + 1] - knots[index])
        here = table[self._rows, index]
        return here + w * (table[self._rows, nxt] - here)

    def steady_slip_rad(self, speed_mps: FloatArray, ay_mps2: FloatArray) -> FloatArray:
        """``(N, 2)`` front and rear slip angles of each car's steady turn at ``ay_mps2``
        (:func:`steady_slip_table`, bilinear), rad, with the sign of ``ay_mps2``."""
        _, num_speeds, num_accels, _ = self._slip_table.shape
        u = np.clip(speed_mps / self._slip_steps[:, 0], 0.0, num_speeds - 1.000001)
        w = np.clip(np.abs(ay_mps2) / self._slip_steps[:, 1], 0.0, num_accels - 1.000001)
        i, j = u.astype(np.int64), w.astype(np.int64)
        u = (u - i)[:, None]
        w = (w - j)[:, None]
        t = self._slip_table
        rows = self._rows
        low = (1.0 - w) * t[rows, i, j] + w * t[rows, i, j + 1]
        high = (1.0 - w) * t[rows, i + 1, j] + w * t[rows, i + 1, j + 1]
        return np.sign(ay_mps2)[:, None] * ((1.0 - u) * low + u * high)

    def controls(self) -> FloatArray:
        """``(N, 3)`` steer, acc, brake for the cars' current states."""
        cfg = self.config
        session = self.session
        state = session.world.state
        outputs = session.world.outputs
        vx = state[:, L.S_VX_MPS]
        vy = state[:, L.S_VY_MPS]
        r = state[:, L.S_YAW_RATE_RADPS]
        yaw = state[:, L.S_YAW_RAD]
        speed = np.hypot(vx, vy)
        v_safe = np.maximum(speed, 5.0)
        vx_safe = np.maximum(vx, 1.0)
        s_m = session.distance_m

        # --- lateral: pure pursuit + yaw-rate loop --------------------------------------
        look_m = np.clip(
            cfg.look_ahead_m + cfg.look_ahead_s * speed, cfg.look_ahead_m, cfg.max_look_ahead_m
        )
        target, _ = session.track.line_point_at(s_m + look_m)
        dx = target[:, 0] - state[:, L.S_X_M]
        dy = target[:, 1] - state[:, L.S_Y_M]
        # the target is seen along the direction the car would travel in a steady turn
        # on the line here (heading + its steady sideslip lr kappa - alpha_r), so that
        # the sideslip of a car on the line is not taken for a heading error
        line_kappa = session.track.line_value_at(s_m, self._line_kappa)
        steady_rear = self.steady_slip_rad(speed, speed * speed * line_kappa)[:, 1]
        course = yaw + self._lr * line_kappa - steady_rear
        c, sn = np.cos(course), np.sin(course)
        x_t = c * dx + sn * dy
        y_t = c * dy - sn * dx
        kappa = 2.0 * y_t / np.maximum(x_t * x_t + y_t * y_t, 1e-6)
        # feed-forward: the kinematic angle, the axles' steady slip angles and the front's
        # compliance steer at the lateral acceleration of that curvature
        ay_ff = speed * speed * kappa
        slip_ff = self.steady_slip_rad(speed, ay_ff)
        delta = np.arctan(self._wheelbase * kappa) + slip_ff[:, 0] - slip_ff[:, 1]
        delta += self._front_compliance * ay_ff
        # the loop gain per control period is yaw_rate_gain whatever the car and speed:
        # the car's yaw rate settles with the rate lambda = yaw_rate_const / v
        settle = 1.0 - np.exp(-self._dt_s * self._yaw_rate_const / v_safe)
        delta += cfg.yaw_rate_gain / settle * self._wheelbase * (kappa - r / v_safe)
        # the direction of the front axle's velocity: steering there zeroes its slip angle
        # (plus the front's compliance steer, which the rack's angle has to make up for)
        centre = np.arctan2(vy + self._lf * r, vx_safe)
        centre += self._front_compliance * state[:, L.S_AY_FILT_MPS2]
        rear_slip = np.abs(np.arctan2(vy - self._lr * r, vx_safe)) / self._alpha_peak_r
        catch = np.clip((rear_slip - cfg.catch_start) / cfg.catch_span, 0.0, 1.0)
        delta = (1.0 - catch) * delta + catch * centre
        window = cfg.front_slip_limit * self._alpha_peak_f
        delta = np.clip(delta, centre - window, centre + window)

        # --- longitudinal: the profile ahead, PI + feed-forward -------------------------
        ahead_m = s_m + speed * cfg.preview_s
        v_ref = self._sample(self._speed, ahead_m)
        a_ff = self._sample(self._accel, ahead_m)
        error = v_ref - speed
        self._integral = np.clip(
            self._integral + cfg.speed_integral_1ps2 * error * self._dt_s,
            -cfg.integral_limit_mps2,
            cfg.integral_limit_mps2,
        )
        # the profile's braking is for a car on it: it fades out while the car is slower
        fade = np.where(a_ff < 0.0, np.clip(1.0 - error / cfg.feedforward_band_mps, 0.0, 1.0), 1.0)
        a_cmd = fade * a_ff + cfg.speed_gain_1ps * error + self._integral
        resist = self._drag_per_kg * speed * speed + self._roll_mps2
        drive = a_cmd + resist
        gas = np.clip((self._mass_factor * a_cmd + resist) * v_safe / self._power_per_kg, 0.0, 1.0)
        brake_status = np.clip(-drive / self._brake_full_mps2, 0.0, 1.0)

        # --- the feet: pedal ceilings cut on wheelspin / lock-up, then recover ----------
        slip = outputs[:, L.O_SLIP_RATIO : L.O_SLIP_RATIO + 4] / self._kappa_peak
        recover = cfg.ceiling_recovery_per_s * self._dt_s
        spinning = np.max(slip[:, 2:], axis=1) > cfg.slip_ratio_limit
        # the front past its peak: wait with the throttle (drive moves load off the front)
        spinning |= np.abs(delta - centre) / self._alpha_peak_f > cfg.understeer_limit
        self._gas_ceiling = np.where(
            spinning,
            self._gas_ceiling * cfg.ceiling_cut,
            np.minimum(self._gas_ceiling + recover, 1.0),
        )
        # threshold braking (cars without ABS): the brake ceiling follows the most
        # locked wheel's slip to lock_slip_target
        lock = np.max(-slip, axis=1)
        self._brake_ceiling = np.where(
            self._has_abs,
            1.0,
            np.clip(
                self._brake_ceiling
                + cfg.lock_gain_per_s * (cfg.lock_slip_target - lock) * self._dt_s,
                0.0,
                1.0,
            ),
        )
        gas = np.minimum(gas, self._gas_ceiling)
        brake_status = np.minimum(brake_status, self._brake_ceiling)

        # --- to the simulator's inputs (inverse steer and brake maps) -------------------
        out = np.empty((session.num_cars, 3))
        out[:, 1] = 2.0 * gas - 1.0
        for idx, car in self._groups:
            wheel_deg = -np.degrees(delta[idx]) * car.steering.ratio  # AC: negative = left
            out[idx, 0] = car.steering.map.to_steer(wheel_deg)
            out[idx, 2] = car.brake_map.input(brake_status[idx])
        return out

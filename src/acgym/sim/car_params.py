"""Car presets: ``cars/<name>/car.yaml`` + ``steer_map.csv`` + ``brake_map.csv``.

A car is a folder. ``car.yaml`` holds the physical parameters in SI units, each either a
plain number or ``{value: ..., source: "..."}`` saying where the number comes from;
``steer_map.csv`` and ``brake_map.csv`` use the original project's formats and are read by
:mod:`acgym.car_maps`, the one reader the environment uses too (a folder one accepts the
other accepts, with the same numbers).

Add a car by adding a folder (in ``acgym/sim/cars/`` or anywhere, loaded by path): no code.
:func:`load_car` returns a frozen :class:`CarParams` tree; :func:`car_param_array` packs it
into the flat ``float64`` array the compiled kernels read (columns in
:mod:`acgym.sim.layout`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar

from acgym.car_maps import BrakeMap, CarMaps, SteerMap
from acgym.errors import CarFileError
from acgym.sim import layout as L
from acgym.sim.tyres import load_friction, magic_formula, magic_formula_curve, stiffness_factor
from acgym.track.speed_profile import VehicleLimits
from acgym.units import AIR_DENSITY_KGPM3, GRAVITY_MPS2, RPM_PER_RADPS

CARS_DIR = Path(__file__).resolve().parent / "cars"
"""Folder of the built-in car presets."""

CAR_FILE = "car.yaml"


@dataclass(frozen=True)
class Chassis:
    """Rigid-body and suspension parameters.

    Attributes:
        mass_kg: Mass with driver and fuel, kg.
        yaw_inertia_kgm2: Moment of inertia about the vertical axis, kg m^2.
        wheelbase_m: Front to rear axle, m.
        front_weight_fraction: Share of the static weight on the front axle.
        track_front_m: Front track width, m.
        track_rear_m: Rear track width, m.
        cog_height_m: Centre-of-gravity height, m.
        front_roll_stiffness_fraction: Share of the lateral load transfer on the front axle.
        load_transfer_time_constant_s: Lag of the load transfer behind the accelerations
            (suspension and tyre dynamics), s.
        front_cornering_compliance_deg_per_g: The front axle's cornering compliance beyond
            its tyres (Bundorf and Leffert 1976: roll steer, roll camber, lateral-force and
            aligning-torque compliance steer), deg of steer per g of lateral acceleration;
            positive steers the axle out of the turn (understeer). Optional, default 0.
        rear_cornering_compliance_deg_per_g: The same for the rear axle; positive steers it
            out of the turn (oversteer), negative into it (understeer). The understeer
            gradient gains ``front - rear``. Optional, default 0.
    """

    mass_kg: float
    yaw_inertia_kgm2: float
    wheelbase_m: float
    front_weight_fraction: float
    track_front_m: float
    track_rear_m: float
    cog_height_m: float
    front_roll_stiffness_fraction: float
    load_transfer_time_constant_s: float
    front_cornering_compliance_deg_per_g: float = 0.0
    rear_cornering_compliance_deg_per_g: float = 0.0

    @property
    def lf_m(self) -> float:
        """CoG to front axle, m."""
        return self.wheelbase_m * (1.0 - self.front_weight_fraction)

    @property
    def lr_m(self) -> float:
        """CoG to rear axle, m."""
        return self.wheelbase_m * self.front_weight_fraction


@dataclass(frozen=True)
class Aero:
    """Aerodynamic coefficients (forces grow with the square of the forward speed).

    Attributes:
        drag_area_m2: Cd * A, m^2.
        downforce_area_m2: Cl * A, m^2, positive = downforce (negative = lift).
        front_downforce_fraction: Share of the downforce acting on the front axle.
    """

    drag_area_m2: float
    downforce_area_m2: float
    front_downforce_fraction: float


@dataclass(frozen=True)
class Tyre:
    """One axle's tyres: size, spin inertia and Magic Formula parameters.

    Attributes:
        radius_m: Rolling radius, m.
        wheel_inertia_kgm2: Spin inertia of one wheel, tyre and brake disc, kg m^2.
        mu_x: Peak longitudinal friction coefficient at ``nominal_load_n``.
        mu_y: Peak lateral friction coefficient at ``nominal_load_n``.
        peak_slip_ratio: Slip ratio at the longitudinal peak.
        peak_slip_angle_rad: Slip angle at the lateral peak, rad.
        shape_x: Magic Formula ``C`` (longitudinal).
        curvature_x: Magic Formula ``E`` (longitudinal).
        shape_y: Magic Formula ``C`` (lateral).
        curvature_y: Magic Formula ``E`` (lateral).
        nominal_load_n: Load at which ``mu_x``/``mu_y`` hold, N.
        load_sensitivity: Relative change of mu per unit relative load change (< 0).
        rolling_resistance: Rolling-resistance coefficient on the track.
    """

    radius_m: float
    wheel_inertia_kgm2: float
    mu_x: float
    mu_y: float
    peak_slip_ratio: float
    peak_slip_angle_rad: float
    shape_x: float
    curvature_x: float
    shape_y: float
    curvature_y: float
    nominal_load_n: float
    load_sensitivity: float
    rolling_resistance: float

    @property
    def b_x(self) -> float:
        """Magic Formula ``B`` (longitudinal), per unit slip ratio."""
        return stiffness_factor(self.peak_slip_ratio, self.shape_x, self.curvature_x)

    @property
    def b_y(self) -> float:
        """Magic Formula ``B`` (lateral), 1/rad."""
        return stiffness_factor(self.peak_slip_angle_rad, self.shape_y, self.curvature_y)

    def longitudinal_share(self, slip_fraction: float) -> float:
        """Longitudinal force at ``slip_fraction`` of the peak slip ratio, as a share of the
        peak (pure slip; e.g. where an ABS regulates)."""
        return float(
            magic_formula(
                slip_fraction * self.peak_slip_ratio, self.b_x, self.shape_x, self.curvature_x
            )
        )

    def lateral_slip_angle_rad(self, share: NDArray[np.float64]) -> NDArray[np.float64]:
        """Slip angle at which the pure lateral force is ``share`` of its peak, rad.

        The inverse of the Magic Formula's rising branch (``share`` clipped to [0, 1]; 1
        gives ``peak_slip_angle_rad``); a sampled inverse, fine to 1e-4 of the peak angle.
        """
        alpha = np.linspace(0.0, self.peak_slip_angle_rad, 2049)
        curve = magic_formula_curve(alpha, self.b_y, self.shape_y, self.curvature_y)
        return np.interp(np.clip(share, 0.0, 1.0), curve, alpha)

    def peak_mu(self, load_n: float) -> tuple[float, float]:
        """Peak ``(mu_x, mu_y)`` at ``load_n`` (load sensitivity applied)."""
        return (
            float(load_friction(self.mu_x, self.load_sensitivity, load_n, self.nominal_load_n)),
            float(load_friction(self.mu_y, self.load_sensitivity, load_n, self.nominal_load_n)),
        )


@dataclass(frozen=True)
class Engine:
    """Engine: full-load torque curve, limiter, clutch launch speed, friction.

    Attributes:
        idle_rpm: Idle speed, rev/min.
        limiter_rpm: Rev-limiter speed, rev/min (torque is zero at and above it).
        limiter_band_rpm: Width of the torque cut below the limit, rev/min.
        launch_rpm: Engine speed while the clutch slips from a standstill, rev/min.
        inertia_kgm2: Crankshaft + flywheel + clutch inertia, kg m^2.
        engine_brake_torque_nm: Friction torque at the limiter with the throttle closed
            (proportional to rpm), N m.
        torque_curve_rpm: Speeds of the full-load curve, increasing, rev/min.
        torque_curve_nm: Full-load torque at those speeds, N m.
    """

    idle_rpm: float
    limiter_rpm: float
    limiter_band_rpm: float
    launch_rpm: float
    inertia_kgm2: float
    engine_brake_torque_nm: float
    torque_curve_rpm: tuple[float, ...]
    torque_curve_nm: tuple[float, ...]

    def full_load_torque_nm(self, rpm: float) -> float:
        """Full-load torque at ``rpm`` (linear interpolation, limiter applied), N m."""
        torque = float(np.interp(rpm, self.torque_curve_rpm, self.torque_curve_nm))
        cut = (self.limiter_rpm - rpm) / self.limiter_band_rpm
        return torque * min(max(cut, 0.0), 1.0)

    def peak_power_w(self) -> tuple[float, float]:
        """``(power_w, rpm)`` of the highest full-load power (curve sampled every 10 rpm)."""
        rpm = np.arange(self.torque_curve_rpm[0], self.limiter_rpm + 1.0, 10.0)
        power = np.array([self.full_load_torque_nm(r) for r in rpm]) * rpm / RPM_PER_RADPS
        best = int(np.argmax(power))
        return float(power[best]), float(rpm[best])


@dataclass(frozen=True)
class Gearbox:
    """Gearbox, final drive and shifting.

    Attributes:
        ratios: Forward gear ratios, first gear first.
        reverse_ratio: Reverse gear ratio (positive number).
        final_drive: Final-drive ratio.
        efficiency: Share of the engine torque that reaches the wheels.
        shift_time_s: Time the clutch stays open during a shift, s.
        upshift_rpm: The automatic shifter shifts up at this engine speed, rev/min.
        downshift_rpm: The automatic shifter shifts down below this speed, rev/min.
    """

    ratios: tuple[float, ...]
    reverse_ratio: float
    final_drive: float
    efficiency: float
    shift_time_s: float
    upshift_rpm: float
    downshift_rpm: float


@dataclass(frozen=True)
class Differential:
    """Rear limited-slip differential (clutch type): open diff + a locking clutch.

    The clutch between the two output shafts carries up to
    ``preload_nm + power_lock * |input torque|``; 0 and 0 is an open differential,
    large values a locked (spool) axle.

    Attributes:
        preload_nm: Locking torque with no drive torque, N m.
        power_lock: Locking torque per unit of input torque.
    """

    preload_nm: float
    power_lock: float


@dataclass(frozen=True)
class Brakes:
    """Brakes.

    Attributes:
        max_torque_nm: Total brake torque of the four wheels at brake status 1, N m.
        front_fraction: Brake bias, share of the torque on the front wheels.
        abs: Anti-lock brakes: no braked wheel's slip ratio passes the ABS target.
        abs_slip_fraction: The ABS target slip ratio as a share of the tyre's peak slip
            ratio (ABS regulates a little below the peak, where the tyre keeps more of its
            lateral grip). Optional, default 0.85.
    """

    max_torque_nm: float
    front_fraction: float
    abs: bool
    abs_slip_fraction: float = 0.85


@dataclass(frozen=True)
class Steering:
    """Steering: normalized input -> steering-wheel degrees (the steer map) -> road-wheel angle.

    Attributes:
        ratio: Steering-wheel angle / road-wheel angle.
        map: The car's ``steer_map.csv`` (its ends are the steering lock).
    """

    ratio: float
    map: SteerMap


@dataclass(frozen=True)
class CarParams:
    """Everything the simulator knows about one car.

    Attributes:
        name: Preset name (folder name), e.g. ``bmw_z4_gt3``.
        description: What car this is.
        chassis, aero, front_tyre, rear_tyre, engine, gearbox, differential, brakes,
        steering: The steering ratio and steer map.
        brake_map: The car's ``brake_map.csv``.
        sources: Reference keys -> citations, for the ``source`` fields.
        path: Folder the car was loaded from.
    """

    name: str
    description: str
    chassis: Chassis
    aero: Aero
    front_tyre: Tyre
    rear_tyre: Tyre
    engine: Engine
    gearbox: Gearbox
    differential: Differential
    brakes: Brakes
    steering: Steering
    brake_map: BrakeMap
    sources: tuple[tuple[str, str], ...]
    path: str

    @property
    def static_axle_loads_n(self) -> tuple[float, float]:
        """Static ``(front, rear)`` axle loads, N (they sum to m g)."""
        weight_n = self.chassis.mass_kg * GRAVITY_MPS2
        front = weight_n * self.chassis.front_weight_fraction
        return front, weight_n - front

    def top_gear_speed_mps(self) -> float:
        """Road speed at the rev limiter in top gear, m/s."""
        ratio = self.gearbox.ratios[-1] * self.gearbox.final_drive
        return self.engine.limiter_rpm / RPM_PER_RADPS / ratio * self.rear_tyre.radius_m

    def top_speed_mps(self) -> float:
        """Top speed on a straight, m/s: where the top gear's drive force at full throttle
        (torque curve with the limiter's cut, ratios, efficiency) meets drag and rolling
        resistance (on the axle loads with downforce); the limiter speed at most."""
        ratio = self.gearbox.ratios[-1] * self.gearbox.final_drive
        radius = self.rear_tyre.radius_m

        def surplus_n(speed: float) -> float:
            rpm = speed / radius * ratio * RPM_PER_RADPS
            drive = self.engine.full_load_torque_nm(rpm) * ratio * self.gearbox.efficiency
            down = 0.5 * AIR_DENSITY_KGPM3 * self.aero.downforce_area_m2 * speed**2
            front = self.static_axle_loads_n[0] + down * self.aero.front_downforce_fraction
            rear = self.static_axle_loads_n[1] + down * (1.0 - self.aero.front_downforce_fraction)
            rolling = (
                self.front_tyre.rolling_resistance * front
                + self.rear_tyre.rolling_resistance * rear
            )
            drag = 0.5 * AIR_DENSITY_KGPM3 * self.aero.drag_area_m2 * speed**2
            return drive / radius - drag - rolling

        low, high = 1.0, self.top_gear_speed_mps()
        if surplus_n(high) >= 0.0:
            return high
        for _ in range(100):
            middle = 0.5 * (low + high)
            if surplus_n(middle) > 0.0:
                low = middle
            else:
                high = middle
        return low

    def axle_grip_n(
        self, speed_mps: float, ax_mps2: float, ay_mps2: float
    ) -> tuple[float, float, float, float]:
        """Peak tyre forces of the axles at a steady state, N.

        Loads: static distribution, downforce with its front/rear split, longitudinal
        transfer ``m ax h / L`` and lateral transfer ``m ay h / t`` per axle (roll-stiffness
        split); each tyre gives ``mu(Fz) Fz`` (load sensitivity).

        Returns:
            ``(front_x, rear_x, front_y, rear_y)``: longitudinal and lateral peak forces of
            the front and rear axles.
        """
        c = self.chassis
        m, wb, h = c.mass_kg, c.wheelbase_m, c.cog_height_m
        down = 0.5 * AIR_DENSITY_KGPM3 * self.aero.downforce_area_m2 * speed_mps**2
        transfer = m * ax_mps2 * h / wb
        front = (
            m * GRAVITY_MPS2 * c.lr_m / wb + down * self.aero.front_downforce_fraction - transfer
        )
        rear = (
            m * GRAVITY_MPS2 * c.lf_m / wb
            + down * (1.0 - self.aero.front_downforce_fraction)
            + transfer
        )
        lat_f = c.front_roll_stiffness_fraction * m * ay_mps2 * h / c.track_front_m
        lat_r = (1.0 - c.front_roll_stiffness_fraction) * m * ay_mps2 * h / c.track_rear_m
        out = [0.0, 0.0, 0.0, 0.0]
        for axle, (tyre, load, lat) in enumerate(
            ((self.front_tyre, front, lat_f), (self.rear_tyre, rear, lat_r))
        ):
            for wheel_load in (0.5 * load - lat, 0.5 * load + lat):
                fz = max(wheel_load, 0.0)
                mu_x, mu_y = tyre.peak_mu(fz)
                out[axle] += mu_x * fz
                out[2 + axle] += mu_y * fz
        return out[0], out[1], out[2], out[3]

    def axle_lateral_shares(self, speed_mps: float, ay_mps2: float) -> tuple[float, float]:
        """Front and rear axles' lateral force in a steady turn at ``ay_mps2``, as shares
        of their peaks (:meth:`axle_grip_n`: downforce, lateral transfer, load
        sensitivity); the front carries ``m ay lr / L``, the rear ``m ay lf / L``. Flat
        road, no drive force; above 1 the axle cannot carry the turn."""
        c = self.chassis
        ay = abs(ay_mps2)
        _, _, front_y, rear_y = self.axle_grip_n(speed_mps, 0.0, ay)
        force = c.mass_kg * ay / c.wheelbase_m
        return force * c.lr_m / max(front_y, 1e-9), force * c.lf_m / max(rear_y, 1e-9)

    def steady_slip_angles_rad(self, speed_mps: float, ay_mps2: float) -> tuple[float, float]:
        """Front and rear slip angles that carry a steady turn at ``ay_mps2``, rad (>= 0).

        Both tyres of an axle at one slip angle: the pure-slip Magic Formula's shape is
        the same at every load, so the axle's force is that shape times the sum of its
        tyres' peaks, and the angle is the inverse of the shape at the axle's share
        (:meth:`axle_lateral_shares`); an axle asked for more than its peak gives its
        peak slip angle.
        """
        front, rear = self.axle_lateral_shares(speed_mps, ay_mps2)
        return (
            float(self.front_tyre.lateral_slip_angle_rad(np.array([front]))[0]),
            float(self.rear_tyre.lateral_slip_angle_rad(np.array([rear]))[0]),
        )

    def lateral_limit_mps2(self, speed_mps: float) -> float:
        """Steady-state cornering limit at a speed on a flat surface, m/s^2.

        The front axle must carry ``m ay lr / L`` and the rear ``m ay lf / L``; each gives
        its tyres' peak (see :meth:`axle_grip_n`, lateral transfer at ``ay``); the smaller
        ratio limits; the rear's lateral peak shrinks on its friction ellipse by the drive
        force that holds the speed against drag, rolling resistance and the front tyres'
        induced drag (side force times the sine of steer angle + peak slip angle). ``ay`` enters the
        loads: a fixed-point iteration. The differential and the transients are left out.
        """
        c = self.chassis
        # the driven rear tyres also push the car against drag and rolling resistance,
        # which takes its share of their friction ellipse
        down = 0.5 * AIR_DENSITY_KGPM3 * self.aero.downforce_area_m2 * speed_mps**2
        drive = 0.5 * AIR_DENSITY_KGPM3 * self.aero.drag_area_m2 * speed_mps**2
        drive += self.rear_tyre.rolling_resistance * (c.mass_kg * GRAVITY_MPS2 + down)
        ay = GRAVITY_MPS2
        for _ in range(100):
            _, rear_x, front_y, rear_y = self.axle_grip_n(speed_mps, 0.0, ay)
            # + the front tyres' induced drag: their side force tilted by the steer angle
            steer = (
                c.wheelbase_m * ay / max(speed_mps, 1.0) ** 2 + self.front_tyre.peak_slip_angle_rad
            )
            need = drive + c.mass_kg * ay * c.lr_m / c.wheelbase_m * math.sin(steer)
            rear_y *= math.sqrt(max(1.0 - (need / rear_x) ** 2, 0.0)) if rear_x > 0.0 else 0.0
            limit = min(
                front_y * c.wheelbase_m / (c.mass_kg * c.lr_m),
                rear_y * c.wheelbase_m / (c.mass_kg * c.lf_m),
            )
            if abs(limit - ay) < 1e-9:
                break
            ay = 0.5 * (ay + limit)
        return ay

    def braking_limit_mps2(self, speed_mps: float) -> float:
        """Steady-state braking limit from the tyres alone (no drag), m/s^2.

        With ABS every tyre works at the ABS target slip (``abs_slip_fraction`` of its peak
        slip ratio, a little under the peak force); without, the brake bias splits the
        brake force (torque share over the tyre radius) and the axle that reaches its peak
        first limits it. Longitudinal transfer at the deceleration: a fixed-point iteration.
        """
        front_share = self.brakes.front_fraction / self.front_tyre.radius_m
        rear_share = (1.0 - self.brakes.front_fraction) / self.rear_tyre.radius_m
        share = front_share / (front_share + rear_share)
        abs_front = self.front_tyre.longitudinal_share(self.brakes.abs_slip_fraction)
        abs_rear = self.rear_tyre.longitudinal_share(self.brakes.abs_slip_fraction)
        decel = GRAVITY_MPS2
        for _ in range(100):
            front_x, rear_x, _, _ = self.axle_grip_n(speed_mps, -decel, 0.0)
            force = (
                abs_front * front_x + abs_rear * rear_x
                if self.brakes.abs
                else min(front_x / share, rear_x / (1.0 - share))
            )
            limit = force / self.chassis.mass_kg
            if abs(limit - decel) < 1e-9:
                break
            decel = 0.5 * (decel + limit)
        return decel

    def vehicle_limits(self, fitted: bool = True) -> VehicleLimits:
        """The car's limits for the racing-line speed profile.

        The profile's point-mass model grips ``mu (g + k v^2)`` with ``k = 0.5 rho ClA / m``.
        With ``fitted`` (the default) ``mu_lat`` and the grip-equivalent ``downforce_area_m2``
        are the least-squares fit of :meth:`lateral_limit_mps2` from 10 m/s to the top-gear
        speed, and ``mu_long`` the fit of :meth:`braking_limit_mps2` with that ``k``, so the
        profile follows this car's tyre model (load sensitivity and load transfer cost a
        few per cent of grip at the limit, more with downforce; the fitted ``ClA`` is lower
        than ``aero.downforce_area_m2``). With ``fitted=False`` they are the Magic Formula
        peaks at each axle's static corner load, weighted by the axle loads, and the
        physical ``ClA``. Either way ``max_power_w`` is the peak engine power times the
        drivetrain efficiency (power at the wheels), ``max_speed_mps`` the top speed
        (:meth:`top_speed_mps`: the top gear's drive force against drag and rolling
        resistance, or the limiter) and ``driven_load_fraction`` the rear (driven) axle's
        share.

        ``added_mass_kg`` (the mass the power also accelerates): fitted, the least-squares
        fit of the times of :meth:`full_throttle_times_s` (the gear-by-gear run: torque
        curve, ratios, shift speeds and times, wheel and engine inertias) from 10 m/s to
        90 % of the top speed, so it also stands for the power between the torque peaks
        and the time lost in shifts (at 1.0 of the peak power a constant mass keeps the
        top speed); with ``fitted=False`` the rotating parts alone: the wheels and the
        engine in top gear (``sum I / r^2``).
        """
        front_n, rear_n = self.static_axle_loads_n
        total_n = front_n + rear_n
        power_w, _ = self.engine.peak_power_w()
        mu_xf, mu_yf = self.front_tyre.peak_mu(0.5 * front_n)
        mu_xr, mu_yr = self.rear_tyre.peak_mu(0.5 * rear_n)
        mu_lat = (mu_yf * front_n + mu_yr * rear_n) / total_n
        mu_long = (mu_xf * front_n + mu_xr * rear_n) / total_n
        downforce_area_m2 = self.aero.downforce_area_m2
        if fitted:
            speeds = np.linspace(10.0, self.top_gear_speed_mps(), 24)
            lateral = np.array([self.lateral_limit_mps2(v) for v in speeds])
            # lateral = mu g + mu k v^2: linear in (mu g, mu k)
            design = np.stack((np.full_like(speeds, GRAVITY_MPS2), speeds**2), axis=1)
            (mu_lat, mu_k), *_ = np.linalg.lstsq(design, lateral, rcond=None)
            k = mu_k / mu_lat
            downforce_area_m2 = 2.0 * k * self.chassis.mass_kg / AIR_DENSITY_KGPM3
            braking = np.array([self.braking_limit_mps2(v) for v in speeds])
            basis = GRAVITY_MPS2 + k * speeds**2
            mu_long = float(np.dot(braking, basis) / np.dot(basis, basis))
        limits = VehicleLimits(
            mass_kg=self.chassis.mass_kg,
            mu_lat=float(mu_lat),
            mu_long=float(mu_long),
            drag_area_m2=self.aero.drag_area_m2,
            downforce_area_m2=float(downforce_area_m2),
            max_power_w=power_w * self.gearbox.efficiency,
            max_speed_mps=self.top_speed_mps(),
            driven_load_fraction=rear_n / total_n,
            rolling_resistance=self.rear_tyre.rolling_resistance,
            air_density_kgpm3=AIR_DENSITY_KGPM3,
            added_mass_kg=self.rotating_mass_kg(len(self.gearbox.ratios)),
        )
        if fitted:
            limits = dataclasses.replace(limits, added_mass_kg=self._fit_added_mass_kg(limits))
        return limits

    def rotating_mass_kg(self, gear: int) -> float:
        """Translational equivalent of the rotating parts in a forward gear (1 = first):
        ``sum I_wheel / r^2`` of the four wheels + ``I_engine G^2 / r_rear^2``, kg."""
        radius_r = self.rear_tyre.radius_m
        ratio = self.gearbox.ratios[gear - 1] * self.gearbox.final_drive
        return (
            2.0 * self.front_tyre.wheel_inertia_kgm2 / self.front_tyre.radius_m**2
            + 2.0 * self.rear_tyre.wheel_inertia_kgm2 / radius_r**2
            + self.engine.inertia_kgm2 * ratio**2 / radius_r**2
        )

    def full_throttle_times_s(
        self, speeds_mps: NDArray[np.float64], limits: VehicleLimits
    ) -> NDArray[np.float64]:
        """Time to reach each speed at full throttle from ``speeds_mps[0]``, s.

        The car gear by gear, on a straight: the automatic shifter's gear (the lowest one
        under ``upshift_rpm``), the full-load torque at the rolling wheels' rpm through
        the gear, final drive and efficiency, the wheels' and the engine's inertias
        (:meth:`rotating_mass_kg`), ``limits``' resistance and traction limit (so that a
        fit against the profile's model compares like with like), and at every upshift
        ``shift_time_s`` without drive plus the time to regain the speed lost in it. The
        driven tyres' slip ``kappa = F / K`` (``K`` their slip stiffness ``B C D`` at the
        static load) costs ``1 / (1 + kappa)`` of the power.

        Args:
            speeds_mps: Increasing speeds, ``(K,)`` m/s, a fine grid (trapezoidal rule).
            limits: Resistance and traction (``mu_long``, ``driven_load_fraction``, ClA).

        Returns:
            ``(K,)`` times, s (0 at the first speed).
        """
        v = np.asarray(speeds_mps, dtype=np.float64)
        m = self.chassis.mass_kg
        gb = self.gearbox
        radius = self.rear_tyre.radius_m
        ratios = np.array(gb.ratios) * gb.final_drive
        road_rpm = v[:, None] / radius * ratios[None, :] * RPM_PER_RADPS
        gear = np.minimum(np.sum(road_rpm >= gb.upshift_rpm, axis=1), len(ratios) - 1)
        rpm = road_rpm[np.arange(len(v)), gear]
        torque = np.array([self.engine.full_load_torque_nm(r) for r in rpm])
        force = torque * ratios[gear] * gb.efficiency / radius
        tyre = self.rear_tyre
        rear_load_n = self.static_axle_loads_n[1]
        slip_stiffness_n = (
            tyre.b_x * tyre.shape_x * tyre.peak_mu(0.5 * rear_load_n)[0] * rear_load_n
        )
        force = force / (1.0 + force / slip_stiffness_n)  # the power lost to the drive slip
        rotating = np.array([self.rotating_mass_kg(g + 1) for g in range(len(ratios))])
        resist_n = m * (limits.drag_per_mass_1pm * v * v + limits.rolling_resistance * GRAVITY_MPS2)
        grip_n = limits.mu_long * limits.driven_load_fraction * m * limits.normal_accel_mps2(v)
        traction = (grip_n - resist_n) / m
        accel = np.minimum(traction, (force - resist_n) / (m + rotating[gear]))
        inverse = 1.0 / np.maximum(accel, 1e-3)
        times = np.concatenate(([0.0], np.cumsum(0.5 * (inverse[1:] + inverse[:-1]) * np.diff(v))))
        # upshifts: no drive for shift_time_s (the wheels still turn), then the lost speed
        wheels = rotating[0] - self.engine.inertia_kgm2 * ratios[0] ** 2 / radius**2
        for k in np.flatnonzero(np.diff(gear) > 0) + 1:
            lost_mps = resist_n[k] / (m + wheels) * gb.shift_time_s
            times[k:] += gb.shift_time_s + lost_mps * inverse[k]
        return times

    def _fit_added_mass_kg(self, limits: VehicleLimits) -> float:
        """``added_mass_kg`` whose power-limited run best matches :meth:`full_throttle_times_s`."""
        # the power/drag balance (or the limiter) caps the speed; the fit stops short of it
        grid = np.arange(1.0, 200.0, 0.5)
        resist_n = limits.mass_kg * (
            limits.drag_per_mass_1pm * grid**2 + limits.rolling_resistance * GRAVITY_MPS2
        )
        balance_mps = float(grid[np.argmax(resist_n * grid > limits.max_power_w)])
        speeds = np.linspace(10.0, 0.9 * min(limits.max_speed_mps, balance_mps), 401)
        # the time through each of 20 equal speed bands counts alike (low and high speeds)
        bands = slice(None, None, 20)
        target = np.diff(self.full_throttle_times_s(speeds, limits)[bands])

        def error(added_kg: float) -> float:
            model = _profile_times_s(speeds, dataclasses.replace(limits, added_mass_kg=added_kg))
            return float(np.sum((np.diff(model[bands]) / target - 1.0) ** 2))

        upper_kg = limits.mass_kg
        result = minimize_scalar(error, bounds=(0.0, upper_kg), method="bounded")
        return float(result.x)


def _profile_times_s(speeds_mps: NDArray[np.float64], limits: VehicleLimits) -> NDArray[np.float64]:
    """Time to reach each speed on a straight under the speed profile's acceleration model
    (:func:`acgym.track.speed_profile` forward pass, no curvature), s."""
    accel = limits.acceleration_mps2(speeds_mps)
    inverse = 1.0 / np.maximum(accel, 1e-3)
    steps = 0.5 * (inverse[1:] + inverse[:-1]) * np.diff(speeds_mps)
    return np.concatenate(([0.0], np.cumsum(steps)))


# --- packing for the kernels -------------------------------------------------------------

DEFAULT_OFFTRACK_GRIP = 0.6
"""Friction factor off the track surface (grass / gravel vs asphalt)."""
DEFAULT_OFFTRACK_ROLLING_RESISTANCE = 0.08
"""Rolling-resistance coefficient off the track surface (grass, ~5x asphalt)."""
DEFAULT_SLIP_SPEED_MPS = 2.5
"""Below this speed the slips are regularised (divided by this speed, not by |vx|)."""


def car_param_array(
    car: CarParams,
    offtrack_grip: float = DEFAULT_OFFTRACK_GRIP,
    offtrack_rolling_resistance: float = DEFAULT_OFFTRACK_ROLLING_RESISTANCE,
    slip_speed_mps: float = DEFAULT_SLIP_SPEED_MPS,
) -> NDArray[np.float64]:
    """Pack a car into the flat parameter array of the kernels, ``(NUM_PARAMS,)``."""
    p = np.zeros(L.NUM_PARAMS)
    c = car.chassis
    p[L.P_MASS_KG] = c.mass_kg
    p[L.P_YAW_INERTIA_KGM2] = c.yaw_inertia_kgm2
    p[L.P_LF_M] = c.lf_m
    p[L.P_LR_M] = c.lr_m
    p[L.P_TRACK_FRONT_M] = c.track_front_m
    p[L.P_TRACK_REAR_M] = c.track_rear_m
    p[L.P_COG_HEIGHT_M] = c.cog_height_m
    p[L.P_ROLL_STIFFNESS_FRONT] = c.front_roll_stiffness_fraction
    p[L.P_LOAD_TAU_S] = c.load_transfer_time_constant_s
    p[L.P_DRAG_COEF] = 0.5 * AIR_DENSITY_KGPM3 * car.aero.drag_area_m2
    p[L.P_LIFT_COEF] = 0.5 * AIR_DENSITY_KGPM3 * car.aero.downforce_area_m2
    p[L.P_AERO_FRONT] = car.aero.front_downforce_fraction
    e = car.engine
    p[L.P_IDLE_RPM] = e.idle_rpm
    p[L.P_LIMITER_RPM] = e.limiter_rpm
    p[L.P_LIMITER_BAND_RPM] = e.limiter_band_rpm
    p[L.P_LAUNCH_RPM] = e.launch_rpm
    p[L.P_ENGINE_INERTIA_KGM2] = e.inertia_kgm2
    p[L.P_ENGINE_BRAKE_NM] = e.engine_brake_torque_nm
    p[L.P_DRIVETRAIN_EFFICIENCY] = car.gearbox.efficiency
    n = len(e.torque_curve_rpm)
    p[L.P_NUM_TORQUE_POINTS] = n
    p[L.P_TORQUE_RPM : L.P_TORQUE_RPM + n] = e.torque_curve_rpm
    p[L.P_TORQUE_NM : L.P_TORQUE_NM + n] = e.torque_curve_nm
    g = car.gearbox
    p[L.P_NUM_GEARS] = len(g.ratios)
    p[L.P_GEAR_RATIOS : L.P_GEAR_RATIOS + len(g.ratios)] = g.ratios
    p[L.P_REVERSE_RATIO] = g.reverse_ratio
    p[L.P_FINAL_DRIVE] = g.final_drive
    p[L.P_SHIFT_TIME_S] = g.shift_time_s
    p[L.P_UPSHIFT_RPM] = g.upshift_rpm
    p[L.P_DOWNSHIFT_RPM] = g.downshift_rpm
    p[L.P_DIFF_PRELOAD_NM] = car.differential.preload_nm
    p[L.P_DIFF_POWER_LOCK] = car.differential.power_lock
    p[L.P_BRAKE_MAX_NM] = car.brakes.max_torque_nm
    p[L.P_BRAKE_FRONT] = car.brakes.front_fraction
    p[L.P_ABS] = 1.0 if car.brakes.abs else 0.0
    p[L.P_STEER_RATIO] = car.steering.ratio
    s = car.steering.map
    p[L.P_NUM_STEER_POINTS] = n = len(s.input_points)
    p[L.P_STEER_MAP_IN : L.P_STEER_MAP_IN + n] = s.input_points
    p[L.P_STEER_MAP_DEG : L.P_STEER_MAP_DEG + n] = s.angle_points_deg
    b = car.brake_map
    p[L.P_NUM_BRAKE_POINTS] = n = len(b.input_points)
    p[L.P_BRAKE_MAP_IN : L.P_BRAKE_MAP_IN + n] = b.input_points
    p[L.P_BRAKE_MAP_OUT : L.P_BRAKE_MAP_OUT + n] = b.status_points
    p[L.P_OFFTRACK_GRIP] = offtrack_grip
    p[L.P_OFFTRACK_ROLLING_RESISTANCE] = offtrack_rolling_resistance
    p[L.P_SLIP_SPEED_MPS] = slip_speed_mps
    rad_per_mps2 = math.radians(1.0) / GRAVITY_MPS2  # 1 deg/g
    p[L.P_FRONT_COMPLIANCE_RAD_PER_MPS2] = c.front_cornering_compliance_deg_per_g * rad_per_mps2
    p[L.P_REAR_COMPLIANCE_RAD_PER_MPS2] = c.rear_cornering_compliance_deg_per_g * rad_per_mps2
    p[L.P_ABS_SLIP_FRACTION] = car.brakes.abs_slip_fraction
    for base, tyre in ((L.P_TYRE_FRONT, car.front_tyre), (L.P_TYRE_REAR, car.rear_tyre)):
        p[base + L.T_MU_X] = tyre.mu_x
        p[base + L.T_MU_Y] = tyre.mu_y
        p[base + L.T_B_X] = tyre.b_x
        p[base + L.T_C_X] = tyre.shape_x
        p[base + L.T_E_X] = tyre.curvature_x
        p[base + L.T_B_Y] = tyre.b_y
        p[base + L.T_C_Y] = tyre.shape_y
        p[base + L.T_E_Y] = tyre.curvature_y
        p[base + L.T_FZ0_N] = tyre.nominal_load_n
        p[base + L.T_LOAD_SENS] = tyre.load_sensitivity
        p[base + L.T_KAPPA_PEAK] = tyre.peak_slip_ratio
        p[base + L.T_ALPHA_PEAK_RAD] = tyre.peak_slip_angle_rad
        p[base + L.T_ROLLING_RESISTANCE] = tyre.rolling_resistance
        p[base + L.T_RADIUS_M] = tyre.radius_m
        p[base + L.T_INERTIA_KGM2] = tyre.wheel_inertia_kgm2
        p[base + L.T_INV_FZ0] = 1.0 / tyre.nominal_load_n
        p[base + L.T_INV_KAPPA_PEAK] = 1.0 / tyre.peak_slip_ratio
        p[base + L.T_INV_ALPHA_PEAK] = 1.0 / tyre.peak_slip_angle_rad
    return p


# --- loading -----------------------------------------------------------------------------


def list_cars() -> list[str]:
    """Names of the built-in car presets, sorted."""
    return sorted(d.name for d in CARS_DIR.iterdir() if (d / CAR_FILE).is_file())


def car_folder(name_or_path: str | Path) -> Path:
    """The folder of a preset name or of a path to a car folder / ``car.yaml``."""
    path = Path(name_or_path)
    if path.name == CAR_FILE:
        path = path.parent
    if (path / CAR_FILE).is_file():
        return path
    builtin = CARS_DIR / str(name_or_path)
    if (builtin / CAR_FILE).is_file():
        return builtin
    raise CarFileError(
        f"no car {str(name_or_path)!r}: not a built-in preset ({', '.join(list_cars())}) "
        f"and not a folder holding {CAR_FILE}; pass a preset name or a car folder"
    )


def load_car(name_or_path: str | Path) -> CarParams:
    """Load a car preset by name (``bmw_z4_gt3``) or from a folder path.

    Raises:
        CarFileError: The folder, a file, a key or a value is missing or invalid.
    """
    folder = car_folder(name_or_path)
    text = (folder / CAR_FILE).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CarFileError(f"{folder / CAR_FILE}: not valid YAML ({exc})") from exc
    reader = _Reader(folder / CAR_FILE)
    root = reader.mapping(data, "")
    reader.check_keys(
        root,
        "",
        required=(
            "name",
            "description",
            "chassis",
            "aero",
            "tyres",
            "engine",
            "gearbox",
            "differential",
            "brakes",
            "steering",
        ),
        optional=("sources",),
    )
    if str(root["name"]) != folder.name:
        raise CarFileError(
            f"{folder / CAR_FILE}: name {root['name']!r} differs from the folder name "
            f"{folder.name!r}; make them equal"
        )
    tyres = reader.mapping(root["tyres"], "tyres")
    reader.check_keys(tyres, "tyres", required=("front", "rear"))
    maps = CarMaps.from_folder(folder)
    engine = reader.section(root, "engine", Engine, nested=("torque_curve",))
    car = CarParams(
        name=folder.name,
        description=str(root["description"]),
        chassis=reader.section(root, "chassis", Chassis),
        aero=reader.section(root, "aero", Aero),
        front_tyre=reader.section(tyres, "front", Tyre, prefix="tyres."),
        rear_tyre=reader.section(tyres, "rear", Tyre, prefix="tyres."),
        engine=engine,
        gearbox=reader.section(root, "gearbox", Gearbox),
        differential=reader.section(root, "differential", Differential),
        brakes=reader.section(root, "brakes", Brakes),
        steering=Steering(
            ratio=reader.number(reader.mapping(root["steering"], "steering"), "ratio", "steering"),
            map=maps.steer,
        ),
        brake_map=maps.brake,
        sources=tuple((str(k), str(v)) for k, v in (root.get("sources") or {}).items()),
        path=str(folder),
    )
    reader.check_keys(reader.mapping(root["steering"], "steering"), "steering", required=("ratio",))
    _validate(car, folder / CAR_FILE)
    return car


class _Reader:
    """Reads typed values out of the YAML tree with errors that name file and key."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, message: str) -> CarFileError:
        return CarFileError(f"{self.file}: {message}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{where or 'the file'} must be a mapping of keys, got {value!r}")
        return value

    def check_keys(
        self,
        section: Mapping[str, Any],
        where: str,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
    ) -> None:
        missing = [k for k in required if k not in section]
        if missing:
            raise self.fail(f"{where or 'top level'}: missing key(s) {', '.join(missing)}")
        unknown = [k for k in section if k not in required and k not in optional]
        if unknown:
            raise self.fail(
                f"{where or 'top level'}: unknown key(s) {', '.join(map(str, unknown))}; "
                f"expected {', '.join(required + optional)}"
            )

    def raw(self, section: Mapping[str, Any], key: str, where: str) -> Any:
        value = section[key]
        if isinstance(value, Mapping):
            extra = [k for k in value if k not in ("value", "source")]
            if "value" not in value or extra:
                raise self.fail(
                    f"{where}.{key}: a mapping value must have exactly 'value' and "
                    f"optionally 'source', got keys {list(value)}"
                )
            return value["value"]
        return value

    def number(self, section: Mapping[str, Any], key: str, where: str) -> float:
        value = self.raw(section, key, where)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}.{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(f"{where}.{key}: expected a finite number, got {value!r}")
        return float(value)

    def numbers(self, section: Mapping[str, Any], key: str, where: str) -> tuple[float, ...]:
        value = self.raw(section, key, where)
        if not isinstance(value, list) or not value:
            raise self.fail(f"{where}.{key}: expected a non-empty list of numbers, got {value!r}")
        out = []
        for item in value:
            if (
                isinstance(item, bool)
                or not isinstance(item, int | float)
                or not math.isfinite(item)
            ):
                raise self.fail(f"{where}.{key}: expected finite numbers, got {item!r}")
            out.append(float(item))
        return tuple(out)

    def section(
        self,
        parent: Mapping[str, Any],
        key: str,
        cls: type,
        prefix: str = "",
        nested: tuple[str, ...] = (),
    ) -> Any:
        where = prefix + key
        data = self.mapping(parent[key], where)
        names = [f.name for f in fields(cls)]
        # fields with a default value may be left out of the file
        optional = tuple(f.name for f in fields(cls) if f.default is not MISSING)
        # The torque curve is written as one nested mapping {rpm: [...], torque_nm: [...]}.
        expected = tuple(
            n for n in names if not n.startswith("torque_curve_") and n not in optional
        )
        self.check_keys(data, where, required=expected + nested, optional=optional)
        values: dict[str, Any] = {}
        for name in names:
            if name in optional and name not in data:
                continue
            if name.startswith("torque_curve_"):
                curve = self.mapping(data["torque_curve"], where + ".torque_curve")
                self.check_keys(
                    curve,
                    where + ".torque_curve",
                    required=("rpm", "torque_nm"),
                    optional=("source",),
                )
                key = "rpm" if name == "torque_curve_rpm" else "torque_nm"
                values[name] = self.numbers(curve, key, where + ".torque_curve")
            elif name == "abs":
                flag = self.raw(data, name, where)
                if not isinstance(flag, bool):
                    raise self.fail(f"{where}.abs: expected true or false, got {flag!r}")
                values[name] = flag
            elif name == "ratios":
                values[name] = self.numbers(data, name, where)
            else:
                values[name] = self.number(data, name, where)
        return cls(**values)


def _validate(car: CarParams, file: Path) -> None:
    """Range checks that keep the kernels' maths valid."""

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise CarFileError(f"{file}: {message}")

    c = car.chassis
    for name in (
        "mass_kg",
        "yaw_inertia_kgm2",
        "wheelbase_m",
        "track_front_m",
        "track_rear_m",
        "cog_height_m",
    ):
        need(getattr(c, name) > 0.0, f"chassis.{name} must be > 0")
    need(0.0 < c.front_weight_fraction < 1.0, "chassis.front_weight_fraction must be in (0, 1)")
    need(
        0.0 <= c.front_roll_stiffness_fraction <= 1.0,
        "chassis.front_roll_stiffness_fraction must be in [0, 1]",
    )
    need(
        c.load_transfer_time_constant_s >= 0.0, "chassis.load_transfer_time_constant_s must be >= 0"
    )
    for name in ("front_cornering_compliance_deg_per_g", "rear_cornering_compliance_deg_per_g"):
        need(abs(getattr(c, name)) <= 5.0, f"chassis.{name} must be in [-5, 5] deg/g")
    need(car.aero.drag_area_m2 >= 0.0, "aero.drag_area_m2 must be >= 0")
    need(
        0.0 <= car.aero.front_downforce_fraction <= 1.0,
        "aero.front_downforce_fraction must be in [0, 1]",
    )
    for axle, t in (("front", car.front_tyre), ("rear", car.rear_tyre)):
        where = f"tyres.{axle}"
        for name in (
            "radius_m",
            "wheel_inertia_kgm2",
            "mu_x",
            "mu_y",
            "peak_slip_ratio",
            "peak_slip_angle_rad",
            "nominal_load_n",
        ):
            need(getattr(t, name) > 0.0, f"{where}.{name} must be > 0")
        for name in ("shape_x", "shape_y"):
            need(
                1.0 < getattr(t, name) < 2.0, f"{where}.{name} (Magic Formula C) must be in (1, 2)"
            )
        for name in ("curvature_x", "curvature_y"):
            need(getattr(t, name) < 1.0, f"{where}.{name} (Magic Formula E) must be < 1")
        need(t.load_sensitivity <= 0.0, f"{where}.load_sensitivity must be <= 0 (degressive)")
        need(t.rolling_resistance >= 0.0, f"{where}.rolling_resistance must be >= 0")
    e = car.engine
    need(
        len(e.torque_curve_rpm) == len(e.torque_curve_nm),
        "engine.torque_curve: rpm and torque_nm differ in length",
    )
    need(
        2 <= len(e.torque_curve_rpm) <= L.MAX_TORQUE_POINTS,
        f"engine.torque_curve: 2..{L.MAX_TORQUE_POINTS} points",
    )
    need(
        all(b > a for a, b in itertools.pairwise(e.torque_curve_rpm)),
        "engine.torque_curve.rpm must increase",
    )
    need(
        0.0 < e.idle_rpm < e.launch_rpm < e.limiter_rpm,
        "engine: need 0 < idle_rpm < launch_rpm < limiter_rpm",
    )
    need(
        0.0 < e.limiter_band_rpm < e.limiter_rpm - e.launch_rpm,
        "engine.limiter_band_rpm must be > 0 and small",
    )
    need(
        e.inertia_kgm2 > 0.0 and e.engine_brake_torque_nm >= 0.0,
        "engine: inertia > 0, engine_brake_torque_nm >= 0",
    )
    g = car.gearbox
    need(1 <= len(g.ratios) <= L.MAX_GEARS, f"gearbox.ratios: 1..{L.MAX_GEARS} forward gears")
    need(
        all(r > 0.0 for r in g.ratios) and all(b < a for a, b in itertools.pairwise(g.ratios)),
        "gearbox.ratios must be > 0 and decrease",
    )
    need(
        g.reverse_ratio > 0.0 and g.final_drive > 0.0,
        "gearbox.reverse_ratio and final_drive must be > 0",
    )
    need(0.0 < g.efficiency <= 1.0, "gearbox.efficiency must be in (0, 1]")
    need(g.shift_time_s >= 0.0, "gearbox.shift_time_s must be >= 0")
    need(
        e.idle_rpm < g.downshift_rpm < g.upshift_rpm <= e.limiter_rpm,
        "gearbox: need idle < downshift_rpm < upshift_rpm <= limiter_rpm",
    )
    need(
        car.differential.preload_nm >= 0.0 and car.differential.power_lock >= 0.0,
        "differential values must be >= 0",
    )
    need(car.brakes.max_torque_nm > 0.0, "brakes.max_torque_nm must be > 0")
    need(0.0 <= car.brakes.front_fraction <= 1.0, "brakes.front_fraction must be in [0, 1]")
    need(0.5 <= car.brakes.abs_slip_fraction <= 1.0, "brakes.abs_slip_fraction must be in [0.5, 1]")
    need(car.steering.ratio > 0.0, "steering.ratio must be > 0")

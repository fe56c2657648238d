"""``World``: N cars on one track, stepped together one control period at a time.

Usage::

    world = World("bmw_z4_gt3", num_cars=256, track=track)       # or World([car_a, car_b])
    world.reset(x_m=x0, y_m=y0, yaw_rad=psi0, speed_mps=0.0)     # all cars, or car_indices=
    world.step(controls)                                         # (N, 3) steer, acc, brake
    world.step(controls, gear_flags)                             # (N, 3) enable, up, down
    world.speed_mps, world.slip_angle_rad, world.rpm, ...        # read-only views

Controls (AC's ranges): ``steer`` in [-1, 1], -1 = full left (through the car's steer map
to steering-wheel degrees, then the steering ratio to the road-wheel angle; inputs beyond
the map's ends hold the steering lock); ``acc`` and ``brake`` in [-1, 1], -1 = released
(gas = (acc + 1) / 2, brake status from the car's brake map). Rate limits are the env's
job. Gear flags: with ``enable_gear_shift`` set, ``shift_up``/``shift_down`` request one
gear (reverse below 1 m/s from neutral) and the automatic shifter is off for that car in
that period; otherwise the automatic shifter acts when ``config.auto_shift``.

One :meth:`World.step` = one control period (``1 / control_hz``, 25 Hz by default) of
``physics_hz / control_hz`` internal steps (200 Hz by default), all cars in one compiled
call (:func:`acgym.sim.integrator.step_cars`). The controls are held over the period.

Surface: with a track, each tyre's contact point is tested against the track surface in
every internal step (the track's compiled inside test); off it the tyre has
``offtrack_grip`` times the friction and ``offtrack_rolling_resistance``. Without a track
the world is an unlimited flat asphalt surface (tests, skid pads). On a track that
crosses itself, :attr:`World.progress_m` (each car's distance along the track, which
:class:`~acgym.sim.session.SimSession` keeps at its lap timing's projection) picks the
level whose surface counts at a crossing; a world used alone gives it in :meth:`reset`
and keeps it up to date itself, or leaves it NaN (both levels count).

State (``World.state``, ``(N, NUM_STATE)``, columns ``S_*`` of :mod:`acgym.sim.layout`):
x, y (m), yaw (rad, CCW from +x, not wrapped), vx, vy (car frame, m/s, x forward, y left),
yaw rate (rad/s, CCW), four wheel spin speeds (rad/s), gear (-1 R, 0 N, 1..), shift timer
(s), engine rpm, the lagged accelerations of the load transfer (m/s^2) and time (s).
Outputs (``World.outputs``, ``(N, NUM_OUTPUTS)``, ``O_*``): the last internal step's
slips, loads, forces, accelerations and the applied controls. Per-wheel arrays are
``(N, 4)`` in the order fl, fr, rl, rr. The properties below are read-only views (they
change with the next step: copy what you keep); the arrays behind them are updated in
place, so a view taken once stays valid for the world's lifetime.

Deterministic: no randomness inside; the same inputs give bit-identical states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError
from acgym.sim import layout as L
from acgym.sim.car_params import (
    DEFAULT_OFFTRACK_GRIP,
    DEFAULT_OFFTRACK_ROLLING_RESISTANCE,
    DEFAULT_SLIP_SPEED_MPS,
    CarParams,
    car_param_array,
    load_car,
)
from acgym.sim.integrator import (
    locate_car,
    pack_constants,
    step_cars,
    work_size,
)
from acgym.sim.powertrain import overall_ratio
from acgym.track.queries import hidden_levels
from acgym.track.track import Track
from acgym.units import RPM_PER_RADPS

FloatArray = NDArray[np.float64]

MIN_PHYSICS_HZ = 200.0
"""Slowest internal rate the integrator is validated for, Hz."""


@dataclass(frozen=True)
class WorldConfig:
    """Settings of a :class:`World`.

    Attributes:
        control_hz: Control rate: one :meth:`World.step` lasts ``1 / control_hz``, Hz.
        physics_hz: Internal (integration) rate, Hz; a whole multiple of ``control_hz``
            and at least ``MIN_PHYSICS_HZ``.
        auto_shift: Automatic shifting for cars that do not set ``enable_gear_shift``.
        offtrack_grip: Tyre friction factor off the track surface.
        offtrack_rolling_resistance: Rolling-resistance coefficient off the track surface.
        slip_speed_mps: Low-speed regularisation of the slips, m/s.
    """

    control_hz: float = 25.0
    physics_hz: float = 200.0
    auto_shift: bool = True
    offtrack_grip: float = DEFAULT_OFFTRACK_GRIP
    offtrack_rolling_resistance: float = DEFAULT_OFFTRACK_ROLLING_RESISTANCE
    slip_speed_mps: float = DEFAULT_SLIP_SPEED_MPS

    def substeps(self) -> int:
        """Internal steps per control period.

        Raises:
            ConfigError: The rates are not positive, too slow, or not whole multiples.
        """
        if not (self.control_hz > 0.0 and self.physics_hz > 0.0):
            raise ConfigError(
                f"control_hz and physics_hz must be > 0, got {self.control_hz} and {self.physics_hz}"
            )
        if self.physics_hz < MIN_PHYSICS_HZ:
            raise ConfigError(
                f"physics_hz must be >= {MIN_PHYSICS_HZ:g} (integrator stability), got {self.physics_hz:g}"
            )
        ratio = self.physics_hz / self.control_hz
        count = round(ratio)
        if abs(ratio - count) > 1e-9 * ratio:
            raise ConfigError(
                f"physics_hz ({self.physics_hz:g}) must be a whole multiple of control_hz "
                f"({self.control_hz:g}); e.g. physics_hz={max(count, 1) * self.control_hz:g}"
            )
        if not 0.0 <= self.offtrack_grip <= 1.0:
            raise ConfigError(f"offtrack_grip must be in [0, 1], got {self.offtrack_grip}")
        if self.offtrack_rolling_resistance < 0.0 or self.slip_speed_mps <= 0.0:
            raise ConfigError("offtrack_rolling_resistance must be >= 0 and slip_speed_mps > 0")
        return count


class World:
    """N cars on one track (or on an unlimited flat surface), batched.

    Args:
        cars: One car (a :class:`CarParams` or a preset name / folder) for every car, or a
            sequence with one per car (presets may differ).
        num_cars: Number of cars (default: 1, or the length of ``cars``).
        track: The track whose surface the tyres run on; ``None`` = unlimited asphalt.
        config: Rates and surface settings.

    Raises:
        ConfigError: Inconsistent arguments.
    """

    def __init__(
        self,
        cars: CarParams | str | Sequence[CarParams | str],
        num_cars: int | None = None,
        track: Track | None = None,
        config: WorldConfig | None = None,
    ) -> None:
        self.config = config or WorldConfig()
        self.num_substeps = self.config.substeps()
        self.dt_s = 1.0 / self.config.physics_hz
        self.control_dt_s = 1.0 / self.config.control_hz
        car_list = _as_car_list(cars, num_cars)
        self.cars: tuple[CarParams, ...] = tuple(car_list)
        self.num_cars = len(car_list)
        self.track = track
        unique: dict[int, FloatArray] = {}
        rows = []
        for car in car_list:
            if id(car) not in unique:
                unique[id(car)] = car_param_array(
                    car,
                    offtrack_grip=self.config.offtrack_grip,
                    offtrack_rolling_resistance=self.config.offtrack_rolling_resistance,
                    slip_speed_mps=self.config.slip_speed_mps,
                )
            rows.append(unique[id(car)])
        self.params = np.ascontiguousarray(np.stack(rows))
        # the batch kernel's structure-of-arrays workspace, with the cars' constants
        self._work = np.zeros(work_size(self.num_cars))
        pack_constants(self.params, self._work)
        self._state = np.zeros((self.num_cars, L.NUM_STATE))
        self._outputs = np.zeros((self.num_cars, L.NUM_OUTPUTS))
        self._on_track = np.ones((self.num_cars, L.NUM_WHEELS))
        self._border_d2 = np.full(self.num_cars, np.inf)  # m^2, at the present poses
        self._progress_m = np.full(self.num_cars, np.nan)
        self._no_flags = np.zeros((self.num_cars, L.NUM_GEAR_FLAGS))
        if track is None:
            self._use_track = False
            empty = (np.zeros(5), np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int32))
            no_levels = np.zeros(0, dtype=np.int64)
            self._grid = (*empty, np.zeros((0, 8)), no_levels)
            self._border_grid = (*empty, np.zeros((0, 4)), no_levels)
            self._levels = (np.zeros((0, 2)), 1.0)
        else:
            # The track's compiled queries read its spatial grids (built once, cached):
            # the surface quads (inside test) and the border segments (nearest border).
            self._use_track = True
            self._grid = track.quad_index.arrays
            self._border_grid = track.border_index.arrays
            self._levels = (track.crossing_s_m, track.length_m)
        self.reset()

    # --- stepping ---------------------------------------------------------------------

    def reset(
        self,
        car_indices: ArrayLike | None = None,
        *,
        x_m: ArrayLike = 0.0,
        y_m: ArrayLike = 0.0,
        yaw_rad: ArrayLike = 0.0,
        speed_mps: ArrayLike = 0.0,
        gear: ArrayLike | None = None,
        progress_m: ArrayLike | None = None,
    ) -> None:
        """Place cars, rolling straight ahead at ``speed_mps`` (wheels free-rolling).

        Args:
            car_indices: Which cars (``None`` = all); an index array or a bool mask.
            x_m, y_m: Position of the centre of gravity, m (scalars or one per car).
            yaw_rad: Heading, CCW from +x, rad.
            speed_mps: Forward speed, m/s (>= 0).
            gear: Gear in AC encoding (0 = R, 1 = N, 2 = first, ...); ``None`` chooses the
                forward gear that suits the speed (first at a standstill).
            progress_m: Distance along the track's reference line, m: picks the level at
                a crossing (:attr:`progress_m`); ``None``: unknown (NaN).
        """
        idx = self._indices(car_indices)
        count = len(idx)
        if count == 0:
            return
        speed = np.broadcast_to(np.asarray(speed_mps, dtype=np.float64), (count,))
        if np.any(speed < 0.0) or not np.all(np.isfinite(speed)):
            raise ConfigError("reset: speed_mps must be finite and >= 0")
        s = np.zeros((count, L.NUM_STATE))
        s[:, L.S_X_M] = np.broadcast_to(np.asarray(x_m, dtype=np.float64), (count,))
        s[:, L.S_Y_M] = np.broadcast_to(np.asarray(y_m, dtype=np.float64), (count,))
        s[:, L.S_YAW_RAD] = np.broadcast_to(np.asarray(yaw_rad, dtype=np.float64), (count,))
        s[:, L.S_VX_MPS] = speed
        gears = (
            None if gear is None else np.broadcast_to(np.asarray(gear, dtype=np.int64), (count,))
        )
        for k, i in enumerate(idx):
            p = self.params[i]
            radius_f = p[L.P_TYRE_FRONT + L.T_RADIUS_M]
            radius_r = p[L.P_TYRE_REAR + L.T_RADIUS_M]
            s[k, L.S_WHEEL_OMEGA : L.S_WHEEL_OMEGA + 2] = speed[k] / radius_f
            s[k, L.S_WHEEL_OMEGA + 2 : L.S_WHEEL_OMEGA + 4] = speed[k] / radius_r
            if gears is None:
                g = _gear_for_speed(p, speed[k] / radius_r)
            else:
                g = int(gears[k]) - 1
                if not -1 <= g <= int(p[L.P_NUM_GEARS]):
                    raise ConfigError(
                        f"reset: gear {gears[k]} (AC encoding) out of range 0..{int(p[L.P_NUM_GEARS]) + 1}"
                    )
            s[k, L.S_GEAR] = g
            wheel_rpm = abs(speed[k] / radius_r * overall_ratio(p, g)) * RPM_PER_RADPS
            s[k, L.S_ENGINE_RPM] = max(wheel_rpm, p[L.P_IDLE_RPM])
        self._state[idx] = s
        self._outputs[idx] = 0.0
        self._progress_m[idx] = np.nan if progress_m is None else progress_m
        xs = np.empty(4)
        ys = np.empty(4)
        for i in idx:
            self._border_d2[i] = locate_car(
                self.params[i],
                self._state[i],
                self._on_track[i],
                self._use_track,
                *self._grid,
                *self._border_grid,
                hidden_levels(self._progress_m[i], *self._levels),
                xs,
                ys,
            )  # and the contact points into xs, ys
            self._outputs[i, L.O_CONTACT_X_M : L.O_CONTACT_X_M + 4] = xs
            self._outputs[i, L.O_CONTACT_Y_M : L.O_CONTACT_Y_M + 4] = ys
            self._outputs[i, L.O_NORMAL_LOAD_N : L.O_NORMAL_LOAD_N + 4] = _static_loads(
                self.params[i]
            )
            self._outputs[i, L.O_BRAKE] = 0.0

    def step(self, controls: ArrayLike, gear_flags: ArrayLike | None = None) -> None:
        """Advance every car by one control period.

        Args:
            controls: ``(N, 3)`` steer, acc, brake in [-1, 1] (values outside are clipped).
            gear_flags: ``(N, 3)`` enable_gear_shift, shift_up, shift_down (> 0.5 = set);
                ``None`` = no manual shifting.

        Raises:
            ConfigError: A shape is wrong or a control is not finite.
        """
        u = (
            controls
            if type(controls) is np.ndarray and controls.dtype == np.float64
            else np.asarray(controls, dtype=np.float64)
        )
        if u.shape != (self.num_cars, L.NUM_CONTROLS):
            raise ConfigError(f"controls: expected shape ({self.num_cars}, 3), got {u.shape}")
        if gear_flags is None:
            flags = self._no_flags
        else:
            flags = np.asarray(gear_flags, dtype=np.float64)
            if flags.shape != (self.num_cars, L.NUM_GEAR_FLAGS):
                raise ConfigError(
                    f"gear_flags: expected shape ({self.num_cars}, 3), got {flags.shape}"
                )
        bad = step_cars(
            self.params,
            self._state,
            self._outputs,
            self._on_track,
            u,
            flags,
            self.config.auto_shift,
            self.dt_s,
            self.num_substeps,
            self._use_track,
            *self._grid,
            *self._border_grid,
            *self._levels,
            self._progress_m,
            self._border_d2,
            self._work,
        )
        if bad >= 0:
            raise ConfigError(
                f"controls: row {bad} is not finite ({u[bad].tolist()}); no car was stepped"
            )

    @property
    def progress_m(self) -> FloatArray:
        """``(N,)`` each car's distance along the track's reference line, m (NaN: unknown),
        which picks its level at a crossing (the other level's surface does not count).

        Writable: the world reads it and never changes it after :meth:`reset`;
        :class:`~acgym.sim.session.SimSession` writes its lap timing's projection here
        after every step.
        """
        return self._progress_m

    # --- read-only views --------------------------------------------------------------

    @property
    def state(self) -> FloatArray:
        """``(N, NUM_STATE)`` car states (columns ``S_*``), read-only view."""
        return _view(self._state)

    @property
    def outputs(self) -> FloatArray:
        """``(N, NUM_OUTPUTS)`` outputs of the last internal step (``O_*``), read-only view."""
        return _view(self._outputs)

    @property
    def x_m(self) -> FloatArray:
        """``(N,)`` position x of the centre of gravity, m."""
        return _view(self._state[:, L.S_X_M])

    @property
    def y_m(self) -> FloatArray:
        """``(N,)`` position y, m."""
        return _view(self._state[:, L.S_Y_M])

    @property
    def yaw_rad(self) -> FloatArray:
        """``(N,)`` heading, CCW from +x, rad (not wrapped)."""
        return _view(self._state[:, L.S_YAW_RAD])

    @property
    def vx_mps(self) -> FloatArray:
        """``(N,)`` car-frame forward velocity, m/s."""
        return _view(self._state[:, L.S_VX_MPS])

    @property
    def vy_mps(self) -> FloatArray:
        """``(N,)`` car-frame lateral velocity (left positive), m/s."""
        return _view(self._state[:, L.S_VY_MPS])

    @property
    def yaw_rate_radps(self) -> FloatArray:
        """``(N,)`` yaw rate, CCW positive, rad/s."""
        return _view(self._state[:, L.S_YAW_RATE_RADPS])

    @property
    def speed_mps(self) -> FloatArray:
        """``(N,)`` speed, m/s (a new array)."""
        return np.hypot(self._state[:, L.S_VX_MPS], self._state[:, L.S_VY_MPS])

    @property
    def world_velocity_mps(self) -> FloatArray:
        """``(N, 2)`` world-frame velocity, m/s (a new array)."""
        c = np.cos(self._state[:, L.S_YAW_RAD])
        sn = np.sin(self._state[:, L.S_YAW_RAD])
        vx = self._state[:, L.S_VX_MPS]
        vy = self._state[:, L.S_VY_MPS]
        return np.stack((vx * c - vy * sn, vx * sn + vy * c), axis=1)

    @property
    def wheel_speed_radps(self) -> FloatArray:
        """``(N, 4)`` wheel spin speeds, rad/s."""
        return _view(self._state[:, L.S_WHEEL_OMEGA : L.S_WHEEL_OMEGA + 4])

    @property
    def slip_angle_rad(self) -> FloatArray:
        """``(N, 4)`` tyre slip angles, rad (ISO: positive when the tyre slides right)."""
        return _view(self._outputs[:, L.O_SLIP_ANGLE_RAD : L.O_SLIP_ANGLE_RAD + 4])

    @property
    def slip_ratio(self) -> FloatArray:
        """``(N, 4)`` longitudinal slip ratios (positive when driving)."""
        return _view(self._outputs[:, L.O_SLIP_RATIO : L.O_SLIP_RATIO + 4])

    @property
    def normal_load_n(self) -> FloatArray:
        """``(N, 4)`` tyre normal loads, N."""
        return _view(self._outputs[:, L.O_NORMAL_LOAD_N : L.O_NORMAL_LOAD_N + 4])

    @property
    def tyre_force_n(self) -> FloatArray:
        """``(N, 4, 2)`` tyre forces (longitudinal, lateral) in each wheel's frame, N (new array)."""
        return np.stack(
            (self._outputs[:, L.O_FX_N : L.O_FX_N + 4], self._outputs[:, L.O_FY_N : L.O_FY_N + 4]),
            axis=2,
        )

    @property
    def lateral_friction(self) -> FloatArray:
        """``(N, 4)`` peak lateral friction coefficient at the tyre's load and surface (AC's Dy)."""
        return _view(self._outputs[:, L.O_MU_Y : L.O_MU_Y + 4])

    @property
    def contact_points_m(self) -> FloatArray:
        """``(N, 4, 2)`` tyre contact points in world coordinates, m (a new array)."""
        return np.stack(
            (
                self._outputs[:, L.O_CONTACT_X_M : L.O_CONTACT_X_M + 4],
                self._outputs[:, L.O_CONTACT_Y_M : L.O_CONTACT_Y_M + 4],
            ),
            axis=2,
        )

    @property
    def wheels_on_track(self) -> NDArray[np.bool_]:
        """``(N, 4)`` whether each tyre is on the track surface (a new array)."""
        return self._on_track > 0.5

    @property
    def rpm(self) -> FloatArray:
        """``(N,)`` engine speed, rev/min."""
        return _view(self._state[:, L.S_ENGINE_RPM])

    @property
    def gear(self) -> NDArray[np.int64]:
        """``(N,)`` gear in AC encoding: 0 = reverse, 1 = neutral, 2 = first, ... (new array)."""
        return self._state[:, L.S_GEAR].astype(np.int64) + 1

    @property
    def accel_mps2(self) -> FloatArray:
        """``(N, 2)`` car-frame acceleration (forward, left), m/s^2 (a new array)."""
        return self._outputs[:, [L.O_AX_MPS2, L.O_AY_MPS2]]

    @property
    def gas(self) -> FloatArray:
        """``(N,)`` applied throttle, 0..1."""
        return _view(self._outputs[:, L.O_GAS])

    @property
    def brake(self) -> FloatArray:
        """``(N,)`` applied brake status, 0..1 (after the brake map)."""
        return _view(self._outputs[:, L.O_BRAKE])

    @property
    def steer_wheel_deg(self) -> FloatArray:
        """``(N,)`` steering-wheel angle, deg (AC sign: negative = left)."""
        return _view(self._outputs[:, L.O_STEER_WHEEL_DEG])

    @property
    def road_wheel_angle_rad(self) -> FloatArray:
        """``(N,)`` front road-wheel angle, rad (positive = left)."""
        return _view(self._outputs[:, L.O_ROAD_WHEEL_RAD])

    @property
    def time_s(self) -> FloatArray:
        """``(N,)`` simulated time since each car's reset, s."""
        return _view(self._state[:, L.S_TIME_S])

    # --- helpers ----------------------------------------------------------------------

    def _indices(self, car_indices: ArrayLike | None) -> NDArray[np.intp]:
        if car_indices is None:
            return np.arange(self.num_cars)
        idx = np.asarray(car_indices)
        if idx.dtype == np.bool_:
            if idx.shape != (self.num_cars,):
                raise ConfigError(
                    f"car_indices mask: expected shape ({self.num_cars},), got {idx.shape}"
                )
            return np.flatnonzero(idx)
        idx = np.atleast_1d(idx).astype(np.intp)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_cars):
            raise ConfigError(f"car_indices: expected values in 0..{self.num_cars - 1}")
        return idx


def _view(array: FloatArray) -> FloatArray:
    view = array.view()
    view.flags.writeable = False
    return view


def _as_car_list(
    cars: CarParams | str | Sequence[CarParams | str], num_cars: int | None
) -> list[CarParams]:
    cache: dict[str, CarParams] = {}

    def resolve(car: CarParams | str) -> CarParams:
        if isinstance(car, CarParams):
            return car
        key = str(car)
        if key not in cache:
            cache[key] = load_car(key)
        return cache[key]

    if isinstance(cars, CarParams | str):
        count = 1 if num_cars is None else num_cars
        if count < 1:
            raise ConfigError(f"num_cars must be >= 1, got {count}")
        car = resolve(cars)
        return [car] * count
    car_list = [resolve(c) for c in cars]
    if not car_list:
        raise ConfigError("cars: give at least one car")
    if num_cars is not None and num_cars != len(car_list):
        raise ConfigError(f"num_cars={num_cars} but {len(car_list)} cars were given")
    return car_list


def _gear_for_speed(p: FloatArray, axle_omega_radps: float) -> int:
    """Lowest forward gear whose engine speed stays under the upshift speed."""
    num_gears = int(p[L.P_NUM_GEARS])
    for g in range(1, num_gears + 1):
        if axle_omega_radps * overall_ratio(p, g) * RPM_PER_RADPS < p[L.P_UPSHIFT_RPM]:
            return g
    return num_gears


def _static_loads(p: FloatArray) -> FloatArray:
    from acgym.sim.dynamics import normal_loads

    out = np.empty(4)
    normal_loads(p, 0.0, 0.0, 0.0, out)
    return out

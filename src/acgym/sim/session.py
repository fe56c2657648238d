"""``SimSession``: N simulated cars on one track with lap timing and the game's telemetry.

What the environment's in-process backend and the simulator server wrap::

    session = SimSession("oval", "dallara_f317", num_cars=1)
    session.reset(distance_m=0.0, speed_mps=0.0)     # all cars, or car_indices=
    session.step(controls)                            # (N, 3) steer, acc, brake in [-1, 1]
    state = session.telemetry(0)                      # wire-named dict of car 0
    rows = session.telemetry_array                    # (N, NUM_COLUMNS), columns in telemetry.COLUMNS
    session.static_info(), session.track_info(), session.config()

One :meth:`step` advances the :class:`~acgym.sim.world.World` one control period, then one
compiled call projects every car on the reference line, counts each car's tyres whose
contact point is off the track surface, advances the lap timing
(:mod:`acgym.sim.lap_timing`) and writes the telemetry rows
(:mod:`acgym.sim.telemetry`). :meth:`telemetry` only converts a row to a dict.

Levels: on a track that crosses itself, every query of a car takes its progress (the lap
timing's previous projection; at a reset, the distance it was placed at) as the hint
that picks its level at a crossing, and the projection is written back to
:attr:`World.progress_m <acgym.sim.world.World.progress_m>` for the world's surface
tests in the next step.

Placement (:meth:`reset`): at ``distance_m`` along the reference line, ``lateral_offset_m``
to the left of it, heading along the line plus ``heading_offset_rad`` (anticlockwise),
rolling straight ahead at ``speed_mps``; the defaults put the car's centre of gravity on
the start/finish line, on the reference line, at rest. The names are the protocol's reset
options; ``seed`` is accepted and unused (the simulator is deterministic).

``steps`` is 1 for the state after construction and grows by one per step (a reset does
not restart it, as the original plugin restarts it only on connect); ``packetId`` is
``steps - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym import __version__
from acgym.errors import ConfigError
from acgym.sim import layout as L
from acgym.sim.car_params import CarParams
from acgym.sim.lap_timing import (
    LT_DIST_M,
    LT_INVALID,
    LT_PREV_S_M,
    MAX_TYRES_OUT,
    NUM_TIMING,
    advance_lap,
    reset_lap,
)
from acgym.sim.telemetry import NUM_COLUMNS, fill_row, row_to_state
from acgym.sim.world import World, WorldConfig
from acgym.track.builtin import DEFAULT_TRACK
from acgym.track.queries import hidden_levels, inside_point, project_point
from acgym.track.speed_profile import SpeedProfile, VehicleLimits, speed_profile
from acgym.track.track import Track
from acgym.units import GRAVITY_MPS2

FloatArray = NDArray[np.float64]

DEFAULT_CAR = "dallara_f317"
"""The car used when none is named (the original environment's default)."""

BACKEND_NAME = "simulator"
"""The ``backend`` of the static info."""

_FULL_THROTTLE_MPS2 = 0.05
"""track_info: the profile accelerates harder than this at full throttle, m/s^2."""


@numba.njit(cache=True)
def _update_cars(
    params: FloatArray,
    state: FloatArray,
    outputs: FloatArray,
    timing: FloatArray,
    line_grid: FloatArray,
    line_cell_start: NDArray[np.int32],
    line_items: NDArray[np.int32],
    line_table: FloatArray,
    line_levels: NDArray[np.int64],
    quad_grid: FloatArray,
    quad_cell_start: NDArray[np.int32],
    quad_items: NDArray[np.int32],
    quads: FloatArray,
    quad_levels: NDArray[np.int64],
    crossing_s_m: FloatArray,
    length_m: float,
    packet_id: int,
    advance: bool,
    projection: FloatArray,
    progress_m: FloatArray,
    rows: FloatArray,
) -> None:
    """Project, count tyres out, advance the lap timing (when ``advance``), fill the rows.

    ``projection`` ``(N, 2)`` receives each car's distance along the line and signed gap,
    m; ``progress_m`` ``(N,)`` (the world's) the distance when it is finite. Each car's
    level at a crossing is that of its lap timing's previous projection.
    """
    for i in range(state.shape[0]):
        s = state[i]
        o = outputs[i]
        hidden = hidden_levels(timing[i, LT_PREV_S_M], crossing_s_m, length_m)
        s_m, gap_m = project_point(
            s[L.S_X_M],
            s[L.S_Y_M],
            length_m,
            line_grid,
            line_cell_start,
            line_items,
            line_table,
            line_levels,
            hidden,
        )
        projection[i, 0] = s_m
        projection[i, 1] = gap_m
        if s_m == s_m:
            progress_m[i] = s_m
        tyres_out = 0
        for w in range(L.NUM_WHEELS):
            if not inside_point(
                o[L.O_CONTACT_X_M + w],
                o[L.O_CONTACT_Y_M + w],
                quad_grid,
                quad_cell_start,
                quad_items,
                quads,
                quad_levels,
                hidden,
            ):
                tyres_out += 1
        if advance:
            advance_lap(timing[i], s_m, s[L.S_TIME_S], tyres_out, length_m)
        elif tyres_out > MAX_TYRES_OUT:
            timing[i, LT_INVALID] = 1.0
        spline = s_m / length_m
        if spline >= 1.0:
            spline = 0.0
        elif spline != spline:
            spline = 0.0
        fill_row(params[i], s, o, timing[i], spline, tyres_out, packet_id, rows[i])


class SimSession:
    """N simulated cars on one track, with lap timing and the game's telemetry.

    Args:
        track: A :class:`Track` or a name/path for :func:`acgym.track.loaders.load_track`.
        cars: One car (preset name, folder or :class:`CarParams`) for every car, or one per
            car.
        num_cars: Number of cars (default: 1, or the length of ``cars``).
        config: Rates and surface settings of the world.

    Raises:
        ConfigError: Inconsistent arguments.
        TrackFileError: The track cannot be loaded.
    """

    def __init__(
        self,
        track: Track | str = DEFAULT_TRACK,
        cars: CarParams | str | Sequence[CarParams | str] = DEFAULT_CAR,
        num_cars: int | None = None,
        config: WorldConfig | None = None,
    ) -> None:
        if not isinstance(track, Track):
            from acgym.track.loaders import load_track

            track = load_track(track)
        self.track = track
        self.world = World(cars, num_cars=num_cars, track=track, config=config)
        self.num_cars = self.world.num_cars
        self.length_m = track.length_m
        self._grids = (
            *track.line_index.arrays,
            *track.quad_index.arrays,
            track.crossing_s_m,
        )
        self._timing = np.zeros((self.num_cars, NUM_TIMING))
        self._projection = np.zeros((self.num_cars, 2))
        self._rows = np.zeros((self.num_cars, NUM_COLUMNS))
        self._packet_id = 0
        self._profiles: dict[int, tuple[VehicleLimits, SpeedProfile]] = {}
        self._views()
        self.reset()

    def _views(self) -> None:
        self._params = self.world.params
        self._state = self.world.state
        self._outputs = self.world.outputs

    # --- stepping ---------------------------------------------------------------------

    def reset(
        self,
        car_indices: ArrayLike | None = None,
        *,
        distance_m: ArrayLike = 0.0,
        lateral_offset_m: ArrayLike = 0.0,
        heading_offset_rad: ArrayLike = 0.0,
        speed_mps: ArrayLike = 0.0,
        gear: ArrayLike | None = None,
        seed: int | None = None,
    ) -> None:
        """Place cars relative to the reference line and start a new lap session for them.

        Args:
            car_indices: Which cars (``None`` = all): an index array or a bool mask.
            distance_m: Distance along the reference line, m (wrapped by its length).
            lateral_offset_m: Offset to the left of the line, m.
            heading_offset_rad: Heading relative to the line's, rad, anticlockwise.
            speed_mps: Forward speed, m/s (>= 0).
            gear: Gear in AC encoding (``None``: the gear that suits the speed).
            seed: Accepted for the protocol's reset options; unused (deterministic).

        Raises:
            ConfigError: A value is not finite, or a speed is negative.
        """
        del seed
        idx = self._indices(car_indices)
        count = len(idx)
        if count == 0:
            return
        values = [
            np.broadcast_to(np.asarray(v, dtype=np.float64), (count,))
            for v in (distance_m, lateral_offset_m, heading_offset_rad)
        ]
        if not all(np.isfinite(v).all() for v in values):
            raise ConfigError(
                "reset: distance_m, lateral_offset_m and heading_offset_rad must be finite"
            )
        dist = values[0] % self.length_m
        xy, heading = self.track.line_point_at(dist)
        lateral = values[1]
        x = xy[:, 0] - lateral * np.sin(heading)
        y = xy[:, 1] + lateral * np.cos(heading)
        self.world.reset(
            idx,
            x_m=x,
            y_m=y,
            yaw_rad=heading + values[2],
            speed_mps=speed_mps,
            gear=gear,
            progress_m=dist,
        )
        self._views()
        time_s = self._state[:, L.S_TIME_S]
        for k, i in enumerate(idx):
            s_m, _ = self.track.project_point(x[k], y[k], s_hint_m=float(dist[k]))
            reset_lap(self._timing[i], float(dist[k]), s_m, float(time_s[i]), self.length_m)
        self._refresh(advance=False)

    def step(self, controls: ArrayLike, gear_flags: ArrayLike | None = None) -> None:
        """Advance every car one control period, then update lap timing and telemetry.

        Args:
            controls: ``(N, 3)`` steer, acc, brake in [-1, 1] (-1 = full left / released).
            gear_flags: ``(N, 3)`` enable_gear_shift, shift_up, shift_down (> 0.5 = set).

        Raises:
            ConfigError: A shape is wrong or a control is not finite.
        """
        self.world.step(controls, gear_flags)
        self._packet_id += 1
        self._refresh(advance=True)

    def _refresh(self, advance: bool) -> None:
        _update_cars(
            self._params,
            self._state,
            self._outputs,
            self._timing,
            *self._grids,
            self.length_m,
            self._packet_id,
            advance,
            self._projection,
            self.world.progress_m,
            self._rows,
        )

    # --- telemetry --------------------------------------------------------------------

    def telemetry(self, car: int = 0) -> dict[str, Any]:
        """The wire-named state of one car (a new dict; ``acgym.protocol.channels``)."""
        return row_to_state(self._rows[car])

    @property
    def telemetry_array(self) -> FloatArray:
        """``(N, NUM_COLUMNS)`` telemetry of every car, read-only view (columns:
        ``acgym.sim.telemetry.COLUMNS``; it changes with the next step: copy what you keep)."""
        view = self._rows.view()
        view.flags.writeable = False
        return view

    @property
    def distance_m(self) -> FloatArray:
        """``(N,)`` each car's distance along the reference line, m in [0, L) (a copy)."""
        return self._projection[:, 0].copy()

    @property
    def gap_m(self) -> FloatArray:
        """``(N,)`` each car's signed distance to the reference line, m, left positive (a copy)."""
        return self._projection[:, 1].copy()

    @property
    def lap_distance_m(self) -> FloatArray:
        """``(N,)`` unwrapped distance since the start line in the current lap, m (a copy)."""
        return self._timing[:, LT_DIST_M].copy()

    @property
    def steps(self) -> int:
        """The ``steps`` of the current state (1 after construction)."""
        return self._packet_id + 1

    # --- static information -----------------------------------------------------------

    def static_info(self, car: int = 0) -> dict[str, Any]:
        """Once-per-connection facts, as the plugin's ``get_static_info`` (DESIGN.md).

        Positions are in AC's world axes ([x, y, z], y up) at the car's current pose.
        """
        params: CarParams = self.world.cars[car]
        p = self._params[car]
        s = self._state[car]
        contact = self.world.contact_points_m[car]
        h_cg = float(p[L.P_COG_HEIGHT_M])
        info: dict[str, Any] = {
            "TrackName": self.track.name,
            "TrackConfiguration": self.track.configuration,
            "TrackLength": self.length_m,
            "CarName": params.name,
            "WindSpeed": 0.0,
            "WindDirection": 0.0,
            "LastSplits": [],
            "isCarInPitlane": 0,
            "isCarInPit": 0,
            "autoShifterOn": int(self.world.config.auto_shift),
            "penaltiesEnabled": 0,
        }
        for w, name in enumerate(L.WHEEL_NAMES):
            info[f"TyreContactPoint_{name.upper()}"] = [
                float(contact[w, 1]),
                0.0,
                float(contact[w, 0]),
            ]
        radius_f = float(p[L.P_TYRE_FRONT + L.T_RADIUS_M])
        radius_r = float(p[L.P_TYRE_REAR + L.T_RADIUS_M])
        info["CAR_WHEEL_R"] = [radius_f, radius_f, radius_r, radius_r]
        info["CAR_TRACK"] = float(p[L.P_TRACK_REAR_M])
        info["CAR_WHEELBASE"] = float(p[L.P_LF_M] + p[L.P_LR_M])
        info["WorldPosition"] = [float(s[L.S_Y_M]), h_cg, float(s[L.S_X_M])]
        info["CAR_MASS"] = round(float(p[L.P_MASS_KG]))
        info["backend"] = BACKEND_NAME
        info["backend_version"] = __version__
        return info

    def config(self) -> dict[str, Any]:
        """The simulator's settings, flat (``ego_sampling_freq`` = the control rate, Hz)."""
        c = self.world.config
        return {
            "ego_sampling_freq": c.control_hz,
            "physics_hz": c.physics_hz,
            "auto_shift": c.auto_shift,
            "offtrack_grip": c.offtrack_grip,
            "offtrack_rolling_resistance": c.offtrack_rolling_resistance,
            "slip_speed_mps": c.slip_speed_mps,
            "num_cars": self.num_cars,
        }

    def track_info(self, car: int = 0) -> dict[str, Any]:
        """The track as the plugin's ``get_track_info`` (a new dict).

        ``left_lane``, ``right_lane`` (borders) and ``fast_lane`` (the reference line) are
        ``[x, y]`` lists in the telemetry plane; per ``fast_lane`` point: ``speed_arr``
        (the speed profile of car ``car``, m/s), ``throttle_arr`` (1 where the profile
        accelerates, 0 where it brakes, 0.5 holding speed), ``brake_arr`` (the braking
        deceleration over the tyres' longitudinal limit, 0..1) and ``angle_array`` (the
        direction of travel from the previous point, degrees from AC's x axis towards its
        z axis, as the plugin computes it).
        """
        limits, profile = self._profile(car)
        accel = profile.long_accel_mps2
        throttle = np.where(
            accel > _FULL_THROTTLE_MPS2, 1.0, np.where(accel < -_FULL_THROTTLE_MPS2, 0.0, 0.5)
        )
        brake = np.clip(-accel / (limits.mu_long * GRAVITY_MPS2), 0.0, 1.0)
        line = self.track.line_m
        step = line - np.roll(line, 1, axis=0)
        angle_deg = np.degrees(np.arctan2(step[:, 0], step[:, 1]))  # atan2(d AC z, d AC x)
        return {
            "left_lane": self.track.left_m.tolist(),
            "right_lane": self.track.right_m.tolist(),
            "fast_lane": line.tolist(),
            "throttle_arr": throttle.tolist(),
            "brake_arr": brake.tolist(),
            "speed_arr": profile.speed_mps.tolist(),
            "angle_array": angle_deg.tolist(),
        }

    def _profile(self, car: int) -> tuple[VehicleLimits, SpeedProfile]:
        """The limits and the flying-lap speed profile of car ``car`` (cached per car)."""
        params = self.world.cars[car]
        if id(params) not in self._profiles:
            limits = params.vehicle_limits()
            self._profiles[id(params)] = (limits, speed_profile(self.track.line_m, limits))
        return self._profiles[id(params)]

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

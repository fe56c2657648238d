"""The observation vector: a frame of per-step features, and terms that write the vector.

Each step the :class:`StateExpander` turns a backend state (wire channels) into a
:class:`Frame`: the channels as an ``(N, C)`` matrix (N cars), the derived channels the
original computed in ``expand_state`` (gap to the racing line, LapDist, out-of-track
flags, distance to the border), the ray distances and the curvature look-ahead. Small
:class:`ObservationTerm` pieces then write their slice of the vector, in the original
order (``ac_env.get_obs``), with the defaults giving 125 values:

==== ============================== ======================================================
size term                           values
==== ============================== ======================================================
14   ``basic``                      channels / scale (``CHANNEL_SCALES``)
11   ``rays``                       ray distances / 200 m, from -90 to +90 degrees
1    ``out_of_track``               1.0 when out of track
12   ``curvature_ahead``            reference-line curvature ahead / 0.1 1/m
9    ``previous_controls``          steerAngle / 450 x3, accStatus x3, brakeStatus x3
3    ``applied_controls``           the same three when this state was read
75   ``previous_observations``      basic + rays of the 3 previous steps
(T)  ``task``                       task one-hot (``enable_task_id_in_obs``)
(12) ``target_speed_ahead``         target speed ahead / 80 m/s (``use_target_speed``)
==== ============================== ======================================================

History pieces are zeros until ``history_window`` previous steps exist (as in the
original, they fill all at once). In names, ``_3`` / ``prev_obs_3`` is three steps back.
The original reserved room for the target-speed look-ahead but never filled it; here it
follows the task one-hot.

Everything works on a leading car axis: a batched backend gives ``N > 1`` rows, and an
offline episode can be rebuilt at once with ``N = T`` rows (:meth:`ObservationBuilder.build_sequence`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from acgym.env.backend import RowLayout
from acgym.env.config import EnvConfig
from acgym.env.derived import DERIVED_CHANNELS, GAP, LAP_DIST, OUT_OF_TRACK
from acgym.env.features import (
    FEATURE_COLUMNS,
    STEER_ANGLE_SCALE_DEG,
    TrackArrays,
    derive_cars,
)
from acgym.env.obs_kernels import (
    SRC_APPLIED,
    SRC_CONST,
    SRC_CURVATURE,
    SRC_FLAG,
    SRC_HIST_BASIC,
    SRC_HIST_CONTROLS,
    SRC_RAYS,
    SRC_TARGET,
    SRC_VALUES,
    GatherPlan,
    Source,
    gather_observation,
    push_history,
)
from acgym.errors import BackendError, ConfigError
from acgym.protocol import channels as ch
from acgym.track.queries import interp_ahead
from acgym.track.track import Track

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]

TOP_SPEED_MPS = 80.0
"""The original's speed scale, m/s."""


CHANNEL_SCALES: dict[str, float] = {
    ch.SPEED: TOP_SPEED_MPS,
    GAP: 10.0,
    ch.LAST_FF: 1.0,
    ch.RPM: 10000.0,
    ch.ACCEL_X: 5.0,
    ch.ACCEL_Y: 5.0,
    ch.ANGULAR_VELOCITY_X: math.pi,
    ch.ANGULAR_VELOCITY_Y: math.pi,
    ch.ANGULAR_VELOCITY_Z: math.pi,
    ch.LOCAL_VELOCITY_X: TOP_SPEED_MPS,
    ch.LOCAL_VELOCITY_Y: 20.0,
    ch.LOCAL_VELOCITY_Z: 5.0,
    ch.SLIP_ANGLE.fl: 25.0,
    ch.SLIP_ANGLE.fr: 25.0,
    ch.SLIP_ANGLE.rl: 25.0,
    ch.SLIP_ANGLE.rr: 25.0,
    ch.WHEEL_SPEED.rr: TOP_SPEED_MPS / 3.6,
    ch.WHEEL_SPEED.rl: TOP_SPEED_MPS / 3.6,
    ch.WHEEL_SPEED.fr: TOP_SPEED_MPS / 3.6,
    ch.WHEEL_SPEED.fl: TOP_SPEED_MPS / 3.6,
    ch.TYRE_SLIP_RATIO.fl: 1.0,
    ch.TYRE_SLIP_RATIO.fr: 1.0,
    ch.TYRE_SLIP_RATIO.rl: 1.0,
    ch.TYRE_SLIP_RATIO.rr: 1.0,
    ch.DY.rr: 2.0,
    ch.DY.rl: 2.0,
    ch.DY.fr: 2.0,
    ch.DY.fl: 2.0,
    ch.LAP_COUNT: 1.0,
    LAP_DIST: 1.0,
    ch.STEER_ANGLE: STEER_ANGLE_SCALE_DEG,
    ch.ACC_STATUS: 1.0,
    ch.BRAKE_STATUS: 1.0,
    ch.ACTUAL_GEAR: 8.0,
}
"""The original's ``obs_channels_info``: the divisor of every channel a basic observation
may use (units of the channel: m/s, m, rpm, g, rad/s, degrees, ...)."""

CHANNEL_UNITS: dict[str, str] = {
    ch.SPEED: "m/s",
    GAP: "m",
    ch.RPM: "rpm",
    ch.ACCEL_X: "g",
    ch.ACCEL_Y: "g",
    ch.ANGULAR_VELOCITY_X: "rad/s",
    ch.ANGULAR_VELOCITY_Y: "rad/s",
    ch.ANGULAR_VELOCITY_Z: "rad/s",
    ch.LOCAL_VELOCITY_X: "m/s",
    ch.LOCAL_VELOCITY_Y: "m/s",
    ch.LOCAL_VELOCITY_Z: "m/s",
    ch.SLIP_ANGLE.fl: "deg",
    ch.SLIP_ANGLE.fr: "deg",
    ch.SLIP_ANGLE.rl: "deg",
    ch.SLIP_ANGLE.rr: "deg",
    ch.WHEEL_SPEED.rr: "rad/s",
    ch.WHEEL_SPEED.rl: "rad/s",
    ch.WHEEL_SPEED.fr: "rad/s",
    ch.WHEEL_SPEED.fl: "rad/s",
    LAP_DIST: "m",
    ch.STEER_ANGLE: "deg",
    ch.ACTUAL_GEAR: "AC gear code",
}
"""Unit of each channel with one (the others are ratios, counts or 0..1 statuses)."""

CONTROL_CHANNELS = (ch.STEER_ANGLE, ch.ACC_STATUS, ch.BRAKE_STATUS)
"""Telemetry of the applied controls, in the order of the control pieces."""

CONTROL_SCALES = np.array([STEER_ANGLE_SCALE_DEG, 1.0, 1.0])
"""Divisors of ``CONTROL_CHANNELS``."""

POSE_CHANNELS = (ch.WORLD_POSITION_X, ch.WORLD_POSITION_Y, ch.YAW)
"""Telemetry of the car's pose: x, y (m) and yaw (rad)."""

REQUIRED_CHANNELS = (
    ch.SPEED,
    *CONTROL_CHANNELS,
    *POSE_CHANNELS,
    ch.NORMALIZED_SPLINE_POSITION,
    ch.NUMBER_OF_TYRES_OUT,
    ch.LAP_COUNT,
    ch.DONE,
)
"""Wire channels the environment reads every step, whatever the observation."""


def heading_rad_from_yaw(yaw_rad: float | FloatArray) -> float | FloatArray:
    """Heading in the (world_position_x, world_position_y) plane from telemetry ``yaw``.

    The plugin maps the game's (x, y-up, z) to ``world_position_x = z``,
    ``world_position_y = x`` and reports ``yaw = -heading_ac``. Swapping two axes mirrors
    the plane, which reverses the sense of rotation, and the minus sign reverses it back,
    so ``yaw`` is already the heading CCW from +x in this plane: the original casts its
    rays at ``yaw + linspace(-pi/2, pi/2, 11)`` in this plane
    (``SensorsRayCasting.get_intersections_and_distances_to_wall``), and the simulator
    reports ``yaw`` the same way.
    """
    return yaw_rad


def ray_angles_rad(num_rays: int, fov_deg: float = 180.0) -> FloatArray:
    """Ray directions relative to the heading, ``(num_rays,)`` rad, right (-) to left (+)."""
    half = 0.5 * math.radians(fov_deg)
    return np.linspace(-half, half, num_rays)


class TrackGeometry(Protocol):
    """What the environment asks of a track (``acgym.track.Track`` provides it)."""

    @property
    def length_m(self) -> float: ...

    def project(self, xy_m: Any) -> Any: ...

    def project_point(self, x_m: float, y_m: float) -> tuple[float, float]: ...

    def is_inside(self, xy_m: Any) -> NDArray[np.bool_]: ...

    def is_inside_point(self, x_m: float, y_m: float) -> bool: ...

    def cast_rays(
        self, xy_m: Any, heading_rad: Any, angles_rad: Any, max_range_m: float = ...
    ) -> FloatArray: ...

    def cast_rays_pose(
        self,
        x_m: float,
        y_m: float,
        heading_rad: float,
        angles_rad: FloatArray,
        max_range_m: float = ...,
        out: FloatArray | None = ...,
    ) -> FloatArray: ...

    def curvature_ahead(
        self, s_m: Any, num_samples: int = ..., distance_m: float = ...
    ) -> FloatArray: ...

    def values_ahead(
        self, s_m: Any, values: Any, num_samples: int = ..., distance_m: float = ...
    ) -> FloatArray: ...


class Frame:
    """The features of one step for N cars (rows).

    Attributes:
        channels: Column names of ``values``: wire channels, then ``DERIVED_CHANNELS``.
        index: Column of each channel.
        values: ``(N, C)`` channel values in wire units (``currentTime`` stays in ms).
        rays_m: ``(N, R)`` ray distances, m.
        curvature_1pm: ``(N, K)`` curvature ahead, 1/m.
        target_speed_mps: ``(N, K2)`` target speed ahead, m/s (``K2 = 0`` when unused).
        applied: ``(N, 3)`` steerAngle / 450, accStatus, brakeStatus.
    """

    def __init__(
        self,
        channels: Sequence[str],
        num_cars: int,
        num_rays: int,
        num_curvature: int,
        num_target_speed: int = 0,
    ) -> None:
        self.channels = tuple(channels)
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"frame channels must be unique, got {self.channels}")
        self.index = {name: i for i, name in enumerate(self.channels)}
        self.values = np.zeros((num_cars, len(self.channels)))
        self.rays_m = np.zeros((num_cars, num_rays))
        self.curvature_1pm = np.zeros((num_cars, num_curvature))
        self.target_speed_mps = np.zeros((num_cars, num_target_speed))
        self.applied = np.zeros((num_cars, 3))
        self._applied_index = np.array([self.index[c] for c in CONTROL_CHANNELS])

    @property
    def num_cars(self) -> int:
        """Rows (cars, or steps of an offline episode)."""
        return self.values.shape[0]

    def column(self, name: str) -> FloatArray:
        """A channel of every car, ``(N,)`` (a view)."""
        return self.values[:, self.index[name]]

    def update_applied(self) -> None:
        """Recompute ``applied`` from the control channels."""
        np.divide(self.values[:, self._applied_index], CONTROL_SCALES, out=self.applied)


CHANNEL_NOTES: dict[str, str] = {
    GAP: ", positive right of the racing line (the original's sign)",
    ch.ANGULAR_VELOCITY_Y: ", positive turning left",
}
"""Sign notes of the docs table, after a channel's scale."""


def _side(angle_deg: float) -> str:
    """`` (right)`` / `` (left)`` / `` (ahead)`` for a ray angle (positive anticlockwise)."""
    return " (ahead)" if angle_deg == 0 else (" (left)" if angle_deg > 0 else " (right)")


def _scaled(channel: str, scale: float | None = None) -> str:
    """``"`speed` (m/s) / 80"``: a channel, its unit and its divisor, for the docs."""
    unit = f" ({CHANNEL_UNITS[channel]})" if channel in CHANNEL_UNITS else ""
    return f"`{channel}`{unit} / {CHANNEL_SCALES[channel] if scale is None else scale:g}"


def frame_channels(config: EnvConfig) -> tuple[str, ...]:
    """Wire channels the env reads for ``config``, then the derived ones."""
    wanted = [*REQUIRED_CHANNELS, *config.observation.channels]
    if config.use_obs_extra:
        wanted += list(config.observation.extra_channels)
    wire = [c for c in dict.fromkeys(wanted) if c not in DERIVED_CHANNELS]
    return (*wire, *DERIVED_CHANNELS)


class StateExpander:
    """Backend states -> :class:`Frame` (gap, LapDist, out of track, rays, look-ahead).

    Two inputs, one computation: :meth:`expand` reads a state dict (remote backends),
    :meth:`expand_rows` a telemetry matrix (the in-process simulator's fast path); both
    then run :func:`acgym.env.features.derive_cars` and the look-ahead, so the derived
    channels cannot differ between the two.

    Args:
        config: Environment config.
        track: Track geometry (reference line = racing line).
        num_cars: Rows of the frame.
        track_length_m: Length that turns ``NormalizedSplinePosition`` into ``LapDist``;
            the game's ``TrackLength`` in the original (set it from the static info).
        target_speed_mps: Target speed at each reference-line point, ``(M,)`` m/s;
            required when ``use_target_speed``.
    """

    def __init__(
        self,
        config: EnvConfig,
        track: Track,
        num_cars: int = 1,
        *,
        track_length_m: float | None = None,
        target_speed_mps: FloatArray | None = None,
    ) -> None:
        obs = config.observation
        self.track = track
        self.track_arrays = TrackArrays.of(track)
        self.track_length_m = float(track.length_m if track_length_m is None else track_length_m)
        self.use_ac_out_of_track = config.use_ac_out_of_track
        self.max_tyres_out = config.termination.max_tyres_out
        self.max_ray_range_m = obs.max_ray_range_m
        self.curvature_samples = obs.curvature_num_samples if obs.include_curvature else 0
        self.curvature_distance_m = obs.curvature_distance_m
        self._curvature = np.ascontiguousarray(track.line_curvature_1pm, dtype=np.float64)
        self._knots_m = np.ascontiguousarray(track.line_s_m, dtype=np.float64)
        self.target_speed_mps = None
        if config.use_target_speed:
            if target_speed_mps is None:
                raise ConfigError(
                    "use_target_speed: expected a target speed per reference-line point, got none"
                )
            self.target_speed_mps = track.line_channel(target_speed_mps)
        num_target = obs.curvature_num_samples if self.target_speed_mps is not None else 0
        num_rays = obs.num_rays if config.enable_sensors else 0
        self.angles_rad = np.ascontiguousarray(ray_angles_rad(num_rays, obs.ray_fov_deg))
        self._back_angles = np.ascontiguousarray(self.angles_rad + math.pi)
        self._back_m = np.zeros(num_rays)
        self.frame = Frame(
            frame_channels(config), num_cars, num_rays, self.curvature_samples, num_target
        )
        channels = self.frame.channels
        self.wire_channels = channels[: len(channels) - len(DERIVED_CHANNELS)]
        self._num_wire = len(self.wire_channels)
        self._i = self.frame.index
        self._feature_cols = np.array([self._i[c] for c in FEATURE_COLUMNS], dtype=np.int64)
        self._control_cols = np.array([self._i[c] for c in CONTROL_CHANNELS], dtype=np.int64)
        self._all_cars = np.arange(num_cars, dtype=np.int64)
        self._lap_col = self._i[LAP_DIST]
        self._row_layout: RowLayout | None = None
        self._row_cols = np.zeros(0, dtype=np.intp)
        self.tyres_out_missing_steps = 0
        """Car-steps whose state had no tyres-out count (NaN: ``numberOfTyresOut`` sent as
        null); their out-of-track flag came from the track geometry instead."""
        self.progress_m = np.full(num_cars, np.nan)
        """``(N,)`` each car's distance along the line at its last projection, m: the
        progress that picks its level where the track crosses itself (NaN after
        :meth:`forget_progress`: the next state's ``NormalizedSplinePosition`` stands in)."""

    def forget_progress(self, mask: NDArray[np.bool_] | None = None) -> None:
        """Drop the progress of the cars in ``mask`` (or all): they were reset or moved, so
        their next state's spline position picks their level at a crossing."""
        if mask is None:
            self.progress_m[:] = np.nan
        else:
            self.progress_m[mask] = np.nan

    def expand(self, state: Mapping[str, Any]) -> Frame:
        """Fill and return the frame for one backend state (scalars, or ``(N,)`` arrays)."""
        frame = self.frame
        values = frame.values
        try:
            if frame.num_cars == 1:
                values[0, : self._num_wire] = [state[c] for c in self.wire_channels]
            else:
                for j, c in enumerate(self.wire_channels):
                    values[:, j] = state[c]
        except KeyError as exc:
            raise BackendError(
                f"the backend's state lacks the channel {exc.args[0]!r} (DESIGN.md, telemetry channels)"
            ) from None
        except (TypeError, ValueError) as exc:
            raise BackendError(
                f"the backend's state has a non-numeric channel value ({exc})"
            ) from None
        return self._derive(self._all_cars)

    def expand_rows(
        self, rows: FloatArray, layout: RowLayout, cars: IndexArray | None = None
    ) -> Frame:
        """Fill the frame from telemetry rows ``(N, C)`` (only the rows ``cars``, or all)."""
        if layout is not self._row_layout:  # resolve the columns once per layout
            missing = [c for c in self.wire_channels if c not in layout.columns]
            if missing:
                raise BackendError(
                    f"the backend's telemetry rows lack the channels {missing} (DESIGN.md, telemetry channels)"
                )
            self._row_cols = np.array([layout.columns[c] for c in self.wire_channels], np.intp)
            self._row_layout = layout
        values = self.frame.values
        if cars is None:
            np.take(rows, self._row_cols, axis=1, out=values[:, : self._num_wire])
            return self._derive(self._all_cars)
        values[cars, : self._num_wire] = rows[cars][:, self._row_cols]
        return self._derive(cars)

    def _derive(self, cars: IndexArray) -> Frame:
        frame, t = self.frame, self.track_arrays
        missing = derive_cars(
            frame.values,
            frame.rays_m,
            frame.applied,
            cars,
            self._control_cols,
            self._feature_cols,
            self.track_length_m,
            float(self.max_tyres_out),
            self.use_ac_out_of_track,
            self.angles_rad,
            self._back_angles,
            self.max_ray_range_m,
            self._back_m,
            self.progress_m,
            *t,
        )
        if missing:
            if not self.tyres_out_missing_steps:
                logger.warning(
                    "the backend sends no tyres-out count (numberOfTyresOut is null: the game "
                    "without shared memory?): out of track is judged from the track geometry "
                    "instead (info['tyres_out_missing_steps'] counts the steps)"
                )
            self.tyres_out_missing_steps += missing
        all_cars = len(cars) == frame.num_cars
        if self.curvature_samples:
            self._ahead(frame, cars, all_cars, self._curvature, frame.curvature_1pm)
        if self.target_speed_mps is not None:
            self._ahead(frame, cars, all_cars, self.target_speed_mps, frame.target_speed_mps)
        return frame

    def _ahead(
        self, frame: Frame, cars: IndexArray, all_cars: bool, channel: FloatArray, out: FloatArray
    ) -> None:
        """Sample a per-line-point channel ahead of each car's LapDist into ``out`` rows."""
        lap_m = np.ascontiguousarray(frame.values[cars, self._lap_col])
        step_m = self.curvature_distance_m / out.shape[1]
        t = self.track_arrays
        if all_cars:
            interp_ahead(lap_m, step_m, self._knots_m, channel, t.length_m, out)
        else:
            part = np.empty((len(cars), out.shape[1]))
            interp_ahead(lap_m, step_m, self._knots_m, channel, t.length_m, part)
            out[cars] = part


class ObservationHistory:
    """The previous steps' basic observations and applied controls, per car.

    Attributes:
        basic: ``(N, W, B)`` oldest first (a view of one flat buffer per car).
        controls: ``(N, W, 3)`` scaled applied controls, oldest first.
        count: ``(N,)`` steps pushed since the last clear.
        full: ``(N, 1)`` whether ``window`` previous steps exist (kept up to date).
    """

    def __init__(self, num_cars: int, window: int, basic_size: int) -> None:
        self.window = window
        self.basic_size = basic_size
        self._basic = np.zeros((num_cars, window * basic_size))
        self._controls = np.zeros((num_cars, window * 3))
        self.basic = self._basic.reshape(num_cars, window, basic_size)
        self.controls = self._controls.reshape(num_cars, window, 3)
        self.count = np.zeros(num_cars, dtype=np.int64)
        self.full = np.zeros((num_cars, 1), dtype=bool)

    @classmethod
    def from_sequence(
        cls, basic: FloatArray, controls: FloatArray, window: int
    ) -> ObservationHistory:
        """The history seen at each step of one episode: row t holds steps t-W .. t-1.

        Args:
            basic: ``(T, B)`` basic observations of the episode's steps.
            controls: ``(T, 3)`` scaled applied controls.
            window: W.
        """
        steps, size = basic.shape
        history = cls(steps, window, size)
        for k in range(window):  # slot k holds step t - window + k
            lag = window - k
            history.basic[lag:, k] = basic[: steps - lag]
            history.controls[lag:, k] = controls[: steps - lag]
        history.count[:] = np.arange(steps)
        history.full[:, 0] = history.count >= window
        return history

    def clear(self, mask: NDArray[np.bool_] | None = None) -> None:
        """Forget the history (of the cars in ``mask``, or all)."""
        rows = slice(None) if mask is None else mask
        self._basic[rows] = 0.0
        self._controls[rows] = 0.0
        self.count[rows] = 0
        self.full[rows] = False

    def push(self, basic: FloatArray, controls: FloatArray) -> None:
        """Append one step: ``basic (N, B)``, ``controls (N, 3)``."""
        size = self.basic_size
        self._basic[:, :-size] = self._basic[:, size:]
        self._basic[:, -size:] = basic
        self._controls[:, :-3] = self._controls[:, 3:]
        self._controls[:, -3:] = controls
        self.count += 1
        np.greater_equal(self.count[:, None], self.window, out=self.full)


class ObservationTerm(Protocol):
    """One piece of the vector.

    Attributes:
        name: Term name (``basic``, ``rays``, ...).
        labels: One unique name per value.
        descriptions: What each value is, with its scale (for the docs table).
        basic: Whether the term belongs to the basic block kept in the history.
    """

    name: str
    labels: tuple[str, ...]
    descriptions: tuple[str, ...]
    basic: bool

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        """Write ``(N, len(labels))`` values into ``out``."""

    def sources(self, frame: Frame, window: int) -> list[Source]:
        """Where each value comes from (:mod:`acgym.env.obs_kernels`), for the compiled
        path; must give the numbers ``write`` gives."""


class BasicChannels:
    """Telemetry channels divided by their scales (the original's ``obs_enabled_channels``)."""

    name = "basic"
    basic = True

    def __init__(self, channels: Sequence[str]) -> None:
        self.channels = tuple(channels)
        unknown = [c for c in self.channels if c not in CHANNEL_SCALES]
        if unknown:
            raise ConfigError(
                f"observation.channels: expected names from CHANNEL_SCALES, got unknown {unknown}"
            )
        self.labels = self.channels
        self.descriptions = tuple(_scaled(c) + CHANNEL_NOTES.get(c, "") for c in self.channels)
        self._scales = np.array([CHANNEL_SCALES[c] for c in self.channels])
        self._index_of: dict[str, int] | None = None
        self._index = np.zeros(0, dtype=np.intp)

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        if frame.index is not self._index_of:  # resolve the columns once per frame layout
            missing = [c for c in self.channels if c not in frame.index]
            if missing:
                raise ValueError(f"basic: expected the frame to hold {missing}")
            self._index = np.array([frame.index[c] for c in self.channels], dtype=np.intp)
            self._index_of = frame.index
        np.divide(frame.values[:, self._index], self._scales, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_VALUES, frame.index[c], CHANNEL_SCALES[c], False) for c in self.channels]


@dataclass(frozen=True)
class RayDistances:
    """Ray-cast distances to the borders divided by the range (``enable_sensors``)."""

    num_rays: int
    fov_deg: float
    max_range_m: float
    name: str = "rays"
    basic: bool = True

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"ray_{k:02d}" for k in range(self.num_rays))

    @property
    def descriptions(self) -> tuple[str, ...]:
        angles = np.degrees(ray_angles_rad(self.num_rays, self.fov_deg))
        return tuple(
            f"ray at {a:+g} deg from the heading{_side(a)}, m / {self.max_range_m:g}"
            for a in angles
        )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        if frame.rays_m.shape[1] != self.num_rays:
            raise ValueError(
                f"rays: expected {self.num_rays} ray distances, got {frame.rays_m.shape[1]}"
            )
        np.divide(frame.rays_m, self.max_range_m, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_RAYS, k, self.max_range_m, False) for k in range(self.num_rays)]


@dataclass(frozen=True)
class OutOfTrackFlag:
    """1.0 when the car is out of track (the game's tyres count or the geometry), else 0.0."""

    name: str = "out_of_track"
    basic: bool = False
    labels: tuple[str, ...] = ("out_of_track",)
    descriptions: tuple[str, ...] = ("1 when out of track, else 0",)

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        out[:, 0] = frame.values[:, frame.index[OUT_OF_TRACK]] != 0.0

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_FLAG, frame.index[OUT_OF_TRACK], 1.0, False)]


@dataclass(frozen=True)
class CurvatureAhead:
    """Reference-line curvature ahead of the car, divided by ``scale_1pm``."""

    num_samples: int
    distance_m: float
    scale_1pm: float
    name: str = "curvature_ahead"
    basic: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"curvature_ahead_{k:02d}" for k in range(self.num_samples))

    @property
    def descriptions(self) -> tuple[str, ...]:
        step = self.distance_m / self.num_samples
        return tuple(
            f"curvature {k * step:g} m ahead, 1/m / {self.scale_1pm:g}"
            for k in range(self.num_samples)
        )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        if frame.curvature_1pm.shape[1] != self.num_samples:
            raise ValueError(
                f"curvature_ahead: expected {self.num_samples} samples, got {frame.curvature_1pm.shape[1]}"
            )
        np.divide(frame.curvature_1pm, self.scale_1pm, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_CURVATURE, k, self.scale_1pm, False) for k in range(self.num_samples)]


@dataclass(frozen=True)
class PreviousControls:
    """The applied controls of the previous ``window`` steps, grouped by channel."""

    window: int
    name: str = "previous_controls"
    basic: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(
            f"prev_{c}_{lag}" for c in CONTROL_CHANNELS for lag in range(self.window, 0, -1)
        )

    @property
    def descriptions(self) -> tuple[str, ...]:
        return tuple(
            f"{_scaled(c, s)}, {lag} step(s) back (0 until {self.window} exist)"
            for c, s in zip(CONTROL_CHANNELS, CONTROL_SCALES, strict=True)
            for lag in range(self.window, 0, -1)
        )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        grouped = history.controls.transpose(0, 2, 1).reshape(len(out), -1)
        np.multiply(grouped, history.full, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [
            (SRC_HIST_CONTROLS, slot * 3 + c, 1.0, True) for c in range(3) for slot in range(window)
        ]


@dataclass(frozen=True)
class AppliedControls:
    """The controls in force when this state was read (the ones that led to it)."""

    name: str = "applied_controls"
    basic: bool = False
    labels: tuple[str, ...] = tuple(f"applied_{c}" for c in CONTROL_CHANNELS)
    descriptions: tuple[str, ...] = tuple(
        _scaled(c, s) for c, s in zip(CONTROL_CHANNELS, CONTROL_SCALES, strict=True)
    )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        out[:] = frame.applied

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_APPLIED, k, 1.0, False) for k in range(3)]


@dataclass(frozen=True)
class PreviousObservations:
    """The basic block of the previous ``window`` steps, oldest first."""

    window: int
    basic_labels: tuple[str, ...]
    name: str = "previous_observations"
    basic: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(
            f"prev_obs_{lag}/{b}" for lag in range(self.window, 0, -1) for b in self.basic_labels
        )

    @property
    def descriptions(self) -> tuple[str, ...]:
        return tuple(
            f"`{b}` of the basic block, {lag} step(s) back (0 until {self.window} exist)"
            for lag in range(self.window, 0, -1)
            for b in self.basic_labels
        )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        np.multiply(history.basic.reshape(len(out), -1), history.full, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        size = self.window * len(self.basic_labels)
        return [(SRC_HIST_BASIC, k, 1.0, True) for k in range(size)]


@dataclass(frozen=True)
class TaskOneHot:
    """One-hot of the (track, car) task (``enable_task_id_in_obs``)."""

    num_tasks: int
    task_index: int
    name: str = "task"
    basic: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.task_index < self.num_tasks:
            raise ConfigError(
                f"task: expected an index in [0, {self.num_tasks}), got {self.task_index}"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"task_{k:02d}" for k in range(self.num_tasks))

    @property
    def descriptions(self) -> tuple[str, ...]:
        return tuple(f"1 for task {k}, else 0" for k in range(self.num_tasks))

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        out[:] = 0.0
        out[:, self.task_index] = 1.0

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_CONST, int(k == self.task_index), 1.0, False) for k in range(self.num_tasks)]


@dataclass(frozen=True)
class TargetSpeedAhead:
    """Target speed ahead on the reference line, divided by ``scale_mps``."""

    num_samples: int
    distance_m: float
    scale_mps: float
    name: str = "target_speed_ahead"
    basic: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"target_speed_ahead_{k:02d}" for k in range(self.num_samples))

    @property
    def descriptions(self) -> tuple[str, ...]:
        step = self.distance_m / self.num_samples
        return tuple(
            f"target speed {k * step:g} m ahead, m/s / {self.scale_mps:g}"
            for k in range(self.num_samples)
        )

    def write(self, frame: Frame, history: ObservationHistory, out: FloatArray) -> None:
        if frame.target_speed_mps.shape[1] != self.num_samples:
            raise ValueError(
                f"target_speed_ahead: expected {self.num_samples} samples, got {frame.target_speed_mps.shape[1]}"
            )
        np.divide(frame.target_speed_mps, self.scale_mps, out=out)

    def sources(self, frame: Frame, window: int) -> list[Source]:
        return [(SRC_TARGET, k, self.scale_mps, False) for k in range(self.num_samples)]


@dataclass(frozen=True)
class ObservationLayout:
    """Name of every index and the slice of every term."""

    names: tuple[str, ...]
    terms: tuple[tuple[str, slice], ...]
    descriptions: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a value by name (e.g. ``"speed"``, ``"prev_obs_1/ray_05"``)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no observation value named {name!r}") from None

    def term_slice(self, term: str) -> slice:
        """Slice of a term (e.g. ``"rays"``)."""
        for name, part in self.terms:
            if name == term:
                return part
        raise KeyError(f"no observation term named {term!r}; terms: {[n for n, _ in self.terms]}")


class ObservationBuilder:
    """Writes the observation of a frame, term by term, into a preallocated buffer.

    Args:
        terms: The enabled terms, in vector order; the ``basic`` terms come first.
        window: History length of the previous-step terms.
    """

    def __init__(self, terms: Sequence[ObservationTerm], window: int) -> None:
        self.terms = tuple(terms)
        self.window = window
        names: list[str] = []
        descriptions: list[str] = []
        parts: list[tuple[str, slice]] = []
        for term in self.terms:
            parts.append((term.name, slice(len(names), len(names) + len(term.labels))))
            names += term.labels
            descriptions += term.descriptions
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(
                f"observation: value names must be unique, got duplicates {duplicates}"
            )
        flags = [t.basic for t in self.terms]
        num_basic = flags.index(False) if False in flags else len(flags)
        if any(flags[num_basic:]):
            raise ConfigError("observation: the basic terms must come first")
        self.basic_size = sum(len(t.labels) for t in self.terms[:num_basic])
        self.layout = ObservationLayout(tuple(names), tuple(parts), tuple(descriptions))
        self.size = len(names)
        self.space = spaces.Box(-np.inf, np.inf, shape=(self.size,), dtype=np.float32)
        self._out = np.zeros((0, self.size))
        self._views: list[FloatArray] = []
        self._plan: GatherPlan | None = None
        self._plan_of: dict[str, int] | None = None
        self._compiled = all(hasattr(t, "sources") for t in self.terms)
        self._bad = np.zeros(self.size, dtype=bool)
        self._finite = True
        self._all = np.zeros(0, dtype=np.int64)

    def new_history(self, num_cars: int) -> ObservationHistory:
        """An empty history for ``num_cars`` cars."""
        return ObservationHistory(num_cars, self.window, self.basic_size)

    def build(
        self, frame: Frame, history: ObservationHistory, cars: IndexArray | None = None
    ) -> FloatArray:
        """The ``(N, D)`` observation of a frame (a reused buffer: copy it to keep it).

        Compiled in one call (:mod:`acgym.env.obs_kernels`) when every term lists its
        sources, term by term otherwise. ``cars``: only these rows are (re)written.
        """
        if self._out.shape[0] != frame.num_cars:
            self._out = np.zeros((frame.num_cars, self.size))
            self._views = [self._out[:, part] for _, part in self.layout.terms]
            self._all = np.arange(frame.num_cars, dtype=np.int64)
        if not self._compiled:
            for term, view in zip(self.terms, self._views, strict=True):
                term.write(frame, history, view)
            self._finite = math.isfinite(self._out.sum())
            return self._out
        if frame.index is not self._plan_of:  # resolve the sources once per frame layout
            sources = [src for t in self.terms for src in t.sources(frame, self.window)]
            self._plan, self._plan_of = GatherPlan.of(sources), frame.index
        plan = self._plan
        assert plan is not None
        self._finite = not gather_observation(
            self._out,
            *plan,
            frame.values,
            frame.rays_m,
            frame.curvature_1pm,
            frame.target_speed_mps,
            frame.applied,
            history._basic,
            history._controls,
            history.full,
            self._all if cars is None else cars,
            self._bad,
        )
        return self._out

    def check_finite(self, observation: FloatArray) -> None:
        """Raise ``BackendError`` naming the values that are NaN or infinite, if any."""
        if observation is self._out and self._finite:
            return
        if math.isfinite(observation.sum()):
            return
        bad = np.flatnonzero(~np.isfinite(observation).all(axis=0))
        names = [self.layout.names[i] for i in bad[:8]]
        raise BackendError(
            f"observation values {names} are not finite: the backend sent NaN or infinite "
            "channels (or a position off the track's grid)"
        )

    def push(self, observation: FloatArray, frame: Frame, history: ObservationHistory) -> None:
        """Append this step (its basic block and applied controls) to the history."""
        push_history(
            history._basic,
            history._controls,
            history.count,
            history.full,
            observation,
            frame.applied,
            history.window,
        )

    def build_sequence(self, frame: Frame) -> FloatArray:
        """Observations of a whole episode at once: row t of ``frame`` is step t.

        The history of row t is rows t-W .. t-1, as if the steps had been built one by one
        from an empty history.

        Returns:
            ``(T, D)`` observations (a new array).
        """
        steps = frame.num_cars
        out = np.zeros((steps, self.size))
        empty = self.new_history(steps)
        for term, (_, part) in zip(self.terms, self.layout.terms, strict=True):
            if term.basic:
                term.write(frame, empty, out[:, part])
        history = ObservationHistory.from_sequence(
            out[:, : self.basic_size], frame.applied, self.window
        )
        for term, (_, part) in zip(self.terms, self.layout.terms, strict=True):
            if not term.basic:
                term.write(frame, history, out[:, part])
        return out


def task_index(config: EnvConfig) -> int:
    """Index of ``(config.track, config.car)`` among the task pairs (track-major)."""
    tasks = config.tasks
    if config.track not in tasks.tracks or config.car not in tasks.cars:
        raise ConfigError(
            f"enable_task_id_in_obs: ({config.track!r}, {config.car!r}) is not a task; "
            f"expected a track of {list(tasks.tracks)} and a car of {list(tasks.cars)}"
        )
    return tasks.tracks.index(config.track) * len(tasks.cars) + tasks.cars.index(config.car)


def make_observation_builder(config: EnvConfig) -> ObservationBuilder:
    """The terms enabled by ``config``, in the original order."""
    obs = config.observation
    terms: list[ObservationTerm] = [BasicChannels(obs.channels)]
    if config.enable_sensors:
        terms.append(RayDistances(obs.num_rays, obs.ray_fov_deg, obs.max_ray_range_m))
    basic_labels = tuple(label for term in terms for label in term.labels)
    if obs.include_out_of_track:
        terms.append(OutOfTrackFlag())
    if obs.include_curvature:
        terms.append(
            CurvatureAhead(
                obs.curvature_num_samples, obs.curvature_distance_m, obs.curvature_scale_1pm
            )
        )
    if obs.include_previous_controls:
        terms.append(PreviousControls(obs.history_window))
    if obs.include_applied_controls:
        terms.append(AppliedControls())
    if config.add_previous_obs_to_state:
        terms.append(PreviousObservations(obs.history_window, basic_labels))
    if config.enable_task_id_in_obs:
        num_tasks = len(config.tasks.tracks) * len(config.tasks.cars)
        terms.append(TaskOneHot(num_tasks, task_index(config)))
    if config.use_target_speed:
        terms.append(
            TargetSpeedAhead(
                obs.curvature_num_samples, obs.curvature_distance_m, obs.target_speed_scale_mps
            )
        )
    return ObservationBuilder(terms, obs.history_window)


def frame_from_columns(
    columns: Mapping[str, Any],
    config: EnvConfig,
    track: TrackGeometry,
    *,
    target_speed_mps: FloatArray | None = None,
) -> Frame:
    """A frame whose rows are the T logged steps of one episode (for offline data).

    The logged derived channels (``gap``, ``out_of_track``, ``LapDist``, the rays in
    ``sensors``) are used as logged, as the original data loader did; the curvature and
    target-speed look-ahead are recomputed from ``LapDist`` on ``track``.

    Args:
        columns: Channel name -> ``(T,)`` values (a DataFrame works); ``sensors`` holds
            one ``(R,)`` array per step.
        config: Environment config (which pieces and channels).
        track: Track geometry for the look-ahead.
        target_speed_mps: Target speed per reference-line point (``use_target_speed``).

    Raises:
        ValueError: A channel the observation needs is missing.
    """
    obs = config.observation
    needed = [*obs.channels, *CONTROL_CHANNELS, OUT_OF_TRACK, LAP_DIST]
    if config.enable_sensors:
        needed.append("sensors")
    missing = [c for c in dict.fromkeys(needed) if c not in columns]
    if missing:
        raise ValueError(f"logged episode: expected the channels {missing} for this observation")
    steps = len(np.asarray(columns[LAP_DIST]))
    num_rays = obs.num_rays if config.enable_sensors else 0
    num_curvature = obs.curvature_num_samples if obs.include_curvature else 0
    num_target = obs.curvature_num_samples if config.use_target_speed else 0
    frame = Frame(frame_channels(config), steps, num_rays, num_curvature, num_target)
    for name, j in frame.index.items():
        frame.values[:, j] = (
            np.asarray(columns[name], dtype=np.float64) if name in columns else np.nan
        )
    if num_rays:
        rays = (
            np.stack([np.asarray(r, dtype=np.float64) for r in columns["sensors"]])
            if steps
            else frame.rays_m
        )
        if rays.shape != frame.rays_m.shape:
            raise ValueError(
                f"logged episode: expected sensors of shape {frame.rays_m.shape}, got {rays.shape}"
            )
        frame.rays_m[:] = rays
    lap_dist_m = frame.column(LAP_DIST)
    if num_curvature:
        frame.curvature_1pm[:] = track.curvature_ahead(
            lap_dist_m, num_curvature, obs.curvature_distance_m
        )
    if num_target:
        if target_speed_mps is None:
            raise ConfigError(
                "use_target_speed: expected a target speed per reference-line point, got none"
            )
        frame.target_speed_mps[:] = track.values_ahead(
            lap_dist_m, target_speed_mps, num_target, obs.curvature_distance_m
        )
    frame.update_applied()
    return frame


def observation_table_markdown(builder: ObservationBuilder) -> str:
    """The observation layout as a Markdown table (index, name, term, value)."""
    term_of = {}
    for name, part in builder.layout.terms:
        for i in range(part.start, part.stop):
            term_of[i] = name
    lines = ["| index | name | term | value |", "|---:|---|---|---|"]
    for i, (name, description) in enumerate(
        zip(builder.layout.names, builder.layout.descriptions, strict=True)
    ):
        lines.append(f"| {i} | `{name}` | {term_of[i]} | {description} |")
    return "\n".join(lines) + "\n"


def observation_doc_markdown(config: EnvConfig | None = None) -> str:
    """``docs/observation.md``: the layout of ``config`` (default: the original's)."""
    config = EnvConfig() if config is None else config
    builder = make_observation_builder(config)
    terms = ", ".join(f"`{name}` {part.stop - part.start}" for name, part in builder.layout.terms)
    return (
        "# Observation layout\n\n"
        "<!-- Generated by acgym.env.observations.observation_doc_markdown(); do not edit.\n"
        '     Regenerate: python -c "from acgym.env.observations import observation_doc_markdown as f; '
        "print(f(), end='')\" > docs/observation.md -->\n\n"
        f"The default configuration gives {builder.size} values, in the order of the original "
        "environment (a policy trained on it reads them unchanged). Terms and sizes: "
        f"{terms}.\n\n"
        "History values (`prev_*`) are 0 until three previous steps exist; `_3` is three "
        "steps back. Disabled pieces drop out and the rest close up; "
        "`env.unwrapped.observation_layout` names every index of the running configuration.\n\n"
        + observation_table_markdown(builder)
    )

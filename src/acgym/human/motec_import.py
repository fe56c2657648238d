"""``acgym dataset import-motec``: the game's MoTeC logs (:mod:`acgym.human.motec`) as
episodes of the dataset layout, written by the environment itself.

For each ``.ld`` file:

1. its channels are found by the names the game's MoTeC logger (ACTI) gives them
   (:data:`QUANTITIES`; a missing required channel is an error that names it) and
   converted to the telemetry's units by their ``unit`` field;
2. the positions are mapped to the track: of the eight ways to read the log's horizontal
   axes as (``world_position_x``, ``world_position_y``) (either axis first, either sign),
   the one that puts the most samples of the moving car on the track is used, and none
   that puts fewer than :data:`MIN_ON_TRACK` of them there is (a wrong ``--track``);
3. the laps are cut at the ``.ldx`` lap markers (else where the log's lap counter
   increases), each resampled to the control rate (continuous channels interpolated,
   counters and flags held);
4. what the log does not hold is derived and said so: the heading (``yaw``) is the
   direction of travel of the position path (no side slip, so ``local_velocity_x`` is
   the speed and ``local_velocity_y`` 0), the yaw rate and accelerations come from the
   path when missing; ``NormalizedSplinePosition`` is the projection on the track's
   reference line; channels with nothing to derive them from (``LastFF``, missing slip
   angles) are 0 and listed in the result;
5. a :class:`LogReplay` backend feeds the states to a ``RacingEnv`` of the track and car,
   driven with the actions that reproduce the logged controls (the env's inverse), so the
   episode log (gap, lap distance, rays, out of track, actions, reward) is the
   environment's own, exactly as for the expert's or a person's laps in ``acgym drive``.

One run per file: ``<out>/<track>/<car>/<stamp>_motec_<file>/``; each complete lap is an
episode (``--keep-partial``: the partial laps before the first and after the last marker
too).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.errors import DataFileError
from acgym.human.motec import LdChannel, LdFile, read_ld
from acgym.protocol import channels as ch
from acgym.units import KMH_PER_MPS

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

STANDARD_GRAVITY_MPS2 = 9.80665
MIN_ON_TRACK = 0.8
"""Fraction of the moving car's samples that must lie on the track under the chosen axes."""
MOVING_MPS = 5.0
"""Samples faster than this decide the axes and the heading."""
TYRES_OUT_LIMIT = 2
"""More tyres off than this invalidates a lap (the game's rule)."""

PERCENT = {"%": 0.01, "": 1.0}
DEGREES = {"deg": 1.0, "°": 1.0, "rad": 180.0 / math.pi}
ACCELERATION_G = {
    "g": 1.0,
    "m/s/s": 1.0 / STANDARD_GRAVITY_MPS2,
    "m/s2": 1.0 / STANDARD_GRAVITY_MPS2,
}
METRES = {"m": 1.0}


@dataclass(frozen=True)
class Quantity:
    """A telemetry channel and the MoTeC channels it is read from."""

    channel: str
    """Our channel."""
    names: tuple[str, ...]
    """MoTeC channel names, the game logger's first."""
    units: Mapping[str, float]
    """MoTeC unit (lower case) -> factor to our unit."""
    required: bool = True


QUANTITIES = (
    Quantity(
        ch.SPEED,
        ("Ground Speed", "Speed", "SPEED"),
        {"km/h": 1 / KMH_PER_MPS, "m/s": 1.0, "mph": 0.44704},
    ),
    Quantity(ch.ACC_STATUS, ("Throttle Pos", "THROTTLE", "Throttle"), PERCENT),
    Quantity(ch.BRAKE_STATUS, ("Brake Pos", "BRAKE", "Brake"), PERCENT),
    Quantity(ch.STEER_ANGLE, ("Steering Angle", "STEERANGLE", "Steering Wheel Angle"), DEGREES),
    Quantity(ch.ACTUAL_GEAR, ("Gear", "GEAR"), {"": 1.0, "gear": 1.0}),
    Quantity(ch.RPM, ("Engine RPM", "RPMS"), {"rpm": 1.0, "": 1.0}),
    Quantity(ch.ACCEL_X, ("CG Accel Lateral", "G_LAT"), ACCELERATION_G, required=False),
    Quantity(ch.ACCEL_Y, ("CG Accel Longitudinal", "G_LON"), ACCELERATION_G, required=False),
    Quantity(
        ch.ANGULAR_VELOCITY_Y,
        ("Chassis Yaw Rate", "ROTY"),
        {"deg/s": math.pi / 180.0, "rad/s": 1.0},
        required=False,
    ),
    *(
        Quantity(slip, (f"Tire Slip Angle {tyre.upper()}",), DEGREES, required=False)
        for slip, tyre in zip(ch.SLIP_ANGLE, ch.TYRES, strict=True)
    ),
    Quantity(ch.NUMBER_OF_TYRES_OUT, ("Num Tires Off Track",), {"": 1.0}, required=False),
    Quantity(ch.LAP_INVALIDATED, ("Lap Invalidated",), {"": 1.0}, required=False),
)
"""What is read from a log, by the names the game's MoTeC logger (ACTI) uses."""

POSITION_NAMES = (("Car Coord X",), ("Car Coord Y",), ("Car Coord Z",))
"""The game's world position: two horizontal axes, then height."""
LAP_COUNTER_NAMES = ("Session Lap Count", "Lap Number", "LAP_BEACON")
"""A lap counter, for logs without an ``.ldx``."""
HELD = frozenset({ch.ACTUAL_GEAR, ch.NUMBER_OF_TYRES_OUT, ch.LAP_INVALIDATED})
"""Counters and flags: held between samples, not interpolated."""
GEAR_OFFSET = 1
"""MoTeC's gear (-1 reverse, 0 neutral, 1 first) + this = the game's ``actualGear``."""


@dataclass(frozen=True)
class AxisMapping:
    """How the log's horizontal axes read as (``world_position_x``, ``world_position_y``)."""

    first: int
    """Which log axis (0: X, 1: Y) is ``world_position_x``; the other is ``_y``."""
    sign_x: float
    sign_y: float

    def apply(self, xy: FloatArray) -> FloatArray:
        """``(N, 2)`` log axes -> ``(N, 2)`` world positions."""
        order = [self.first, 1 - self.first]
        return xy[:, order] * np.array([self.sign_x, self.sign_y])

    def describe(self) -> str:
        names = ("X", "Y")
        sx, sy = ("-" if s < 0 else "" for s in (self.sign_x, self.sign_y))
        return (
            f"world_position_x = {sx}Car Coord {names[self.first]}, "
            f"world_position_y = {sy}Car Coord {names[1 - self.first]}"
        )


AXIS_MAPPINGS = tuple(
    AxisMapping(first, sx, sy) for first in (0, 1) for sx in (1.0, -1.0) for sy in (1.0, -1.0)
)


@dataclass(frozen=True)
class ImportResult:
    """One imported log."""

    path: Path
    run_dir: Path
    laps: list[tuple[float, bool]]
    """(time s, clean) of each complete lap written."""
    episodes: int
    axes: AxisMapping
    filled: tuple[str, ...]
    """Channels the log lacked, and what they became."""

    def describe(self) -> str:
        """A few lines for the command line."""
        laps = ", ".join(f"{t:.3f}{'' if clean else ' (invalid)'}" for t, clean in self.laps)
        lines = [
            f"{self.path.name}: {len(self.laps)} laps [{laps or 'none'}] s in {self.episodes} "
            f"episodes -> {self.run_dir}",
            f"  positions: {self.axes.describe()}",
        ]
        lines += [f"  {text}" for text in self.filled]
        return "\n".join(lines)


class LogReplay:
    """A backend that replays logged states, one episode after the other (lock-step,
    exact resets: the logged states are the episode's as they are).

    Args:
        episodes: Each episode's states, in order.
        static_info: The static info of the log.
        control_rate_hz: The states' rate.
    """

    kind = "ac"
    supports_lock_step = True
    num_cars = 1
    exact_reset = True
    states_lost = 0

    def __init__(
        self,
        episodes: Sequence[Sequence[dict[str, Any]]],
        static_info: dict[str, Any],
        control_rate_hz: float,
    ) -> None:
        self.episodes = episodes
        self._static = static_info
        self.control_rate_hz = control_rate_hz
        self._episode = -1
        self._step = 0

    def connect(self) -> None:
        pass

    def close(self) -> None:
        pass

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self._episode += 1
        self._step = 0
        return self.episodes[self._episode][0]

    def apply(self, controls: Any) -> None:
        pass  # the logged driver drove

    def observe(self) -> dict[str, Any]:
        self._step += 1
        return self.episodes[self._episode][self._step]

    def static_info(self) -> dict[str, Any]:
        return dict(self._static)

    def config(self) -> dict[str, Any]:
        return {"ego_sampling_freq": self.control_rate_hz}

    def track_info(self) -> dict[str, Any]:
        return {}


# ------------------------------------------------------------------------------ reading


def _convert(log: LdFile, quantity: Quantity, channel: LdChannel) -> LdChannel:
    unit = channel.unit.strip().lower()
    if unit not in quantity.units:
        raise DataFileError(
            f"{log.path}: channel {channel.name!r} is in {channel.unit!r}; expected one of "
            f"{sorted(quantity.units)} for {quantity.channel}"
        )
    return dataclasses.replace(channel, values=channel.values * quantity.units[unit])


def read_quantities(log: LdFile) -> dict[str, LdChannel]:
    """The log's channels as our channels (converted); optional ones it lacks are absent.

    Raises:
        DataFileError: A required channel is missing (named, with the log's channels) or
            in an unknown unit.
    """
    found: dict[str, LdChannel] = {}
    for quantity in QUANTITIES:
        present = [n for n in quantity.names if n in log.channels]
        if present:
            found[quantity.channel] = _convert(log, quantity, log.channels[present[0]])
        elif quantity.required:
            log.channel(*quantity.names)  # raises, naming the channel
    for names in POSITION_NAMES[:2]:
        log.channel(*names)
    return found


def choose_axes(log: LdFile, track: Any, speed: LdChannel) -> AxisMapping:
    """The reading of the log's horizontal axes that puts the moving car on the track
    (``speed`` in m/s picks the moving car's samples).

    Raises:
        DataFileError: None puts :data:`MIN_ON_TRACK` of the samples on the track.
    """
    x_channel, y_channel = log.channel(*POSITION_NAMES[0]), log.channel(*POSITION_NAMES[1])
    times = x_channel.times_s()
    moving = np.interp(times, speed.times_s(), speed.values) > MOVING_MPS
    raw = np.stack([x_channel.values, np.interp(times, y_channel.times_s(), y_channel.values)], 1)
    raw = raw[moving][:: max(1, int(moving.sum()) // 2000)]
    if len(raw) == 0:
        raise DataFileError(f"{log.path}: the car never moves faster than {MOVING_MPS} m/s")
    scores = [float(np.mean(track.is_inside(m.apply(raw)))) for m in AXIS_MAPPINGS]
    best = int(np.argmax(scores))
    if scores[best] < MIN_ON_TRACK:
        raise DataFileError(
            f"{log.path}: the logged positions do not lie on track {track.name!r} whichever "
            f"way the axes are read (at best {100 * scores[best]:.0f}% of the samples on it): "
            "is this the track the log was driven on (--track)?"
        )
    return AXIS_MAPPINGS[best]


def lap_markers_s(log: LdFile) -> tuple[float, ...]:
    """The start/finish crossings: the ``.ldx`` markers, else the lap counter's increases.

    Raises:
        DataFileError: Neither, saying where the markers come from.
    """
    if log.lap_markers_s:
        return log.lap_markers_s
    for name in LAP_COUNTER_NAMES:
        if name in log.channels:
            counter = log.channels[name]
            steps = np.flatnonzero(np.diff(counter.values) > 0) + 1
            return tuple((steps / counter.rate_hz).tolist())
    raise DataFileError(
        f"{log.path}: no lap markers: put the .ldx file the logger wrote beside the .ld "
        f"({log.path.with_suffix('.ldx').name}), or log one of {list(LAP_COUNTER_NAMES)}"
    )


def _sample(channel: LdChannel, times: FloatArray, held: bool) -> FloatArray:
    if held:
        index = np.clip(
            np.floor(times * channel.rate_hz + 1e-9).astype(np.int64), 0, len(channel.values) - 1
        )
        return channel.values[index]
    return np.interp(times, channel.times_s(), channel.values)


def heading_rad(xy_m: FloatArray, speed_mps: FloatArray) -> FloatArray:
    """The direction of travel of a path ``(T, 2)``, held where the car is slow, ``(T,)``."""
    velocity = np.gradient(xy_m, axis=0)
    heading = np.arctan2(velocity[:, 1], velocity[:, 0])
    moving = speed_mps > 1.0
    if not moving.any():
        return np.zeros(len(xy_m))
    index = np.where(moving, np.arange(len(xy_m)), 0)
    np.maximum.accumulate(index, out=index)
    first = int(np.argmax(moving))
    index[:first] = first
    return np.unwrap(heading[index])


# ------------------------------------------------------------------------------ import


def log_states(
    log: LdFile,
    track: Any,
    control_rate_hz: float,
    *,
    keep_partial: bool = False,
) -> tuple[list[list[dict[str, Any]]], list[tuple[float, bool]], AxisMapping, tuple[str, ...]]:
    """The episodes of a log as state dicts at the control rate.

    Returns:
        The episodes' states, the complete laps' (time s, clean), the axes used and what
        was derived or filled.
    """
    quantities = read_quantities(log)
    axes = choose_axes(log, track, quantities[ch.SPEED])
    markers = np.array(lap_markers_s(log))
    last_s = min((len(c.values) - 1) / c.rate_hz for c in quantities.values())
    times = np.arange(math.floor(last_s * control_rate_hz + 1e-6) + 1) / control_rate_hz
    raw_xy = np.stack([_sample(log.channel(*n), times, False) for n in POSITION_NAMES[:2]], 1)
    xy = axes.apply(raw_xy)
    z_channel = log.channels.get(POSITION_NAMES[2][0])
    values = {name: _sample(c, times, name in HELD) for name, c in quantities.items()}
    speed = values[ch.SPEED]
    yaw = heading_rad(xy, speed)
    filled = ["yaw: the direction of travel; local_velocity_x = speed, local_velocity_y = 0"]
    if ch.ANGULAR_VELOCITY_Y not in values:
        values[ch.ANGULAR_VELOCITY_Y] = np.gradient(yaw) * control_rate_hz
        filled.append("angular_velocity_y: from the heading")
    if ch.ACCEL_X not in values:
        values[ch.ACCEL_X] = speed * values[ch.ANGULAR_VELOCITY_Y] / STANDARD_GRAVITY_MPS2
        filled.append("accelX: speed x yaw rate")
    if ch.ACCEL_Y not in values:
        values[ch.ACCEL_Y] = np.gradient(speed) * control_rate_hz / STANDARD_GRAVITY_MPS2
        filled.append("accelY: from the speed")
    for slip in ch.SLIP_ANGLE:
        if slip not in values:
            values[slip] = np.zeros(len(times))
            filled.append(f"{slip}: 0 (not in the log)")
    if ch.NUMBER_OF_TYRES_OUT not in values:
        values[ch.NUMBER_OF_TYRES_OUT] = np.full(len(times), np.nan)
        filled.append("numberOfTyresOut: none (the environment judges by the track's borders)")
    out = values[ch.NUMBER_OF_TYRES_OUT]
    if ch.LAP_INVALIDATED not in values:
        values[ch.LAP_INVALIDATED] = (np.nan_to_num(out) > TYRES_OUT_LIMIT).astype(float)
        filled.append("LapInvalidated: more than 2 tyres out")
    values[ch.ACTUAL_GEAR] = values[ch.ACTUAL_GEAR] + GEAR_OFFSET
    filled.append("LastFF: 0 (not in the log)")
    spline = track.project(xy).spline_pos
    base = {
        ch.WORLD_POSITION_X: xy[:, 0],
        ch.WORLD_POSITION_Y: xy[:, 1],
        ch.WORLD_POSITION_Z: _sample(z_channel, times, False)
        if z_channel
        else np.zeros(len(times)),
        ch.YAW: yaw,
        ch.LOCAL_VELOCITY_X: speed,
        ch.LOCAL_VELOCITY_Y: np.zeros(len(times)),
        ch.LAST_FF: np.zeros(len(times)),
        ch.NORMALIZED_SPLINE_POSITION: spline,
        **values,
    }
    # Cut at the markers: a lap runs from the first sample at or after its marker to the
    # first at or after the next (the crossing state, which already belongs to the next).
    cuts = np.searchsorted(times, markers[markers <= times[-1] + 1e-9] - 1e-9)
    bounds = [(int(a), int(b), True) for a, b in itertools.pairwise(cuts)]
    if keep_partial and len(cuts):
        bounds = [(0, int(cuts[0]), False), *bounds, (int(cuts[-1]), len(times) - 1, False)]
    episodes, laps, best_ms = [], [], 0
    for start, stop, complete in bounds:
        if stop - start < 2:
            continue
        lap_ms = round(1000.0 * (times[stop] - times[start])) if complete else 0
        clean = complete and not np.any(base[ch.LAP_INVALIDATED][start:stop] > 0)
        states = []
        for k in range(start, stop + 1):
            crossed = complete and k == stop
            state = {name: float(v[k]) for name, v in base.items()}
            state.update(
                {
                    ch.STEPS: k - start + 1,
                    ch.PACKET_ID: k,
                    ch.CURRENT_TIME: round(1000.0 * (times[k] - times[stop if crossed else start])),
                    ch.COMPLETED_LAPS: int(crossed),
                    ch.LAP_COUNT: 1 + int(crossed),
                    ch.I_LAST_TIME: lap_ms if crossed else 0,
                    ch.BEST_LAP: _best_ms(best_ms, lap_ms if crossed and clean else 0),
                    ch.DONE: 0,
                }
            )
            states.append(state)
        if complete:
            laps.append((lap_ms / 1000.0, bool(clean)))
            best_ms = _best_ms(best_ms, lap_ms if clean else 0)
        episodes.append(states)
    return episodes, laps, axes, tuple(filled)


def _best_ms(best_ms: int, lap_ms: int) -> int:
    """The best lap time so far, ms (0: none), after a lap of ``lap_ms`` (0: not clean)."""
    return min(t for t in (best_ms, lap_ms) if t) if best_ms or lap_ms else 0


def import_motec(
    files: Sequence[Path],
    *,
    out: Path | str,
    track: str,
    car: str,
    config: EnvConfig | None = None,
    keep_partial: bool = False,
    now: datetime | None = None,
) -> tuple[Path, list[ImportResult]]:
    """Import MoTeC logs into ``out`` (one run per file; see the module docstring).

    Returns:
        The ``<out>/<track>/<car>`` folder and one result per file.

    Raises:
        DataFileError: A file cannot be read, lacks a required channel (named) or lap
            markers, or its positions are not on ``track``.
    """
    from acgym.env.actions import NEUTRAL_CONTROLS, controls_from_telemetry
    from acgym.env.factory import car_maps, resolve_config
    from acgym.env.racing_env import RacingEnv
    from acgym.fileio import free_folder, slug
    from acgym.track.loaders import load_track

    the_track = load_track(track)
    maps = car_maps(car)
    env_config = resolve_config(
        config,
        [
            "enable_out_of_track_termination=false",
            "enable_low_speed_termination=false",
            "max_laps_number=null",
            "recover_car_on_done=false",
        ],
        track=track,
        car=Path(car).name,
    )
    rate_hz = env_config.ego_sampling_freq
    root = Path(out) / track / Path(car).name
    stamp = (now or datetime.now()).strftime("%Y%m%d_%H%M%S")
    results = []
    for path in files:
        log = read_ld(path)
        episodes, laps, axes, filled = log_states(
            log, the_track, rate_hz, keep_partial=keep_partial
        )
        if not episodes:
            raise DataFileError(f"{path}: no complete lap between its lap markers")
        longest_s = max(len(e) for e in episodes) / rate_hz
        run_config = dataclasses.replace(
            env_config, max_episode_py_time=max(env_config.max_episode_py_time, longest_s + 1.0)
        )
        static = {
            "TrackName": the_track.name,
            "TrackConfiguration": the_track.configuration,
            "TrackLength": the_track.length_m,
            "CarName": Path(car).name,
            "source": "motec",
            "motec_file": log.path.name,
            "driver": log.header.driver,
            "vehicle": log.header.vehicle,
            "venue": log.header.venue,
            "recorded": log.header.recorded.isoformat() if log.header.recorded else "",
            "motec_axes": axes.describe(),
        }
        run_dir = free_folder(root, f"{stamp}_motec_{slug(path.stem)}")
        backend = LogReplay(episodes, static, rate_hz)
        env = RacingEnv(backend, the_track, maps, run_config, output_dir=run_dir)
        mapper = env.action_mapper
        try:
            for states in episodes:
                env.reset()
                logged = controls_from_telemetry(
                    np.array([s[ch.STEER_ANGLE] for s in states]),
                    np.array([s[ch.ACC_STATUS] for s in states]),
                    np.array([s[ch.BRAKE_STATUS] for s in states]),
                    maps,
                )
                applied = np.array(NEUTRAL_CONTROLS)  # the env starts each episode so
                for k in range(1, len(states)):
                    action = mapper.to_actions(applied, logged[k])
                    applied = mapper.to_controls(action, applied)
                    env.step(action.astype(np.float32))
        finally:
            env.close()
        result = ImportResult(log.path, run_dir, laps, len(episodes), axes, filled)
        logger.info("%s", result.describe())
        results.append(result)
    return root, results


__all__ = [
    "AXIS_MAPPINGS",
    "QUANTITIES",
    "AxisMapping",
    "ImportResult",
    "LogReplay",
    "choose_axes",
    "heading_rad",
    "import_motec",
    "lap_markers_s",
    "log_states",
    "read_quantities",
]

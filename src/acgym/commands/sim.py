"""``acgym sim``: the built-in simulator from the command line.

::

    acgym sim drive [--track T] [--car C] [--laps N] [--out DIR]

``drive`` runs the expert driver (:mod:`acgym.sim.driver`) from a standing start on the
start line for N laps and prints each lap time against the speed-profile estimate. It
writes the run to ``--out`` (default ``runs/<YYYYmmdd_HHMMSS>_drive_<track>_<car>/``) in
the episode-log layout of DESIGN.md ("Per-episode outputs": ``laps/<stamp>_states.parquet``,
``laps/static_info.json``, ``episodes_stats.csv``; one episode holding every lap) and
``<track>-<car>-lap.png``: the
fastest lap's driven line coloured by speed over the track map, the lap time in the
title. The exit status is 1 when a lap was not completed or the car left the track.

``acgym sim serve`` (the simulator behind the protocol's servers) is registered here by
the protocol work: see ``register``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acgym.sim.driver import ExpertDriver
    from acgym.sim.session import SimSession

DEFAULT_LAPS = 2
"""Laps driven when none are asked for: a standing lap and a flying lap."""

TIME_LIMIT_LAPS = 3.0
"""A run is abandoned after this many lap-time estimates per lap asked for."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym sim ...`` to the command line."""
    parser = subparsers.add_parser(
        "sim",
        help="the built-in simulator: drive the expert, serve the protocol",
        description="The built-in vehicle-dynamics simulator.",
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    actions = parser.add_subparsers(dest="sim_command", metavar="ACTION")
    _register_drive(actions)
    from acgym.sim_server import register_serve

    register_serve(actions)


def _register_drive(actions: argparse._SubParsersAction) -> None:
    from acgym.sim.session import DEFAULT_CAR
    from acgym.track.builtin import DEFAULT_TRACK

    drive = actions.add_parser(
        "drive",
        help="drive the expert for some laps; print lap times, log and plot them",
        description="Run the expert driver from a standing start; each lap time is printed "
        "beside the speed-profile estimate of the car.",
    )
    drive.add_argument(
        "--track", default=DEFAULT_TRACK, help=f"built-in track or track file ({DEFAULT_TRACK})"
    )
    drive.add_argument("--car", default=DEFAULT_CAR, help=f"car preset or folder ({DEFAULT_CAR})")
    drive.add_argument(
        "--laps", type=_positive_int, default=DEFAULT_LAPS, help=f"laps to drive ({DEFAULT_LAPS})"
    )
    drive.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the episode log and the lap PNG "
        "(default runs/<YYYYmmdd_HHMMSS>_drive_<track>_<car>)",
    )
    drive.set_defaults(handler=_drive)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


@dataclass
class DriveResult:
    """What an expert run did.

    Attributes:
        lap_times_s: Time of each completed lap, s (the first from the standing start).
        lap_valid: Whether each completed lap stayed valid (at most two tyres out).
        estimate_s: The car's speed-profile lap-time estimate (a flying lap), s.
        max_tyres_out: Most tyres off the track at any step.
        rows: The logged row of every step (the state plus the driver's additions).
        laps_xy_m: Per completed lap, the car's positions, ``(K, 2)`` m.
        laps_speed_mps: Per completed lap, the car's speeds, ``(K,)`` m/s.
    """

    lap_times_s: list[float] = field(default_factory=list)
    lap_valid: list[bool] = field(default_factory=list)
    estimate_s: float = 0.0
    max_tyres_out: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    laps_xy_m: list[Any] = field(default_factory=list)
    laps_speed_mps: list[Any] = field(default_factory=list)


def drive_laps(session: SimSession, driver: ExpertDriver, laps: int) -> DriveResult:
    """Drive car 0 of ``session`` with ``driver`` until it completes ``laps`` laps.

    The session is reset to the start line at rest first. The run stops early after
    ``TIME_LIMIT_LAPS`` lap-time estimates per lap (a car that cannot go on).

    Args:
        session: The simulator.
        driver: The expert driving it.
        laps: Laps to complete.

    Returns:
        The lap times and validity, the logged rows and each lap's driven line.
    """
    import numpy as np

    from acgym.env.config import EnvConfig
    from acgym.env.rewards import SPEED_REWARD_SCALE_KMH
    from acgym.units import KMH_PER_MPS, MS_PER_S

    session.reset()
    driver.reset()
    result = DriveResult(estimate_s=driver.reference_profiles[0].lap_time_s)
    gap_const_m = EnvConfig().gap_const
    length_m = session.length_m
    limit_steps = int(TIME_LIMIT_LAPS * laps * result.estimate_s / session.world.control_dt_s)
    xy: list[tuple[float, float]] = []
    speeds: list[float] = []
    invalid = False
    for step in range(limit_steps):
        controls = driver.controls()
        session.step(controls)
        state = session.telemetry(0)
        gap_m = float(session.gap_m[0])
        out = state["numberOfTyresOut"]
        result.max_tyres_out = max(result.max_tyres_out, out)
        invalid = invalid or bool(state["LapInvalidated"])
        finished = state["LapCount"] > len(result.lap_times_s)
        if finished:  # the lap that just ended
            result.lap_times_s.append(state["iLastTime"] / MS_PER_S)
            result.lap_valid.append(not invalid)
            result.laps_xy_m.append(np.array(xy))
            result.laps_speed_mps.append(np.array(speeds))
            xy, speeds = [], []
            invalid = bool(state["LapInvalidated"])
        xy.append((state["world_position_x"], state["world_position_y"]))
        speeds.append(state["speed"])
        done = len(result.lap_times_s) >= laps or step == limit_steps - 1
        row = dict(state)
        row["currentTime"] = state["currentTime"] / MS_PER_S  # the original logged seconds
        row["LapDist"] = state["NormalizedSplinePosition"] * length_m
        row["gap"] = gap_m
        row["out_of_track_ac"] = float(out > 2)
        for i, value in enumerate(controls[0].tolist()):
            row[f"current_action_abs_{i}"] = value
            row[f"actions_{i}"] = value
        speed_kmh = KMH_PER_MPS * state["speed"]
        row["reward"] = speed_kmh * (1.0 - abs(gap_m) / gap_const_m) / SPEED_REWARD_SCALE_KMH
        row["terminated"] = False
        row["TimeLimit.truncated"] = done
        row["done"] = int(done)
        result.rows.append(row)
        if done:
            break
    return result


def _drive(args: argparse.Namespace) -> int:
    from acgym.sim.driver import ExpertDriver
    from acgym.sim.session import SimSession

    session = SimSession(args.track, args.car)
    driver = ExpertDriver(session)
    car = session.world.cars[0].name
    track = session.track.name
    print(f"{track}, {car}: speed-profile estimate {driver.reference_profiles[0].lap_time_s:.2f} s")
    result = drive_laps(session, driver, args.laps)
    for k, (lap_s, valid) in enumerate(zip(result.lap_times_s, result.lap_valid, strict=True)):
        note = "standing start" if k == 0 else f"{100.0 * (lap_s / result.estimate_s - 1):+.1f} %"
        print(f"lap {k + 1}: {lap_s:.3f} s ({note}){'' if valid else ' INVALID'}")
    out = args.out or _default_out(track, car)
    _write_outputs(out, session, result)
    ok = len(result.lap_times_s) >= args.laps and result.max_tyres_out <= 2
    if not ok:
        print(
            f"acgym: the expert completed {len(result.lap_times_s)} of {args.laps} laps, "
            f"at most {result.max_tyres_out} tyres out",
            file=sys.stderr,
        )
    return 0 if ok else 1


def _default_out(track: str, car: str) -> Path:
    """``runs/<YYYYmmdd_HHMMSS>_drive_<track>_<car>``, a name not taken yet."""
    from datetime import datetime

    from acgym.fileio import free_folder, slug

    return free_folder("runs", f"{datetime.now():%Y%m%d_%H%M%S}_drive_{slug(track)}_{slug(car)}")


def _write_outputs(out: Path, session: SimSession, result: DriveResult) -> None:
    """The episode log (one episode) and the PNG of the fastest lap."""
    from acgym.env.episode_log import EpisodeLog, states_table

    log = EpisodeLog(out)
    log.end_episode(
        states_table(result.rows),
        ep_count=len(log.stats) + 1,
        total_steps=len(result.rows),
        static_info=session.static_info(),
    )
    print(f"episode log: {out}")
    if result.lap_times_s:
        png = out / f"{session.track.name}-{session.world.cars[0].name}-lap.png"
        plot_lap(session, result, png)
        print(f"lap map: {png}")


def plot_lap(session: SimSession, result: DriveResult, path: Path) -> None:
    """Draw the fastest completed lap's driven line, coloured by speed, over the track map.

    The standing lap is drawn only when it is the only one. The title gives the lap
    time and its distance to the speed-profile estimate.
    """
    import numpy as np

    from acgym.track.plot import plot_track
    from acgym.track.track import Track

    flying = range(1, len(result.lap_times_s)) if len(result.lap_times_s) > 1 else range(1)
    k = min(flying, key=lambda i: result.lap_times_s[i])
    xy = result.laps_xy_m[k]
    keep = np.concatenate(([True], np.any(np.diff(xy, axis=0) != 0.0, axis=1)))
    track = session.track
    # the driven line stands in for the reference line of the map (no validation: it is
    # drawn, not queried)
    driven = Track.from_arrays(
        track.name,
        track.left_m,
        track.right_m,
        xy[keep],
        configuration=track.configuration,
        validate=False,
    )
    lap_s = result.lap_times_s[k]
    label = "flying lap" if k > 0 else "standing lap"
    subtitle = (
        f"{session.world.cars[0].name}, {label} {k + 1}: {lap_s:.3f} s "
        f"(estimate {result.estimate_s:.2f} s, {100.0 * (lap_s / result.estimate_s - 1):+.1f} %)"
        ", the line as driven"
    )
    plot_track(
        driven, path, color_by="speed", speed_mps=result.laps_speed_mps[k][keep], subtitle=subtitle
    )

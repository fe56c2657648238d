"""``acgym sim``: the built-in simulator from the command line.

::

    acgym sim drive [--track T] [--car C] [--laps N] [--out DIR] [--config FILE] [key=value ...]
    acgym sim drive --all [--cars C1,C2] [--tracks T1,T2] [--track-file FILE ...] [--laps N] [--out DIR]

``drive`` puts the simulator's expert driver (:mod:`acgym.sim.driver`) at the wheel of the
environment, ``acgym/Race-v0``, as ``acgym record`` does (:func:`acgym.rl.expert.drive_expert`):
its controls go through the env's action inverse and rate limits, and the env computes the
reward, the episode-end rules and the episode log from its config (``--config`` and
``key=value`` overrides, as ``acgym train``; ``env.*`` applies). From a standing start on
the start line (whatever the recipe's ``env.start``, unless ``env.start.*`` items are
given) it drives until N laps are completed or the env ends the episode (out of
track, too slow, or its step limit ``env.max_episode_py_time``, 600 s by default: raise it
for long runs), and prints each lap time against the speed-profile estimate. The env
writes the run to ``--out`` (default ``runs/<YYYYmmdd_HHMMSS>_drive_<track>_<car>/``) in
the episode-log layout of DESIGN.md ("Per-episode outputs": ``laps/<stamp>_states.parquet``,
``laps/static_info.json``, ``episodes_stats.csv``, with ``env_config.yaml``; one episode
holding every lap), and ``<track>-<car>-lap.png`` is the fastest lap's driven line coloured
by speed over the track map, the lap time in the title. The exit status is 1 when a lap
was not completed or the car had more than two tyres off the track.

``acgym sim serve`` (the simulator behind the protocol's servers) is registered here by
the protocol work: see ``register``.

``drive --all`` drives every built-in track (the authored ones and the real circuits) and
every ``--track-file`` with every car (:mod:`acgym.rl.expert_table`), prints one row per
pair (estimate, flying lap, its distance to the estimate, most tyres out) and writes
``expert_table.json`` to ``--out``; the exit status is 1 when a pair did not lap cleanly
(at most two tyres out) within 5 % of its estimate.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acgym.env.config import EnvConfig
    from acgym.rl.laps import Lap
    from acgym.track.track import Track

DEFAULT_LAPS = 2
"""Laps driven when none are asked for: a standing lap and a flying lap."""


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
        description="Run the expert driver through the environment from a standing start; "
        "each lap time is printed beside the speed-profile estimate of the car.",
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
    drive.add_argument("--config", metavar="FILE", help="YAML config (ours or the original's)")
    drive.add_argument(
        "--all",
        action="store_true",
        help="every built-in track and every --track-file with every car (or --cars): "
        "print the table of flying laps against the estimates; exit 1 if a pair fails",
    )
    drive.add_argument(
        "--track-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="with --all: a track file (the original's CSV, ours) to add; repeatable",
    )
    drive.add_argument(
        "--cars", default=None, help="with --all: comma-separated cars (default: every preset)"
    )
    drive.add_argument(
        "--tracks",
        default=None,
        help="with --all: comma-separated built-in tracks (default: every one)",
    )
    drive.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides (env.* applies)"
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
    """What an expert run did (the env's episode).

    Attributes:
        states: The episode's logged states (a DataFrame, the episode log's rows).
        laps: Its completed, timed laps (``acgym.rl.laps.Lap``), the first from the
            standing start.
        estimate_s: The car's speed-profile lap-time estimate (a flying lap), s.
        max_tyres_out: Most tyres off the track at any step.
        ended_by_env: The env ended the episode (terminated or truncated) before the laps.
    """

    states: Any
    laps: list[Lap]
    estimate_s: float
    max_tyres_out: int
    ended_by_env: bool


def drive_laps(env: Any, laps: int) -> DriveResult:
    """Drive the expert in ``env`` (an ``acgym/Race-v0`` env) until it completes ``laps``
    laps or the env ends the episode (:func:`acgym.rl.expert.drive_expert`, seed 0).

    The episode stays in the env's recorder: closing the env writes its log.
    """
    from acgym.protocol import channels as ch
    from acgym.rl.expert import drive_expert

    estimate_s = env.unwrapped.expert_lap_estimate_s()
    run = drive_expert(env, laps=laps)
    return DriveResult(
        states=run.states,
        laps=run.laps.laps,
        estimate_s=estimate_s,
        max_tyres_out=int(run.states[ch.NUMBER_OF_TYRES_OUT].max()),
        ended_by_env=run.ended_by_env,
    )


def _drive(args: argparse.Namespace) -> int:
    if args.all:
        return _drive_all(args)
    from acgym.rl.expert import make_sim_env
    from acgym.track.loaders import load_track

    track = load_track(args.track)
    car = Path(args.car).name
    out = args.out or _default_out(track.name, car)
    env = make_sim_env(track, args.car, drive_env_config(args), output_dir=out)
    try:
        estimate_s = env.unwrapped.expert_lap_estimate_s()
        print(f"{track.name}, {car}: speed-profile estimate {estimate_s:.2f} s")
        result = drive_laps(env, args.laps)
    finally:
        env.close()  # writes the episode log
    for k, lap in enumerate(result.laps):
        note = "standing start" if k == 0 else f"{100.0 * (lap.time_s / estimate_s - 1):+.1f} %"
        print(f"lap {k + 1}: {lap.time_s:.3f} s ({note}){'' if lap.clean else ' INVALID'}")
    print(f"episode log: {out}")
    if result.laps:
        png = out / f"{track.name}-{car}-lap.png"
        plot_lap(track, car, result, png, env.unwrapped.config)
        print(f"lap map: {png}")
    ok = len(result.laps) >= args.laps and result.max_tyres_out <= 2
    if not ok:
        end = " (the env ended the episode)" if result.ended_by_env else ""
        print(
            f"acgym: the expert completed {len(result.laps)} of {args.laps} laps, "
            f"at most {result.max_tyres_out} tyres out{end}",
            file=sys.stderr,
        )
    return 0 if ok else 1


def _drive_all(args: argparse.Namespace) -> int:
    import dataclasses

    from tqdm import tqdm

    from acgym.rl.expert_table import expert_table, format_table, write_table
    from acgym.sim.car_params import list_cars
    from acgym.track.builtin import list_builtin_tracks

    cars = args.cars.split(",") if args.cars else list_cars()
    builtin = args.tracks.split(",") if args.tracks else list_builtin_tracks()
    tracks = [*builtin, *(str(path) for path in args.track_file)]
    # Long circuits take longer than the default 600 s step limit for two slow laps.
    config = dataclasses.replace(drive_env_config(args), max_episode_py_time=3600.0)
    out = args.out or _default_out("all", "cars")
    with tqdm(total=len(tracks) * len(cars), unit="pair", desc="expert") as bar:
        rows = expert_table(
            tracks, cars, laps=args.laps, config=config, progress=lambda _row: bar.update()
        )
    print(format_table(rows, args.laps))
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out / "expert_table.json")
    print(f"table: {out / 'expert_table.json'}")
    return 0 if all(row.passed(args.laps) for row in rows) else 1


def drive_env_config(args: argparse.Namespace) -> EnvConfig:
    """The env's options from ``--config`` and the items; the start is the start line at
    rest (the standing lap, then flying laps) unless ``env.start.*`` items are given."""
    import dataclasses

    from acgym.config import load_config
    from acgym.env.config import StartConfig

    config = load_config(args.config, args.overrides).env
    if any(item.startswith(("env.start", "start.")) for item in args.overrides):
        return config
    return dataclasses.replace(config, start=StartConfig())


def _default_out(track: str, car: str) -> Path:
    """``runs/<YYYYmmdd_HHMMSS>_drive_<track>_<car>``, a name not taken yet."""
    from datetime import datetime

    from acgym.fileio import free_folder, slug

    return free_folder("runs", f"{datetime.now():%Y%m%d_%H%M%S}_drive_{slug(track)}_{slug(car)}")


def plot_lap(track: Track, car: str, result: DriveResult, path: Path, config: EnvConfig) -> None:
    """Draw the fastest completed lap's driven line, coloured by speed, over the track map.

    The standing lap is drawn only when it is the only one. The title gives the lap
    time and its distance to the speed-profile estimate.
    """
    import numpy as np

    from acgym.rl.evaluation import lap_trace
    from acgym.track.plot import plot_track
    from acgym.track.track import Track
    from acgym.units import KMH_PER_MPS

    flying = range(1, len(result.laps)) if len(result.laps) > 1 else range(1)
    k = min(flying, key=lambda i: result.laps[i].time_s)
    trace = lap_trace(result.states, result.laps[k], config.control_period_s)
    xy = trace.xy_m
    keep = np.concatenate(([True], np.any(np.diff(xy, axis=0) != 0.0, axis=1)))
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
    lap_s, estimate_s = trace.time_s, result.estimate_s
    label = "flying lap" if k > 0 else "standing lap"
    subtitle = (
        f"{car}, {label} {k + 1}: {lap_s:.3f} s "
        f"(estimate {estimate_s:.2f} s, {100.0 * (lap_s / estimate_s - 1):+.1f} %)"
        ", the line as driven"
    )
    speed_mps = trace.speed_kmh[keep] / KMH_PER_MPS
    plot_track(driven, path, color_by="speed", speed_mps=speed_mps, subtitle=subtitle)

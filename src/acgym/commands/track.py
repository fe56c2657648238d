"""``acgym track``: list built-in tracks, draw a map, import track files, compute a racing line.

::

    acgym track list
    acgym track show NAME --out map.png [--color speed|curvature] [--car CAR]
    acgym track import SRC [--format original|tumftm|fast_lane|native] [--name NAME] --out FILE
    acgym track raceline NAME [--car CAR] [--margin-m 1.0] [--out FILE]

NAME is anything ``acgym.track.loaders.load_track`` accepts: a built-in name, a
``*.track.json``, ``config.yaml:key``, a TUMFTM CSV or a ``fast_lane.ai``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from acgym.errors import CarFileError

if TYPE_CHECKING:
    from acgym.track.speed_profile import VehicleLimits
    from acgym.track.track import Track

DEFAULT_CAR = "dallara_f317"
"""Car used for speed colouring and lap-time estimates when none is named."""

_LINE_KIND = {
    "builtin": "",
    "native": "",
    "original": "racing line of the original track files (ref_lap_file)",
    "tumftm": "centre line",
    "fast_lane": "the game's AI line (fast_lane.ai)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym track ...`` to the command line."""
    parser = subparsers.add_parser(
        "track",
        help="list, draw and import tracks; compute racing lines",
        description="Built-in tracks, track maps, track file conversion and racing lines.",
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    actions = parser.add_subparsers(dest="track_command", metavar="ACTION")

    list_parser = actions.add_parser(
        "list", help="list the built-in tracks: source, licence, length and width"
    )
    list_parser.set_defaults(handler=_list)

    show = actions.add_parser("show", help="draw a track map as PNG")
    show.add_argument("name", metavar="NAME", help="built-in track name or track file")
    show.add_argument("--out", type=Path, required=True, help="output PNG file")
    show.add_argument(
        "--color",
        choices=("speed", "curvature"),
        default="speed",
        help="colour the line by the speed profile of --car (default) or by curvature",
    )
    show.add_argument(
        "--car", default=None, help=f"car preset for the speed colouring (default {DEFAULT_CAR})"
    )
    show.set_defaults(handler=_show)

    imp = actions.add_parser("import", help="convert a track file into the native format")
    imp.add_argument("source", metavar="SRC", help="track file, or config.yaml:key")
    imp.add_argument(
        "--format",
        dest="file_format",
        choices=("original", "tumftm", "fast_lane", "native"),
        default=None,
        help="format of SRC (guessed from the file when left out)",
    )
    imp.add_argument("--name", default=None, help="track name (default: from the file)")
    imp.add_argument("--out", type=Path, required=True, help="output .track.json file")
    imp.set_defaults(handler=_import)

    raceline = actions.add_parser(
        "raceline", help="minimum-curvature racing line, speed profile and lap-time estimate"
    )
    raceline.add_argument("name", metavar="NAME", help="built-in track name or track file")
    raceline.add_argument("--car", default=DEFAULT_CAR, help=f"car preset (default {DEFAULT_CAR})")
    raceline.add_argument(
        "--margin-m",
        type=float,
        default=1.0,
        help="least distance between the line and a border, m (default 1.0)",
    )
    raceline.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output .track.json with the racing line (default NAME-raceline.track.json)",
    )
    raceline.set_defaults(handler=_raceline)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def default_marks(name: str) -> str:
    """`` (default)`` after the env's default track, `` (training default)`` after
    ``acgym train``'s, nothing after the others."""
    from acgym.track.builtin import DEFAULT_TRACK, DEFAULT_TRAINING_TRACK

    marks = {DEFAULT_TRACK: " (default)", DEFAULT_TRAINING_TRACK: " (training default)"}
    return marks.get(name, "")


def _list(_args: argparse.Namespace) -> int:
    import numpy as np

    from acgym.track.builtin import builtin_info, list_builtin_tracks, load_builtin

    rows = []
    for name in list_builtin_tracks():
        track, info = load_builtin(name), builtin_info(name)
        width_m = track.section_width_m
        rows.append(
            (
                name + default_marks(name),
                info.source,
                info.licence,
                f"{track.length_m:.0f}",
                f"{width_m.min():.1f}/{np.median(width_m):.1f}",
                info.description,
            )
        )
    header = ("track", "source", "licence", "length_m", "width_m min/median", "description")
    widths = [max(len(row[col]) for row in (header, *rows)) for col in range(len(header) - 1)]
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if col in (3, 4) else cell.ljust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join((*cells, row[-1])))
    return 0


def _show(args: argparse.Namespace) -> int:
    from acgym.track.loaders import load_track
    from acgym.track.plot import plot_track

    track = load_track(args.name)
    if args.color == "curvature":
        plot_track(track, args.out, color_by="curvature")
    else:
        car = args.car or DEFAULT_CAR
        try:
            limits = _vehicle_limits(car)
        except CarFileError as exc:
            if args.car is not None:  # a car the user named must exist
                raise
            print(f"acgym: note: colouring by curvature: {exc}", file=sys.stderr)
            plot_track(track, args.out, color_by="curvature")
        else:
            from acgym.track.speed_profile import speed_profile

            profile = speed_profile(track.line_m, limits)
            plot_track(
                track,
                args.out,
                color_by="speed",
                speed_mps=profile.speed_mps,
                subtitle=f"{car} on the reference line: lap-time estimate "
                f"{profile.lap_time_s:.2f} s",
            )
    print(f"wrote {args.out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from acgym.track.builtin import read_builtin
    from acgym.track.loaders import detect_format, load_track, read_native, save_native

    kind = args.file_format or detect_format(args.source)
    description = f"imported from {args.source}"
    reference_line = _LINE_KIND[kind]
    metadata: dict[str, object] = {"source": str(args.source), "source_format": kind}
    if kind in ("builtin", "native"):  # keep what the track says about itself
        native = read_builtin(args.source) if kind == "builtin" else read_native(args.source)
        track = native.track
        description = native.description or description
        reference_line = native.reference_line
        metadata = {**native.metadata, **metadata}
    else:
        track = load_track(args.source, file_format=kind)
    if args.name:
        track = _renamed(track, args.name)
    save_native(
        track, args.out, description=description, reference_line=reference_line, metadata=metadata
    )
    print(
        f"wrote {args.out}: {track.name!r}, {track.length_m:.1f} m, "
        f"{len(track.left_m)} cross-sections, {len(track.line_m)} line points"
    )
    return 0


def _raceline(args: argparse.Namespace) -> int:
    from acgym.track.loaders import load_track, save_native
    from acgym.track.raceline import min_curvature_line, with_line
    from acgym.track.speed_profile import speed_profile

    limits = _vehicle_limits(args.car)
    track = load_track(args.name)
    line_m = min_curvature_line(track, margin_m=args.margin_m)
    raced = with_line(track, line_m)
    before = speed_profile(track.line_m, limits)
    after = speed_profile(raced.line_m, limits)
    out = args.out or Path(f"{Path(track.name).name}-raceline.track.json")
    save_native(
        raced,
        out,
        description=f"{track.name} with a minimum-curvature racing line",
        reference_line=f"minimum-curvature racing line, margin {args.margin_m} m",
        metadata={
            "car": args.car,
            "margin_m": args.margin_m,
            "lap_time_estimate_s": round(after.lap_time_s, 3),
            "reference_line_before_lap_time_estimate_s": round(before.lap_time_s, 3),
            "source": str(args.name),
        },
    )
    print(
        f"{track.name}, {args.car}: lap-time estimate {after.lap_time_s:.2f} s on the racing "
        f"line ({raced.length_m:.0f} m), {before.lap_time_s:.2f} s on the previous reference "
        f"line ({track.length_m:.0f} m)"
    )
    print(f"wrote {out}")
    return 0


def _vehicle_limits(car: str) -> VehicleLimits:
    """The speed-profile limits of a car preset.

    Raises:
        CarFileError: The simulator's car presets are missing or ``car`` is unknown.
    """
    try:
        from acgym.sim.car_params import load_car
    except ImportError as exc:
        raise CarFileError(f"car presets are not available ({exc})") from None
    return load_car(car).vehicle_limits()


def _renamed(track: Track, name: str) -> Track:
    from acgym.track.track import Track

    return Track.from_arrays(
        name, track.left_m, track.right_m, track.line_m, configuration=track.configuration
    )

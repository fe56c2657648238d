"""Built-in tracks: three authored in this project, and real circuits.

``list_builtin_tracks`` names them all, ``load_builtin`` loads one by name (cached) and
``builtin_info`` says where it comes from and under which licence. The real circuits
are those of the TUMFTM racetrack database with racing lines computed by acgym
(``acgym.track.circuits``); the rest of this module is about the authored ones.

Each authored track is a ``TrackDesign``: a width and a list of straights and constant-radius
arcs, driven in order from the start/finish line. ``build_track`` turns a design into a
``Track``:

1. straights marked free (``Straight()``) get the lengths that close the loop exactly
   (a small linear system; the arcs must turn a full +-360 degrees in total);
2. the curvature, piecewise constant along the loop, is averaged over
   ``transition_m`` so that each corner is entered and left on a clothoid (curvature
   ramping linearly, as on real roads) instead of a step;
3. heading and position are integrated from the curvature on a fine grid, sampled
   every ``spacing_m`` (the tiny closing error of step 2 is spread along the loop),
   and the borders are offset by half the width on each side.

The shipped files ``data/<name>.track.json`` are the output of ``write_builtin_tracks``
(``python -m acgym.track.builtin`` rewrites them). Their reference line is the centre
line. Setting a design's ``racing_line_margin_m`` and rewriting the files stores the
minimum-curvature racing line as the reference line instead (the file's
``reference_line`` says which); ``acgym track raceline NAME`` does the same for any
track, with a lap-time estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track import circuits
from acgym.track.generator import layout_problems
from acgym.track.loaders.common import borders_from_widths
from acgym.track.loaders.native import NATIVE_SUFFIX, NativeTrack, read_native, save_native
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

DATA_DIR = Path(__file__).with_name("data")
"""Folder of the built-in track files."""

DEFAULT_TRACK = "oval"
"""The track used when none is named: the one on which a learning agent completes a
clean lap soonest (wide, two constant-radius turns, no braking zones to learn)."""

DEFAULT_TRAINING_TRACK = "Catalunya"
"""The track ``acgym train`` learns when none is named: a real circuit, the paper's
headline task (Barcelona, here the TUMFTM geometry), with every kind of corner to brake
for; the oval stays the default of the environment and the simulator (fastest to load
and to lap)."""

AUTHORED_SOURCE = "acgym"
"""Source of the authored tracks: this project."""

AUTHORED_LICENCE = "MIT"
"""Licence of the authored tracks: the project's."""

_FINE_STEPS = 8  # integration sub-steps per output point


@dataclass(frozen=True)
class BuiltinTrack:
    """What a built-in track is and where it comes from.

    Attributes:
        name: Track name (what ``load_builtin`` and ``load_track`` take).
        source: Who made its data: ``"acgym"`` or ``"TUMFTM racetrack-database"``.
        licence: Licence of its data (SPDX identifier).
        description: One line about it.
        reference_line: What its reference line is.
    """

    name: str
    source: str
    licence: str
    description: str
    reference_line: str


@dataclass(frozen=True)
class Straight:
    """A straight; ``length_m=None`` lets ``build_track`` choose it to close the loop."""

    length_m: float | None = None


@dataclass(frozen=True)
class Arc:
    """A constant-radius corner.

    Attributes:
        radius_m: Centre-line radius, m.
        angle_deg: Heading change, degrees; positive turns left.
    """

    radius_m: float
    angle_deg: float


Segment = Straight | Arc


@dataclass(frozen=True)
class TrackDesign:
    """A compact description of a circuit.

    Attributes:
        name: Track name.
        description: One line about its character.
        width_m: Track width, m.
        segments: Straights and arcs in driving order, starting at the start/finish
            line.
        transition_m: Length of the curvature ramps into and out of corners, m.
        spacing_m: Distance between points, m.
        start_heading_deg: Direction of travel at the start/finish line, degrees from +x.
        racing_line_margin_m: ``None``: the reference line is the centre line. A number:
            ``write_builtin_tracks`` stores the minimum-curvature racing line, this far
            (m) from the borders, as the reference line instead.
    """

    name: str
    description: str
    width_m: float
    segments: tuple[Segment, ...]
    transition_m: float = 40.0
    spacing_m: float = 1.5
    start_heading_deg: float = 0.0
    racing_line_margin_m: float | None = None


DESIGNS: dict[str, TrackDesign] = {
    design.name: design
    for design in (
        TrackDesign(
            name="oval",
            description="2.5 km oval: two long straights, two wide constant-radius turns",
            width_m=15.0,
            segments=(
                Straight(320.0),
                Arc(200.0, 180.0),
                Straight(),
                Arc(200.0, 180.0),
                Straight(320.0),
            ),
            transition_m=80.0,
        ),
        TrackDesign(
            name="fast_circuit",
            description=(
                "5 km high-speed circuit: long straights broken by three chicanes, fast "
                "sweepers and a long final corner"
            ),
            width_m=14.0,
            segments=(
                Straight(600.0),  # main straight, after the line
                Arc(45.0, -60.0),  # chicane 1, right-left
                Straight(25.0),
                Arc(45.0, 60.0),
                Straight(300.0),
                Arc(200.0, -90.0),  # fast right
                Straight(400.0),
                Arc(50.0, 55.0),  # chicane 2, left-right
                Straight(20.0),
                Arc(50.0, -55.0),
                Straight(200.0),
                Arc(100.0, -90.0),  # medium right
                Straight(),  # back straight
                Arc(40.0, -50.0),  # chicane 3, right-left
                Straight(15.0),
                Arc(40.0, 50.0),
                Straight(300.0),
                Arc(120.0, -60.0),  # medium right
                Straight(),  # diagonal straight
                Arc(150.0, -120.0),  # long final right
                Straight(400.0),  # main straight, up to the line
            ),
            transition_m=40.0,
        ),
        TrackDesign(
            name="technical_circuit",
            description=(
                "3.5 km technical circuit: three hairpins, esses and short straights that "
                "reward braking and traction"
            ),
            width_m=12.0,
            segments=(
                Straight(400.0),  # main straight, after the line
                Arc(50.0, 90.0),  # turn 1, left
                Straight(300.0),
                Arc(20.0, -180.0),  # hairpin 2, right
                Straight(250.0),
                Arc(20.0, 180.0),  # hairpin 3, left
                Straight(400.0),
                Arc(60.0, 90.0),  # turn 4, left
                Straight(400.0),
                Arc(35.0, -60.0),  # esses, right-left-right
                Arc(35.0, 120.0),
                Arc(35.0, -60.0),
                Straight(320.0),
                Arc(22.0, 165.0),  # hairpin 8, left
                Straight(80.0),
                Arc(50.0, -75.0),  # turn 9, right
                Straight(100.0),
                Arc(60.0, -30.0),  # kink, right-left
                Straight(40.0),
                Arc(60.0, 30.0),
                Straight(),
                Arc(80.0, 90.0),  # last corner, left
                Straight(),  # main straight, up to the line
            ),
            transition_m=25.0,
        ),
    )
}
"""Every built-in design by name."""


def list_builtin_tracks(source: str | None = None) -> list[str]:
    """Names of the built-in tracks: the authored ones (the default first), then the
    real circuits in alphabetical order.

    Args:
        source: Only the tracks of this source (``AUTHORED_SOURCE`` or
            ``circuits.SOURCE``); all when ``None``.
    """
    authored = sorted(DESIGNS, key=lambda name: (name != DEFAULT_TRACK, name))
    names = {AUTHORED_SOURCE: authored, circuits.SOURCE: sorted(circuits.CIRCUITS)}
    if source is None:
        return [name for group in names.values() for name in group]
    if source not in names:
        raise TrackFileError(f"no built-in source {source!r}; sources: {', '.join(names)}")
    return list(names[source])


def builtin_info(name: str) -> BuiltinTrack:
    """Source, licence and description of a built-in track.

    Raises:
        TrackFileError: ``name`` is not a built-in track.
    """
    if name in circuits.CIRCUITS:
        return BuiltinTrack(
            name,
            circuits.SOURCE,
            circuits.LICENCE,
            circuits.CIRCUITS[name],
            circuits.REFERENCE_LINE,
        )
    design = DESIGNS.get(name)
    if design is None:
        raise _unknown(name)
    return BuiltinTrack(
        name,
        AUTHORED_SOURCE,
        AUTHORED_LICENCE,
        design.description,
        read_native(builtin_path(name)).reference_line,
    )


def builtin_path(name: str) -> Path:
    """Path of an authored built-in track's native file.

    Raises:
        TrackFileError: ``name`` is not an authored built-in track (a circuit's files are
            ``circuits.circuit_files(name)``).
    """
    if name not in DESIGNS:
        raise TrackFileError(
            f"no authored built-in track {name!r}; authored tracks: "
            f"{', '.join(list_builtin_tracks(AUTHORED_SOURCE))}"
        )
    return DATA_DIR / f"{name}{NATIVE_SUFFIX}"


def read_builtin(name: str) -> NativeTrack:
    """A built-in track with its description and metadata (source, licence, ...).

    Raises:
        TrackFileError: ``name`` is not a built-in track, or its files are missing or
            invalid.
    """
    info = builtin_info(name)
    if info.source == AUTHORED_SOURCE:
        native = read_native(builtin_path(name))
        track = native.track
        metadata = dict(native.metadata)
    else:
        track = circuits.load_circuit(name)
        metadata = {"racing_line_margin_m": circuits.RACING_LINE_MARGIN_M}
    metadata.update(data_source=info.source, licence=info.licence)
    return NativeTrack(track, info.description, info.reference_line, metadata)


@cache
def load_builtin(name: str) -> Track:
    """Load a built-in track (cached: tracks are immutable).

    Raises:
        TrackFileError: ``name`` is not a built-in track, or its files are missing or
            invalid (rewrite the authored tracks with ``python -m acgym.track.builtin``,
            the circuits' racing lines with ``python -m acgym.track.circuits``).
    """
    if name in circuits.CIRCUITS:
        return circuits.load_circuit(name)
    if name not in DESIGNS:
        raise _unknown(name)
    return read_native(builtin_path(name)).track


def _unknown(name: str) -> TrackFileError:
    return TrackFileError(
        f"no built-in track {name!r}; built-in tracks: {', '.join(list_builtin_tracks())}"
    )


def build_track(design: TrackDesign) -> Track:
    """Build the track a design describes (see the module docstring).

    Raises:
        TrackFileError: The design does not close, a free straight would be shorter
            than a car, or the layout breaks a limit (a corner tighter than the width,
            the track passing too close to itself).
    """
    centre_m = _centre_line_m(design)
    problems = layout_problems(centre_m, design.width_m, min_radius_m=design.width_m)
    if problems:
        raise TrackFileError(f"track design {design.name!r}: {'; '.join(problems)}")
    left_m, right_m = borders_from_widths(centre_m, 0.5 * design.width_m, 0.5 * design.width_m)
    return Track.from_arrays(design.name, left_m, right_m, centre_m)


def write_builtin_tracks(
    folder: Path | str = DATA_DIR, designs: Iterable[TrackDesign] | None = None
) -> list[Path]:
    """Build designs and write each as ``<folder>/<name>.track.json``.

    A design with ``racing_line_margin_m`` gets the minimum-curvature line
    (``acgym.track.raceline``) as its reference line; the others keep the centre line.

    Args:
        folder: Output folder; the package's data folder by default.
        designs: Designs to write; every built-in design by default.

    Returns:
        The files written.
    """
    paths = []
    for design in DESIGNS.values() if designs is None else designs:
        track = build_track(design)
        reference_line = "centre line"
        metadata: dict[str, object] = {"author": "acgym.track.builtin", "width_m": design.width_m}
        if design.racing_line_margin_m is not None:
            from acgym.track.raceline import min_curvature_line, with_line

            margin_m = design.racing_line_margin_m
            track = with_line(track, min_curvature_line(track, margin_m=margin_m))
            reference_line = f"minimum-curvature racing line, margin {margin_m} m"
            metadata["racing_line_margin_m"] = margin_m
        path = Path(folder) / f"{design.name}{NATIVE_SUFFIX}"
        save_native(
            track,
            path,
            description=design.description,
            reference_line=reference_line,
            metadata=metadata,
        )
        paths.append(path)
    load_builtin.cache_clear()
    return paths


def _segment_lengths_m(design: TrackDesign) -> list[float]:
    """Lengths of every segment, the free straights solved so the loop closes."""
    turns_rad = [
        math.radians(seg.angle_deg) if isinstance(seg, Arc) else 0.0 for seg in design.segments
    ]
    total_turn_rad = sum(turns_rad)
    if not math.isclose(abs(total_turn_rad), 2.0 * math.pi, abs_tol=1e-9):
        raise TrackFileError(
            f"track design {design.name!r}: the arcs turn {math.degrees(total_turn_rad):.3f} "
            "degrees in total; a closed loop needs +360 or -360"
        )
    heading_rad = math.radians(design.start_heading_deg)
    fixed_m = np.zeros(2)
    free_columns, free_indices = [], []
    for index, (segment, turn_rad) in enumerate(zip(design.segments, turns_rad, strict=True)):
        direction = np.array([math.cos(heading_rad), math.sin(heading_rad)])
        if isinstance(segment, Straight):
            if segment.length_m is None:
                free_columns.append(direction)
                free_indices.append(index)
            else:
                fixed_m += segment.length_m * direction
        else:
            end_rad = heading_rad + turn_rad
            signed_radius_m = math.copysign(segment.radius_m, turn_rad)
            fixed_m += signed_radius_m * np.array(
                [
                    math.sin(end_rad) - math.sin(heading_rad),
                    math.cos(heading_rad) - math.cos(end_rad),
                ]
            )
            heading_rad = end_rad
    lengths = [
        abs(math.radians(seg.angle_deg)) * seg.radius_m
        if isinstance(seg, Arc)
        else (seg.length_m or 0.0)
        for seg in design.segments
    ]
    if free_columns:
        matrix = np.stack(free_columns, axis=1)
        solution, *_ = np.linalg.lstsq(matrix, -fixed_m, rcond=None)
        fixed_m = fixed_m + matrix @ solution
        for index, length_m in zip(free_indices, solution, strict=True):
            if length_m < design.width_m:
                raise TrackFileError(
                    f"track design {design.name!r}: free straight {index} would be "
                    f"{length_m:.1f} m long; lengthen or shorten other segments"
                )
            lengths[index] = float(length_m)
    gap_m = float(np.hypot(*fixed_m))
    if gap_m > 1e-6:
        raise TrackFileError(
            f"track design {design.name!r}: the loop misses its start by {gap_m:.2f} m; mark "
            "two straights that are not parallel as free (Straight())"
        )
    return lengths


def _centre_line_m(design: TrackDesign) -> FloatArray:
    """The closed centre line of a design, ``(N, 2)`` m, starting at the origin."""
    lengths_m = np.array(_segment_lengths_m(design))
    curvatures_1pm = np.array(
        [
            math.copysign(1.0 / seg.radius_m, seg.angle_deg) if isinstance(seg, Arc) else 0.0
            for seg in design.segments
        ]
    )
    loop_m = float(lengths_m.sum())
    num_points = round(loop_m / design.spacing_m)
    num_fine = num_points * _FINE_STEPS
    step_m = loop_m / num_fine
    s_fine_m = np.arange(num_fine + 1) * step_m
    # Exact heading of the piecewise-constant-curvature loop at the grid points.
    bounds_m = np.concatenate(([0.0], np.cumsum(lengths_m)))
    turn_at_bounds_rad = np.concatenate(([0.0], np.cumsum(curvatures_1pm * lengths_m)))
    heading_rad = np.interp(s_fine_m, bounds_m, turn_at_bounds_rad)
    total_turn_rad = turn_at_bounds_rad[-1]
    # Averaging the heading over a window is averaging the curvature: linear ramps.
    ramp = total_turn_rad * s_fine_m / loop_m
    periodic = (heading_rad - ramp)[:-1]
    window = max(1, round(design.transition_m / step_m)) | 1
    half = window // 2
    wrapped = np.concatenate((periodic[-half:], periodic, periodic[:half])) if half else periodic
    smoothed = np.convolve(wrapped, np.ones(window) / window, mode="valid")
    heading_rad = np.append(smoothed, smoothed[0]) + ramp + math.radians(design.start_heading_deg)
    mid_rad = 0.5 * (heading_rad[:-1] + heading_rad[1:])
    steps_m = step_m * np.stack((np.cos(mid_rad), np.sin(mid_rad)), axis=1)
    points_m = np.vstack((np.zeros(2), np.cumsum(steps_m, axis=0)))
    closing_m = points_m[-1] - points_m[0]
    points_m -= closing_m * (s_fine_m / loop_m)[:, None]
    centre_m = points_m[:-1:_FINE_STEPS]
    # Start the loop at the first point (start/finish) exactly at the origin.
    return np.ascontiguousarray(centre_m - centre_m[0])


if __name__ == "__main__":
    for written in write_builtin_tracks():
        print(written)

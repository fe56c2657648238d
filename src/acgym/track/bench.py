"""``acgym bench track``: timing of the track queries on a Monza-sized synthetic circuit,
and on a circuit of the same size that crosses itself.

The circuits are built here (no track files needed). The main one: a polygon layout
with a 1.2 km main straight, two chicanes, a hairpin whose two legs run 30 m apart, fast
and slow corners, filleted with circular arcs, scaled to about 5.8 km and resampled to
about 3,800 points (the size and spacing of the original ``monza.csv``), 12 m wide. The
crossing one (``crossing`` in the results): a figure-8 (:func:`figure_eight`) as long,
sampled as densely and as wide; its queries take each pose's progress as the level hint,
and half of its poses lie in the crossing's zones.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.timing import time_per_call_s
from acgym.track import polyline
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

# Layout corners, m, counter-clockwise, and the radius of the arc that rounds each, m.
_LAYOUT_M = np.array(
    [
        [0.0, 0.0],
        [1200.0, 0.0],  # chicane, left then right
        [1235.0, 20.0],
        [1700.0, 20.0],  # fast left
        [1700.0, 650.0],  # hairpin, two 90 degree lefts
        [1660.0, 650.0],
        [1660.0, 380.0],  # right
        [1300.0, 380.0],  # right kink
        [1150.0, 520.0],  # left
        [820.0, 520.0],  # chicane, right then left
        [780.0, 545.0],
        [300.0, 700.0],
        [-100.0, 700.0],
        [-250.0, 550.0],
        [-250.0, 200.0],
    ]
)
_RADII_M = np.array([60.0, 25.0, 25.0, 120.0, 14.0, 14.0, 30.0, 50.0, 40.0, 25.0, 25.0])
_RADII_M = np.concatenate((_RADII_M, [60.0, 45.0, 45.0, 80.0]))

CROSSING_HALF_WIDTH_M = 1100.0
"""Half-width of the benchmark's figure-8, m: a 5.77 km lap, about the main circuit's."""

TARGET_PROJECT_US = 10.0
TARGET_FAN_US = 30.0
TARGET_INSIDE_US = 5.0
BATCH = 1024
"""Points of the batched queries."""


def synthetic_circuit(
    length_m: float = 5800.0, num_points: int = 3800, width_m: float = 12.0, name: str = "bench"
) -> Track:
    """A realistic closed circuit (straights, chicanes, a hairpin), about ``length_m`` long.

    Args:
        length_m: Wanted centre-line length, m (met within a few metres).
        num_points: Cross-sections (and line points), evenly spaced.
        width_m: Track width, m.
        name: Track name.

    Returns:
        The track; the reference line is the centre line and starts halfway down the
        main straight.
    """
    scale = 1.0
    for _ in range(3):  # the arcs shorten the loop by a fixed amount: rescale twice
        centre = _filleted_loop(_LAYOUT_M * scale, _RADII_M)
        scale *= length_m / polyline.cumulative_length_m(centre)[1]
    centre = _filleted_loop(_LAYOUT_M * scale, _RADII_M)
    s_m, total_m = polyline.cumulative_length_m(centre)
    # Start halfway down the main straight (first layout edge).
    s_new = (np.arange(num_points) * (total_m / num_points) + 0.5 * 1200.0 * scale) % total_m
    closed = np.vstack((centre, centre[:1]))
    s_closed = np.append(s_m, total_m)
    centre = np.stack(
        (np.interp(s_new, s_closed, closed[:, 0]), np.interp(s_new, s_closed, closed[:, 1])),
        axis=1,
    )
    normal = polyline.left_normals(polyline.vertex_tangents(centre))
    half_m = 0.5 * width_m
    return Track.from_arrays(name, centre + half_m * normal, centre - half_m * normal)


LEMNISCATE_CONSTANT = 2.6220575542921198
"""The lemniscate constant: a lemniscate of Bernoulli of half-width ``a`` is
``2 * LEMNISCATE_CONSTANT * a`` long."""


def figure_eight(
    half_width_m: float = 300.0,
    width_m: float = 12.0,
    spacing_m: float = 1.5,
    name: str = "figure_eight",
) -> Track:
    """A figure-8 that crosses itself at right angles: a lemniscate of Bernoulli.

    The centre line is ``x = a cos t / (1 + sin^2 t)``, ``y = a sin t cos t / (1 +
    sin^2 t)`` (``a = half_width_m``), driven in increasing ``t`` from ``(a, 0)`` (s = 0):
    the right lobe anticlockwise, the left one clockwise. Its length is ``L = 2 *
    LEMNISCATE_CONSTANT * a``; it passes the origin twice, at ``s = L / 4`` heading 225
    degrees and at ``s = 3 L / 4`` heading 315 degrees, straight there (its curvature,
    ``3 r / a^2`` at distance ``r`` from the origin, is 0 at the crossing and ``3 / a`` at
    the ends of the lobes).

    Args:
        half_width_m: ``a``, the distance from the crossing to the end of a lobe, m.
        width_m: Track width, m.
        spacing_m: Distance between cross-sections, m (about).
        name: Track name.

    Returns:
        The track; the reference line is the centre line.
    """
    t = np.linspace(0.0, 2.0 * np.pi, 20_000, endpoint=False)
    scale = half_width_m / (1.0 + np.sin(t) ** 2)
    dense = np.stack((scale * np.cos(t), scale * np.sin(t) * np.cos(t)), axis=1)
    centre = polyline.resample_closed(dense, spacing_m)
    normal = polyline.left_normals(polyline.vertex_tangents(centre))
    half_m = 0.5 * width_m
    return Track.from_arrays(name, centre + half_m * normal, centre - half_m * normal)


def _filleted_loop(
    corners_m: FloatArray, radii_m: FloatArray, spacing_m: float = 0.5
) -> FloatArray:
    """A closed polygon with each corner replaced by a circular arc, sampled densely."""
    pieces = []
    n = len(corners_m)
    for i in range(n):
        before, here, after = corners_m[i - 1], corners_m[i], corners_m[(i + 1) % n]
        d_in = (here - before) / np.linalg.norm(here - before)
        d_out = (after - here) / np.linalg.norm(after - here)
        turn_rad = np.arctan2(d_in[0] * d_out[1] - d_in[1] * d_out[0], np.dot(d_in, d_out))
        tangent_m = radii_m[i] * np.tan(0.5 * abs(turn_rad))
        entry = here - tangent_m * d_in
        left = np.array([-d_in[1], d_in[0]])
        centre = entry + np.sign(turn_rad) * radii_m[i] * left
        start_rad = np.arctan2(*(entry - centre)[::-1])
        num = max(2, int(abs(turn_rad) * radii_m[i] / spacing_m))
        angle = start_rad + np.linspace(0.0, turn_rad, num)
        pieces.append(centre + radii_m[i] * np.stack((np.cos(angle), np.sin(angle)), axis=1))
    # Straights: linear between one arc's end and the next arc's start.
    loop = []
    for i in range(n):
        arc = pieces[i]
        following = pieces[(i + 1) % n][0]
        gap_m = np.linalg.norm(following - arc[-1])
        num = max(1, int(gap_m / spacing_m))
        w = np.linspace(0.0, 1.0, num, endpoint=False)[1:, None]
        loop.append(arc)
        loop.append(arc[-1] + w * (following - arc[-1]))
    return np.vstack(loop)


def _query_poses(track: Track, num: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Points spread along the track, mostly on it (lateral spread 1.5 half-widths)."""
    return _poses_at(track, rng.uniform(0.0, track.length_m, num), rng)


def _poses_at(
    track: Track, s_m: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Poses beside the line at distances ``s_m``: up to 1.5 half-widths off it, heading
    within 0.3 rad of it."""
    xy, heading = track.line_point_at(s_m)
    half_m = 0.5 * float(np.median(track.section_width_m))
    lateral_m = rng.uniform(-1.5, 1.5, len(s_m)) * half_m
    xy = xy + lateral_m[:, None] * np.stack((-np.sin(heading), np.cos(heading)), axis=1)
    return np.ascontiguousarray(xy), heading + rng.uniform(-0.3, 0.3, len(s_m))


def _crossing_poses(
    track: Track, num: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Poses as ``_query_poses``, half of them within the crossings' zones, and each
    pose's progress (its line distance, off by up to 5 m): ``(xy, heading, hint_m)``."""
    length_m = track.length_m
    zones = [zone for c in track.crossings for zone in c.s_ranges_m]
    s_m = rng.uniform(0.0, length_m, num)
    for k in range(num // 2):
        start, end = zones[k % len(zones)]
        s_m[k] = (start + rng.uniform(0.0, 1.0) * ((end - start) % length_m)) % length_m
    xy, heading = _poses_at(track, s_m, rng)
    return xy, heading, (s_m + rng.uniform(-5.0, 5.0, num)) % length_m


def _queries(
    track: Track, xy: FloatArray, heading: FloatArray, hint_m: FloatArray | None = None
) -> dict[str, dict[str, Any]]:
    """The timed calls: ``single`` (one point each, cycling through the 1,024 poses) and
    ``batch_1024`` (the poses at once), with each pose's progress hint when given."""
    angles = np.ascontiguousarray(np.linspace(-0.5 * np.pi, 0.5 * np.pi, 12))
    s_batch = track.project(xy, s_hint_m=hint_m).s_m
    hints = [None] * BATCH if hint_m is None else hint_m.tolist()
    fan_out = np.empty(len(angles))
    cycle = iter(range(1 << 62))

    def one(fn: Any) -> Any:
        def call() -> Any:
            k = next(cycle) % BATCH
            return fn(k)

        return call

    single = {
        "project_point": one(lambda k: track.project_point(xy[k, 0], xy[k, 1], hints[k])),
        "is_inside_point": one(lambda k: track.is_inside_point(xy[k, 0], xy[k, 1], hints[k])),
        "cast_rays_pose_12": one(
            lambda k: track.cast_rays_pose(
                xy[k, 0], xy[k, 1], heading[k], angles, out=fan_out, s_hint_m=hints[k]
            )
        ),
        "border_distance_1": one(
            lambda k: track.border_distance(xy[k : k + 1], None if hint_m is None else hints[k])
        ),
        "curvature_ahead_1": one(lambda k: track.curvature_ahead(s_batch[k : k + 1])),
        "project_1_array": one(
            lambda k: track.project(xy[k : k + 1], None if hint_m is None else hints[k])
        ),
    }
    batched = {
        "project": lambda: track.project(xy, hint_m),
        "is_inside": lambda: track.is_inside(xy, hint_m),
        "cast_rays_12": lambda: track.cast_rays(xy, heading, angles, s_hint_m=hint_m),
        "border_distance": lambda: track.border_distance(xy, hint_m),
        "curvature_ahead": lambda: track.curvature_ahead(s_batch),
    }
    return {"single": single, "batch_1024": batched}


def _circuits(
    rng: np.random.Generator,
) -> dict[str, tuple[Track, dict[str, dict[str, Any]]]]:
    """The two circuits and their timed calls: the main one (no hints) and the figure-8
    (``crossing``, with hints)."""
    main = synthetic_circuit()
    crossing = figure_eight(CROSSING_HALF_WIDTH_M, name="bench_figure_eight")
    return {
        "main": (main, _queries(main, *_query_poses(main, BATCH, rng))),
        "crossing": (crossing, _queries(crossing, *_crossing_poses(crossing, BATCH, rng))),
    }


def warm_up(args: argparse.Namespace) -> None:
    """The first call of every query (compiles the kernels or loads them from the cache)."""
    for _, queries in _circuits(np.random.default_rng(0)).values():
        for calls in queries.values():
            for fn in calls.values():
                fn()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time every track query for one point and for a batch of 1,024 points, on the main
    circuit (top level of the results) and on the figure-8 (``crossing``)."""
    # Many short repeats: the best one is the least disturbed by other processes (a
    # time slice of a shared core lasts milliseconds).
    min_time_s = 0.05 if getattr(args, "quick", False) else 0.1
    repeats = 3 if getattr(args, "quick", False) else 20
    circuits = _circuits(np.random.default_rng(0))
    results = _timings(*circuits["main"], min_time_s, repeats)
    results["crossing"] = _timings(*circuits["crossing"], min_time_s, repeats)
    crossing = circuits["crossing"][0]
    results["crossing"]["track"]["crossings"] = [
        {"xy_m": c.xy_m.round(2).tolist(), "s_m": c.s_m.round(1).tolist()}
        for c in crossing.crossings
    ]
    return results


def _timings(
    track: Track, queries: dict[str, dict[str, Any]], min_time_s: float, repeats: int
) -> dict[str, Any]:
    """The track's figures, the timing of each query and the targets."""
    # A fresh Track from the same arrays: validation builds all three grids.
    build = time_per_call_s(
        lambda: Track.from_arrays(track.name, track.left_m, track.right_m, track.line_m),
        min_time_s,
        repeats,
    )
    results: dict[str, Any] = {
        "track": {
            "name": track.name,
            "length_m": round(track.length_m, 1),
            "sections": len(track.left_m),
            "line_points": len(track.line_m),
            "from_arrays_with_validation_ms": round(1e3 * build["best_s"], 2),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "cell_m": {
                "line": round(track.line_index.grid.cell_m, 2),
                "borders": round(track.border_index.grid.cell_m, 2),
                "quads": round(track.quad_index.grid.cell_m, 2),
            },
        },
        "single": {},
        "batch_1024": {},
    }
    for name, fn in queries["single"].items():
        timing = time_per_call_s(fn, min_time_s, repeats)
        results["single"][name] = {"per_call_us": round(1e6 * timing["best_s"], 3)}
    for name, fn in queries["batch_1024"].items():
        timing = time_per_call_s(fn, min_time_s, repeats)
        results["batch_1024"][name] = {
            "per_call_us": round(1e6 * timing["best_s"], 1),
            "per_point_us": round(1e6 * timing["best_s"] / BATCH, 3),
        }
    targets = {
        "project_point": TARGET_PROJECT_US,
        "cast_rays_pose_12": TARGET_FAN_US,
        "is_inside_point": TARGET_INSIDE_US,
    }
    results["targets"] = {
        name: {
            "target_us": target,
            "measured_us": results["single"][name]["per_call_us"],
            "met": results["single"][name]["per_call_us"] <= target,
        }
        for name, target in targets.items()
    }
    return results

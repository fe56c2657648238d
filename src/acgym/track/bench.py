"""``acgym bench track``: timing of the track queries on a Monza-sized synthetic circuit.

The circuit is built here (no track files needed): a polygon layout with a 1.2 km main
straight, two chicanes, a hairpin whose two legs run 30 m apart, fast and slow corners,
filleted with circular arcs, scaled to about 5.8 km and resampled to about 3,800 points
(the size and spacing of the original ``monza.csv``), 12 m wide.
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
    s_m = rng.uniform(0.0, track.length_m, num)
    xy, heading = track.line_point_at(s_m)
    half_m = 0.5 * float(np.median(track.section_width_m))
    lateral_m = rng.uniform(-1.5, 1.5, num) * half_m
    xy = xy + lateral_m[:, None] * np.stack((-np.sin(heading), np.cos(heading)), axis=1)
    return np.ascontiguousarray(xy), heading + rng.uniform(-0.3, 0.3, num)


def _queries(track: Track, rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """The timed calls: ``single`` (one point each, cycling through 1,024 poses) and
    ``batch_1024`` (the 1,024 poses at once)."""
    xy, heading = _query_poses(track, BATCH, rng)
    angles = np.ascontiguousarray(np.linspace(-0.5 * np.pi, 0.5 * np.pi, 12))
    s_batch = track.project(xy).s_m
    fan_out = np.empty(len(angles))
    cycle = iter(range(1 << 62))

    def one(fn: Any) -> Any:
        def call() -> Any:
            k = next(cycle) % BATCH
            return fn(k)

        return call

    single = {
        "project_point": one(lambda k: track.project_point(xy[k, 0], xy[k, 1])),
        "is_inside_point": one(lambda k: track.is_inside_point(xy[k, 0], xy[k, 1])),
        "cast_rays_pose_12": one(
            lambda k: track.cast_rays_pose(xy[k, 0], xy[k, 1], heading[k], angles, out=fan_out)
        ),
        "border_distance_1": one(lambda k: track.border_distance(xy[k : k + 1])),
        "curvature_ahead_1": one(lambda k: track.curvature_ahead(s_batch[k : k + 1])),
        "project_1_array": one(lambda k: track.project(xy[k : k + 1])),
    }
    batched = {
        "project": lambda: track.project(xy),
        "is_inside": lambda: track.is_inside(xy),
        "cast_rays_12": lambda: track.cast_rays(xy, heading, angles),
        "border_distance": lambda: track.border_distance(xy),
        "curvature_ahead": lambda: track.curvature_ahead(s_batch),
    }
    return {"single": single, "batch_1024": batched}


def warm_up(args: argparse.Namespace) -> None:
    """The first call of every query (compiles the kernels or loads them from the cache)."""
    for calls in _queries(synthetic_circuit(), np.random.default_rng(0)).values():
        for fn in calls.values():
            fn()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Time every track query for one point and for a batch of 1,024 points."""
    # Many short repeats: the best one is the least disturbed by other processes (a
    # time slice of a shared core lasts milliseconds).
    min_time_s = 0.05 if getattr(args, "quick", False) else 0.1
    repeats = 3 if getattr(args, "quick", False) else 20
    rng = np.random.default_rng(0)

    track = synthetic_circuit()
    # A fresh Track from the same arrays: validation builds all three grids.
    build = time_per_call_s(
        lambda: Track.from_arrays("bench", track.left_m, track.right_m, track.line_m),
        min_time_s,
        repeats,
    )
    queries = _queries(track, rng)
    results: dict[str, Any] = {
        "track": {
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

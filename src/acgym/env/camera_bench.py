"""``acgym bench camera``: simulated camera images per second, one core.

Timed: :meth:`acgym.env.camera.Camera.draw` for a batch of cars placed along the racing
line of the built-in default track, at 64 x 64 grey (the default camera; target >= 5,000
images/s), 128 x 128 grey and 320 x 240 RGB, one car per call and 64 cars per call.
Each figure is the best (and median) of several calibrated loops
(:func:`acgym.timing.time_per_call_s`); ``raster_s`` is the one-off time to draw the
track's colour raster and its mip levels (once per track and colour, cached).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Any

import numpy as np

from acgym.timing import time_per_call_s

TARGET_IMAGES_PER_S = 5_000
"""The issue's target at 64 x 64 grey."""
BATCH_CARS = 64
SIZES = (
    ("64x64_gray", 64, 64, "gray"),
    ("128x128_gray", 128, 128, "gray"),
    ("320x240_rgb", 320, 240, "rgb"),
)


def _poses(track: Any, num_cars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = np.linspace(0, len(track.line_m), num_cars, endpoint=False).astype(int)
    line = track.line_m[index]
    return line[:, 0].copy(), line[:, 1].copy(), track.line_heading_rad[index].copy()


def warm_up(args: argparse.Namespace) -> None:
    """Compile the raster painters and the render kernel (or load them from the cache)."""
    from acgym.env.camera import Camera
    from acgym.env.config import CameraConfig
    from acgym.track.builtin import DEFAULT_TRACK, load_builtin

    track = load_builtin(DEFAULT_TRACK)
    camera = Camera(track, CameraConfig(), 1)
    camera.draw(*_poses(track, 1))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The figures (``args.quick``: short loops, a smoke check)."""
    from acgym.env import camera as cam
    from acgym.env.config import CameraConfig
    from acgym.track.builtin import DEFAULT_TRACK, load_builtin

    quick = bool(getattr(args, "quick", False))
    min_time_s, repeats = (0.02, 2) if quick else (0.5, 5)
    track = load_builtin(DEFAULT_TRACK)
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    for name, width, height, color in SIZES:
        config = dataclasses.replace(CameraConfig(), width_px=width, height_px=height, color=color)
        entry: dict[str, Any] = {}
        for cars in (1, BATCH_CARS):
            camera = cam.Camera(track, config, cars)
            poses = _poses(track, cars)
            timing = time_per_call_s(lambda: camera.draw(*poses), min_time_s, repeats)  # noqa: B023
            entry[f"cars_{cars}"] = {
                "best_images_per_s": cars / timing["best_s"],
                "median_images_per_s": cars / timing["median_s"],
                "us_per_image_best": 1e6 * timing["best_s"] / cars,
            }
        results[name] = entry
    start_s = time.perf_counter()  # what track_pyramid does once per track and colour
    cam.colour_pyramid(*cam.material_raster(track, CameraConfig().raster_cell_m), 1)
    raster_s = time.perf_counter() - start_s
    best = results["64x64_gray"][f"cars_{BATCH_CARS}"]["best_images_per_s"]
    return {
        "setup": {
            "track": f"{DEFAULT_TRACK} (acgym.track.builtin.DEFAULT_TRACK)",
            "camera": "CameraConfig defaults (chase view, 90 degrees) at each size",
            "quick": quick,
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        },
        **results,
        "raster_s": raster_s,
        "targets": {
            "images_per_s_64x64_gray": TARGET_IMAGES_PER_S,
            "met": best >= TARGET_IMAGES_PER_S,
        },
    }

"""Top-down RGB images of a track and a car, drawn with NumPy (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.observations import heading_rad_from_yaw

SURFACE_RGB = (90, 90, 90)
OFF_TRACK_RGB = (34, 110, 50)
BORDER_RGB = (235, 235, 235)
LINE_RGB = (230, 200, 40)
CAR_RGB = (220, 30, 30)
CAR_RADIUS_PX = 4
HEADING_LENGTH_PX = 14


class TopDownRenderer:
    """Draws ``(size_px, size_px, 3)`` uint8 frames; the track background is drawn once.

    Args:
        track: Anything with ``left_m``, ``right_m``, ``line_m`` ``(N, 2)`` arrays and
            ``is_inside(xy (N, 2)) -> bool (N,)`` (an ``acgym.track.Track``).
        size_px: Image side, pixels.
    """

    def __init__(self, track: Any, size_px: int = 400) -> None:
        if size_px < 16:
            raise ValueError(f"size_px: expected >= 16, got {size_px}")
        self.size_px = size_px
        points = np.concatenate([track.left_m, track.right_m, track.line_m])
        low, high = points.min(axis=0), points.max(axis=0)
        span_m = float(np.max(high - low)) * 1.05 + 1e-9
        self._origin_m = 0.5 * (low + high) - 0.5 * span_m
        self._px_per_m = size_px / span_m
        centres = (np.arange(size_px) + 0.5) / self._px_per_m
        xs, ys = np.meshgrid(self._origin_m[0] + centres, self._origin_m[1] + centres[::-1])
        inside = np.asarray(track.is_inside(np.stack([xs.ravel(), ys.ravel()], axis=1))).reshape(
            size_px, size_px
        )
        image = np.empty((size_px, size_px, 3), dtype=np.uint8)
        image[:] = OFF_TRACK_RGB
        image[inside] = SURFACE_RGB
        for polyline, rgb in (
            (track.left_m, BORDER_RGB),
            (track.right_m, BORDER_RGB),
            (track.line_m, LINE_RGB),
        ):
            self._plot(image, _densify_closed(np.asarray(polyline, dtype=np.float64)), rgb)
        self.background = image

    def to_pixels(self, xy_m: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """World points ``(N, 2)`` m -> (rows, cols) pixel indices (may fall outside)."""
        scaled = (
            np.asarray(xy_m, dtype=np.float64).reshape(-1, 2) - self._origin_m
        ) * self._px_per_m
        cols = np.floor(scaled[:, 0]).astype(np.int64)
        rows = self.size_px - 1 - np.floor(scaled[:, 1]).astype(np.int64)
        return rows, cols

    def _plot(
        self, image: NDArray[np.uint8], xy_m: NDArray[np.float64], rgb: tuple[int, int, int]
    ) -> None:
        rows, cols = self.to_pixels(xy_m)
        keep = (rows >= 0) & (rows < self.size_px) & (cols >= 0) & (cols < self.size_px)
        image[rows[keep], cols[keep]] = rgb

    def draw(self, state: Mapping[str, Any] | None) -> NDArray[np.uint8]:
        """The background with the car of ``state`` (world_position_x/y, yaw) drawn on it."""
        image = self.background.copy()
        if state is None:
            return image
        x, y = float(state["world_position_x"]), float(state["world_position_y"])
        heading = float(heading_rad_from_yaw(float(state["yaw"])))
        steps_m = np.linspace(0.0, HEADING_LENGTH_PX / self._px_per_m, 4 * HEADING_LENGTH_PX)
        ray = np.stack([x + steps_m * np.cos(heading), y + steps_m * np.sin(heading)], axis=1)
        self._plot(image, ray, CAR_RGB)
        offsets = np.arange(-CAR_RADIUS_PX, CAR_RADIUS_PX + 1)
        dr, dc = np.meshgrid(offsets, offsets)
        disc = dr**2 + dc**2 <= CAR_RADIUS_PX**2
        (row,), (col,) = self.to_pixels(np.array([[x, y]]))
        rows, cols = row + dr[disc], col + dc[disc]
        keep = (rows >= 0) & (rows < self.size_px) & (cols >= 0) & (cols < self.size_px)
        image[rows[keep], cols[keep]] = CAR_RGB
        return image


def _densify_closed(points: NDArray[np.float64], factor: int = 4) -> NDArray[np.float64]:
    """A closed polyline with ``factor`` points per segment (so drawn lines have no gaps)."""
    following = np.roll(points, -1, axis=0)
    weights = np.arange(factor)[None, :, None] / factor
    return (points[:, None, :] * (1.0 - weights) + following[:, None, :] * weights).reshape(-1, 2)

"""The drive window's two cameras, as plain geometry (no drawing): world metres -> pixels.

* :class:`ChaseCamera`: a pinhole camera ``distance_m`` behind the car and ``height_m``
  above the ground, looking along the car's heading with the horizon level. A ground
  point ``forward_m`` ahead of the camera and ``right_m`` to its right appears at column
  ``cx + focal * right / forward`` and row ``horizon + focal * height / forward``.
* :class:`MapCamera`: the whole track, north up, scaled to fit a rectangle.

:class:`TrackWindow` picks the cross-sections of the track in front of the car (from a
little behind it to ``ahead_m`` ahead, found near the previous frame's), so that a frame
projects a few hundred points, not the whole track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from acgym.track.track import Track

FloatArray = NDArray[np.float64]

NEAR_M = 0.5
"""Nearest distance ahead of the chase camera that is drawn, m."""


@dataclass(frozen=True)
class ChaseCamera:
    """The chase view's camera."""

    width_px: int
    height_px: int
    distance_m: float = 9.0
    """Behind the car's centre."""
    height_m: float = 3.0
    """Above the ground."""
    horizon_fraction: float = 0.42
    """The horizon's row, as a fraction of the height from the top."""
    focal_fraction: float = 0.8
    """Focal length as a fraction of the width (a 64 degree horizontal field of view)."""

    @property
    def focal_px(self) -> float:
        return self.focal_fraction * self.width_px

    @property
    def horizon_px(self) -> float:
        return self.horizon_fraction * self.height_px

    def ground(
        self, xy_m: FloatArray, car_x_m: float, car_y_m: float, yaw_rad: float
    ) -> tuple[FloatArray, FloatArray]:
        """Pixels ``(N, 2)`` (column, row) of ground points ``(N, 2)`` m, and each point's
        distance ahead of the camera ``(N,)`` m (draw only those beyond :data:`NEAR_M`)."""
        c, s = math.cos(yaw_rad), math.sin(yaw_rad)
        rel_x = xy_m[:, 0] - (car_x_m - self.distance_m * c)
        rel_y = xy_m[:, 1] - (car_y_m - self.distance_m * s)
        forward = rel_x * c + rel_y * s
        right = rel_x * s - rel_y * c
        safe = np.maximum(forward, NEAR_M)
        pixels = np.empty((len(xy_m), 2))
        pixels[:, 0] = 0.5 * self.width_px + self.focal_px * right / safe
        pixels[:, 1] = self.horizon_px + self.focal_px * self.height_m / safe
        return pixels, forward

    def scale_at(self, forward_m: float) -> float:
        """Pixels per metre of an upright object ``forward_m`` ahead of the camera."""
        return self.focal_px / max(forward_m, NEAR_M)


@dataclass(frozen=True)
class MapCamera:
    """The top-down view of a whole track in a rectangle (north up, equal scale)."""

    low_m: tuple[float, float]
    """The world's lower-left corner shown."""
    px_per_m: float
    left_px: float
    top_px: float
    height_px: float

    @classmethod
    def fit(
        cls, track: Track, left_px: float, top_px: float, width_px: float, height_px: float
    ) -> MapCamera:
        """The camera that fits ``track`` (both borders, a 5 % margin) in the rectangle."""
        points = np.vstack((track.left_m, track.right_m))
        low, high = points.min(axis=0), points.max(axis=0)
        span = np.maximum(high - low, 1.0) * 1.05
        scale = float(min(width_px / span[0], height_px / span[1]))
        centre = 0.5 * (low + high)
        low_shown = centre - 0.5 * np.array([width_px, height_px]) / scale
        return cls((float(low_shown[0]), float(low_shown[1])), scale, left_px, top_px, height_px)

    def pixels(self, xy_m: FloatArray) -> FloatArray:
        """Pixels ``(N, 2)`` (column, row) of world points ``(N, 2)`` m."""
        xy = np.asarray(xy_m, dtype=np.float64).reshape(-1, 2)
        out = np.empty_like(xy)
        out[:, 0] = self.left_px + (xy[:, 0] - self.low_m[0]) * self.px_per_m
        out[:, 1] = self.top_px + self.height_px - (xy[:, 1] - self.low_m[1]) * self.px_per_m
        return out


class TrackWindow:
    """The cross-sections of ``track`` from ``behind_m`` behind to ``ahead_m`` ahead of a car.

    Args:
        track: The track.
        ahead_m: Distance ahead drawn.
        behind_m: Distance behind drawn.
    """

    def __init__(self, track: Track, ahead_m: float = 300.0, behind_m: float = 12.0) -> None:
        centre = track.centre_m
        steps = np.hypot(*np.diff(np.vstack((centre, centre[:1])), axis=0).T)
        self.count = len(centre)
        self.centre = centre
        self.s_m = np.concatenate([[0.0], np.cumsum(steps)])  # (N + 1,), last = loop length
        self.loop_m = float(self.s_m[-1])
        self.ahead_m = min(ahead_m, 0.95 * self.loop_m)
        self.behind_m = behind_m
        self._index = 0

    def nearest(self, x_m: float, y_m: float) -> int:
        """The cross-section nearest to the car (searched near the last one found first)."""
        window = (self._index + np.arange(-20, 61)) % self.count
        d = np.hypot(self.centre[window, 0] - x_m, self.centre[window, 1] - y_m)
        k = int(np.argmin(d))
        if d[k] > 30.0:  # lost (a reset, a jump): search the whole track
            d_all = np.hypot(self.centre[:, 0] - x_m, self.centre[:, 1] - y_m)
            self._index = int(np.argmin(d_all))
        else:
            self._index = int(window[k])
        return self._index

    def sections(self, x_m: float, y_m: float) -> NDArray[np.int64]:
        """Indexes of the cross-sections to draw, in driving order (wrapping the loop)."""
        i = self.nearest(x_m, y_m)
        s0 = self.s_m[i]
        ahead = np.searchsorted(self.s_m, s0 + self.ahead_m) - i
        behind = i - np.searchsorted(self.s_m, s0 - self.behind_m)
        if s0 + self.ahead_m > self.loop_m:
            ahead = self.count - i + np.searchsorted(self.s_m, s0 + self.ahead_m - self.loop_m)
        if s0 - self.behind_m < 0:
            behind = i + self.count - np.searchsorted(self.s_m, s0 - self.behind_m + self.loop_m)
        return (np.arange(i - int(behind), i + int(ahead) + 1) % self.count).astype(np.int64)


__all__ = ["NEAR_M", "ChaseCamera", "MapCamera", "TrackWindow"]

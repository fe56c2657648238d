"""Top-down RGB images of a track and its cars, drawn with NumPy (no display needed), and
the ``human`` render mode's window (matplotlib, where a display exists)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError

RENDER_MODES = ("human", "rgb_array")
"""The environments' render modes (``human`` only where a display exists)."""


def available_render_modes() -> list[str]:
    """``["rgb_array"]``, plus ``"human"`` where a window can open (for ``metadata``)."""
    return ["rgb_array", "human"] if has_display() else ["rgb_array"]


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

    def draw(self, x_m: ArrayLike, y_m: ArrayLike, heading_rad: ArrayLike) -> NDArray[np.uint8]:
        """The background with cars drawn at the poses (scalars or ``(N,)`` arrays; the
        heading anticlockwise from +x, i.e. the telemetry's ``yaw``)."""
        image = self.background.copy()
        xs, ys, headings = (
            np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (x_m, y_m, heading_rad)
        )
        steps_m = np.linspace(0.0, HEADING_LENGTH_PX / self._px_per_m, 4 * HEADING_LENGTH_PX)
        offsets = np.arange(-CAR_RADIUS_PX, CAR_RADIUS_PX + 1)
        dr, dc = np.meshgrid(offsets, offsets)
        disc = dr**2 + dc**2 <= CAR_RADIUS_PX**2
        for x, y, heading in zip(xs.tolist(), ys.tolist(), headings.tolist(), strict=True):
            ray = np.stack([x + steps_m * np.cos(heading), y + steps_m * np.sin(heading)], axis=1)
            self._plot(image, ray, CAR_RGB)
            (row,), (col,) = self.to_pixels(np.array([[x, y]]))
            rows, cols = row + dr[disc], col + dc[disc]
            keep = (rows >= 0) & (rows < self.size_px) & (cols >= 0) & (cols < self.size_px)
            image[rows[keep], cols[keep]] = CAR_RGB
        return image


def check_render_mode(render_mode: str | None) -> None:
    """Refuse an unknown mode, and ``human`` where no window can open.

    Raises:
        ConfigError: Saying what to use instead.
    """
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ConfigError(
            f"render_mode: expected None, 'human' or 'rgb_array', got {render_mode!r}"
        )
    if render_mode == "human" and not has_display():
        raise ConfigError(
            "render_mode='human' needs a display, and DISPLAY / WAYLAND_DISPLAY is not set: "
            "use render_mode='rgb_array' and save or show the frames yourself"
        )


def has_display() -> bool:
    """Whether a window can open (a desktop OS, or an X11 / Wayland display)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class HumanWindow:
    """A matplotlib window showing the frames of the ``human`` render mode."""

    def __init__(self, title: str = "acgym") -> None:
        import matplotlib.pyplot as plt

        self._plt = plt
        plt.ion()
        self.figure, axes = plt.subplots(num=title)
        axes.set_axis_off()
        self.axes = axes
        self._image: Any = None

    def show(self, image: NDArray[np.uint8]) -> None:
        """Draw ``image`` and let the window process its events."""
        if self._image is None:
            self._image = self.axes.imshow(image)
        else:
            self._image.set_data(image)
        self.figure.canvas.draw_idle()
        self._plt.pause(0.001)

    def close(self) -> None:
        """Close the window (safe twice)."""
        self._plt.close(self.figure)


def _densify_closed(points: NDArray[np.float64], factor: int = 4) -> NDArray[np.float64]:
    """A closed polyline with ``factor`` points per segment (so drawn lines have no gaps)."""
    following = np.roll(points, -1, axis=0)
    weights = np.arange(factor)[None, :, None] / factor
    return (points[:, None, :] * (1.0 - weights) + following[:, None, :] * weights).reshape(-1, 2)


class EnvRenderer:
    """An environment's render modes: ``rgb_array`` images, the ``human`` window.

    Args:
        track: The track drawn.
        render_mode: None, ``"rgb_array"`` or ``"human"`` (checked by
            :func:`check_render_mode`).
    """

    def __init__(self, track: Any, render_mode: str | None) -> None:
        check_render_mode(render_mode)
        self.track = track
        self.render_mode = render_mode
        self._drawer: TopDownRenderer | None = None
        self._window: HumanWindow | None = None

    def render(
        self, pose: tuple[ArrayLike, ArrayLike, ArrayLike] | None
    ) -> NDArray[np.uint8] | None:
        """The image with cars at ``pose`` (x, y, heading; None: none yet); in ``human``
        mode it is shown and None returned."""
        if self.render_mode is None:
            return None
        if self._drawer is None:
            self._drawer = TopDownRenderer(self.track)
        image = self._drawer.background.copy() if pose is None else self._drawer.draw(*pose)
        if self.render_mode == "rgb_array":
            return image
        if self._window is None:
            self._window = HumanWindow()
        self._window.show(image)
        return None

    def close(self) -> None:
        """Close the window, if one is open (safe twice)."""
        if self._window is not None:
            self._window.close()
            self._window = None

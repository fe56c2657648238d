"""Crop, resize and colour conversion of captured frames (numpy, no extra package)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from acgym.errors import ConfigError

UInt8Image = NDArray[np.uint8]

COLOR_MODES = ("gray", "rgb", "bgr")
"""Colours of a delivered frame: grey (one channel; the original's ``gray``), RGB, or
BGR (the original's ``bgr``: OpenCV's order)."""
SOURCE_ORDERS = ("bgra", "rgb")
"""Channel orders of a grabbed frame: X11's 32-bit visuals, dxcam's output."""
LUMA_RGB = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""RGB -> grey weights (ITU-R BT.601), as the simulated camera's."""


def channels_of(color_mode: str) -> int:
    """Channels of a frame in ``color_mode``."""
    if color_mode not in COLOR_MODES:
        raise ConfigError(f"color_mode: expected one of {COLOR_MODES}, got {color_mode!r}")
    return 1 if color_mode == "gray" else 3


def crop(image: UInt8Image, margins_px: tuple[int, int, int, int]) -> UInt8Image:
    """Cut ``(left, top, right, bottom)`` pixels off the edges (a view).

    Raises:
        ConfigError: the margins leave nothing.
    """
    left, top, right, bottom = margins_px
    height, width = image.shape[:2]
    if min(margins_px) < 0 or left + right >= width or top + bottom >= height:
        raise ConfigError(
            f"crop margins {margins_px} (left, top, right, bottom) leave nothing of a "
            f"{width} x {height} frame"
        )
    return image[top : height - bottom, left : width - right]


def _box_edges(source: int, target: int) -> NDArray[np.int64]:
    """Start of each of ``target`` boxes over ``source`` pixels (at least one pixel each)."""
    edges = np.floor(np.arange(target) * source / target).astype(np.int64)
    return np.minimum(edges, source - 1)


def resize_area(image: UInt8Image, width: int, height: int) -> UInt8Image:
    """Resize ``(H, W, C)`` to ``(height, width, C)``: each output pixel is the mean of the
    source box it covers when shrinking (no aliasing), the nearest pixel when growing."""
    source_h, source_w = image.shape[:2]
    if (source_h, source_w) == (height, width):
        return image
    rows, cols = _box_edges(source_h, height), _box_edges(source_w, width)
    work = image.astype(np.float32)
    if height <= source_h:
        counts = np.diff(np.append(rows, source_h))
        work = np.add.reduceat(work, rows, axis=0) / counts[:, None, None]
    else:
        work = work[rows]
    if width <= source_w:
        counts = np.diff(np.append(cols, source_w))
        work = np.add.reduceat(work, cols, axis=1) / counts[None, :, None]
    else:
        work = work[:, cols]
    return np.clip(np.rint(work), 0, 255).astype(np.uint8)


def convert(image: UInt8Image, source_order: str, color_mode: str) -> UInt8Image:
    """A grabbed frame (``source_order``) in ``color_mode``, ``(H, W, 1 or 3)`` uint8."""
    if source_order not in SOURCE_ORDERS:
        raise ConfigError(f"source order: expected one of {SOURCE_ORDERS}, got {source_order!r}")
    channels_of(color_mode)
    rgb = image[..., 2::-1] if source_order == "bgra" else image[..., :3]
    if color_mode == "rgb":
        return np.ascontiguousarray(rgb)
    if color_mode == "bgr":
        return np.ascontiguousarray(rgb[..., ::-1])
    gray = rgb.astype(np.float32) @ LUMA_RGB
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]


def process(
    image: UInt8Image,
    source_order: str,
    margins_px: tuple[int, int, int, int],
    width: int,
    height: int,
    color_mode: str,
) -> UInt8Image:
    """Crop, convert, resize: a grabbed frame as the environment receives it."""
    return resize_area(convert(crop(image, margins_px), source_order, color_mode), width, height)

"""Crop, resize and colour conversion of captured frames (numpy, no extra package)."""

from __future__ import annotations

import numba
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


@numba.njit(cache=True)
def _box_means(
    image: UInt8Image, row_of: NDArray[np.int64], col_of: NDArray[np.int64], out: UInt8Image
) -> None:
    """Mean of each output pixel's source box (``row_of`` / ``col_of``: the output row /
    column of every source row / column), one pass over the source."""
    height, width, channels = out.shape
    sums = np.zeros((height, width, channels))
    counts = np.zeros((height, width))
    for r in range(image.shape[0]):
        target_row = row_of[r]
        for c in range(image.shape[1]):
            target_col = col_of[c]
            counts[target_row, target_col] += 1.0
            for k in range(channels):
                sums[target_row, target_col, k] += image[r, c, k]
    for r in range(height):
        for c in range(width):
            for k in range(channels):
                out[r, c, k] = np.uint8(sums[r, c, k] / counts[r, c] + 0.5)


def resize_area(image: UInt8Image, width: int, height: int) -> UInt8Image:
    """Resize ``(H, W, C)`` to ``(height, width, C)``: each output pixel is the mean of the
    source box it covers when shrinking (no aliasing; one compiled pass), the nearest
    pixel when growing."""
    source_h, source_w, channels = image.shape
    if (source_h, source_w) == (height, width):
        return image
    rows, cols = _box_edges(source_h, height), _box_edges(source_w, width)
    if height <= source_h and width <= source_w:
        row_of = np.searchsorted(rows, np.arange(source_h), side="right") - 1
        col_of = np.searchsorted(cols, np.arange(source_w), side="right") - 1
        out = np.empty((height, width, channels), dtype=np.uint8)
        _box_means(image, row_of, col_of, out)
        return out
    if height > source_h:
        image = image[rows]
    if width > source_w:
        image = image[:, cols]
    return resize_area(np.ascontiguousarray(image), width, height)


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
    """Crop, resize, convert: a grabbed frame as the environment receives it (resized
    first: the colours are then converted on the small frame)."""
    cropped = crop(image, margins_px)
    if source_order == "bgra":
        cropped = cropped[..., :3]  # the padding byte is never used: not resized
    return convert(resize_area(cropped, width, height), source_order, color_mode)

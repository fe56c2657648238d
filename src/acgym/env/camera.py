"""The simulated camera: a perspective view of the track from a camera on the car.

A pinhole camera rides on the car (``CameraConfig``: ahead of or behind the centre of
gravity, above the ground, pitched down, a horizontal field of view) and sees the
flat world: the track surface, its white border lines, red and white kerbs along the
borders of the corners, the start/finish line, grass, the sky above the horizon, and a
haze that grows with distance. Images are ``(H, W, 1)`` grey or ``(H, W, 3)`` RGB (or BGR) uint8,
row 0 at the top, the car's left on the image's left, drawn for every car of a batch in
one compiled call.

How (inverse perspective, per pixel, no triangles): the camera is fixed on the car and
the ground is flat, so the point of the ground each pixel sees, in the car's frame
(metres ahead, metres left), its distance and its footprint are computed once per
camera. Per image, each pixel then turns its ground point into world coordinates with
the car's pose and reads the colour of the track's *raster* there. The raster is drawn
once per track and camera colour (``raster_cell_m`` cells, materials painted from the
borders), with a mip pyramid of 2x2 averages; each pixel reads the level whose cell
matches its footprint, so distant pixels average the ground they cover instead of
aliasing. A pixel below the horizon beyond ``max_distance_m``, or above it, is sky.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.env.config import CameraConfig
from acgym.env.image import PoseImages
from acgym.track import polyline
from acgym.track.track import Track

FloatArray = NDArray[np.float64]
UInt8Array = NDArray[np.uint8]

# Materials of the raster, and their colours (RGB). Grey is their luma (ITU-R BT.601):
# the colours are chosen so that grass, asphalt, lines and kerbs also differ in grey.
GRASS, ASPHALT, LINE, KERB_RED, KERB_WHITE = 0, 1, 2, 3, 4
MATERIAL_RGB = np.array(
    [
        (40, 95, 35),  # grass: grey 72
        (110, 110, 115),  # asphalt: grey 111
        (235, 235, 235),  # border and start lines: grey 235
        (210, 40, 40),  # kerb, red stripe: grey 91
        (235, 235, 235),  # kerb, white stripe
    ],
    dtype=np.float64,
)
SKY_RGB = (150, 195, 240)
"""Sky and far haze (grey 187)."""
CAR_RGB = (30, 30, 160)
"""The car's own body in a chase view (grey 45)."""
LUMA = np.array([0.299, 0.587, 0.114])
"""RGB -> grey weights (ITU-R BT.601)."""

LINE_WIDTH_M = 0.3
"""Width of the painted border lines, m (inside the surface, along each border)."""
START_LINE_HALF_WIDTH_M = 0.5
"""Half the width of the start/finish line across the track, m."""
KERB_WIDTH_M = 1.2
"""Width of a kerb outside the border, m."""
KERB_STRIPE_M = 2.0
"""Length of one red or white kerb stripe, m."""
KERB_MIN_CURVATURE_1PM = 1.0 / 120.0
"""Kerbs line the borders where the track's centre line turns tighter than this, 1/m
(radius 120 m), smoothed over ``KERB_SMOOTH_M``."""
KERB_SMOOTH_M = 20.0
"""Length over which the curvature deciding the kerbs is averaged, m."""
MAX_MIP_LEVELS = 12

SKY, GROUND, CAR = 0, 1, 2
"""What a camera pixel shows (the ground pixels read the raster)."""


# --------------------------------------------------------------------- the raster


@numba.njit(cache=True)
def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> tuple:
    """Distance from ``p`` to the segment ``a``-``b`` and the parameter of the nearest point."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 <= 0.0 else ((px - ax) * dx + (py - ay) * dy) / length2
    t = min(1.0, max(0.0, t))
    ex, ey = ax + t * dx - px, ay + t * dy - py
    return math.sqrt(ex * ex + ey * ey), t


@numba.njit(cache=True)
def _in_triangle(px: float, py: float, ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> bool:  # fmt: skip
    d1 = (px - bx) * (ay - by) - (ax - bx) * (py - by)
    d2 = (px - cx) * (by - cy) - (bx - cx) * (py - cy)
    d3 = (px - ax) * (cy - ay) - (cx - ax) * (py - ay)
    negative = d1 < 0.0 or d2 < 0.0 or d3 < 0.0
    positive = d1 > 0.0 or d2 > 0.0 or d3 > 0.0
    return not (negative and positive)


@numba.njit(cache=True)
def _paint_kerbs(
    border: FloatArray,
    border_s_m: FloatArray,
    kerb: NDArray[np.bool_],
    frame: FloatArray,
    out: UInt8Array,
) -> None:
    """Red and white stripes within ``KERB_WIDTH_M`` of the border segments marked ``kerb``."""
    ny, nx = out.shape
    x0, y0, cell = frame[0], frame[1], frame[2]
    n = border.shape[0]
    for i in range(n):
        if not kerb[i]:
            continue
        j = (i + 1) % n
        ax, ay, bx, by = border[i, 0], border[i, 1], border[j, 0], border[j, 1]
        seg_m = math.hypot(bx - ax, by - ay)
        c0 = max(0, int((min(ax, bx) - KERB_WIDTH_M - x0) / cell))
        c1 = min(nx - 1, int((max(ax, bx) + KERB_WIDTH_M - x0) / cell) + 1)
        r0 = max(0, int((min(ay, by) - KERB_WIDTH_M - y0) / cell))
        r1 = min(ny - 1, int((max(ay, by) + KERB_WIDTH_M - y0) / cell) + 1)
        for r in range(r0, r1 + 1):
            py = y0 + (r + 0.5) * cell
            for c in range(c0, c1 + 1):
                px = x0 + (c + 0.5) * cell
                d, t = _segment_distance(px, py, ax, ay, bx, by)
                if d <= KERB_WIDTH_M:
                    stripe = int((border_s_m[i] + t * seg_m) / KERB_STRIPE_M)
                    out[r, c] = KERB_RED if stripe % 2 == 0 else KERB_WHITE


@numba.njit(cache=True)
def _paint_surface(left: FloatArray, right: FloatArray, frame: FloatArray, out: UInt8Array) -> None:
    """Asphalt inside each quad between consecutive cross-sections, lines along the borders."""
    ny, nx = out.shape
    x0, y0, cell = frame[0], frame[1], frame[2]
    n = left.shape[0]
    for i in range(n):
        j = (i + 1) % n
        l0x, l0y, l1x, l1y = left[i, 0], left[i, 1], left[j, 0], left[j, 1]
        r0x, r0y, r1x, r1y = right[i, 0], right[i, 1], right[j, 0], right[j, 1]
        xmin = min(min(l0x, l1x), min(r0x, r1x))
        xmax = max(max(l0x, l1x), max(r0x, r1x))
        ymin = min(min(l0y, l1y), min(r0y, r1y))
        ymax = max(max(l0y, l1y), max(r0y, r1y))
        c0, c1 = max(0, int((xmin - x0) / cell)), min(nx - 1, int((xmax - x0) / cell) + 1)
        r0, r1 = max(0, int((ymin - y0) / cell)), min(ny - 1, int((ymax - y0) / cell) + 1)
        for r in range(r0, r1 + 1):
            py = y0 + (r + 0.5) * cell
            for c in range(c0, c1 + 1):
                px = x0 + (c + 0.5) * cell
                if not (
                    _in_triangle(px, py, l0x, l0y, r0x, r0y, r1x, r1y)
                    or _in_triangle(px, py, l0x, l0y, r1x, r1y, l1x, l1y)
                ):
                    continue
                dl = _segment_distance(px, py, l0x, l0y, l1x, l1y)[0]
                dr = _segment_distance(px, py, r0x, r0y, r1x, r1y)[0]
                if out[r, c] == LINE or min(dl, dr) <= LINE_WIDTH_M:
                    out[r, c] = LINE  # a line stays a line where two quads overlap
                else:
                    out[r, c] = ASPHALT


@numba.njit(cache=True)
def _paint_start_line(start: FloatArray, frame: FloatArray, out: UInt8Array) -> None:
    """The start/finish line across the surface."""
    ny, nx = out.shape
    x0, y0, cell = frame[0], frame[1], frame[2]
    ax, ay, bx, by = start[0, 0], start[0, 1], start[1, 0], start[1, 1]
    half = START_LINE_HALF_WIDTH_M
    c0, c1 = max(0, int((min(ax, bx) - half - x0) / cell)), min(nx - 1, int((max(ax, bx) + half - x0) / cell) + 1)  # fmt: skip
    r0, r1 = max(0, int((min(ay, by) - half - y0) / cell)), min(ny - 1, int((max(ay, by) + half - y0) / cell) + 1)  # fmt: skip
    for r in range(r0, r1 + 1):
        py = y0 + (r + 0.5) * cell
        for c in range(c0, c1 + 1):
            px = x0 + (c + 0.5) * cell
            if out[r, c] == ASPHALT and _segment_distance(px, py, ax, ay, bx, by)[0] <= half:
                out[r, c] = LINE


def _kerb_flags(track: Track) -> NDArray[np.bool_]:
    """Which cross-sections have kerbs: the centre line's smoothed curvature is tight."""
    centre = track.centre_m
    curvature = np.abs(polyline.signed_curvature_1pm(centre))
    spacing_m = float(np.median(np.hypot(*polyline.segment_vectors_m(centre).T)))
    half = max(1, round(0.5 * KERB_SMOOTH_M / max(spacing_m, 1e-6)))
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    padded = np.concatenate((curvature[-half:], curvature, curvature[:half]))
    return np.convolve(padded, kernel, mode="valid") >= KERB_MIN_CURVATURE_1PM


def material_raster(track: Track, cell_m: float) -> tuple[UInt8Array, FloatArray]:
    """The track's materials on a grid: ``(ny, nx)`` uint8 and ``[x0, y0, cell_m]``.

    Cell ``(r, c)`` covers ``x0 + c * cell .. x0 + (c + 1) * cell`` (and the same in y,
    row ``r``); materials ``GRASS``, ``ASPHALT``, ``LINE``, ``KERB_RED``, ``KERB_WHITE``.
    """
    points = np.concatenate([track.left_m, track.right_m])
    margin_m = 2.0 * KERB_WIDTH_M
    low = points.min(axis=0) - margin_m
    high = points.max(axis=0) + margin_m
    nx, ny = (np.ceil((high - low) / cell_m).astype(np.int64) + 1).tolist()
    frame = np.array([low[0], low[1], cell_m])
    out = np.full((ny, nx), GRASS, dtype=np.uint8)
    kerb = _kerb_flags(track)
    for border in (track.left_m, track.right_m):
        border = np.ascontiguousarray(border, dtype=np.float64)
        s_m = polyline.cumulative_length_m(border)[0]
        _paint_kerbs(border, s_m, kerb, frame, out)
    left = np.ascontiguousarray(track.left_m, dtype=np.float64)
    right = np.ascontiguousarray(track.right_m, dtype=np.float64)
    _paint_surface(left, right, frame, out)
    _paint_start_line(np.ascontiguousarray(track.start_line_m, dtype=np.float64), frame, out)
    return out, frame


@dataclass(frozen=True)
class Pyramid:
    """A colour raster and its 2x2-average mip levels, flattened for the kernel.

    Attributes:
        data: Every level's ``(ny_k, nx_k, C)`` uint8 pixels, one after the other.
        levels: ``(L, 4)`` int64: offset into ``data``, ``ny_k``, ``nx_k``, unused.
        frame: ``[x0, y0, cell_m]`` of level 0 (level k has cells ``2^k`` times larger).
        channels: C (1 grey, 3 RGB).
    """

    data: UInt8Array
    levels: NDArray[np.int64]
    frame: FloatArray
    channels: int


def palette(rgb: FloatArray, color: str) -> FloatArray:
    """``(K, 3)`` RGB colours in ``color``: ``(K, 1)`` grey, ``(K, 3)`` RGB or BGR."""
    if color == "gray":
        return rgb @ LUMA[:, None]
    return rgb[:, ::-1] if color == "bgr" else rgb


def colour_pyramid(materials: UInt8Array, frame: FloatArray, color: str) -> Pyramid:
    """The colour raster of ``materials`` in ``color`` (gray, rgb, bgr) and its mip levels."""
    colours = palette(MATERIAL_RGB, color)
    channels = colours.shape[1]
    level = colours[materials]  # (ny, nx, C) float
    parts, rows = [], []
    offset = 0
    for _ in range(MAX_MIP_LEVELS):
        pixels = np.clip(np.rint(level), 0, 255).astype(np.uint8)
        parts.append(pixels.ravel())
        rows.append((offset, pixels.shape[0], pixels.shape[1], 0))
        offset += pixels.size
        ny, nx = level.shape[:2]
        if ny < 2 or nx < 2:
            break
        even = level[: ny - ny % 2, : nx - nx % 2]
        level = 0.25 * (even[0::2, 0::2] + even[1::2, 0::2] + even[0::2, 1::2] + even[1::2, 1::2])
    return Pyramid(np.concatenate(parts), np.array(rows, dtype=np.int64), frame, channels)


_PYRAMIDS: weakref.WeakKeyDictionary[Track, dict[tuple[float, str], Pyramid]] = (
    weakref.WeakKeyDictionary()
)


def track_pyramid(track: Track, cell_m: float, color: str) -> Pyramid:
    """The colour pyramid of ``track`` (cached per track, cell size and colour)."""
    cache = _PYRAMIDS.setdefault(track, {})
    key = (float(cell_m), color)
    if key not in cache:
        cache[key] = colour_pyramid(*material_raster(track, cell_m), color)
    return cache[key]


# --------------------------------------------------------------------- the camera


@dataclass(frozen=True)
class PixelRays:
    """What each pixel of a camera sees, in the car's frame (``(H * W,)`` arrays, row-major).

    Attributes:
        kind: ``SKY``, ``GROUND`` or ``CAR``.
        forward_m, left_m: The ground point seen, ahead of and left of the centre of
            gravity, m (0 for sky pixels).
        level: Mip level whose cell best matches the pixel's footprint on the ground.
        haze: Weight of the sky colour mixed in, 0 (near) to 1 (at ``max_distance_m``).
    """

    kind: NDArray[np.int64]
    forward_m: FloatArray
    left_m: FloatArray
    level: NDArray[np.int64]
    haze: FloatArray


def pixel_rays(config: CameraConfig, num_levels: int) -> PixelRays:
    """Ground point, footprint level and haze of every pixel of ``config``'s camera."""
    width, height = config.width_px, config.height_px
    focal_px = 0.5 * width / math.tan(math.radians(0.5 * config.fov_deg))
    pitch = math.radians(config.pitch_deg)

    # Directions through pixel centres and corners (corners give the footprint), in the
    # car's (forward, left, up) axes: camera forward pitched down by `pitch`.
    def ground(col: FloatArray, row: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        right = (col - 0.5 * width) / focal_px
        up = (0.5 * height - row) / focal_px
        d_forward = math.cos(pitch) + up * math.sin(pitch)
        d_up = -math.sin(pitch) + up * math.cos(pitch)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d_up < 0.0, config.mount_height_m / -d_up, np.inf)
        forward = config.mount_forward_m + t * d_forward
        left = -t * right
        distance = t * np.sqrt(d_forward**2 + right**2 + d_up**2)
        return forward, left, distance

    rows, cols = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    forward, left, distance = ground(cols, rows)
    f_down, l_down, _ = ground(cols, rows + 1.0)
    f_right, l_right, _ = ground(cols + 1.0, rows)
    with np.errstate(invalid="ignore"):
        along = np.hypot(f_down - forward, l_down - left)
        across = np.hypot(f_right - forward, l_right - left)
        footprint_m = np.sqrt(along * across)  # geometric mean: neither blurred nor aliased
    ground_ok = np.isfinite(distance) & (distance <= config.max_distance_m)
    kind = np.where(ground_ok, GROUND, SKY)
    if config.draw_car:
        body = (np.abs(forward) <= 0.5 * config.car_length_m) & (
            np.abs(left) <= 0.5 * config.car_width_m
        )
        kind = np.where(ground_ok & body, CAR, kind)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ground_ok, footprint_m / config.raster_cell_m, 1.0)
        level = np.floor(np.log2(np.maximum(ratio, 1.0)))
    level = np.clip(np.nan_to_num(level, nan=0.0), 0, num_levels - 1).astype(np.int64)
    haze = np.where(ground_ok, np.clip(distance / config.max_distance_m, 0.0, 1.0) ** 2, 1.0)
    return PixelRays(
        kind.ravel().astype(np.int64),
        np.ascontiguousarray(np.where(ground_ok, forward, 0.0).ravel()),
        np.ascontiguousarray(np.where(ground_ok, left, 0.0).ravel()),
        level.ravel(),
        np.ascontiguousarray(haze.ravel()),
    )


@numba.njit(cache=True)
def render_camera(
    x_m: FloatArray,
    y_m: FloatArray,
    heading_rad: FloatArray,
    cars: NDArray[np.int64],
    kind: NDArray[np.int64],
    forward_m: FloatArray,
    left_m: FloatArray,
    level: NDArray[np.int64],
    haze: FloatArray,
    data: UInt8Array,
    levels: NDArray[np.int64],
    frame: FloatArray,
    sky: UInt8Array,
    car: UInt8Array,
    grass: UInt8Array,
    out: UInt8Array,
) -> None:
    """Draw the camera images of ``cars`` into ``out`` ``(N, H, W, C)``.

    Args:
        x_m, y_m, heading_rad: ``(N,)`` poses (heading anticlockwise from +x).
        cars: Rows of ``out`` (and poses) to draw.
        kind, forward_m, left_m, level, haze: The camera's :class:`PixelRays`.
        data, levels, frame: The track's :class:`Pyramid`.
        sky, car, grass: ``(C,)`` colours of the sky (and haze), of the car's body and
            of the ground beyond the raster.
        out: ``(N, H, W, C)`` images.
    """
    height, width, channels = out.shape[1], out.shape[2], out.shape[3]
    x0, y0, cell0 = frame[0], frame[1], frame[2]
    for n in range(cars.shape[0]):
        i = cars[n]
        c = math.cos(heading_rad[i])
        s = math.sin(heading_rad[i])
        px0, py0 = x_m[i], y_m[i]
        for p in range(height * width):
            r = p // width
            q = p - r * width
            k = kind[p]
            if k == SKY:
                for ch in range(channels):
                    out[i, r, q, ch] = sky[ch]
                continue
            if k == CAR:
                for ch in range(channels):
                    out[i, r, q, ch] = car[ch]
                continue
            wx = px0 + forward_m[p] * c - left_m[p] * s
            wy = py0 + forward_m[p] * s + left_m[p] * c
            lv = level[p]
            offset, ny, nx = levels[lv, 0], levels[lv, 1], levels[lv, 2]
            inv = 1.0 / (cell0 * (1 << lv))
            gx = (wx - x0) * inv
            gy = (wy - y0) * inv
            w = haze[p]
            inside = gx >= 0.0 and gy >= 0.0 and gx < nx and gy < ny
            base = offset + (int(gy) * nx + int(gx)) * channels if inside else 0
            for ch in range(channels):
                ground = data[base + ch] if inside else grass[ch]
                out[i, r, q, ch] = np.uint8(ground * (1.0 - w) + sky[ch] * w + 0.5)


class Camera(PoseImages):
    """Draws the camera images of N cars into one ``(N, H, W, C)`` buffer.

    Args:
        track: The track.
        config: The camera (size, field of view, mount, colour).
        num_cars: N.
    """

    def __init__(self, track: Track, config: CameraConfig, num_cars: int = 1) -> None:
        channels = 1 if config.color == "gray" else 3
        super().__init__((config.height_px, config.width_px, channels), num_cars)
        self.config = config
        self.pyramid = track_pyramid(track, config.raster_cell_m, config.color)
        self.rays = pixel_rays(config, len(self.pyramid.levels))
        colours = np.array([SKY_RGB, CAR_RGB, MATERIAL_RGB[GRASS]], dtype=np.float64)
        self._sky, self._car, self._grass = np.rint(palette(colours, config.color)).astype(np.uint8)

    def render(
        self, x_m: FloatArray, y_m: FloatArray, heading_rad: FloatArray, cars: NDArray[np.int64]
    ) -> None:
        """Draw rows ``cars`` (:func:`render_camera`)."""
        rays, pyramid = self.rays, self.pyramid
        render_camera(
            x_m,
            y_m,
            heading_rad,
            cars,
            rays.kind,
            rays.forward_m,
            rays.left_m,
            rays.level,
            rays.haze,
            pyramid.data,
            pyramid.levels,
            pyramid.frame,
            self._sky,
            self._car,
            self._grass,
            self.images,
        )

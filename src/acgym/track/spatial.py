"""A uniform-grid spatial index of segments or quads, stored as CSR arrays.

The plane is cut into square cells of side ``cell_m``; cell ``(i, j)`` covers
``[x0 + i * cell_m, x0 + (i + 1) * cell_m) x [y0 + j * cell_m, ...)`` and has the flat id
``i * ny + j``. The items of cell ``c`` are ``items[cell_start[c]:cell_start[c + 1]]``
(CSR layout: two flat integer arrays, no Python objects, so compiled kernels read them
directly). A segment is listed in every cell it passes through (padded by a small margin
against rounding); a quad is listed in every cell its bounding box overlaps.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int32]

MAX_GRID_CELLS = 1 << 22
"""Most cells a grid may have; the cell side grows beyond this (about 4 M cells, 16 MB)."""

GRID_PAD_M = 1e-6
"""Margin added around each item when it is put into cells, m (guards rounding)."""


class UniformGrid(NamedTuple):
    """A CSR uniform grid over items.

    Attributes:
        params: ``(5,)`` float64: ``x0_m, y0_m, cell_m, nx, ny`` (counts stored as floats
            so that one array carries the whole frame into compiled kernels).
        cell_start: ``(nx * ny + 1,)`` int32 offsets into ``items``.
        items: ``(K,)`` int32 item indices, grouped by cell.
    """

    params: FloatArray
    cell_start: IndexArray
    items: IndexArray

    @property
    def cell_m(self) -> float:
        """Cell side, m."""
        return float(self.params[2])

    @property
    def shape(self) -> tuple[int, int]:
        """Number of cells along x and y."""
        return int(self.params[3]), int(self.params[4])


def _frame(
    xmin: float, ymin: float, xmax: float, ymax: float, cell_m: float, margin_m: float
) -> tuple[float, float, float, int, int]:
    """Grid origin, cell side and shape covering a box, within ``MAX_GRID_CELLS``."""
    x0 = xmin - margin_m
    y0 = ymin - margin_m
    width = xmax - xmin + 2.0 * margin_m
    height = ymax - ymin + 2.0 * margin_m
    cell_m = max(cell_m, 1e-3)
    while (int(width / cell_m) + 1) * (int(height / cell_m) + 1) > MAX_GRID_CELLS:
        cell_m *= 1.5
    return x0, y0, cell_m, int(width / cell_m) + 1, int(height / cell_m) + 1


def segment_grid(segments: FloatArray, cell_m: float) -> UniformGrid:
    """Index segments given as ``(S, >=4)`` rows ``ax, ay, ex, ey`` (start, vector), m.

    Args:
        segments: Segment starts and vectors; extra columns are ignored.
        cell_m: Wanted cell side, m (grown if the grid would be too large).

    Returns:
        The grid; a segment is in every cell it crosses (exact, not its bounding box).
    """
    ax, ay = segments[:, 0], segments[:, 1]
    bx, by = ax + segments[:, 2], ay + segments[:, 3]
    x0, y0, cell_m, nx, ny = _frame(
        float(min(ax.min(), bx.min())),
        float(min(ay.min(), by.min())),
        float(max(ax.max(), bx.max())),
        float(max(ay.max(), by.max())),
        cell_m,
        cell_m,
    )
    params = np.array([x0, y0, cell_m, nx, ny], dtype=np.float64)
    data = np.ascontiguousarray(segments[:, :4], dtype=np.float64)
    cell_start, items = _fill_segment_grid(data, params, GRID_PAD_M)
    return UniformGrid(params, cell_start, items)


def quad_grid(quads: FloatArray, cell_m: float) -> UniformGrid:
    """Index quads given as ``(Q, 8)`` rows of four vertices ``x0, y0, ..., x3, y3``, m.

    A quad is listed in every cell that its bounding box overlaps.
    """
    xs, ys = quads[:, 0::2], quads[:, 1::2]
    x0, y0, cell_m, nx, ny = _frame(
        float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()), cell_m, cell_m
    )
    params = np.array([x0, y0, cell_m, nx, ny], dtype=np.float64)
    boxes = np.ascontiguousarray(
        np.stack((xs.min(axis=1), ys.min(axis=1), xs.max(axis=1), ys.max(axis=1)), axis=1)
    )
    cell_start, items = _fill_box_grid(boxes, params, GRID_PAD_M)
    return UniformGrid(params, cell_start, items)


@numba.njit(cache=True)
def _segment_touches_box(
    ax: float, ay: float, ex: float, ey: float, x_lo: float, y_lo: float, x_hi: float, y_hi: float
) -> bool:
    """Whether the segment ``a + u e, u in [0, 1]`` meets the box (slab clipping)."""
    u_lo = 0.0
    u_hi = 1.0
    for axis in range(2):
        if axis == 0:
            start, delta, lo, hi = ax, ex, x_lo, x_hi
        else:
            start, delta, lo, hi = ay, ey, y_lo, y_hi
        if delta == 0.0:
            if start < lo or start > hi:
                return False
        else:
            u1 = (lo - start) / delta
            u2 = (hi - start) / delta
            if u1 > u2:
                u1, u2 = u2, u1
            u_lo = max(u_lo, u1)
            u_hi = min(u_hi, u2)
            if u_lo > u_hi:
                return False
    return True


@numba.njit(cache=True)
def _csr_offsets(counts: IndexArray) -> IndexArray:
    cell_start = np.zeros(counts.shape[0] + 1, dtype=np.int32)
    for c in range(counts.shape[0]):
        cell_start[c + 1] = cell_start[c] + counts[c]
    return cell_start


@numba.njit(cache=True)
def _visit_segment_cells(
    segments: FloatArray,
    params: FloatArray,
    pad_m: float,
    counts: IndexArray,
    items: IndexArray,
    write: bool,
) -> None:
    """Count (``write=False``) or store (``write=True``, ``counts`` = fill offsets) items."""
    x0, y0, cell_m = params[0], params[1], params[2]
    nx, ny = int(params[3]), int(params[4])
    for k in range(segments.shape[0]):
        ax, ay, ex, ey = segments[k, 0], segments[k, 1], segments[k, 2], segments[k, 3]
        i_lo = max(int(np.floor((min(ax, ax + ex) - pad_m - x0) / cell_m)), 0)
        i_hi = min(int(np.floor((max(ax, ax + ex) + pad_m - x0) / cell_m)), nx - 1)
        j_lo = max(int(np.floor((min(ay, ay + ey) - pad_m - y0) / cell_m)), 0)
        j_hi = min(int(np.floor((max(ay, ay + ey) + pad_m - y0) / cell_m)), ny - 1)
        for i in range(i_lo, i_hi + 1):
            bx_lo = x0 + i * cell_m - pad_m
            for j in range(j_lo, j_hi + 1):
                by_lo = y0 + j * cell_m - pad_m
                side = cell_m + 2.0 * pad_m
                if not _segment_touches_box(
                    ax, ay, ex, ey, bx_lo, by_lo, bx_lo + side, by_lo + side
                ):
                    continue
                c = i * ny + j
                if write:
                    items[counts[c]] = k
                counts[c] += 1


@numba.njit(cache=True)
def _fill_segment_grid(
    segments: FloatArray, params: FloatArray, pad_m: float
) -> tuple[IndexArray, IndexArray]:
    num_cells = int(params[3]) * int(params[4])
    counts = np.zeros(num_cells, dtype=np.int32)
    items = np.empty(0, dtype=np.int32)
    _visit_segment_cells(segments, params, pad_m, counts, items, False)
    cell_start = _csr_offsets(counts)
    items = np.empty(cell_start[num_cells], dtype=np.int32)
    fill = cell_start[:-1].copy()
    _visit_segment_cells(segments, params, pad_m, fill, items, True)
    return cell_start, items


@numba.njit(cache=True)
def _visit_box_cells(
    boxes: FloatArray,
    params: FloatArray,
    pad_m: float,
    counts: IndexArray,
    items: IndexArray,
    write: bool,
) -> None:
    x0, y0, cell_m = params[0], params[1], params[2]
    nx, ny = int(params[3]), int(params[4])
    for k in range(boxes.shape[0]):
        i_lo = max(int(np.floor((boxes[k, 0] - pad_m - x0) / cell_m)), 0)
        j_lo = max(int(np.floor((boxes[k, 1] - pad_m - y0) / cell_m)), 0)
        i_hi = min(int(np.floor((boxes[k, 2] + pad_m - x0) / cell_m)), nx - 1)
        j_hi = min(int(np.floor((boxes[k, 3] + pad_m - y0) / cell_m)), ny - 1)
        for i in range(i_lo, i_hi + 1):
            for j in range(j_lo, j_hi + 1):
                c = i * ny + j
                if write:
                    items[counts[c]] = k
                counts[c] += 1


@numba.njit(cache=True)
def _fill_box_grid(
    boxes: FloatArray, params: FloatArray, pad_m: float
) -> tuple[IndexArray, IndexArray]:
    num_cells = int(params[3]) * int(params[4])
    counts = np.zeros(num_cells, dtype=np.int32)
    items = np.empty(0, dtype=np.int32)
    _visit_box_cells(boxes, params, pad_m, counts, items, False)
    cell_start = _csr_offsets(counts)
    items = np.empty(cell_start[num_cells], dtype=np.int32)
    fill = cell_start[:-1].copy()
    _visit_box_cells(boxes, params, pad_m, fill, items, True)
    return cell_start, items

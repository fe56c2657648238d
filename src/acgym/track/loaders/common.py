"""Pieces every loader shares: borders from a line and widths, and file-aware track building."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from acgym.errors import TrackFileError
from acgym.track import polyline
from acgym.track.track import MIN_TRACK_POINTS, Track

FloatArray = NDArray[np.float64]


def borders_from_widths(
    line_m: FloatArray, left_width_m: ArrayLike, right_width_m: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Offset a closed line sideways along its normals to get paired borders.

    Args:
        line_m: Closed line (centre or AI line), ``(N, 2)`` m, travel in increasing index.
        left_width_m: Distance from the line to the left border, ``(N,)`` or scalar, m.
        right_width_m: Distance from the line to the right border, ``(N,)`` or scalar, m.

    Returns:
        ``(left_m, right_m)``, each ``(N, 2)`` m; row i of both is one cross-section.
    """
    normals = polyline.left_normals(polyline.vertex_tangents(line_m))
    left_w = np.broadcast_to(np.asarray(left_width_m, dtype=np.float64), (len(line_m),))
    right_w = np.broadcast_to(np.asarray(right_width_m, dtype=np.float64), (len(line_m),))
    return line_m + normals * left_w[:, None], line_m - normals * right_w[:, None]


def require_points(source: Path | str, num_points: int, what: str = "points") -> None:
    """Raise ``TrackFileError`` when a file holds fewer than ``MIN_TRACK_POINTS`` points."""
    if num_points < MIN_TRACK_POINTS:
        raise TrackFileError(
            f"{source}: need at least {MIN_TRACK_POINTS} {what} for a closed track, got "
            f"{num_points}"
        )


def track_from_file(
    source: Path | str,
    name: str,
    left_m: ArrayLike,
    right_m: ArrayLike,
    line_m: ArrayLike | None = None,
    *,
    configuration: str = "",
) -> Track:
    """Build and validate a ``Track``; a failure names the file it came from.

    Raises:
        TrackFileError: ``"<source>: <what is wrong>"``.
    """
    try:
        return Track.from_arrays(name, left_m, right_m, line_m, configuration=configuration)
    except TrackFileError as exc:
        raise TrackFileError(f"{source}: {exc}") from exc

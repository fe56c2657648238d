"""Track maps as PNG: surface, borders, the reference line coloured by speed or curvature.

Drawn on a bare ``matplotlib.figure.Figure`` (the Agg renderer, no pyplot state), saved
atomically. :func:`draw_track_map` draws the map on any ``Axes`` (surface, borders,
start/finish line, scale bar), for figures that draw something over it (the evaluation's
lap plot, ``acgym.rl.evaluation.plot_laps``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from numpy.typing import ArrayLike, NDArray

from acgym.errors import TrackFileError
from acgym.fileio import write_with_atomic
from acgym.track.track import Track
from acgym.units import KMH_PER_MPS

FloatArray = NDArray[np.float64]

ColorBy = Literal["curvature", "speed"]

_SURFACE_COLOR = "#505050"  # asphalt: both colour maps stand out on it
_BORDER_COLOR = "#1a1a1a"
_START_ZORDER = 2.5  # above lines (2), below text and arrows (3)
_SCALE_STEPS_M = (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000)


def plot_track(
    track: Track,
    path: Path | str,
    *,
    color_by: ColorBy = "curvature",
    speed_mps: ArrayLike | None = None,
    subtitle: str = "",
    dpi: int = 150,
) -> None:
    """Draw a track map and write it as a PNG, atomically.

    The map shows the track surface and borders, the reference line coloured by
    ``color_by``, the start/finish line with an arrow in the direction of travel, a
    scale bar and a title with the name and length.

    Args:
        track: The track.
        path: Output PNG file.
        color_by: ``"curvature"`` (signed, 1/m, positive turning left) or ``"speed"``.
        speed_mps: Speed at each reference-line point, ``(M,)`` m/s; needed for
            ``color_by="speed"``.
        subtitle: A second title line (e.g. the car and lap-time estimate).
        dpi: Resolution, dots per inch.

    Raises:
        TrackFileError: ``speed_mps`` is missing or of the wrong length for ``"speed"``.
    """
    if color_by == "speed":
        if speed_mps is None:
            raise TrackFileError("plot_track: color_by='speed' needs speed_mps")
        values = np.asarray(speed_mps, dtype=np.float64) * KMH_PER_MPS
        if values.shape != (len(track.line_m),):
            raise TrackFileError(
                f"plot_track: speed_mps must have one value per reference-line point "
                f"({len(track.line_m)}), got shape {values.shape}"
            )
        label, cmap, limits = "speed, km/h", "turbo", (float(values.min()), float(values.max()))
    else:
        values = track.line_curvature_1pm
        bound = max(float(np.percentile(np.abs(values), 99.0)), 1e-4)
        label, cmap, limits = "curvature, 1/m (+ turns left)", "coolwarm", (-bound, bound)

    span_m = track_span_m(track)
    aspect = float(np.clip(span_m[0] / max(span_m[1], 1.0), 0.6, 2.2))
    fig = Figure(figsize=(8.0 * aspect**0.5 + 1.5, 8.0 / aspect**0.5 + 0.8), dpi=dpi)
    ax = fig.add_subplot()
    draw_track_map(ax, track)
    line = ax.add_collection(_coloured_line(track.line_m, values, cmap, limits))

    colorbar = fig.colorbar(line, ax=ax, fraction=0.035, pad=0.02, shrink=0.8)
    colorbar.set_label(label)
    layout = f" ({track.configuration})" if track.configuration else ""
    title = f"{track.name}{layout}: {track.length_m / 1000.0:.3f} km"
    ax.set_title(f"{title}\n{subtitle}" if subtitle else title, fontsize=11)
    write_with_atomic(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))


def track_span_m(track: Track) -> FloatArray:
    """Width and height of the track's bounding box (both borders), ``(2,)`` m."""
    return np.ptp(np.vstack((track.left_m, track.right_m)), axis=0)


def draw_track_map(ax: Axes, track: Track) -> None:
    """Draw the map of ``track`` on ``ax``: the surface and its borders, the start/finish
    line with an arrow in the direction of travel, and a scale bar of a round length; the
    axes get an equal aspect, no frame and a small margin.

    Draw over the map after this call (a lap, the reference line): the view fits
    everything drawn on ``ax`` when the figure is drawn.

    Args:
        ax: The axes to draw on (of a ``matplotlib.figure.Figure``).
        track: The track.
    """
    extent_m = float(max(track_span_m(track)))
    ax.set_aspect("equal")
    ax.set_axis_off()
    _draw_surface(ax, track)
    _draw_start(ax, track, extent_m)
    ax.margins(0.04)
    _draw_scale_bar(ax, extent_m)


def _draw_surface(ax: Axes, track: Track) -> None:
    """Grey quads between consecutive cross-sections, then the two borders."""
    left, right = track.left_m, track.right_m
    quads = np.stack((left, np.roll(left, -1, axis=0), np.roll(right, -1, axis=0), right), axis=1)
    ax.add_collection(
        PolyCollection(
            quads,
            facecolors=_SURFACE_COLOR,
            edgecolors=_SURFACE_COLOR,
            linewidths=0.3,
            antialiaseds=False,
        )
    )
    for border in (left, right):
        closed = np.vstack((border, border[:1]))
        ax.plot(closed[:, 0], closed[:, 1], color=_BORDER_COLOR, linewidth=0.8)


def _coloured_line(
    line_m: FloatArray, values: FloatArray, cmap: str, limits: tuple[float, float]
) -> LineCollection:
    """The closed line as segments coloured by the value at their start point."""
    segments = np.stack((line_m, np.roll(line_m, -1, axis=0)), axis=1)
    collection = LineCollection(segments, cmap=cmap, linewidths=1.6, capstyle="round")
    collection.set_array(values)
    collection.set_clim(*limits)
    return collection


def _draw_start(ax: Axes, track: Track, extent_m: float) -> None:
    """Start/finish line (black and white) and an arrow in the direction of travel; the
    line stays on top of lines drawn after it (zorder)."""
    start = track.start_line_m
    for style in (
        {"color": "black", "linewidth": 5.0, "solid_capstyle": "butt"},
        {"color": "white", "linewidth": 2.5, "linestyle": (0, (1, 1))},
    ):
        ax.plot(start[:, 0], start[:, 1], zorder=_START_ZORDER, **style)
    heading = track.line_heading_rad[0]
    arrow_m = 0.06 * extent_m
    base = track.line_m[0] + 0.012 * extent_m * np.array([math.cos(heading), math.sin(heading)])
    tip = base + arrow_m * np.array([math.cos(heading), math.sin(heading)])
    ax.annotate(
        "",
        xy=tuple(tip),
        xytext=tuple(base),
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.8},
    )


def _draw_scale_bar(ax: Axes, extent_m: float) -> None:
    """A scale bar of a round length, about a fifth of the track's extent."""
    target_m = 0.2 * extent_m
    size_m = min(_SCALE_STEPS_M, key=lambda step: abs(math.log(step / target_m)))
    label = f"{size_m / 1000:g} km" if size_m >= 1000 else f"{size_m} m"
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            size_m,
            label,
            "upper right",
            bbox_to_anchor=(1.0, 0.0),
            bbox_transform=ax.transAxes,
            pad=0.1,
            borderpad=0.0,
            sep=3,
            frameon=False,
            size_vertical=0.0025 * extent_m,
        )
    )

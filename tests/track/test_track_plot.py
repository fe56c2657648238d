"""The public drawing API of ``acgym.track.plot``: a track map on any axes, things drawn
over it, the start/finish line kept on top."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from acgym.track.plot import draw_track_map, track_span_m
from acgym.track.track import Track


def test_draw_track_map_draws_surface_borders_start_and_scale(circle_track: Track) -> None:
    ax = Figure().add_subplot()
    draw_track_map(ax, circle_track)
    assert [type(c) for c in ax.collections] == [PolyCollection]  # the surface
    assert len(ax.lines) == 4  # two borders, the start line in black and white
    assert any(isinstance(a, AnchoredSizeBar) for a in ax.artists)
    assert ax.get_aspect() == 1.0 and not ax.axison


def test_the_view_fits_what_is_drawn_over_the_map(circle_track: Track) -> None:
    ax = Figure().add_subplot()
    draw_track_map(ax, circle_track)
    far_m = float(np.abs(circle_track.left_m).max()) * 3.0
    lap = ax.plot([0.0, far_m], [0.0, 0.0])[0]
    ax.figure.canvas.draw()
    assert ax.get_xlim()[1] >= far_m
    start_lines = ax.lines[2:4]
    assert all(line.get_zorder() > lap.get_zorder() for line in start_lines)


def test_track_span_is_the_bounding_box_of_both_borders(circle_track: Track) -> None:
    both = np.vstack((circle_track.left_m, circle_track.right_m))
    assert track_span_m(circle_track) == pytest.approx(both.max(axis=0) - both.min(axis=0))


def test_line_channel_checks_one_value_per_line_point(circle_track: Track) -> None:
    values = np.arange(len(circle_track.line_m))
    channel = circle_track.line_channel(values)
    assert channel.dtype == np.float64 and channel.flags.c_contiguous
    assert np.array_equal(channel, values)
    with pytest.raises(ValueError, match="one value per reference-line point"):
        circle_track.line_channel(values[:-1])

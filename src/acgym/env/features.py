"""The channels the environment derives from a car's pose, in one compiled call per step.

For each car: the gap to the reference line (in the original's sign), the lap distance,
the out-of-track flags (the game's tyre count and the track geometry), the ray fan and
the distance to the nearest border, as the original's ``expand_state`` and
``get_sensors`` did. The curvature and target-speed look-ahead follow in one more call
(:func:`acgym.track.queries.interp_ahead`).

Levels: on a track that crosses itself, each car's projection, inside test and rays are
those of its own level at a crossing, picked by its progress: the distance along the
line of its previous projection (``progress_m``, kept by the caller per car), or after
a reset (NaN there) its ``NormalizedSplinePosition`` times the line's length.

Sign conventions (checked against the original in tests/env/test_env_signs.py):

* ``gap``: the original's ``gap_cpu.get_gap`` returns ``|d| * sign(cross(line, point)) *
  (-1)``: **positive right** of the racing line. ``Track.project`` gives ``gap_m``
  positive left, so ``gap = ORIGINAL_GAP_SIGN * gap_m``, here and nowhere else.
* ``yaw`` is the heading in the (world_position_x, world_position_y) plane, anticlockwise
  (the plugin's ``yaw = -heading`` of the game, and the simulator's telemetry alike);
  ray ``k`` points at ``yaw + angle_k`` with the angles from -90 (right) to +90 degrees
  (left), as the original's ``linspace(0, pi, 11) + yaw - pi / 2``.
* curvature: positive turning left (anticlockwise), as the original's
  ``curvature_splines`` (``x'y'' - y'x''``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

from acgym.env.derived import DERIVED_CHANNELS
from acgym.protocol import channels as ch
from acgym.track.queries import hidden_levels, inside_point, project_point
from acgym.track.rays import cast_fan
from acgym.track.track import Track

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.int64]
LevelArray = NDArray[np.int64]

STEER_ANGLE_SCALE_DEG = 450.0
"""Divisor of ``steerAngle`` in the applied controls, degrees."""

ORIGINAL_GAP_SIGN = -1.0
"""The env's ``gap`` is ``ORIGINAL_GAP_SIGN * Track.project(...).gap_m``: positive to the
right of the racing line, as in the original (``Track`` measures positive left)."""

# Frame columns the kernel reads and writes, in the order of ``FEATURE_COLUMNS``.
FEATURE_COLUMNS = (
    ch.WORLD_POSITION_X,
    ch.WORLD_POSITION_Y,
    ch.YAW,
    ch.NORMALIZED_SPLINE_POSITION,
    ch.NUMBER_OF_TYRES_OUT,
    *DERIVED_CHANNELS,
)


class TrackArrays(NamedTuple):
    """The compiled indexes of a ``Track`` that the kernel reads (built on first use)."""

    length_m: float
    line_params: FloatArray
    line_cell_start: NDArray[np.int32]
    line_items: NDArray[np.int32]
    line_table: FloatArray
    line_levels: LevelArray
    border_params: FloatArray
    border_cell_start: NDArray[np.int32]
    border_items: NDArray[np.int32]
    border_table: FloatArray
    border_levels: LevelArray
    quad_params: FloatArray
    quad_cell_start: NDArray[np.int32]
    quad_items: NDArray[np.int32]
    quad_table: FloatArray
    quad_levels: LevelArray
    crossing_s_m: FloatArray

    @classmethod
    def of(cls, track: Track) -> TrackArrays:
        """The arrays of ``track``: its length, query indexes (``Track.line_index``, ...)
        and crossings (``Track.crossing_s_m``)."""
        return cls(
            float(track.length_m),
            *track.line_index.arrays,
            *track.border_index.arrays,
            *track.quad_index.arrays,
            track.crossing_s_m,
        )


@numba.njit(cache=True)
def derive_cars(
    values: FloatArray,
    rays_m: FloatArray,
    applied: FloatArray,
    cars: IndexArray,
    control_cols: IndexArray,
    cols: IndexArray,
    lap_length_m: float,
    max_tyres_out: float,
    use_ac_out_of_track: bool,
    angles_rad: FloatArray,
    back_angles_rad: FloatArray,
    max_range_m: float,
    back_m: FloatArray,
    progress_m: FloatArray,
    length_m: float,
    line_params: FloatArray,
    line_cell_start: NDArray[np.int32],
    line_items: NDArray[np.int32],
    line_table: FloatArray,
    line_levels: LevelArray,
    border_params: FloatArray,
    border_cell_start: NDArray[np.int32],
    border_items: NDArray[np.int32],
    border_table: FloatArray,
    border_levels: LevelArray,
    quad_params: FloatArray,
    quad_cell_start: NDArray[np.int32],
    quad_items: NDArray[np.int32],
    quad_table: FloatArray,
    quad_levels: LevelArray,
    crossing_s_m: FloatArray,
) -> int:
    """Write the derived columns and the rays of the rows ``cars`` of a frame.

    A missing tyres-out count (NaN: the game without shared memory sends ``null``) never
    reads as on track: ``out_of_track_ac`` then falls back to the geometric test.

    Args:
        values: ``(N, C)`` frame values; the wire columns of ``cars`` are filled.
        rays_m: ``(N, R)`` ray distances out, m (``R = 0``: no rays, the border distance
            is NaN).
        applied: ``(N, 3)`` out: steerAngle / 450, accStatus, brakeStatus.
        cars: Rows to derive.
        control_cols: Columns of steerAngle, accStatus, brakeStatus.
        cols: Column of each name of ``FEATURE_COLUMNS``.
        lap_length_m: ``TrackLength`` that turns the spline position into ``LapDist``, m.
        max_tyres_out: More tyres than this off the surface is the game's out-of-track.
        use_ac_out_of_track: ``out_of_track`` follows the tyre count (else the geometry).
        angles_rad: ``(R,)`` ray directions about the heading, rad.
        back_angles_rad: ``(R,)`` the same turned by pi (cast when the car is outside).
        max_range_m: Ray range, m.
        back_m: ``(R,)`` scratch.
        progress_m: ``(N,)`` each car's distance along the line at its previous
            projection, m (NaN after a reset: its spline position times ``length_m``);
            picks its level at a crossing; the rows ``cars`` are updated.
        length_m, line_*, border_*, quad_*, crossing_s_m: ``TrackArrays``.

    Returns:
        How many of the rows had no tyres-out count (and used the geometric test).
    """
    ix, iy, iyaw, ispline, ityres = cols[0], cols[1], cols[2], cols[3], cols[4]
    igap, ilap, iac, icalc, iout, iborder, iback = (
        cols[5],
        cols[6],
        cols[7],
        cols[8],
        cols[9],
        cols[10],
        cols[11],
    )
    num_rays = rays_m.shape[1]
    missing = 0
    for n in range(cars.shape[0]):
        i = cars[n]
        row = values[i]
        x = row[ix]
        y = row[iy]
        hint_m = progress_m[i]
        if math.isnan(hint_m):
            hint_m = row[ispline] * length_m
        hidden = hidden_levels(hint_m, crossing_s_m, length_m)
        s_m, gap_m = project_point(
            x,
            y,
            length_m,
            line_params,
            line_cell_start,
            line_items,
            line_table,
            line_levels,
            hidden,
        )
        progress_m[i] = s_m
        row[igap] = ORIGINAL_GAP_SIGN * gap_m
        row[ilap] = lap_length_m * row[ispline]
        outside = not inside_point(
            x, y, quad_params, quad_cell_start, quad_items, quad_table, quad_levels, hidden
        )
        row[icalc] = 1.0 if outside else 0.0
        tyres_out = row[ityres]
        if math.isnan(tyres_out):
            missing += 1
            row[iac] = row[icalc]
        else:
            row[iac] = 1.0 if tyres_out > max_tyres_out else 0.0
        row[iout] = row[iac] if use_ac_out_of_track else row[icalc]
        row[iback] = 0.0
        applied[i, 0] = row[control_cols[0]] / STEER_ANGLE_SCALE_DEG
        applied[i, 1] = row[control_cols[1]]
        applied[i, 2] = row[control_cols[2]]
        if num_rays == 0:
            row[iborder] = math.nan
            continue
        heading = row[iyaw]  # yaw is the heading in this plane (module docstring)
        fan = rays_m[i]
        cast_fan(
            x,
            y,
            heading,
            angles_rad,
            max_range_m,
            border_params,
            border_cell_start,
            border_items,
            border_table,
            border_levels,
            hidden,
            fan,
        )
        border = fan.min()
        if outside:  # the track may lie behind the car: look the other way too
            cast_fan(
                x,
                y,
                heading,
                back_angles_rad,
                max_range_m,
                border_params,
                border_cell_start,
                border_items,
                border_table,
                border_levels,
                hidden,
                back_m,
            )
            border = min(border, back_m.min())
        row[iborder] = border
    return missing

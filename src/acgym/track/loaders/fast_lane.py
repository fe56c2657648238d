"""The game's AI spline, ``content/tracks/<track>/[<layout>/]ai/fast_lane.ai``.

Binary, little-endian, version 7 (the version the game writes)::

    header   int32 version (7), int32 N (points), int32 lap time (ms), int32 sample count
    points   N x { float32 x, y, z (AC world, m), float32 length (m along the spline), int32 id }
    extra    int32 N again, then N x 18 float32:
             speed, gas, brake, obsolete lat G, radius, side_left, side_right, camber,
             direction, normal x/y/z, length, forward x/y/z, tag, grade
    ...      anything after the extra section (newer game builds add more) is ignored

``side_left`` / ``side_right`` are the distances (m) from the spline to the left and right
edges of the drivable surface. AC is y-up; as the game plugin does, a point maps to our
plane as ``x = AC z``, ``y = AC x`` (``world_position_x/y``). In that plane the driver's
left is counter-clockwise of the direction of travel, so the left border is the spline
point plus ``side_left`` along the left normal (the original plugin builds its
``left_lane`` the same way).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from acgym.errors import TrackFileError
from acgym.fileio import write_bytes_atomic
from acgym.track import polyline
from acgym.track.loaders.common import borders_from_widths, require_points, track_from_file
from acgym.track.loaders.csv_table import require_file
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

SUPPORTED_VERSION = 7
"""The fast_lane.ai version this module reads and writes."""

MAX_POINTS = 10_000_000
"""More points than this in a header means the file is not an AI spline."""

EXTRA_FIELDS = (
    "speed",
    "gas",
    "brake",
    "obsolete_lat_g",
    "radius",
    "side_left",
    "side_right",
    "camber",
    "direction",
    "normal_x",
    "normal_y",
    "normal_z",
    "length",
    "forward_x",
    "forward_y",
    "forward_z",
    "tag",
    "grade",
)
"""Names of the 18 float32 values of each point's extra record, in file order."""

_HEADER = struct.Struct("<4i")
_COUNT = struct.Struct("<i")
_POINT_DTYPE = np.dtype([("position", "<f4", (3,)), ("length", "<f4"), ("id", "<i4")])
_EXTRA_DTYPE = np.dtype(("<f4", (len(EXTRA_FIELDS),)))


@dataclass(frozen=True)
class FastLane:
    """The contents of a ``fast_lane.ai`` file (AC world frame, y up).

    Attributes:
        version: File version (7).
        lap_time_ms: Lap time recorded with the spline, ms.
        sample_count: Number of samples the game recorded the spline from.
        position_m: Spline points in AC world coordinates (x, y, z), ``(N, 3)`` m.
        length_m: Distance along the spline at each point, ``(N,)`` m.
        point_id: Point ids, ``(N,)``.
        extra: Per-point extra record, ``(N, 18)``, columns named by ``EXTRA_FIELDS``.
    """

    version: int
    lap_time_ms: int
    sample_count: int
    position_m: FloatArray
    length_m: FloatArray
    point_id: NDArray[np.int32]
    extra: FloatArray

    def field(self, name: str) -> FloatArray:
        """One column of ``extra`` by its name in ``EXTRA_FIELDS``, ``(N,)``."""
        return self.extra[:, EXTRA_FIELDS.index(name)]

    @property
    def plane_m(self) -> FloatArray:
        """Spline points in our plane, ``(N, 2)`` m: ``(AC z, AC x)``."""
        return np.ascontiguousarray(self.position_m[:, [2, 0]])


def read_fast_lane(path: Path | str) -> FastLane:
    """Read a ``fast_lane.ai`` file (version 7).

    Raises:
        TrackFileError: The file is missing, truncated, of another version, or its
            header or counts are inconsistent.
    """
    path = Path(path)
    require_file(path, "AI spline")
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise TrackFileError(
            f"AI spline {path}: truncated, {len(data)} bytes is shorter than the "
            f"{_HEADER.size}-byte header"
        )
    version, count, lap_time_ms, sample_count = _HEADER.unpack_from(data, 0)
    if version != SUPPORTED_VERSION:
        raise TrackFileError(
            f"AI spline {path}: header says version {version}, only version "
            f"{SUPPORTED_VERSION} (the game's own fast_lane.ai) is supported; is this a "
            "fast_lane.ai file?"
        )
    if not 0 < count <= MAX_POINTS:
        raise TrackFileError(
            f"AI spline {path}: header says {count} points, expected 1 to {MAX_POINTS}; "
            "the file is corrupt"
        )
    offset = _HEADER.size
    points_end = offset + count * _POINT_DTYPE.itemsize
    extra_end = points_end + _COUNT.size + count * _EXTRA_DTYPE.itemsize
    if len(data) < extra_end:
        raise TrackFileError(
            f"AI spline {path}: truncated, {count} points need {extra_end} bytes, the "
            f"file has {len(data)}"
        )
    points = np.frombuffer(data, dtype=_POINT_DTYPE, count=count, offset=offset)
    (extra_count,) = _COUNT.unpack_from(data, points_end)
    if extra_count != count:
        raise TrackFileError(
            f"AI spline {path}: the extra section (byte {points_end}) has {extra_count} "
            f"records for {count} points; the file is corrupt"
        )
    extra = np.frombuffer(data, dtype=_EXTRA_DTYPE, count=count, offset=points_end + _COUNT.size)
    return FastLane(
        version=version,
        lap_time_ms=lap_time_ms,
        sample_count=sample_count,
        position_m=points["position"].astype(np.float64),
        length_m=points["length"].astype(np.float64),
        point_id=points["id"].copy(),
        extra=extra.astype(np.float64),
    )


def load_fast_lane(
    path: Path | str, *, name: str | None = None, configuration: str | None = None
) -> Track:
    """Load a ``fast_lane.ai`` as a ``Track``: the AI line and borders from its side widths.

    Args:
        path: The ``fast_lane.ai`` file.
        name: Track name; by default taken from the path
            (``.../tracks/<track>/[<layout>/]ai/fast_lane.ai``).
        configuration: Layout name; by default from the path as above.

    Raises:
        TrackFileError: The file cannot be read, a position is not finite, a side width is
            negative or not finite, or the track is invalid.
    """
    path = Path(path)
    lane = read_fast_lane(path)
    require_points(path, len(lane.position_m), "spline points")
    line_m = lane.plane_m
    bad_points = np.flatnonzero(~np.isfinite(lane.position_m).all(axis=1))
    if bad_points.size:
        raise TrackFileError(
            f"AI spline {path}, point {int(bad_points[0])}: its position "
            f"{lane.position_m[bad_points[0]].tolist()} is not finite; the file is damaged "
            "(re-export the AI line from the game)"
        )
    side_left_m = lane.field("side_left")
    side_right_m = lane.field("side_right")
    for label, side in (("side_left", side_left_m), ("side_right", side_right_m)):
        bad = np.flatnonzero(~np.isfinite(side) | (side < 0.0))
        if bad.size:
            raise TrackFileError(
                f"AI spline {path}, point {int(bad[0])}: {label} = {side[bad[0]]} m is not "
                "a distance"
            )
    guessed_name, guessed_configuration = _names_from_path(path)
    left_m, right_m = borders_from_widths(line_m, side_left_m, side_right_m)
    return track_from_file(
        path,
        name or guessed_name,
        left_m,
        right_m,
        line_m,
        configuration=guessed_configuration if configuration is None else configuration,
    )


def write_fast_lane(
    path: Path | str,
    position_m: FloatArray,
    side_left_m: FloatArray,
    side_right_m: FloatArray,
    *,
    lap_time_ms: int = 0,
    sample_count: int = 0,
) -> None:
    """Write a version-7 ``fast_lane.ai`` atomically (for tests and tools).

    Fields this project does not model are written neutral: speed, gas, brake, lat G,
    camber, tag, grade 0; direction 1; normal (0, 1, 0). Radius, length and forward are
    computed from the points.

    Args:
        path: Output file.
        position_m: Spline points in AC world coordinates, ``(N, 3)`` m, a closed loop
            without a repeated point.
        side_left_m: Distance to the left edge per point, ``(N,)`` m.
        side_right_m: Distance to the right edge per point, ``(N,)`` m.
        lap_time_ms: Lap time to record in the header, ms.
        sample_count: Sample count to record in the header.
    """
    position_m = np.asarray(position_m, dtype=np.float64)
    count = len(position_m)
    step_m = np.roll(position_m, -1, axis=0) - position_m
    seg_m = np.linalg.norm(step_m, axis=1)
    length_m = np.concatenate(([0.0], np.cumsum(seg_m[:-1])))
    forward = np.roll(position_m, -1, axis=0) - np.roll(position_m, 1, axis=0)
    forward /= np.maximum(np.linalg.norm(forward, axis=1, keepdims=True), 1e-12)
    curvature_1pm = polyline.signed_curvature_1pm(np.ascontiguousarray(position_m[:, [2, 0]]))
    radius_m = 1.0 / np.maximum(np.abs(curvature_1pm), 1e-6)

    points = np.zeros(count, dtype=_POINT_DTYPE)
    points["position"] = position_m
    points["length"] = length_m
    points["id"] = np.arange(count)
    extra = np.zeros((count, len(EXTRA_FIELDS)), dtype="<f4")
    columns = {
        "radius": radius_m,
        "side_left": side_left_m,
        "side_right": side_right_m,
        "direction": 1.0,
        "normal_y": 1.0,
        "length": length_m,
        "forward_x": forward[:, 0],
        "forward_y": forward[:, 1],
        "forward_z": forward[:, 2],
    }
    for field_name, values in columns.items():
        extra[:, EXTRA_FIELDS.index(field_name)] = values
    data = b"".join(
        (
            _HEADER.pack(SUPPORTED_VERSION, count, lap_time_ms, sample_count),
            points.tobytes(),
            _COUNT.pack(count),
            extra.tobytes(),
        )
    )
    write_bytes_atomic(path, data)


def save_fast_lane(track: Track, path: Path | str, *, height_m: float = 0.0) -> None:
    """Write a track's reference line and side widths as a ``fast_lane.ai``.

    The side widths at each line point are its distances to the two border polylines.

    Args:
        track: The track.
        path: Output file.
        height_m: AC world y (height) of every point, m.
    """
    line_m = track.line_m
    side_left_m = _distance_to_closed_polyline_m(line_m, track.left_m)
    side_right_m = _distance_to_closed_polyline_m(line_m, track.right_m)
    # Our plane is (AC z, AC x): AC x = our y, AC z = our x.
    position_m = np.stack((line_m[:, 1], np.full(len(line_m), height_m), line_m[:, 0]), axis=1)
    write_fast_lane(path, position_m, side_left_m, side_right_m)


def _distance_to_closed_polyline_m(points_m: FloatArray, polyline_m: FloatArray) -> FloatArray:
    """Distance from each point to a closed polyline (near its nearest vertex), ``(P,)`` m."""
    _, nearest = cKDTree(polyline_m).query(points_m)
    num = len(polyline_m)
    best_m = np.full(len(points_m), np.inf)
    for start in (nearest - 1, nearest):  # the two segments at the nearest vertex
        a = polyline_m[start % num]
        b = polyline_m[(start + 1) % num]
        ab = b - a
        t = np.clip(
            np.sum((points_m - a) * ab, axis=1) / np.maximum(np.sum(ab * ab, axis=1), 1e-12),
            0.0,
            1.0,
        )
        best_m = np.minimum(best_m, np.hypot(*(a + t[:, None] * ab - points_m).T))
    return best_m


def _names_from_path(path: Path) -> tuple[str, str]:
    """Track and layout names from ``.../tracks/<track>/[<layout>/]ai/fast_lane.ai``."""
    if path.stem.lower() != "fast_lane":
        return path.stem, ""
    folder = path.resolve().parent
    if folder.name.lower() == "ai":
        folder = folder.parent
    parent = folder.parent
    if parent.name.lower() != "tracks" and parent.parent.name.lower() == "tracks":
        return parent.name, folder.name
    return folder.name or path.stem, ""

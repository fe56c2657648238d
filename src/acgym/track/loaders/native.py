"""acgym's own track file, ``<name>.track.json``: human-readable, versioned JSON.

Layout (format version 1; see docs/tracks.md)::

    {
      "format": "acgym-track",
      "format_version": 1,
      "name": "oval",
      "configuration": "",
      "length_m": 2500.123,                 # reference-line length, informative
      "description": "...",
      "reference_line": "centre line",       # what line_m is
      "metadata": {"author": "..."},         # free JSON values
      "left_m": [[x, y], ...],              # N paired cross-sections, m
      "right_m": [[x, y], ...],
      "line_m": [[x, y], ...]               # M points, the first is start/finish
    }

Coordinates are metres in the ``world_position_x/y`` plane, closed loops without a
repeated point, one point per line so that files diff well.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.fileio import write_text_atomic
from acgym.track.loaders.common import track_from_file
from acgym.track.loaders.csv_table import require_file
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

FORMAT_NAME = "acgym-track"
"""Value of the ``format`` key."""

FORMAT_VERSION = 1
"""The version this module writes and reads."""

NATIVE_SUFFIX = ".track.json"
"""File name ending of native track files."""

DEFAULT_DECIMALS = 4
"""Decimals written per coordinate (0.1 mm)."""

_REQUIRED_KEYS = ("format", "format_version", "name", "left_m", "right_m", "line_m")
_OPTIONAL_KEYS = ("configuration", "length_m", "description", "reference_line", "metadata")


@dataclass(frozen=True)
class NativeTrack:
    """A native track file's contents.

    Attributes:
        track: The track.
        description: Free text about the track.
        reference_line: What the reference line is (``"centre line"``, ...).
        metadata: Free key/value information (author, car, lap-time estimate, ...).
    """

    track: Track
    description: str = ""
    reference_line: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def save_native(
    track: Track,
    path: Path | str,
    *,
    description: str = "",
    reference_line: str = "",
    metadata: Mapping[str, Any] | None = None,
    decimals: int = DEFAULT_DECIMALS,
) -> None:
    """Write ``track`` as a native ``.track.json`` file, atomically.

    Args:
        track: The track.
        path: Output file (by convention ending in ``.track.json``).
        description: Free text about the track.
        reference_line: What the reference line is, e.g. ``"centre line"`` or
            ``"minimum-curvature racing line, margin 1.0 m"``.
        metadata: Extra JSON-serialisable values kept in the file.
        decimals: Decimals per coordinate; 4 is 0.1 mm.
    """
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": track.name,
        "configuration": track.configuration,
        "length_m": round(track.length_m, 3),
        "description": description,
        "reference_line": reference_line,
        "metadata": dict(metadata or {}),
    }
    try:
        lines = [
            f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)},"
            for key, value in header.items()
        ]
    except (TypeError, ValueError) as exc:
        raise TrackFileError(f"native track {path}: metadata is not plain JSON ({exc})") from None
    arrays = (("left_m", track.left_m), ("right_m", track.right_m), ("line_m", track.line_m))
    for number, (key, points) in enumerate(arrays):
        rows = ",\n".join(f"    [{x:.{decimals}f}, {y:.{decimals}f}]" for x, y in points.tolist())
        closing = "]" if number == len(arrays) - 1 else "],"
        lines.append(f'  "{key}": [\n{rows}\n  {closing}')
    write_text_atomic(path, "{\n" + "\n".join(lines) + "\n}\n")


def read_native(path: Path | str) -> NativeTrack:
    """Read a native ``.track.json`` file with its description and metadata.

    Raises:
        TrackFileError: The file is missing, not JSON, of another format or version,
            has a missing or unknown key or a malformed point, or the track is invalid.
    """
    path = Path(path)
    require_file(path, "native track")
    try:
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise TrackFileError(f"native track {path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TrackFileError(f"native track {path}: expected a JSON object at the top")
    if document.get("format") != FORMAT_NAME:
        raise TrackFileError(
            f"native track {path}: 'format' is {document.get('format')!r}, expected "
            f"{FORMAT_NAME!r}; is this an acgym track file?"
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise TrackFileError(
            f"native track {path}: format_version {version!r} is not supported (this acgym "
            f"reads version {FORMAT_VERSION}); upgrade acgym or re-export the track"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in document]
    if missing:
        raise TrackFileError(f"native track {path}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(document) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise TrackFileError(
            f"native track {path}: unknown key(s) {', '.join(unknown)}; version "
            f"{FORMAT_VERSION} knows {', '.join((*_REQUIRED_KEYS, *_OPTIONAL_KEYS))}"
        )
    arrays = {key: _points(path, document[key], key) for key in ("left_m", "right_m", "line_m")}
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise TrackFileError(f"native track {path}: 'metadata' must be a JSON object")
    track = track_from_file(
        path,
        str(document["name"]),
        arrays["left_m"],
        arrays["right_m"],
        arrays["line_m"],
        configuration=str(document.get("configuration") or ""),
    )
    return NativeTrack(
        track=track,
        description=str(document.get("description") or ""),
        reference_line=str(document.get("reference_line") or ""),
        metadata=metadata,
    )


def load_native(path: Path | str) -> Track:
    """Load the track of a native ``.track.json`` file (see ``read_native``)."""
    return read_native(path).track


def _points(path: Path, value: object, key: str) -> FloatArray:
    if not isinstance(value, list):
        raise TrackFileError(f"native track {path}, {key!r}: expected a list of [x, y] points")
    for index, point in enumerate(value):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in point)
            or not all(math.isfinite(c) for c in point)
        ):
            raise TrackFileError(
                f"native track {path}, {key!r}, point {index}: expected [x, y] with two "
                f"finite numbers in metres, got {point!r}"
            )
    return np.asarray(value, dtype=np.float64).reshape(-1, 2)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed, coordinates must be finite numbers")

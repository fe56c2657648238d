"""The original project's track files: config.yaml, <track>.csv, <track>-racing_line.csv.

``<track>.csv`` has one cross-section per row, columns ``left_border_x, left_border_y,
right_border_x, right_border_y, pos_x, pos_y`` (the game's AI line in ``pos_*``), about
1.5 m apart, closed loop. ``<track>-racing_line.csv`` has ``pos_x, pos_y`` (and sometimes
``curvature``): the reference line. Both are in the plane of ``world_position_x/y``.
``config.yaml`` maps a key to one track::

    monza:
      track_name: monza
      track_configuration:        # empty when the track has one layout
      track_file: monza.csv
      track_grid_file: monza_0.1m.pkl   # a pickle: never loaded here
      ref_lap_file: monza-racing_line.csv
      TrackLength: 5758.66064453125
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import yaml

from acgym.errors import TrackFileError
from acgym.track.loaders.common import track_from_file
from acgym.track.loaders.csv_table import read_columns, require_file
from acgym.track.track import Track

logger = logging.getLogger(__name__)

TRACK_COLUMNS = (
    "left_border_x",
    "left_border_y",
    "right_border_x",
    "right_border_y",
    "pos_x",
    "pos_y",
)
"""Columns of the original ``<track>.csv``."""

LINE_COLUMNS = ("pos_x", "pos_y")
"""Columns of the original ``<track>-racing_line.csv`` (an optional ``curvature`` is ignored)."""

LENGTH_WARN_FRACTION = 0.01
"""Warn when the loaded line length differs from the config's TrackLength by more than this."""


def load_original_csv(
    track_csv: Path | str,
    racing_line_csv: Path | str | None = None,
    *,
    name: str | None = None,
    configuration: str = "",
) -> Track:
    """Load an original ``<track>.csv`` and, optionally, its racing-line CSV.

    Args:
        track_csv: The borders file.
        racing_line_csv: The reference line; without it the track file's ``pos_x/pos_y``
            (the game's AI line) is the reference line.
        name: Track name; the file name without ``.csv`` when ``None``.
        configuration: Layout name.

    Raises:
        TrackFileError: A file is missing or malformed, or the track is invalid.
    """
    track_csv = Path(track_csv)
    table = read_columns(track_csv, TRACK_COLUMNS, what="track CSV")
    left_m = np.stack((table["left_border_x"], table["left_border_y"]), axis=1)
    right_m = np.stack((table["right_border_x"], table["right_border_y"]), axis=1)
    line_m = np.stack((table["pos_x"], table["pos_y"]), axis=1)
    source = str(track_csv)
    if racing_line_csv is not None:
        line_table = read_columns(Path(racing_line_csv), LINE_COLUMNS, what="racing-line CSV")
        line_m = np.stack((line_table["pos_x"], line_table["pos_y"]), axis=1)
        source = f"{track_csv} + {racing_line_csv}"
    return track_from_file(
        source, name or track_csv.stem, left_m, right_m, line_m, configuration=configuration
    )


def original_config_keys(config_yaml: Path | str) -> list[str]:
    """The track keys of an original ``config.yaml``, in file order."""
    return list(_read_config(Path(config_yaml)))


def load_original(config_yaml: Path | str, key: str) -> Track:
    """Load the track ``key`` of an original ``config.yaml``.

    File names in the config are relative to the config's folder. The reference line is
    ``ref_lap_file`` (the racing line); ``track_grid_file`` is a pickle and is ignored.

    Args:
        config_yaml: Path of ``config.yaml``.
        key: Track key in it (e.g. ``monza`` or ``ks_barcelona-layout_gp``).

    Raises:
        TrackFileError: The config or a file it names is missing or malformed, the key
            is unknown, or the track is invalid.
    """
    config_yaml = Path(config_yaml)
    config = _read_config(config_yaml)
    if key not in config:
        raise TrackFileError(
            f"track config {config_yaml}: no track {key!r}; it has "
            f"{', '.join(map(str, config)) or 'no tracks'}"
        )
    entry = config[key]
    if not isinstance(entry, dict):
        raise TrackFileError(
            f"track config {config_yaml}, track {key!r}: expected a mapping of track_file, "
            f"ref_lap_file, ..., got {type(entry).__name__}"
        )
    folder = config_yaml.parent
    track_file = entry.get("track_file")
    if not track_file:
        raise TrackFileError(
            f"track config {config_yaml}, track {key!r}: missing key 'track_file' (the borders CSV)"
        )
    ref_lap_file = entry.get("ref_lap_file")
    racing_line = folder / str(ref_lap_file) if ref_lap_file else None
    if racing_line is not None:
        require_file(racing_line, "racing-line CSV", f"ref_lap_file of {key!r} in {config_yaml}")
    track_path = folder / str(track_file)
    require_file(track_path, "track CSV", f"track_file of {key!r} in {config_yaml}")
    track = load_original_csv(
        track_path,
        racing_line,
        name=str(entry.get("track_name") or key),
        configuration=str(entry.get("track_configuration") or ""),
    )
    expected_m = entry.get("TrackLength")
    if isinstance(expected_m, (int, float)) and expected_m > 0:
        error = abs(track.length_m - expected_m) / expected_m
        if error > LENGTH_WARN_FRACTION:
            logger.warning(
                "%s, track %r: the reference line is %.1f m long but TrackLength says %.1f m",
                config_yaml,
                key,
                track.length_m,
                expected_m,
            )
    return track


def _read_config(config_yaml: Path) -> dict[str, object]:
    require_file(config_yaml, "track config")
    try:
        config = yaml.safe_load(config_yaml.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrackFileError(f"track config {config_yaml}: not valid YAML ({exc})") from None
    if not isinstance(config, dict):
        raise TrackFileError(
            f"track config {config_yaml}: expected a mapping of track keys to entries, got "
            f"{type(config).__name__}"
        )
    return {str(key): value for key, value in config.items()}

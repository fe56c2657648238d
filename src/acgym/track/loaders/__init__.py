"""Track file loaders: one module per format, and ``load_track`` that picks the right one.

Formats:

- native ``<name>.track.json`` (``native``): acgym's own, read and written;
- the original project's ``config.yaml`` + ``<track>.csv`` + ``<track>-racing_line.csv``
  (``original``);
- the TUMFTM racetrack database's centre line + widths CSV (``tumftm``), with an optional
  line file as reference line;
- the game's ``ai/fast_lane.ai`` AI spline (``fast_lane``), read and written.
"""

from __future__ import annotations

from pathlib import Path

from acgym.errors import TrackFileError
from acgym.track.loaders.csv_table import read_header
from acgym.track.loaders.fast_lane import (
    FastLane,
    load_fast_lane,
    read_fast_lane,
    save_fast_lane,
    write_fast_lane,
)
from acgym.track.loaders.native import (
    NATIVE_SUFFIX,
    NativeTrack,
    load_native,
    read_native,
    save_native,
)
from acgym.track.loaders.original import (
    load_original,
    load_original_csv,
    original_config_keys,
)
from acgym.track.loaders.tumftm import load_tumftm, save_tumftm_line
from acgym.track.track import Track

__all__ = [
    "FORMATS",
    "NATIVE_SUFFIX",
    "FastLane",
    "NativeTrack",
    "detect_format",
    "load_fast_lane",
    "load_native",
    "load_original",
    "load_original_csv",
    "load_track",
    "load_tumftm",
    "original_config_keys",
    "read_fast_lane",
    "read_native",
    "save_fast_lane",
    "save_native",
    "save_tumftm_line",
    "write_fast_lane",
]

FORMATS = ("native", "original", "tumftm", "fast_lane")
"""Names of the formats ``load_track`` accepts for ``file_format``."""

_YAML_SUFFIXES = (".yaml", ".yml")


def load_track(spec: str | Path, *, file_format: str | None = None) -> Track:
    """Load a track from a built-in name or a file in any supported format.

    ``spec`` is one of:

    - a built-in track name (``acgym track list``);
    - a native ``*.track.json`` file;
    - ``path/to/config.yaml:key`` (the original format; the key may be left out when
      the config holds one track);
    - an original ``<track>.csv`` (its reference line is ``<track>-racing_line.csv``
      beside it when that exists, else the CSV's own ``pos_x/pos_y``);
    - a TUMFTM racetrack-database CSV (``# x_m,y_m,w_tr_right_m,w_tr_left_m``);
    - a ``fast_lane.ai`` file, or a game track folder holding ``ai/fast_lane.ai``.

    Args:
        spec: What to load.
        file_format: Force a format (one of ``FORMATS``) instead of guessing it.

    Raises:
        TrackFileError: Nothing matches ``spec``, or the file is malformed or invalid.
    """
    from acgym.track import builtin

    text = str(spec)
    if file_format is not None and file_format not in FORMATS:
        raise TrackFileError(
            f"unknown track format {file_format!r}; choose one of {', '.join(FORMATS)}"
        )
    kind = file_format or detect_format(text)
    if kind == "builtin":
        return builtin.load_builtin(text)
    config_path, key = _split_config_key(text)
    if config_path is not None:
        return _load_config(config_path, key)
    path = _existing_path(text)
    if kind == "native":
        return load_native(path)
    if kind == "fast_lane":
        return _load_game_folder(path) if path.is_dir() else load_fast_lane(path)
    if kind == "tumftm":
        return load_tumftm(path)
    if path.suffix.lower() in _YAML_SUFFIXES:
        return _load_config(path, None)
    racing_line = path.with_name(f"{path.stem}-racing_line.csv")
    return load_original_csv(path, racing_line if racing_line.is_file() else None)


def detect_format(spec: str | Path) -> str:
    """How ``load_track`` reads ``spec``: ``"builtin"`` or one of ``FORMATS``.

    Raises:
        TrackFileError: ``spec`` is neither a built-in name nor an existing path, or the
            file's format cannot be told from its name.
    """
    from acgym.track import builtin

    text = str(spec)
    if text in builtin.list_builtin_tracks():
        return "builtin"
    if _split_config_key(text)[0] is not None:
        return "original"
    path = _existing_path(text)
    return "fast_lane" if path.is_dir() else _guess_format(path)


def _existing_path(text: str) -> Path:
    from acgym.track import builtin

    path = Path(text)
    if not path.exists():
        raise TrackFileError(
            f"no built-in track or file named {text!r}; built-in tracks: "
            f"{', '.join(builtin.list_builtin_tracks())}; or give a *.track.json, "
            "config.yaml:key, track CSV or fast_lane.ai path"
        )
    return path


def _split_config_key(text: str) -> tuple[Path | None, str | None]:
    """``"dir/config.yaml:monza"`` -> ``(Path("dir/config.yaml"), "monza")``."""
    head, sep, key = text.rpartition(":")
    if sep and head.lower().endswith(_YAML_SUFFIXES):
        return Path(head), key
    return None, None


def _load_config(config_path: Path, key: str | None) -> Track:
    if key is None:
        keys = original_config_keys(config_path)
        if len(keys) != 1:
            raise TrackFileError(
                f"track config {config_path} holds {len(keys)} tracks; choose one with "
                f"{config_path}:KEY, KEY one of {', '.join(keys)}"
            )
        key = keys[0]
    return load_original(config_path, key)


def _guess_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".json"):
        return "native"
    if name.endswith(".ai"):
        return "fast_lane"
    if name.endswith(_YAML_SUFFIXES):
        return "original"
    if name.endswith(".csv"):
        header = read_header(path)
        if "w_tr_right_m" in header or "w_tr_left_m" in header:
            return "tumftm"
        return "original"
    raise TrackFileError(
        f"{path}: cannot tell the track format from the name; expected *.track.json, "
        "*.csv, *.ai or *.yaml, or pass file_format= (one of " + ", ".join(FORMATS) + ")"
    )


def _load_game_folder(folder: Path) -> Track:
    ai_file = folder / "ai" / "fast_lane.ai"
    if not ai_file.is_file():
        raise TrackFileError(
            f"{folder} is a folder without ai/fast_lane.ai; give a game track (or layout) "
            "folder, or a track file"
        )
    return load_fast_lane(ai_file)

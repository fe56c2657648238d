"""Validity checks of a ``Track``; each failure says what is wrong and where."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acgym.errors import TrackFileError

if TYPE_CHECKING:
    from acgym.track.track import Track


def validate_track(track: Track) -> None:
    """Raise ``TrackFileError`` if ``track`` is not a valid closed circuit."""
    # Filled in by the geometry work: open loop, self-intersecting borders, zero-length
    # segments, borders crossing each other.
    if track.length_m <= 0.0:
        raise TrackFileError(f"track {track.name!r}: the reference line has zero length")

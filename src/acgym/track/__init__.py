"""Track geometry, track files, racing lines and speed profiles."""

from __future__ import annotations

from acgym.track.track import Track

__all__ = ["Track"]

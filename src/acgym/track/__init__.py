"""Track geometry, track files, racing lines and speed profiles."""

from __future__ import annotations

from acgym import kernel_cache

kernel_cache.install()  # before any kernel is compiled or loaded: see acgym.kernel_cache

from acgym.track.track import Track  # noqa: E402

__all__ = ["Track"]

"""Keep Numba's on-disk cache of the simulator kernels consistent with their sources.

Numba's ``cache=True`` keys a cached kernel on its own source file only: a kernel that
inlines code from another module (the integrator inlines the dynamics, tyre and track
kernels) keeps running the old code after that other module changes. On import of
``acgym.sim`` this module hashes every source the kernels are built from and, when the
hash differs from the one stamped beside the cache, deletes the simulator's cache files
so that they are compiled afresh. A read-only install (no writable ``__pycache__``) is
left alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_SIM_DIR = Path(__file__).resolve().parent
_KERNEL_SOURCES = (
    _SIM_DIR / "layout.py",
    _SIM_DIR / "tyres.py",
    _SIM_DIR / "powertrain.py",
    _SIM_DIR / "dynamics.py",
    _SIM_DIR / "integrator.py",
    _SIM_DIR / "lap_timing.py",
    _SIM_DIR / "telemetry.py",
    _SIM_DIR / "session.py",
    _SIM_DIR / "driver.py",
    _SIM_DIR.parent / "track" / "queries.py",
)
_STAMP_NAME = "sim_kernel_sources.sha1"


def sources_digest() -> str:
    """SHA-1 of the kernels' source files, in a fixed order."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in _KERNEL_SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


def clear_stale_cache() -> bool:
    """Delete the simulator's Numba cache files if a kernel source changed.

    Returns:
        True when cache files were deleted.
    """
    cache_dir = _SIM_DIR / "__pycache__"
    stamp = cache_dir / _STAMP_NAME
    digest = sources_digest()
    try:
        if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == digest:
            return False
        removed = False
        if cache_dir.is_dir():
            for path in cache_dir.iterdir():
                if path.suffix in (".nbi", ".nbc"):
                    path.unlink(missing_ok=True)
                    removed = True
        cache_dir.mkdir(exist_ok=True)
        stamp.write_text(digest + "\n", encoding="ascii")
        return removed
    except OSError:
        return False

"""Timing of calls for the benchmarks: the first call apart, then the best and median of
calibrated loops.

A low module: it imports nothing of the project, so that every area's benchmark
(``acgym.<area>.bench``) can use it without importing the command line's plumbing.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def first_call_s(fn: Callable[[], Any]) -> float:
    """Wall time of one call of ``fn()``, s: the first call of a hot path, which compiles
    its Numba kernels (or loads them from the cache) and fills the caches."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_per_call_s(
    fn: Callable[[], Any], min_time_s: float = 0.5, repeats: int = 5
) -> dict[str, float]:
    """Time ``fn()`` in a loop; returns the best and median seconds per call.

    The first call is made (and timed, ``first_call_s``) before the loops, so that
    compilation and cold caches stay out of the figures. The loop count is calibrated so
    that one repeat lasts about ``min_time_s``; the best repeat is the figure least
    disturbed by other processes.
    """
    first_s = first_call_s(fn)
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed_s = time.perf_counter() - start
        if elapsed_s >= min_time_s / 4 or calls >= 1 << 24:
            break
        calls *= 4
    calls = max(1, int(calls * min_time_s / max(elapsed_s, 1e-9)))
    per_call_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call_s.append((time.perf_counter() - start) / calls)
    return {
        "best_s": min(per_call_s),
        "median_s": statistics.median(per_call_s),
        "calls_per_repeat": calls,
        "first_call_s": first_s,
    }


__all__ = ["first_call_s", "time_per_call_s"]

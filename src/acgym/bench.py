"""``acgym bench TARGET --json FILE``: timing of every hot path, as JSON.

Each area provides ``acgym.<area>.bench.run(args) -> dict``; this module times calls,
adds the machine description and writes the file atomically. The figures quoted in
``docs/benchmarks.md`` come from these files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from acgym import __version__
from acgym.fileio import write_text_atomic

# target name -> module that provides ``add_arguments(parser)`` (optional) and ``run(args)``.
BENCH_TARGETS = {
    "track": "acgym.track.bench",
    "sim": "acgym.sim.bench",
    "protocol": "acgym.protocol.bench",
    "env": "acgym.env.bench",
    "sac": "acgym.rl.bench",
}


def time_per_call_s(
    fn: Callable[[], Any], min_time_s: float = 0.5, repeats: int = 5
) -> dict[str, float]:
    """Time ``fn()`` in a loop; returns the best and median seconds per call.

    The loop count is calibrated so that one repeat lasts about ``min_time_s``; the best
    repeat is the figure least disturbed by other processes.
    """
    fn()  # warm up: compilation, caches
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
    }


def machine_info() -> dict[str, Any]:
    """Describe the machine a benchmark ran on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "acgym": __version__,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _run(args: argparse.Namespace) -> int:
    import importlib

    module = importlib.import_module(BENCH_TARGETS[args.target])
    results = {"target": args.target, "machine": machine_info(), **module.run(args)}
    text = json.dumps(results, indent=2, sort_keys=False)
    if args.json:
        write_text_atomic(Path(args.json), text + "\n")
    print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym bench``."""
    parser = subparsers.add_parser("bench", help="time the hot paths, JSON out")
    parser.add_argument("target", choices=sorted(BENCH_TARGETS), help="what to time")
    parser.add_argument("--json", metavar="FILE", help="write the results to FILE")
    parser.add_argument(
        "--quick", action="store_true", help="shorter runs (a smoke check, not for the docs)"
    )
    parser.set_defaults(handler=_run)

"""``acgym bench TARGET --json FILE``: timing of every hot path, as JSON.

Each area provides ``acgym.<area>.bench`` with ``warm_up(args)`` (one call of each of its
hot paths: the first call compiles the Numba kernels, or loads them from the cache) and
``run(args) -> dict`` (the timed figures; :mod:`acgym.timing` times the calls). This
module times the warm-up (``compile_time_s``, apart from the figures), adds the machine
description and writes the file atomically. The figures quoted in ``docs/benchmarks.md``
come from these files.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from acgym import __version__
from acgym.fileio import write_text_atomic
from acgym.timing import first_call_s

# target name -> module that provides ``warm_up(args)`` and ``run(args)``.
BENCH_TARGETS = {
    "track": "acgym.track.bench",
    "sim": "acgym.sim.bench",
    "protocol": "acgym.protocol.bench",
    "env": "acgym.env.bench",
    "sac": "acgym.rl.bench",
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
    results: dict[str, Any] = {"target": args.target, "machine": machine_info()}
    # The first calls compile the kernels (about a minute after an install or an update,
    # seconds from the cache): reported apart, so that no timed figure includes them.
    results["compile_time_s"] = first_call_s(lambda: module.warm_up(args))
    results.update(module.run(args))
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

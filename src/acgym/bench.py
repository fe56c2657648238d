"""``acgym bench TARGET --json FILE``: timing of every hot path, as JSON.

Each area provides ``acgym.<area>.bench`` with ``warm_up(args)`` (one call of each of its
hot paths: the first call compiles the Numba kernels, or loads them from the cache) and
``run(args) -> dict`` (the timed figures; :mod:`acgym.timing` times the calls). This
module times the warm-up (``compile_time_s``, apart from the figures), adds the machine
description and writes the file atomically (:func:`run_bench`, which the command line and
the tests call). The figures quoted in ``docs/benchmarks.md`` come from these files.
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
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.timing import first_call_s

# target name -> module that provides ``warm_up(args)`` and ``run(args)``.
BENCH_TARGETS = {
    "track": "acgym.track.bench",
    "sim": "acgym.sim.bench",
    "protocol": "acgym.protocol.bench",
    "env": "acgym.env.bench",
    "sac": "acgym.rl.bench",
    "camera": "acgym.env.camera_bench",
    "dist": "acgym.dist.bench",
    "capture": "acgym.capture.bench",
    "pixels": "acgym.rl.pixel_bench",
    "human": "acgym.human.bench",
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


def run_bench(
    target: str, json_path: Path | str | None = None, *, quick: bool = False
) -> dict[str, Any]:
    """Time one target's hot paths: its warm-up apart, then its figures.

    Args:
        target: A key of ``BENCH_TARGETS``.
        json_path: File to write the results to (atomically); None writes nothing.
        quick: Shorter runs (a smoke check, not figures for the docs).

    Returns:
        ``target``, ``machine`` (:func:`machine_info`), ``compile_time_s`` (the warm-up,
        s), then the target's figures.

    Raises:
        ConfigError: ``target`` is not a benchmark target.
    """
    import importlib

    if target not in BENCH_TARGETS:
        raise ConfigError(f"bench: expected a target of {sorted(BENCH_TARGETS)}, got {target!r}")
    module = importlib.import_module(BENCH_TARGETS[target])
    args = argparse.Namespace(target=target, json=json_path, quick=quick)
    results: dict[str, Any] = {"target": target, "machine": machine_info()}
    # The first calls compile the kernels (about a minute after an install or an update,
    # seconds from the cache): reported apart, so that no timed figure includes them.
    results["compile_time_s"] = first_call_s(lambda: module.warm_up(args))
    results.update(module.run(args))
    if json_path:
        write_text_atomic(Path(json_path), json.dumps(results, indent=2) + "\n")
    return results


def _run(args: argparse.Namespace) -> int:
    results = run_bench(args.target, args.json, quick=args.quick)
    print(json.dumps(results, indent=2))
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

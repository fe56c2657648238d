"""The ``acgym`` command: one entry point, one subcommand per job.

Each area's subcommands live in a module of ``acgym.commands`` that exposes
``register(subparsers)``; heavy imports happen inside the handlers so ``acgym --help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from acgym import __version__
from acgym.errors import AcgymError

# Modules that add subcommands, in the order they appear in ``acgym --help``.
_COMMAND_MODULES = (
    "acgym.commands.train",  # train, eval, record, dataset
    "acgym.commands.suite",  # suite list/run/resume/report
    "acgym.commands.sweep",  # sweep run/resume/report (Ray)
    "acgym.commands.sim",  # sim drive, sim serve
    "acgym.commands.human",  # drive
    "acgym.commands.track",  # track list/show/import/raceline
    "acgym.commands.plugin",  # plugin install, doctor
    "acgym.commands.capture",  # capture (the game's pixels)
    "acgym.bench",  # bench <target>
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from every area's ``register``."""
    parser = argparse.ArgumentParser(
        prog="acgym",
        description="Reinforcement learning for autonomous racing: Assetto Corsa and a "
        "built-in vehicle-dynamics simulator behind one Gymnasium environment.",
    )
    parser.add_argument("--version", action="version", version=f"acgym {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that area has no commands yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except AcgymError as exc:
        print(f"acgym: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("acgym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``acgym ... | head``): stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())

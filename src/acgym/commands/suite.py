"""``acgym suite``: a named benchmark suite, K seeds each, into one folder with a table.

::

    acgym suite list [--tracks DIR_OR_CONFIG]
    acgym suite run NAME [--tasks ID,ID] [--seeds K] [--steps N] [--time-limit-s S]
                    [--tracks DIR_OR_CONFIG] [--out DIR] [key=value ...]
    acgym suite resume DIR
    acgym suite report DIR

``run`` trains every task of the suite with seeds 0 .. K-1 (``acgym.suite.driver``); the
same command again with the same ``--out`` (or ``resume DIR``) continues a stopped
suite: finished runs are skipped, unfinished ones resumed. ``report`` writes the table
and plots of a suite folder, finished or not.
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from acgym.commands.sim import _positive_int, _print_help

if TYPE_CHECKING:
    from acgym.suite.layout import SuiteSettings

DEFAULT_SEEDS = 3
DEFAULT_STEPS = 1_000_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym suite ...`` to the command line."""
    parser = subparsers.add_parser(
        "suite",
        help="run a benchmark suite (the paper's tasks, K seeds) and write its table",
        description="Benchmark suites: tasks (a car on a circuit), K seeds each, one folder, "
        "a table (Markdown, JSON, CSV) and learning-curve plots.",
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    actions = parser.add_subparsers(
        dest="suite_command", metavar="ACTION", parser_class=_IntermixedParser
    )

    listing = actions.add_parser("list", help="the suites, their tasks and where each runs")
    _add_tracks(listing)
    listing.set_defaults(handler=_list)

    run = actions.add_parser(
        "run",
        help="run a suite (again with the same --out: continue it)",
        description="Train every task of the suite with seeds 0 .. K-1, each run an ordinary "
        "acgym train run folder under --out; then the table and the plots. Run again with "
        "the same options and --out (or acgym suite resume DIR), finished runs are skipped and "
        "unfinished ones resumed.",
        epilog="key=value items apply to every run (acgym train --help-config lists them), "
        "except the keys the suite sets: env.track, env.car, seed, train.total_steps, "
        "train.time_limit_s, train.run_dir, train.resume, train.eval_at_end, backend.",
    )
    run.add_argument("name", metavar="NAME", help="the suite (acgym suite list)")
    run.add_argument(
        "--tasks", help="comma-separated task ids to run (default: all of the suite's)"
    )
    run.add_argument(
        "--seeds",
        type=_positive_int,
        default=DEFAULT_SEEDS,
        help=f"seeds 0 .. K-1 per task (default {DEFAULT_SEEDS})",
    )
    run.add_argument(
        "--steps",
        type=_positive_int,
        default=DEFAULT_STEPS,
        help=f"env steps per run, all cars counted (default {DEFAULT_STEPS:,})",
    )
    run.add_argument(
        "--time-limit-s",
        type=float,
        default=0.0,
        help="stop a run after this much training time, s (default 0: no limit)",
    )
    _add_tracks(run)
    run.add_argument(
        "--out",
        type=Path,
        help="the suite folder (default runs/suite_<name>_<YYYYmmdd_HHMMSS>)",
    )
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    run.set_defaults(handler=_run)

    resume = actions.add_parser(
        "resume", help="continue a suite folder with its own settings (suite.json)"
    )
    resume.add_argument("out", type=Path, metavar="DIR", help="the suite folder")
    resume.set_defaults(handler=_resume)

    report = actions.add_parser(
        "report", help="write the table and plots of a suite folder (finished or not)"
    )
    report.add_argument("out", type=Path, metavar="DIR", help="the suite folder")
    report.set_defaults(handler=_report)


class _IntermixedParser(argparse.ArgumentParser):
    """Takes options and positionals in any order (``run NAME --seeds 3 key=value``): a
    plain parser takes the positionals that follow an option only before the first
    positional, so it refuses the ``key=value`` items after ``NAME --seeds 3``."""

    _parsing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        if self._parsing:  # the intermixed parse's own two passes
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def _add_tracks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracks",
        metavar="DIR_OR_CONFIG",
        help="the game's track files: the original project's track folder (config.yaml "
        "beside the CSVs) or its config.yaml; without it, or for a track it lacks, a "
        "built-in circuit of the same place",
    )


def _list(args: argparse.Namespace) -> int:
    from acgym.suite.tasks import SUITES, resolve_task, tracks_config

    tracks = tracks_config(args.tracks) if args.tracks else None
    for suite in SUITES.values():
        print(f"{suite.name}: {suite.description}")
        for task in suite.tasks:
            resolved = resolve_task(task, tracks)
            if resolved.not_run is not None:
                where = f"not run: {resolved.not_run}"
            else:
                where = f"{resolved.track_name} ({resolved.track_source})"
            published = [
                f"{who} {lap_s:.2f} s"
                for who, lap_s in (
                    ("AI", task.game_ai_lap_s),
                    ("best human", task.game_best_human_lap_s),
                )
                if lap_s is not None
            ]
            if published:
                where += f"; the game's published times: {', '.join(published)}"
            print(f"  {task.task_id:<24} {task.car:<16} {task.place}: {where}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from acgym.suite.layout import SuiteSettings
    from acgym.suite.tasks import get_suite

    suite = get_suite(args.name)
    tasks = suite.task_ids()
    if args.tasks:
        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    settings = SuiteSettings(
        suite=suite.name,
        tasks=tasks,
        seeds=args.seeds,
        total_steps=args.steps,
        time_limit_s=args.time_limit_s,
        tracks=args.tracks,
        overrides=tuple(args.overrides),
    )
    out = args.out or Path("runs") / f"suite_{suite.name}_{datetime.now():%Y%m%d_%H%M%S}"
    return _execute(settings, out, args.verbose)


def _resume(args: argparse.Namespace) -> int:
    from acgym.suite.layout import read_settings

    return _execute(read_settings(args.out), args.out, args.verbose)


def _execute(settings: SuiteSettings, out: Path, verbose: bool) -> int:
    from acgym.suite.driver import run_suite

    if not verbose:  # one line per episode file would fight the progress bar
        logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    result = run_suite(settings, out)
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    done = ", ".join(f"{n} {action}" for action, n in counts.items()) or "no run"
    print(f"suite {settings.suite}: {done}; table {out / 'results.md'}")
    for outcome in result.failed:
        print(f"  failed: {outcome.spec.task_id} seed {outcome.spec.seed}: {outcome.error}")
    if result.interrupted:
        print(f"  stopped: continue with acgym suite resume {out}")
        return 130
    return 1 if result.failed else 0


def _report(args: argparse.Namespace) -> int:
    from acgym.suite.driver import write_report

    for path in write_report(args.out):
        print(path)
    return 0

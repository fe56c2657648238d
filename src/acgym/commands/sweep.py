"""``acgym sweep``: independent runs (seeds x tracks x cars x config keys) on Ray, one
folder, one table.

::

    acgym sweep run --tracks T[,T...] [--cars C[,C...]] [--seeds K] [--steps N]
                    [--grid KEY=V1,V2 ...] [--time-limit-s S] [--game-tracks DIR_OR_CONFIG]
                    [--out DIR] [--ray-address ADDR] [--cpus-per-run X] [key=value ...]
    acgym sweep resume DIR [--ray-address ADDR] [--cpus-per-run X]
    acgym sweep report DIR

``run`` makes one task per car, track and grid point, trains seeds 0 .. K-1 of each as
Ray tasks (a Ray of this machine, or the cluster of ``--ray-address``) and prints the
table; the same command again (or ``resume DIR``) continues a stopped sweep
(:mod:`acgym.dist.sweep`; the folder and table are ``acgym suite``'s).
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from acgym.commands.suite import DEFAULT_SEEDS, DEFAULT_STEPS

if TYPE_CHECKING:
    from acgym.suite.layout import SuiteSettings

DEFAULT_CAR = "dallara_f317"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym sweep ...``."""
    parser = subparsers.add_parser(
        "sweep",
        help="independent runs (seeds x tracks x cars x config keys) on Ray, one table",
        description="A sweep: one task per car, track and grid point, K seeds each, every run "
        "an ordinary acgym train run folder, carried out as Ray tasks (pip install "
        "'acgym[ray]'); one table (Markdown, JSON, CSV) and learning curves.",
    )
    parser.set_defaults(handler=lambda _args: _print_help(parser))
    actions = parser.add_subparsers(dest="sweep_command", metavar="ACTION")

    run = actions.add_parser(
        "run",
        help="run a sweep (the same command again continues it)",
        epilog="key=value items apply to every run, except the keys the sweep sets: "
        "env.track, env.car, seed, train.total_steps, train.time_limit_s, train.run_dir, "
        "train.resume, train.eval_at_end, backend.",
    )
    run.add_argument("--tracks", required=True, help="comma-separated built-in tracks")
    run.add_argument("--cars", default=DEFAULT_CAR, help=f"comma-separated cars ({DEFAULT_CAR})")
    run.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds 0 .. K-1 per task")
    run.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="env steps per run")
    run.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a config key and its values; every combination of the --grid items is a task",
    )
    run.add_argument("--time-limit-s", type=float, default=0.0, help="training time per run, s")
    run.add_argument(
        "--game-tracks",
        metavar="DIR_OR_CONFIG",
        help="the game's track files (the original's config.yaml): --tracks may name its keys",
    )
    run.add_argument("--out", type=Path, help="the folder (default runs/sweep_<YYYYmmdd_HHMMSS>)")
    _add_ray(run)
    run.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
    run.set_defaults(handler=_run)

    resume = actions.add_parser("resume", help="continue a sweep folder with its own settings")
    resume.add_argument("out", type=Path, metavar="DIR", help="the sweep folder")
    _add_ray(resume)
    resume.set_defaults(handler=_resume)

    report = actions.add_parser("report", help="print and write the table of a sweep folder")
    report.add_argument("out", type=Path, metavar="DIR", help="the sweep folder")
    report.set_defaults(handler=_report)


def _add_ray(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ray-address", help="the Ray cluster (ray start --head prints it); default: this machine"
    )
    parser.add_argument(
        "--cpus-per-run", type=float, default=1.0, help="Ray CPUs per run (default 1)"
    )


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _run(args: argparse.Namespace) -> int:
    from acgym.dist.sweep import SWEEP_SUITE, SweepSpec, open_sweep, parse_grid
    from acgym.suite.layout import SuiteSettings

    out = args.out or Path("runs") / f"sweep_{datetime.now():%Y%m%d_%H%M%S}"
    spec = SweepSpec(
        _names(args.tracks), _names(args.cars), parse_grid(args.grid), args.game_tracks
    )
    open_sweep(out, spec)
    settings = SuiteSettings(
        suite=SWEEP_SUITE,
        tasks=spec.suite().task_ids(),
        seeds=args.seeds,
        total_steps=args.steps,
        time_limit_s=args.time_limit_s,
        tracks=args.game_tracks,
        overrides=tuple(args.overrides),
    )
    return _execute(settings, out, args)


def _resume(args: argparse.Namespace) -> int:
    from acgym.dist.sweep import open_sweep
    from acgym.suite.layout import read_settings

    open_sweep(args.out, None)
    return _execute(read_settings(args.out), args.out, args)


def _execute(settings: SuiteSettings, out: Path, args: argparse.Namespace) -> int:
    from acgym.dist.sweep import RayRunner
    from acgym.suite.driver import run_suite
    from acgym.suite.table import MARKDOWN_FILE

    if not args.verbose:
        logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    runner = RayRunner(args.ray_address, args.cpus_per_run)
    result = run_suite(settings, out, runner=runner)
    print((out / MARKDOWN_FILE).read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    for outcome in result.outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    for outcome in result.failed:
        print(f"failed: {outcome.spec.task_id} seed {outcome.spec.seed}: {outcome.error}")
    done = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no run"
    print(f"sweep: {done}; table {out / MARKDOWN_FILE}")
    return 1 if result.failed else 0


def _report(args: argparse.Namespace) -> int:
    from acgym.dist.sweep import open_sweep
    from acgym.suite.driver import write_report
    from acgym.suite.table import MARKDOWN_FILE

    open_sweep(args.out, None)
    write_report(args.out)
    print((args.out / MARKDOWN_FILE).read_text(encoding="utf-8"))
    return 0

"""``acgym train``, ``acgym eval``, ``acgym record`` and ``acgym dataset``.

* ``acgym train [key=value ...]``: SAC on the built-in simulator by default
  (``acgym.rl.run``; with ``train.workers`` >= 2, ``train.ray_address`` or
  ``remote.hosts``, Ray workers collect: ``acgym.dist.run``); every option of
  :class:`acgym.config.Config` is a ``key=value`` (``acgym train --help-config`` lists
  them), the original's names too.
* ``acgym eval --checkpoint PATH``: the deterministic policy's lap times, a PNG of the
  best lap beside the expert's and a JSON report; several checkpoints and tracks spread
  over Ray workers (``--workers N``, ``--ray-address``: ``acgym.dist.evaluation``).
* ``acgym record --expert``: demonstration laps of the simulator's expert, in the
  original dataset layout.
* ``acgym dataset export-minari``: a dataset as a Minari dataset.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acgym.config import Config

EPILOG = (
    "Options are key=value (YAML values, dotted keys), e.g. train.total_steps=100000 "
    "env.track=oval agent.algorithm=discor train.num_envs=8; the original's names work "
    "too (AssettoCorsa.track=monza, Agent.use_offline_buffer=True, load_offline_data=True, "
    "dataset_path=DIR). acgym train --help-config lists every key."
)


def _train(args: argparse.Namespace) -> int:
    from acgym.config import config_help
    from acgym.rl.run import format_summary, resolve_config, run_training

    if args.help_config:
        print(config_help())
        return 0
    config = resolve_config(args.config, args.overrides)
    if args.print_config:
        print(config.to_yaml(), end="")
        return 0
    if not args.verbose:  # one line per episode file would fight the progress bar
        logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    if config.distributed:  # Ray workers (docs/distributed.md); Ray is imported only here
        from acgym.dist.run import run_distributed

        result = run_distributed(config)
    else:
        result = run_training(config)
    print(format_summary(result))
    return 130 if result.interrupted else 0


def _eval(args: argparse.Namespace) -> int:
    from acgym.rl.evaluation import evaluate_checkpoint, format_report

    if not args.verbose:
        logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    tracks = args.track or [None]
    several = len(args.checkpoint) * len(tracks) > 1
    jobs = [_eval_job(args, path, track, several) for path in args.checkpoint for track in tracks]
    seen: dict[Path, int] = {}
    for index, (checkpoint, config, out_dir) in enumerate(jobs):  # two runs' seed_0 ...
        seen[out_dir] = seen.get(out_dir, 0) + 1
        if seen[out_dir] > 1:
            jobs[index] = (checkpoint, config, out_dir.with_name(f"{out_dir.name}_{seen[out_dir]}"))
    if several or args.workers > 1 or args.ray_address is not None:
        return _eval_many(args, jobs)
    checkpoint, config, out_dir = jobs[0]
    report = evaluate_checkpoint(
        checkpoint,
        config,
        num_episodes=args.episodes,
        out_dir=out_dir,
        expert=not args.no_expert,
        device=args.device,
        human=args.human,
    )
    print(format_report(report))
    return 0


def _eval_job(
    args: argparse.Namespace, path: str, track: str | None, several: bool
) -> tuple[Path, Config, Path]:
    """The checkpoint, configuration and output folder of one evaluation."""
    from acgym.config import CONFIG_FILE, load_config
    from acgym.errors import ConfigError, DataFileError
    from acgym.fileio import slug
    from acgym.rl.checkpoint import resolve_checkpoint
    from acgym.rl.run import resume_run_dir

    checkpoint = resolve_checkpoint(path)
    try:
        run_dir: Path | None = resume_run_dir(checkpoint)
    except DataFileError:
        run_dir = None
    if run_dir is None and args.config is None:
        # The defaults would be a guess at the env the policy learned on.
        raise ConfigError(
            f"acgym eval: {checkpoint} is not in a run folder (no {CONFIG_FILE} in it or "
            "the two folders above it), so the track, car and env settings it was trained "
            f"with are unknown: give them with --config FILE (the run's {CONFIG_FILE}), "
            "or evaluate it inside its run folder"
        )
    base = load_config(run_dir / CONFIG_FILE) if run_dir is not None else None
    items = [*args.overrides, *([f"env.track={track}"] if track else [])]
    config = load_config(args.config, items, base=base)
    name = f"eval_{checkpoint.name}" + (f"_{slug(track)}" if track else "")
    if args.out:
        out_dir = Path(args.out)
        if several:  # one folder per evaluation under --out
            out_dir = out_dir / (f"{run_dir.name}_{name}" if run_dir is not None else name)
    elif run_dir is not None:
        out_dir = run_dir / name
    else:
        out_dir = Path(f"{name}_{datetime.now():%Y%m%d_%H%M%S}")
    return checkpoint, config, out_dir


def _eval_many(args: argparse.Namespace, jobs: list[tuple[Path, Config, Path]]) -> int:
    """Several evaluations, spread over Ray workers (``--workers``, ``--ray-address``)."""
    from acgym.dist.evaluation import EvalJob, run_evaluations
    from acgym.rl.evaluation import format_report

    if args.human:
        from acgym.errors import ConfigError

        raise ConfigError("acgym eval --human takes one checkpoint and one track")
    plain = [
        EvalJob(
            str(checkpoint),
            config.to_dict(),
            str(out_dir),
            args.episodes,
            not args.no_expert,
            args.device,
        )
        for checkpoint, config, out_dir in jobs
    ]
    failed = 0
    for job, report, error in run_evaluations(
        plain, workers=args.workers, address=args.ray_address
    ):
        if report is None:
            failed += 1
            print(f"evaluation of {job.checkpoint} failed: {error}")
            continue
        print(format_report(report))
        print(f"  files: {job.out_dir}")
    print(f"{len(plain) - failed} of {len(plain)} evaluations done")
    return 1 if failed else 0


def _record(args: argparse.Namespace) -> int:
    from acgym.config import load_config
    from acgym.errors import ConfigError
    from acgym.rl.expert import record_expert

    if not args.expert:
        raise ConfigError("acgym record: only --expert (the simulator's expert driver) for now")
    config = load_config(args.config, args.overrides)
    run_dir, runs = record_expert(
        args.out,
        track=args.track or config.env.track,
        car=args.car or config.env.car,
        laps=args.laps,
        max_steps=args.max_steps,
        config=config.env,
        episodes=args.episodes,
        noise_std=args.noise,
        seed=config.agent.seed,
    )
    for k, run in enumerate(runs, start=1):
        times = ", ".join(
            f"{lap.time_s:.3f}{'' if lap.clean else ' (invalid)'}" for lap in run.laps.laps
        )
        end = " (ended by the env's rules)" if run.ended_by_env else ""
        print(f"expert episode {k}: {run.steps} steps, laps [{times or 'none'}] s{end}")
    print(f"{sum(r.steps for r in runs)} steps in {len(runs)} episodes -> {run_dir}")
    return 0


def _export_minari(args: argparse.Namespace) -> int:
    from acgym.config import load_config
    from acgym.rl.offline import export_minari

    config = load_config(args.config, args.overrides)
    dataset = export_minari(args.dataset, args.out, config.env, all_tracks=not args.only_env)
    print(
        f"minari dataset {args.out}: {dataset.total_episodes} episodes, {dataset.total_steps} steps"
    )
    return 0


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML config (ours or the original's)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``, ``eval``, ``record`` and ``dataset``."""
    train = subparsers.add_parser(
        "train",
        help="train SAC / DisCor (default: SAC on the built-in simulator)",
        description="Train an agent. With no options: SAC on the built-in simulator's "
        "default track and car, until the default step budget; files under runs/.",
        epilog=EPILOG,
    )
    _add_config_args(train)
    train.add_argument("--print-config", action="store_true", help="print the resolved config")
    train.add_argument("--help-config", action="store_true", help="list every key and default")
    train.set_defaults(handler=_train)

    evaluate = subparsers.add_parser(
        "eval",
        help="evaluate a checkpoint: lap times, best-lap PNG, JSON report",
        epilog="The run's config.yaml is the base; key=value overrides apply on top. A "
        "checkpoint outside its run folder needs --config FILE (the run's config.yaml). "
        "Several --checkpoint and --track give every pair; with --workers N (or "
        "--ray-address) they run on Ray workers at once.",
    )
    evaluate.add_argument(
        "--checkpoint",
        required=True,
        action="append",
        help="checkpoint or run folder; give it several times to evaluate several",
    )
    evaluate.add_argument(
        "--track",
        action="append",
        help="evaluate on this track (env.track) instead of the run's; several: each",
    )
    evaluate.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Ray workers on this machine for several evaluations (pip install 'acgym[ray]')",
    )
    evaluate.add_argument("--ray-address", help="the Ray cluster for several evaluations")
    evaluate.add_argument("--episodes", type=int, default=1, help="episodes (default 1)")
    evaluate.add_argument("--out", help="output folder (default: <run>/eval_<checkpoint>)")
    evaluate.add_argument("--device", help="cpu, cuda, auto (default: the checkpoint's)")
    evaluate.add_argument("--no-expert", action="store_true", help="skip the expert's lap")
    evaluate.add_argument(
        "--human",
        metavar="DATASET",
        help="a person's laps (acgym drive, import-motec): their best lap beside the agent's",
    )
    _add_config_args(evaluate)
    evaluate.set_defaults(handler=_eval)

    record = subparsers.add_parser(
        "record",
        help="record demonstration laps (the simulator's expert)",
        description="Write laps in the original dataset layout: "
        "<out>/<track>/<car>/<run>/laps/*.parquet with static_info.json.",
    )
    record.add_argument("--expert", action="store_true", help="the expert drives (required)")
    record.add_argument("--track", help="track (default: env.track)")
    record.add_argument("--car", help="car (default: env.car)")
    record.add_argument("--laps", type=int, default=1, help="laps to drive (default 1)")
    record.add_argument("--max-steps", type=int, help="stop after this many steps")
    record.add_argument(
        "--episodes",
        type=int,
        default=1,
        help="episodes to drive (default 1; seeds seed, seed+1, ...; with "
        "env.start.random=true each starts at a random place, heading and speed)",
    )
    record.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="std of Gaussian noise on the expert's actions (default 0): the expert "
        "corrects it, so the data shows recoveries",
    )
    record.add_argument("--out", required=True, help="dataset folder")
    _add_config_args(record)
    record.set_defaults(handler=_record)

    dataset = subparsers.add_parser("dataset", help="dataset tools (Minari export, MoTeC import)")
    actions = dataset.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export-minari",
        help="write a Minari dataset (pip install 'acgym[minari]')",
        description="Rebuild a dataset's laps with the env settings (key=value) and write "
        "them as a Minari dataset.",
    )
    export.add_argument("--dataset", required=True, help="dataset folder (original layout)")
    export.add_argument("--out", required=True, help="Minari dataset id, e.g. acgym/oval-expert-v0")
    export.add_argument(
        "--only-env", action="store_true", help="only the runs of env.track and env.car"
    )
    _add_config_args(export)
    export.set_defaults(handler=_export_minari)

    from acgym.commands.human import register_dataset_actions

    register_dataset_actions(actions)  # import-motec


if __name__ == "__main__":  # pragma: no cover
    from acgym.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))

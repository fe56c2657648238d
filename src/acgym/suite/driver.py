"""Running a suite into a folder (``acgym suite run``) and writing its report.

:func:`run_suite`:

1. checks the overrides (a key the suite sets is refused) and the folder: run before
   with other steps, time limit, tracks or overrides, it is refused; with other tasks
   or seeds, they join the ones there;
2. resolves every task's track (:func:`acgym.suite.tasks.resolve_task`) and, for a task
   that runs, drives the expert and computes the speed-profile estimate once
   (``<task>/task.json``; kept when the folder is run again);
3. hands the runs to the runner, seed by seed (every task's seed 0, then every task's
   seed 1, ...: a stopped suite has a whole table of fewer seeds), writing the report
   after each run. Finished runs are skipped, unfinished ones resumed
   (:func:`acgym.suite.runs.execute_run`).

:func:`write_report` writes the table and the plots from the folder alone.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from acgym.errors import ConfigError
from acgym.suite.curves import CURVE_FILE, read_curve
from acgym.suite.layout import (
    PLOTS_DIR,
    SUITE_FILE,
    SuiteSettings,
    TaskRecord,
    read_settings,
    read_task,
    run_dir,
    write_settings,
    write_task,
)
from acgym.suite.plots import plot_task
from acgym.suite.runs import (
    LocalRunner,
    Runner,
    RunOutcome,
    RunSpec,
    check_overrides,
    run_config,
)
from acgym.suite.table import collect, task_entry, write_tables
from acgym.suite.tasks import ResolvedTask, get_suite, resolve_task, tracks_config

logger = logging.getLogger(__name__)


@dataclass
class SuiteResult:
    """What :func:`run_suite` did.

    Attributes:
        out_dir: The suite folder.
        settings: Its settings (this run's merged with those before).
        outcomes: One per run handed to the runner, in the order they ended.
        files: The report's files.
        interrupted: A run was stopped by Ctrl-C / SIGTERM (the suite stopped after it).
    """

    out_dir: Path
    settings: SuiteSettings
    outcomes: list[RunOutcome] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[RunOutcome]:
        """The runs that ended with an error."""
        return [o for o in self.outcomes if o.error is not None]


def prepare_settings(settings: SuiteSettings, out_dir: Path) -> SuiteSettings:
    """``settings`` merged with the folder's (refused when they differ in what makes the
    runs comparable), with ``tracks`` as an absolute path to the ``config.yaml``."""
    check_overrides(settings.overrides)
    if settings.tracks is not None:
        settings = dataclasses.replace(settings, tracks=str(tracks_config(settings.tracks)))
    if (out_dir / SUITE_FILE).is_file():
        return read_settings(out_dir).merged(settings)
    return settings


def prepare_task(out_dir: Path, settings: SuiteSettings, resolved: ResolvedTask) -> TaskRecord:
    """The task's record: its track, and the expert's lap and the estimate on it (kept
    from the folder when the track is the same)."""
    before = read_task(out_dir, resolved.task.task_id)
    if resolved.not_run is not None:
        record = TaskRecord(resolved)
    elif before is not None and before.resolved == resolved and before.estimate_s is not None:
        record = before
    else:
        record = task_reference(settings, resolved)
    write_task(out_dir, record)
    return record


def task_reference(settings: SuiteSettings, resolved: ResolvedTask) -> TaskRecord:
    """Drive the expert (two laps from a standing start on the line) and compute the
    car's speed-profile estimate on the task's track, with the suite's env settings."""
    from acgym.env.config import StartConfig
    from acgym.rl.envs import make_env
    from acgym.rl.evaluation import expert_reference

    task = resolved.task
    assert resolved.track is not None
    config = run_config(_spec(settings, resolved, 0, Path()))
    config = dataclasses.replace(config, env=dataclasses.replace(config.env, start=StartConfig()))
    logger.info("suite: the expert drives %s with %s", resolved.track_name, task.car)
    env = make_env(config)
    try:
        estimate_s = float(env.unwrapped.expert_lap_estimate_s())
    finally:
        env.close()
    trace, laps_s = expert_reference(config)
    return TaskRecord(
        resolved,
        estimate_s=estimate_s,
        expert_lap_s=None if trace is None else float(trace.time_s),
        expert_laps_s=tuple(float(t) for t in laps_s),
    )


def _spec(settings: SuiteSettings, resolved: ResolvedTask, seed: int, out_dir: Path) -> RunSpec:
    assert resolved.track is not None
    return RunSpec(
        task_id=resolved.task.task_id,
        seed=seed,
        run_dir=str(run_dir(out_dir, resolved.task.task_id, seed)),
        track=resolved.track,
        car=resolved.task.car,
        total_steps=settings.total_steps,
        time_limit_s=settings.time_limit_s,
        overrides=settings.overrides + resolved.task.overrides,
    )


def plan_runs(settings: SuiteSettings, records: list[TaskRecord], out_dir: Path) -> list[RunSpec]:
    """The runs of the tasks that run, seed by seed."""
    return [
        _spec(settings, record.resolved, seed, out_dir)
        for seed in range(settings.seeds)
        for record in records
        if record.resolved.not_run is None
    ]


def run_suite(
    settings: SuiteSettings, out_dir: Path | str, *, runner: Runner | None = None
) -> SuiteResult:
    """Run a suite into ``out_dir`` (see the module docstring).

    Args:
        settings: The suite, its tasks (the ones to run now), seeds, budget, tracks and
            overrides.
        out_dir: The suite folder (made, or continued).
        runner: Who carries out the runs (default: :class:`LocalRunner`).

    Raises:
        ConfigError: An override sets a key of the suite, or the folder holds a suite of
            other settings.
    """
    out_dir = Path(out_dir)
    if not settings.tasks:
        raise ConfigError(f"suite {settings.suite}: no task to run")
    merged = prepare_settings(settings, out_dir)
    write_settings(out_dir, merged)
    tracks = Path(merged.tracks) if merged.tracks else None
    suite = get_suite(settings.suite)
    records = []
    for task_id in settings.tasks:
        resolved = resolve_task(suite.task(task_id), tracks)
        if resolved.not_run is not None:
            logger.warning("suite: %s not run: %s", task_id, resolved.not_run)
        records.append(prepare_task(out_dir, merged, resolved))
    specs = plan_runs(dataclasses.replace(merged, seeds=settings.seeds), records, out_dir)
    result = SuiteResult(out_dir, merged)
    for outcome in (runner or LocalRunner()).run(specs):
        result.outcomes.append(outcome)
        result.interrupted = result.interrupted or outcome.interrupted
        write_report(out_dir)
    result.files = write_report(out_dir)
    return result


def write_report(out_dir: Path | str) -> list[Path]:
    """Write the suite folder's table (Markdown, JSON, CSV) and learning-curve PNGs.

    Returns:
        The files written.
    """
    out_dir = Path(out_dir)
    settings = read_settings(out_dir)
    files = []
    for task_id in settings.tasks:
        entry = task_entry(out_dir, settings, task_id)
        curves = [
            (seed, read_curve(path))
            for seed in range(settings.seeds)
            if (path := run_dir(out_dir, task_id, seed) / CURVE_FILE).is_file()
        ]
        if curves:
            png = out_dir / PLOTS_DIR / f"{task_id}.png"
            files.append(plot_task(entry, curves, png, total_steps=settings.total_steps))
    return write_tables(out_dir, collect(out_dir)) + files


__all__ = [
    "SuiteResult",
    "plan_runs",
    "prepare_settings",
    "prepare_task",
    "run_suite",
    "task_reference",
    "write_report",
]

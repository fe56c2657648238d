"""A suite's folder: its settings, its tasks' records and where each run goes.

::

    <out>/suite.json                  the settings (SuiteSettings)
    <out>/<task>/task.json            the task, its track (or why not run), the expert's
                                      lap and the speed-profile estimate
    <out>/<task>/seed_<k>/            an ordinary acgym train run folder (curve.csv added)
    <out>/results.md|json|csv         the table (acgym.suite.table)
    <out>/plots/<task>.png            the learning curves (acgym.suite.plots)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from acgym.errors import ConfigError, DataFileError
from acgym.fileio import write_text_atomic
from acgym.suite.tasks import ResolvedTask, get_suite

SUITE_FILE = "suite.json"
TASK_FILE = "task.json"
PLOTS_DIR = "plots"


@dataclass(frozen=True)
class SuiteSettings:
    """What a suite folder holds.

    Attributes:
        suite: The suite's name.
        tasks: The tasks run in this folder, in the suite's order.
        seeds: Seeds ``0 .. seeds - 1`` of every task.
        total_steps: Env steps of every run.
        time_limit_s: Training time limit of every run, s (0: none).
        tracks: The original's ``config.yaml`` of the game's tracks (None: not given).
        overrides: ``key=value`` items of every run.
    """

    suite: str
    tasks: tuple[str, ...]
    seeds: int
    total_steps: int
    time_limit_s: float = 0.0
    tracks: str | None = None
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ConfigError(f"--seeds: expected at least 1, got {self.seeds}")
        if self.total_steps < 1:
            raise ConfigError(f"--steps: expected at least 1, got {self.total_steps}")
        if not self.time_limit_s >= 0.0:
            raise ConfigError(f"--time-limit-s: expected >= 0 (0: none), got {self.time_limit_s}")
        suite = get_suite(self.suite)
        for task_id in self.tasks:
            suite.task(task_id)

    def merged(self, later: SuiteSettings) -> SuiteSettings:
        """These settings continued by ``later`` (the same folder run again): the union of
        the tasks and the larger seed count.

        Raises:
            ConfigError: ``later`` differs in what makes the runs comparable (suite,
                steps, time limit, tracks, overrides): they would not make one table.
        """
        for name in ("suite", "total_steps", "time_limit_s", "tracks", "overrides"):
            before, now = getattr(self, name), getattr(later, name)
            if before != now:
                raise ConfigError(
                    f"this suite folder was run with {name} = {before!r}, not {now!r}: one "
                    "table holds runs of one setting; give another --out, or the same "
                    f"settings ({self.describe()})"
                )
        order = get_suite(self.suite).task_ids()
        tasks = tuple(t for t in order if t in self.tasks or t in later.tasks)
        return replace(self, tasks=tasks, seeds=max(self.seeds, later.seeds))

    def describe(self) -> str:
        """The settings as a person reads them."""
        text = f"suite {self.suite}, {self.seeds} seed(s), {self.total_steps:,} steps"
        if self.time_limit_s:
            text += f", at most {self.time_limit_s:g} s of training per run"
        if self.tracks:
            text += f", --tracks {self.tracks}"
        if self.overrides:
            text += f", overrides {' '.join(self.overrides)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out = asdict(self)
        out["tasks"], out["overrides"] = list(self.tasks), list(self.overrides)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteSettings:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**data, "tasks": tuple(data["tasks"]), "overrides": tuple(data["overrides"])})


def read_settings(out_dir: Path | str) -> SuiteSettings:
    """The settings of a suite folder.

    Raises:
        DataFileError: No readable ``suite.json`` in it.
    """
    path = Path(out_dir) / SUITE_FILE
    data = _read_json(path, f"{out_dir} is not a suite folder (acgym suite run writes it)")
    try:
        return SuiteSettings.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise DataFileError(f"{path}: not suite settings ({exc})") from None


def write_settings(out_dir: Path | str, settings: SuiteSettings) -> None:
    """Write ``suite.json`` atomically."""
    write_json(Path(out_dir) / SUITE_FILE, settings.to_dict())


def run_dir(out_dir: Path | str, task_id: str, seed: int) -> Path:
    """The folder of a task's run of ``seed``."""
    return Path(out_dir) / task_id / f"seed_{seed}"


@dataclass(frozen=True)
class TaskRecord:
    """A task as run in a suite folder: its track and the references of its table row.

    Attributes:
        resolved: The task and its track (or why it is not run).
        estimate_s: The car's speed-profile lap-time estimate on the track, s.
        expert_lap_s: The expert's best clean lap (two laps from a standing start on the
            line, as ``acgym sim drive``), s; None: no clean lap.
        expert_laps_s: Every lap time of the expert, s.
    """

    resolved: ResolvedTask
    estimate_s: float | None = None
    expert_lap_s: float | None = None
    expert_laps_s: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "resolved": self.resolved.to_dict(),
            "estimate_s": self.estimate_s,
            "expert_lap_s": self.expert_lap_s,
            "expert_laps_s": list(self.expert_laps_s),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRecord:
        """The inverse of :meth:`to_dict`."""
        return cls(
            ResolvedTask.from_dict(data["resolved"]),
            data["estimate_s"],
            data["expert_lap_s"],
            tuple(data["expert_laps_s"]),
        )


def read_task(out_dir: Path | str, task_id: str) -> TaskRecord | None:
    """The record of a task in a suite folder (None: not written yet).

    Raises:
        DataFileError: The record cannot be read.
    """
    path = Path(out_dir) / task_id / TASK_FILE
    if not path.is_file():
        return None
    data = _read_json(path, "")
    try:
        return TaskRecord.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise DataFileError(f"{path}: not a task record ({exc}); delete it to redo it") from None


def write_task(out_dir: Path | str, record: TaskRecord) -> None:
    """Write the task's ``task.json`` atomically."""
    write_json(Path(out_dir) / record.resolved.task.task_id / TASK_FILE, record.to_dict())


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file of a run folder, or None when it is missing or unreadable (a
    run's files are read while it may be writing them, or after it was killed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_json(path: Path, missing: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(missing or f"{path} is missing") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataFileError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected a JSON object")
    return data


__all__ = [
    "PLOTS_DIR",
    "SUITE_FILE",
    "TASK_FILE",
    "SuiteSettings",
    "TaskRecord",
    "read_json_object",
    "read_settings",
    "read_task",
    "run_dir",
    "write_json",
    "write_settings",
    "write_task",
]

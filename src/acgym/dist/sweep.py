"""Sweeps: independent runs (seeds x tracks x cars x any config key) as Ray tasks, in one
folder with one table (``acgym sweep``).

A sweep is a benchmark suite (:mod:`acgym.suite`) whose tasks are made from its
definition, :class:`SweepSpec`: one task per car, track and point of the grid (a task's
runs take the grid point's ``key=value`` items after the sweep's), K seeds each. So the
folder, the runs (ordinary ``acgym train`` run folders), the table (``results.md``,
``.json``, ``.csv``, the first clean lap, best lap and training time of every run) and
the plots are the suite's, and a stopped or killed sweep continues where it was with the
same command (or ``acgym sweep resume DIR``): finished runs are skipped, started ones
resumed from their checkpoint. The definition is kept in ``sweep.json`` beside the
suite's ``suite.json``.

:class:`RayRunner` is the suite's :class:`~acgym.suite.runs.Runner` on Ray: each run is a
Ray task (``acgym.suite.runs.execute_run``, ``cpus_per_run`` CPUs), as many at once as the
cluster has room for. On a cluster the sweep folder must be on a filesystem every node
writes to (the runs write their folders where they run, the table is read where the
command runs).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acgym.errors import ConfigError, DataFileError
from acgym.fileio import slug, write_text_atomic
from acgym.suite.runs import RunOutcome, RunSpec, execute_run
from acgym.suite.tasks import Suite, Task, register_suite

logger = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
SWEEP_SUITE = "sweep"
"""The name the sweep's suite goes by in its folder's ``suite.json``."""


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs.

    Attributes:
        tracks: ``env.track`` of each task: a built-in track's name, or a key of
            ``game_tracks``.
        cars: ``env.car`` of each task.
        grid: ``(key, values)`` pairs: every combination is a point of the grid.
        game_tracks: The original's ``config.yaml`` of the game's tracks (None: none).
    """

    tracks: tuple[str, ...]
    cars: tuple[str, ...]
    grid: tuple[tuple[str, tuple[str, ...]], ...] = ()
    game_tracks: str | None = None

    def __post_init__(self) -> None:
        if not self.tracks or not self.cars:
            raise ConfigError("a sweep needs at least one track (--tracks) and one car (--cars)")
        for key, values in self.grid:
            if not values:
                raise ConfigError(f"--grid {key}: no value")

    def points(self) -> list[tuple[str, ...]]:
        """The grid's points, each as ``key=value`` items (one empty point without grid)."""
        points: list[tuple[str, ...]] = [()]
        for key, values in self.grid:
            points = [(*point, f"{key}={value}") for point in points for value in values]
        return points

    def tasks(self) -> tuple[Task, ...]:
        """One task per car, track and grid point, in that nesting."""
        from acgym.track.loaders import original_config_keys

        game = set(original_config_keys(Path(self.game_tracks))) if self.game_tracks else set()
        tasks = []
        for car in self.cars:
            for track in self.tracks:
                for point in self.points():
                    name = "-".join(slug(part) for part in (car, track, *point))
                    tasks.append(
                        Task(
                            name,
                            car,
                            track,
                            game_track=track if track in game else None,
                            builtin_tracks=(track,),
                            overrides=point,
                        )
                    )
        ids = [task.task_id for task in tasks]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"the sweep's tasks are not told apart by their names: {ids}")
        return tuple(tasks)

    def suite(self) -> Suite:
        """The suite of the sweep's tasks (registered under :data:`SWEEP_SUITE`)."""
        return Suite(SWEEP_SUITE, "a sweep (acgym sweep)", self.tasks())

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "tracks": list(self.tracks),
            "cars": list(self.cars),
            "grid": [[key, list(values)] for key, values in self.grid],
            "game_tracks": self.game_tracks,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        """The inverse of :meth:`to_dict`."""
        return cls(
            tuple(data["tracks"]),
            tuple(data["cars"]),
            tuple((key, tuple(values)) for key, values in data["grid"]),
            data.get("game_tracks"),
        )


def parse_grid(items: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``--grid key=v1,v2`` items as ``(key, values)`` pairs.

    Raises:
        ConfigError: An item without ``=`` or without a value.
    """
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        parts = tuple(v.strip() for v in values.split(",") if v.strip())
        if not sep or not key.strip() or not parts:
            raise ConfigError(f"--grid {item!r}: expected key=value1,value2,...")
        grid.append((key.strip(), parts))
    return tuple(grid)


def open_sweep(out_dir: Path | str, spec: SweepSpec | None) -> SweepSpec:
    """The sweep of ``out_dir``: ``spec`` written there (refused when the folder holds
    another), or the folder's own (``spec`` None), registered as the suite
    :data:`SWEEP_SUITE`.

    Raises:
        ConfigError: The folder holds a sweep of another definition.
        DataFileError: ``spec`` is None and the folder holds no sweep.
    """
    path = Path(out_dir) / SWEEP_FILE
    before = None
    if path.is_file():
        try:
            before = SweepSpec.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise DataFileError(f"{path} is not a sweep's definition ({exc})") from None
    if spec is None:
        if before is None:
            raise DataFileError(f"{out_dir} is not a sweep folder (no {SWEEP_FILE})")
        spec = before
    elif before is not None and before != spec:
        raise ConfigError(
            f"{out_dir} holds another sweep ({before.to_dict()}): give another --out, or the "
            "same tracks, cars, grid and game tracks"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(spec.to_dict(), indent=2) + "\n")
    register_suite(spec.suite())
    return spec


def run_one(spec: dict[str, Any], progress: bool = False) -> dict[str, Any]:
    """Carry out one run (a Ray task): :func:`acgym.suite.runs.execute_run` of the plain
    :class:`RunSpec` ``spec``; returns the outcome as plain data."""
    logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    run = RunSpec(**{**spec, "overrides": tuple(spec["overrides"])})
    outcome = execute_run(run, progress=progress)
    return {"action": outcome.action, "interrupted": outcome.interrupted, "error": outcome.error}


class RayRunner:
    """The suite's runs as Ray tasks (see the module docstring).

    Args:
        address: The Ray cluster (``train.ray_address``); None: a Ray of this machine.
        cpus_per_run: Ray CPUs each run takes (runs at once: the cluster's CPUs over this).
        local_cpus: Logical CPUs of a local Ray (None: the machine's).
    """

    def __init__(
        self, address: str | None = None, cpus_per_run: float = 1.0, local_cpus: int | None = None
    ) -> None:
        import os

        from acgym.dist.pool import connect_ray

        if not cpus_per_run > 0:
            raise ConfigError(f"--cpus-per-run must be > 0, got {cpus_per_run}")
        self.ray = connect_ray(address, local_cpus or os.cpu_count() or 1)
        self.cpus_per_run = cpus_per_run

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        """Start every run; yield each outcome as its run ends. Ctrl-C cancels the runs
        in flight (their folders keep their checkpoints: the sweep resumes from them)."""
        task = self.ray.remote(num_cpus=self.cpus_per_run, max_retries=0)(run_one)
        refs = {task.remote(dataclasses.asdict(spec)): spec for spec in specs}
        logger.info("sweep: %d runs on Ray, %g CPU(s) each", len(refs), self.cpus_per_run)
        try:
            while refs:
                ready, _ = self.ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    spec = refs.pop(ref)
                    try:
                        done = self.ray.get(ref)
                    except Exception as exc:  # the task's process died, or Ray failed it
                        done = {"action": "failed", "interrupted": False, "error": str(exc)}
                    yield RunOutcome(spec, done["action"], done["interrupted"], done["error"])
        except KeyboardInterrupt:
            for ref in refs:
                self.ray.cancel(ref, force=True)
            raise


__all__ = [
    "SWEEP_FILE",
    "SWEEP_SUITE",
    "RayRunner",
    "SweepSpec",
    "open_sweep",
    "parse_grid",
    "run_one",
]

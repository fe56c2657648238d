"""The suites' tasks (a car on a circuit, with the game's published lap times) and where
each task's track comes from.

The paper's suite is arXiv 2407.16680, Table 2: the tracks are the game's, read from the
original project's track files (``config.yaml`` beside ``<track>.csv`` and its racing
line). Those files are not part of a clean install, so a task whose game file is not
given falls back to a built-in circuit of the same place (the TUMFTM racetrack database's,
another survey and another layout than the game's: its published times are then not
shown), and a task with neither is *not run*, with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acgym.errors import ConfigError, TrackFileError

if TYPE_CHECKING:
    from acgym.track.track import Track

logger = logging.getLogger(__name__)

GAME_FILE = "game file"
"""``track_source`` of a task driven on the game's own track file (``--tracks``)."""
BUILT_IN = "built-in"
"""``track_source`` of a task driven on a built-in track."""


@dataclass(frozen=True)
class Task:
    """One task of a suite: a car on a circuit.

    Attributes:
        task_id: Short unique name (``f317-barcelona``): the task's folder in the suite's
            output.
        car: Car preset (``dallara_f317``).
        place: The circuit, as a person names it (``Barcelona``).
        game_track: Key of the game's track in the original's ``config.yaml``
            (``ks_barcelona-layout_gp``); None when the task has no game track.
        builtin_tracks: Built-in tracks of the same place, the first that exists is the
            fallback (matched without regard to case).
        game_ai_lap_s: The game's built-in AI lap time on the game's track, s (None: not
            published).
        game_best_human_lap_s: The best human lap time on the game's track, s (None: not
            published).
        overrides: ``key=value`` items of this task's runs, after the suite's (a sweep's
            point of its grid, ``acgym.dist.sweep``).
    """

    task_id: str
    car: str
    place: str
    game_track: str | None = None
    builtin_tracks: tuple[str, ...] = ()
    game_ai_lap_s: float | None = None
    game_best_human_lap_s: float | None = None
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A named list of tasks."""

    name: str
    description: str
    tasks: tuple[Task, ...]

    def task_ids(self) -> tuple[str, ...]:
        """The tasks' ids, in order."""
        return tuple(task.task_id for task in self.tasks)

    def task(self, task_id: str) -> Task:
        """The task ``task_id``.

        Raises:
            ConfigError: The suite has no such task.
        """
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        raise ConfigError(
            f"suite {self.name!r} has no task {task_id!r}; its tasks: {', '.join(self.task_ids())}"
        )


def _paper_tasks() -> tuple[Task, ...]:
    # Published times: arXiv 2407.16680, Table 2 (the game's AI / the best human lap).
    barcelona = ("ks_barcelona-layout_gp", ("Catalunya",))
    red_bull_ring = ("ks_red_bull_ring-layout_gp", ("Spielberg",))
    monza = ("monza", ("Monza",))
    return (
        Task("f317-barcelona", "dallara_f317", "Barcelona", *barcelona, 99.74, 97.52),
        Task("f317-red-bull-ring", "dallara_f317", "Red Bull Ring", *red_bull_ring),
        Task("f317-monza", "dallara_f317", "Monza", *monza, None, 104.31),
        Task("gt3-barcelona", "bmw_z4_gt3", "Barcelona", *barcelona, 109.66, 108.38),
        Task("gt3-red-bull-ring", "bmw_z4_gt3", "Red Bull Ring", *red_bull_ring),
        Task("gt3-monza", "bmw_z4_gt3", "Monza", *monza, 111.44, 110.87),
        Task("mazda-barcelona", "ks_mazda_miata", "Barcelona", *barcelona, 153.62, 158.28),
    )


SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            "paper",
            "the paper's benchmark (arXiv 2407.16680, Table 2): the F317 and the GT3 on "
            "Barcelona, the Red Bull Ring and Monza, the Mazda on Barcelona",
            _paper_tasks(),
        ),
        Suite(
            "authored",
            "the F317 on acgym's three authored tracks (no game files needed; quick)",
            (
                Task("f317-oval", "dallara_f317", "oval", builtin_tracks=("oval",)),
                Task(
                    "f317-fast-circuit",
                    "dallara_f317",
                    "fast circuit",
                    builtin_tracks=("fast_circuit",),
                ),
                Task(
                    "f317-technical-circuit",
                    "dallara_f317",
                    "technical circuit",
                    builtin_tracks=("technical_circuit",),
                ),
            ),
        ),
    )
}
"""The named suites (``acgym suite list``)."""


def register_suite(suite: Suite) -> None:
    """Add a suite made at run time (a sweep's tasks, ``acgym.dist.sweep``), or replace
    the one of its name."""
    SUITES[suite.name] = suite


def get_suite(name: str) -> Suite:
    """The suite ``name``.

    Raises:
        ConfigError: No suite has that name.
    """
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"no suite {name!r}; suites: {', '.join(SUITES)}") from None


# ------------------------------------------------------------------------------ tracks


@dataclass(frozen=True)
class ResolvedTask:
    """A task with the track it runs on, or the reason it is not run.

    Attributes:
        task: The task.
        track: ``env.track`` of its runs (``DIR/config.yaml:key`` or a built-in name);
            None when not run.
        track_name: The track's own name and layout, as the game names it
            (``ks_barcelona-layout_gp``, ``Catalunya``); "" when not run.
        track_source: :data:`GAME_FILE`, :data:`BUILT_IN`, or "" when not run.
        note: What a reader of the table must know (a fallback and why); "" when none.
        not_run: Why the task is not run (None: it runs).
    """

    task: Task
    track: str | None
    track_name: str
    track_source: str
    note: str = ""
    not_run: str | None = None

    @property
    def published_shown(self) -> bool:
        """Whether the game's published times compare with this track: the game's own."""
        return self.track_source == GAME_FILE

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (lists for tuples)."""
        out = asdict(self)
        out["task"]["builtin_tracks"] = list(self.task.builtin_tracks)
        out["task"]["overrides"] = list(self.task.overrides)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResolvedTask:
        """The inverse of :meth:`to_dict`."""
        task = dict(data["task"])
        task["builtin_tracks"] = tuple(task["builtin_tracks"])
        task["overrides"] = tuple(task.get("overrides", ()))
        return cls(**{**data, "task": Task(**task)})


def tracks_config(path: Path | str) -> Path:
    """The original's ``config.yaml`` named by ``--tracks``: the file, or the one in a folder.

    Raises:
        ConfigError: Neither exists.
    """
    path = Path(path)
    config = path / "config.yaml" if path.is_dir() else path
    if not config.is_file():
        raise ConfigError(
            f"--tracks {path}: no such file{' (no config.yaml in it)' if path.is_dir() else ''}; "
            "give the original's track folder (with config.yaml) or its config.yaml"
        )
    return config.resolve()


def find_builtin(names: tuple[str, ...]) -> str | None:
    """The first built-in track among ``names`` (matched without regard to case)."""
    from acgym.track.builtin import list_builtin_tracks

    available = {name.lower(): name for name in list_builtin_tracks()}
    for name in names:
        if name.lower() in available:
            return available[name.lower()]
    return None


def resolve_task(task: Task, tracks: Path | None) -> ResolvedTask:
    """Where ``task`` runs: the game's file in ``tracks`` (an original ``config.yaml``),
    else a built-in circuit of the same place, else nowhere (with the reason).

    The track is loaded here, so that a broken file stops the task before any run.
    """
    from acgym.track.loaders import load_track, original_config_keys

    missing: list[str] = []
    if task.game_track is not None:
        if tracks is None:
            missing.append(f"the game's {task.game_track} needs --tracks")
        elif task.game_track not in original_config_keys(tracks):
            missing.append(f"no {task.game_track} in {tracks}")
        else:
            spec = f"{tracks}:{task.game_track}"
            try:
                track = load_track(spec)
            except TrackFileError as exc:
                return ResolvedTask(task, None, "", "", not_run=f"the game's track: {exc}")
            return ResolvedTask(task, spec, _full_name(track), GAME_FILE)
    builtin = find_builtin(task.builtin_tracks)
    if builtin is None:
        if task.builtin_tracks:
            missing.append(f"no built-in track {' or '.join(task.builtin_tracks)}")
        return ResolvedTask(task, None, "", "", not_run="; ".join(missing) or "no track")
    track = load_track(builtin)
    note = ""
    if task.game_track is not None:
        note = (
            f"built-in {_full_name(track)} in place of the game's {task.game_track} "
            f"({'; '.join(missing)}): another survey of {task.place}, so the game's "
            "published times are not shown"
        )
    return ResolvedTask(task, builtin, _full_name(track), BUILT_IN, note=note)


def _full_name(track: Track) -> str:
    """``TrackName-TrackConfiguration`` (the name alone without a layout)."""
    return f"{track.name}-{track.configuration}" if track.configuration else track.name


__all__ = [
    "BUILT_IN",
    "GAME_FILE",
    "SUITES",
    "ResolvedTask",
    "Suite",
    "Task",
    "find_builtin",
    "get_suite",
    "register_suite",
    "resolve_task",
    "tracks_config",
]

"""The runs of a suite: what one run is (:class:`RunSpec`), how it is carried out
(:func:`execute_run`) and who carries out a list of them (a :class:`Runner`).

A run is an ordinary ``acgym train`` run in a folder of its own (``train.run_dir``), so
:func:`execute_run` can tell from the folder alone what is left to do:

* ``summary.json`` written and the run not stopped by a signal: finished, skipped;
* a checkpoint (a killed run, or one stopped by Ctrl-C): resumed (``train.resume``);
* a folder without a checkpoint (killed before its first): started again from scratch;
* no folder: started.

:class:`LocalRunner` carries the runs out one after the other in this process. A
distributed runner (a Ray cluster) sends each :class:`RunSpec` (plain, picklable data) to
a worker that calls :func:`execute_run`; the suite's table reads the run folders, whoever
wrote them.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from acgym.config import Config, load_config
from acgym.errors import ConfigError
from acgym.rl.checkpoint import latest_checkpoint, read_meta
from acgym.rl.run import SUMMARY_FILE, run_training
from acgym.rl.trainer import Callback
from acgym.suite.curves import CURVE_FILE, CurveRecorder
from acgym.suite.layout import read_json_object, write_json

logger = logging.getLogger(__name__)

ERROR_FILE = "suite_error.json"
"""Written in a run folder when its run failed (removed when it succeeds)."""

PENDING, EMPTY, STARTED, STOPPED, FINISHED = "pending", "empty", "started", "stopped", "finished"
"""States of a run folder (:func:`run_state`)."""

SUITE_KEYS = {
    "backend": "the suite runs on the built-in simulator (backend=sim)",
    "env.track": "each task sets it",
    "env.car": "each task sets it",
    "agent.seed": "--seeds sets the seeds 0 .. K-1",
    "train.total_steps": "--steps sets it",
    "train.time_limit_s": "--time-limit-s sets it",
    "train.run_dir": "each run's folder is <out>/<task>/seed_<k>",
    "train.resume": "the suite resumes its unfinished runs itself",
    "train.eval_at_end": "the table needs the final policy's evaluation",
}
"""Keys the suite sets for every run, and why an override may not."""


@dataclass(frozen=True)
class RunSpec:
    """One run of a suite: a task's track and car, a seed, the budget and the overrides.

    Attributes:
        task_id: The task.
        seed: ``agent.seed``.
        run_dir: The run folder.
        track: ``env.track``.
        car: ``env.car``.
        total_steps: ``train.total_steps``.
        time_limit_s: ``train.time_limit_s`` (0: none).
        overrides: ``key=value`` items applied to every run of the suite.
    """

    task_id: str
    seed: int
    run_dir: str
    track: str
    car: str
    total_steps: int
    time_limit_s: float = 0.0
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`execute_run` did.

    Attributes:
        spec: The run.
        action: ``skipped`` (finished before), ``trained`` (from scratch) or ``resumed``.
        interrupted: Stopped by Ctrl-C / SIGTERM (the suite stops too).
        error: The error that ended it (None: none).
    """

    spec: RunSpec
    action: str
    interrupted: bool = False
    error: str | None = None


def check_overrides(overrides: Sequence[str]) -> Config:
    """The configuration ``overrides`` give, refused when they set a key the suite sets
    (:data:`SUITE_KEYS`) or are invalid.

    Raises:
        ConfigError: An invalid override, or one of the suite's keys.
    """
    config = load_config(None, overrides)
    # Applied over two bases that differ in every suite key, the overrides leave such a
    # key different unless they set it (to whatever value, the default's too).
    probe = load_config(None, overrides, base=_probe_base())
    given, probed = config.to_dict(), probe.to_dict()
    for key, why in SUITE_KEYS.items():
        if _lookup(given, key) == _lookup(probed, key):
            raise ConfigError(f"{key} cannot be overridden in a suite: {why}")
    return config


def _probe_base() -> Config:
    config = load_config()
    probe = "suite-probe"
    return dataclasses.replace(
        config,
        backend="remote" if config.backend == "sim" else "sim",
        env=dataclasses.replace(config.env, track=probe, car=probe),
        agent=dataclasses.replace(config.agent, seed=config.agent.seed + 1),
        train=dataclasses.replace(
            config.train,
            total_steps=config.train.total_steps + 1,
            time_limit_s=config.train.time_limit_s + 1.0,
            run_dir=probe,
            resume=probe,
            eval_at_end=not config.train.eval_at_end,
        ),
    )


def _lookup(tree: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        tree = tree[part]
    return tree


def run_config(spec: RunSpec, *, resume: bool = False) -> Config:
    """The configuration of ``spec``'s run (``resume``: continuing its folder)."""
    config = check_overrides(spec.overrides)
    return dataclasses.replace(
        config,
        env=dataclasses.replace(config.env, track=spec.track, car=spec.car),
        agent=dataclasses.replace(config.agent, seed=spec.seed),
        train=dataclasses.replace(
            config.train,
            total_steps=spec.total_steps,
            time_limit_s=spec.time_limit_s,
            run_dir=spec.run_dir,
            resume=spec.run_dir if resume else None,
            eval_at_end=True,
        ),
    )


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``summary.json``, or None when there is none (or it cannot be read)."""
    return read_json_object(run_dir / SUMMARY_FILE)


def run_state(run_dir: Path | str) -> str:
    """What a run folder holds: :data:`PENDING` (no folder), :data:`EMPTY` (no
    checkpoint), :data:`STARTED` (a checkpoint, no summary), :data:`STOPPED` (stopped by
    a signal) or :data:`FINISHED`."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return PENDING
    summary = read_summary(run_dir)
    if summary is not None:
        return STOPPED if summary.get("stopped_by") == "signal" else FINISHED
    return STARTED if latest_checkpoint(run_dir / "checkpoints") is not None else EMPTY


def execute_run(
    spec: RunSpec, *, callbacks: Sequence[Callback] = (), progress: bool | None = None
) -> RunOutcome:
    """Carry out ``spec``: skip it if finished, resume it if started, else train it.

    An error of the run is logged, written to the run folder's :data:`ERROR_FILE` and
    returned (the suite goes on with the next run); Ctrl-C is not an error.

    Args:
        spec: The run.
        callbacks: Extra trainer hooks (tests).
        progress: Override ``train.progress``.
    """
    run_dir = Path(spec.run_dir)
    state = run_state(run_dir)
    if state == FINISHED:
        return RunOutcome(spec, "skipped")
    resume = state in (STARTED, STOPPED)
    if state == EMPTY:
        logger.warning("%s has no checkpoint to resume: starting it again", run_dir)
        shutil.rmtree(run_dir)
    action = "resumed" if resume else "trained"
    try:
        config = run_config(spec, resume=resume)
        resumed_at = _checkpoint_step(run_dir) if resume else None
        recorder = CurveRecorder(run_dir / CURVE_FILE, resumed_at)
        result = run_training(config, callbacks=[recorder, *callbacks], progress=progress)
    except Exception as exc:
        logger.exception("suite run %s seed %d failed", spec.task_id, spec.seed)
        error = f"{type(exc).__name__}: {exc}"
        write_json(run_dir / ERROR_FILE, {"error": error})
        return RunOutcome(spec, action, error=error)
    (run_dir / ERROR_FILE).unlink(missing_ok=True)
    return RunOutcome(spec, action, interrupted=result.interrupted)


def _checkpoint_step(run_dir: Path) -> int:
    checkpoint = latest_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        return 0
    return int(read_meta(checkpoint)["extra"]["counters"]["env_steps"])


class Runner(Protocol):
    """Carries out a suite's runs."""

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        """Carry out ``specs`` (:func:`execute_run` each), yielding each outcome as its run
        ends; stop after an interrupted one."""
        ...


class LocalRunner:
    """One run after the other, in this process.

    Args:
        callbacks: Extra trainer hooks of every run (tests).
        progress: Override ``train.progress``.
    """

    def __init__(self, callbacks: Sequence[Callback] = (), progress: bool | None = None) -> None:
        self.callbacks = tuple(callbacks)
        self.progress = progress

    def run(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        for index, spec in enumerate(specs, start=1):
            logger.info(
                "suite: run %d of %d: %s, seed %d (%s)",
                index,
                len(specs),
                spec.task_id,
                spec.seed,
                run_state(spec.run_dir),
            )
            outcome = execute_run(spec, callbacks=self.callbacks, progress=self.progress)
            yield outcome
            if outcome.interrupted:
                return


__all__ = [
    "ERROR_FILE",
    "SUITE_KEYS",
    "LocalRunner",
    "RunOutcome",
    "RunSpec",
    "Runner",
    "check_overrides",
    "execute_run",
    "read_summary",
    "run_config",
    "run_state",
]

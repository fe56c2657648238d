"""Evaluations spread over Ray workers: ``acgym eval`` with several checkpoints or tracks
(``--workers N`` on this machine, ``--ray-address`` on a cluster).

Each evaluation is :func:`acgym.rl.evaluation.evaluate_checkpoint` of one checkpoint
under one configuration (its run's, with the track of the job), carried out as a Ray
task that writes its files to its own output folder (on the machine it runs on: on a
cluster, give an ``--out`` on a filesystem every node writes to) and returns its report.
Without workers they run one after the other in this process.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from acgym.config import Config
from acgym.config_loader import load_section
from acgym.errors import AcgymError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalJob:
    """One evaluation (plain data: it travels to a Ray worker).

    Attributes:
        checkpoint: The checkpoint folder.
        config: The configuration to evaluate under (``Config.to_dict()``).
        out_dir: Where its files go.
        episodes: Evaluation episodes.
        expert: Drive the expert for the reference lap (simulator only).
        device: Override the checkpoint's device (None: its own).
    """

    checkpoint: str
    config: dict[str, Any]
    out_dir: str
    episodes: int = 1
    expert: bool = True
    device: str | None = None


def evaluate_job(job: dict[str, Any]) -> dict[str, Any]:
    """Carry out one :class:`EvalJob` (given as a plain dict); returns its report."""
    from acgym.rl.evaluation import evaluate_checkpoint

    logging.getLogger("acgym.env.episode_log").setLevel(logging.WARNING)
    return evaluate_checkpoint(
        job["checkpoint"],
        load_section(Config, job["config"]),
        num_episodes=job["episodes"],
        out_dir=job["out_dir"],
        expert=job["expert"],
        device=job["device"],
    )


def run_evaluations(
    jobs: Sequence[EvalJob],
    *,
    workers: int = 1,
    address: str | None = None,
    cpus_per_job: float = 1.0,
) -> Iterator[tuple[EvalJob, dict[str, Any] | None, str | None]]:
    """Carry out ``jobs``: on Ray when ``workers`` >= 2 (a Ray of this machine with that
    many CPUs) or ``address`` is given (that cluster), else one after the other here.

    Yields:
        ``(job, report, None)`` as each ends, or ``(job, None, error)`` for one that failed
        (the others go on).
    """
    if workers <= 1 and address is None:
        for job in jobs:
            try:
                yield job, evaluate_job(dataclasses.asdict(job)), None
            except AcgymError as exc:
                yield job, None, str(exc)
        return
    from acgym.dist.pool import connect_ray, failure_reason

    ray = connect_ray(address, workers)
    task = ray.remote(num_cpus=cpus_per_job, max_retries=0)(evaluate_job)
    refs = {task.remote(dataclasses.asdict(job)): job for job in jobs}
    logger.info("%d evaluations on Ray", len(refs))
    while refs:
        ready, _ = ray.wait(list(refs), num_returns=1)
        for ref in ready:
            job = refs.pop(ref)
            try:
                yield job, ray.get(ref), None
            except Exception as exc:  # the task's error, or its process died
                yield job, None, failure_reason(exc)


__all__ = ["EvalJob", "evaluate_job", "run_evaluations"]

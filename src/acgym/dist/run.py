"""A distributed training run: what ``acgym train`` does when the configuration asks for
workers (``train.workers`` >= 2, ``train.ray_address`` or ``remote.hosts``).

The run folder, its files and its summary are a single-process run's
(:mod:`acgym.rl.run`): ``config.yaml``, ``checkpoints/``, ``tb/``, ``laps.json``,
``summary.json`` and the final ``eval/``, so ``acgym eval`` and ``resume`` work the same
(a distributed run can be resumed with workers or without, and the other way round).
The differences:

* the env runs in the workers (:class:`acgym.dist.worker.RolloutWorker`), each writing
  its episode log under ``workers/w<slot>/`` of the run folder, on its own machine;
* this process learns (:class:`acgym.dist.learner.Learner`) on ``agent.device`` (the GPU
  where there is one); periodic evaluation (``train.eval_interval``, the simulator) runs
  here too;
* the summary gains ``distributed``: the workers, what was delivered, and every loss
  (failures, restarts, disconnects, discarded transitions, duplicates);
* with remote cars, the final evaluation drives the first host's car once the workers
  have let go of it (``acgym.dist.worker.worker_config``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from acgym.config import Config
from acgym.dist.learner import Learner
from acgym.dist.worker import worker_config
from acgym.errors import ConfigError
from acgym.rl.run import (
    LAPS_FILE,
    BestPolicy,
    LapStats,
    RunResult,
    StopRules,
    WandbLogger,
    check_vector_observation,
    evaluation_hook,
    finish_run,
    graceful_stop,
    load_offline,
    open_run,
    pretrain_first,
    restore_lap_totals,
    run_summary,
)
from acgym.rl.trainer import Callback, Trainer, make_agent

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 600.0
"""How long the run waits for its first worker to start (a first run compiles the
simulator's kernels), s."""


@dataclasses.dataclass(frozen=True)
class WorkerSpaces:
    """The env the workers drive, as the learner's :class:`Trainer` sees it: its spaces
    and observation layout (the trainer never steps it)."""

    observation_space: Any
    action_space: Any
    observation_layout: tuple[str, ...] | None


def worker_spaces(info: dict[str, Any]) -> WorkerSpaces:
    """The spaces of a worker's description (``RolloutWorker.describe``)."""
    import gymnasium as gym

    obs_dim = int(info["obs_dim"])
    low = np.asarray(info["action_low"], dtype=np.float32)
    high = np.asarray(info["action_high"], dtype=np.float32)
    layout = info.get("observation_layout")
    return WorkerSpaces(
        gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32),
        gym.spaces.Box(low, high, dtype=np.float32),
        None if layout is None else tuple(layout),
    )


def check_distributed(config: Config) -> None:
    """Refuse settings a distributed run cannot honour.

    Raises:
        ConfigError: With the reason and what to do.
    """
    hosts = config.remote.hosts
    if hosts and config.backend == "sim":
        raise ConfigError(
            "remote.hosts names game PCs or servers: use backend=remote (or ac) with it"
        )
    if hosts and config.train.workers != len(hosts):
        raise ConfigError(
            f"remote.hosts names {len(hosts)} hosts, one worker each: set "
            f"train.workers={len(hosts)} (got {config.train.workers})"
        )
    if config.backend != "sim" and not hosts and config.train.workers > 1:
        raise ConfigError(
            f"backend={config.backend} with train.workers={config.train.workers}: each "
            "worker drives one remote car; name them: remote.hosts=[HOST, HOST, ...]"
        )
    if config.backend != "sim" and config.train.num_envs != 1:
        raise ConfigError("a remote car is one car: set train.num_envs=1")
    if config.env.image.enabled:
        raise ConfigError(
            "env.image.enabled: a distributed run's workers send vector observations only "
            "(for now); train image observations in one process (train.workers=1)"
        )


def run_distributed(
    config: Config,
    *,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    pool_hook: Any = None,
) -> RunResult:
    """Train as ``config`` says with Ray workers (see the module docstring).

    Args:
        config: The resolved configuration (``acgym.rl.run.resolve_config``).
        callbacks: Extra hooks of the trainer (tests).
        progress: Override ``train.progress``.
        pool_hook: Called with the :class:`acgym.dist.pool.RayPool` once it exists
            (tests reach the workers through it).

    Returns:
        The run folder and its summary.
    """
    from acgym.dist.pool import RayPool, import_ray, is_local

    check_distributed(config)
    address = config.train.ray_address
    import_ray(is_local(address))  # no Ray: refused before any run folder is made
    logger.info("workers on %s", "this machine" if is_local(address) else address)
    train = config.train
    resumed = train.resume is not None
    run_dir, lap_totals = open_run(config)
    start_wall = time.perf_counter()
    wandb_logger = WandbLogger(config, run_dir) if train.wandb != "off" else None
    pool = RayPool(config, str(run_dir))
    if pool_hook is not None:
        pool_hook(pool)
    eval_env = None
    finals: list[dict[str, int]] = []
    try:
        info = pool.first_description(START_TIMEOUT_S)
        spaces = worker_spaces(info)
        check_vector_observation(spaces.observation_space)
        agent = make_agent(
            config.agent,
            int(info["obs_dim"]),
            int(info["action_dim"]),
            action_low=spaces.action_space.low,
            action_high=spaces.action_space.high,
        )
        offline = load_offline(config, agent) if train.load_offline_data and not resumed else None
        laps = LapStats(None, train.num_envs, run_dir / LAPS_FILE)
        stops = StopRules(laps, train.time_limit_s, train.stop_after_clean_laps)
        hooks: list[Callback] = [laps, stops, *callbacks]
        if wandb_logger is not None:
            hooks.append(wandb_logger)
        evaluate = None
        if config.eval_interval:
            from acgym.rl.envs import make_env

            eval_env = make_env(config, evaluation=True)
            evaluate = evaluation_hook(eval_env)
            hooks.append(BestPolicy(run_dir))
        trainer = Trainer(
            spaces,  # type: ignore[arg-type]  # read for its spaces only
            train.trainer_config(
                realtime=config.realtime,
                eval_interval=config.eval_interval,
                progress=train.progress if progress is None else progress,
            ),
            agent=agent,
            run_dir=run_dir,
            resume=train.resume,
            callbacks=hooks,
            evaluate=evaluate,
        )
        if resumed:
            restore_lap_totals(laps, lap_totals, trainer, run_dir)
        learner = Learner(
            trainer,
            pool,
            laps,
            info,
            realtime=config.realtime,
            weight_sync_updates=train.weight_sync_updates,
            send_steps=train.send_steps,
        )
        with trainer, graceful_stop(trainer) as signals:
            pretrain_first(trainer, train.pretrain, train.pretrain_steps)
            total = trainer.counters.env_steps if signals else train.total_steps
            trained = learner.run(total)
        interrupted = bool(signals)
    except BaseException:
        if wandb_logger is not None:
            wandb_logger.finish()
        raise
    finally:
        finals = pool.close()
        if eval_env is not None:
            eval_env.close()
    summary = run_summary(
        config,
        run_dir,
        trained,
        laps=laps,
        stopped_by=stops.reason or ("signal" if interrupted else "step budget"),
        compile_time_s=None,
        wall_time_s=time.perf_counter() - start_wall,
        offline=offline,
    )
    summary["distributed"] = {
        "workers": train.workers,
        "cars_per_worker": int(info["num_envs"]),
        "ray_address": train.ray_address,
        "hosts": list(config.remote.hosts),
        **learner.stats(),
        "updates_skipped": trained["updates_skipped"],
        "workers_at_end": finals,
    }
    # With remote cars, the final evaluation drives the first host's car.
    return finish_run(worker_config(config, 0), run_dir, summary, agent, interrupted, wandb_logger)


__all__ = ["WorkerSpaces", "check_distributed", "run_distributed", "worker_spaces"]

"""A whole training run from a :class:`acgym.config.Config` (what ``acgym train`` does).

1. the run folder ``<runs_root>/<timestamp>_<track>_<car>/`` (or ``train.run_dir``, or
   the folder of ``train.resume``) with the resolved ``config.yaml``;
2. the environment: the simulator's vector env of ``train.num_envs`` cars, or one car
   (the game); its episode log writes ``laps/*.parquet`` and ``episodes_stats.csv``.
   Before it, on the simulator, one reset and step of a throwaway env compile the
   kernels (or load them from Numba's cache; :func:`warm_up_kernels`), so that the
   progress bar starts with the training; the first run after an install or an update
   says so, as it takes about a minute;
3. the agent, offline data (``train.load_offline_data``) and pretraining
   (``train.pretrain``);
4. :class:`acgym.rl.trainer.Trainer`: lock-step (or with the env in a background thread)
   for the simulator, real time for the game; TensorBoard in ``tb/``, checkpoints in
   ``checkpoints/``, optional Weights & Biases; lap times, clean laps and the first
   clean lap followed live;
5. at the end, ``acgym eval`` on the final policy (``eval/``) and a summary
   (``summary.json`` and a few printed lines).

The first Ctrl-C (or SIGTERM) stops after the current step with a checkpoint; a second
Ctrl-C stops at once. ``train.resume=RUN`` continues a stopped or killed run from its
latest checkpoint and the lap totals of ``laps.json`` (written with every checkpoint); a
run without a checkpoint (killed before its first) has nothing to resume, and a run with
checkpoints whose ``laps.json`` is missing or unreadable is refused rather than resumed
with its totals silently reset (:func:`read_lap_totals` says what to do).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from acgym.config import CONFIG_FILE, Config, load_config
from acgym.errors import ConfigError, DataFileError
from acgym.fileio import free_folder, slug, write_text_atomic
from acgym.kernel_cache import kernels_cached
from acgym.rl.checkpoint import latest_checkpoint, resolve_checkpoint
from acgym.rl.laps import Lap, LapTracker, laps_from_states
from acgym.rl.pixels import pixel_layout_of
from acgym.rl.trainer import Callback, EpisodeStats, Trainer, make_agent

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
LAPS_FILE = "laps.json"
EVAL_DIR = "eval"
BEST_EVAL_DIR = "eval_best"
COMPILE_MESSAGE = (
    "compiling the simulator's kernels (first run after install or update, about a minute)..."
)
"""Logged before the first step when the compiled kernels are not cached yet."""


# --------------------------------------------------------------------- run folder


def new_run_dir(config: Config, now: datetime | None = None) -> Path:
    """``<runs_root>/<YYYYmmdd_HHMMSS>_<track>_<car>`` (a free name).

    ``<track>`` is the loaded track's own name, as the game calls it
    (``TrackName-TrackConfiguration``: ``Monza``, ``ks_barcelona-layout_gp``), not the
    path or ``config.yaml:key`` that names it in the config.

    Raises:
        TrackFileError: ``env.track`` does not load.
    """
    from acgym.env.backend import track_full_name
    from acgym.track.loaders import load_track

    track = load_track(config.env.track)
    track_name = track_full_name(
        {"TrackName": track.name, "TrackConfiguration": track.configuration}
    )
    now = now or datetime.now()
    name = f"{now:%Y%m%d_%H%M%S}_{slug(track_name)}_{slug(config.env.car)}"
    return free_folder(config.train.runs_root, name)


def resume_run_dir(resume: Path | str) -> Path:
    """The run folder of ``resume`` (a run folder, its checkpoints folder or a checkpoint)."""
    path = Path(resume)
    for candidate in (path, path.parent, path.parent.parent):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise DataFileError(
        f"train.resume={resume}: no {CONFIG_FILE} in it or above it; give a run folder"
    )


def resolve_config(path: Path | str | None = None, overrides: Sequence[str] = ()) -> Config:
    """The run's configuration: a resumed run's ``config.yaml`` as the base when the
    overrides (or the file) name ``train.resume``, then the file, then the overrides."""
    config = load_config(path, overrides)
    if config.train.resume is None:
        return config
    run_dir = resume_run_dir(config.train.resume)
    base = load_config(run_dir / CONFIG_FILE)
    config = load_config(path, overrides, base=base)
    return config


# --------------------------------------------------------------------- callbacks


class LapSource:
    """Where a run's laps come from: the simulator's telemetry rows each step when the
    env has them (every car of the vector env), else the episode's logged states at its
    end (the game).

    Args:
        env: The training env (single or vector).
        num_envs: Its cars.
    """

    def __init__(self, env: Any, num_envs: int) -> None:
        from acgym.rl.envs import sim_rows

        self.env = env
        self.rows = sim_rows(env)
        self.tracker: LapTracker | None = None
        if self.rows is not None:
            self.tracker = LapTracker(num_envs, env.unwrapped.telemetry_columns)

    def step(self) -> list[tuple[int, Lap]]:
        """The laps completed by the step just taken: ``(car, lap)`` pairs."""
        if self.tracker is None or self.rows is None:
            return []
        return list(self.tracker.update(self.rows()))

    def end_episode(self, car: int) -> list[Lap]:
        """Car ``car``'s episode ended: the laps read from its states (the game), else
        none (the simulator's were reported step by step)."""
        if self.tracker is not None:
            self.tracker.end_episode(car)
            return []
        return list(laps_from_states(self.env.unwrapped.episode_states()).laps)


class LapStats(Callback):
    """Lap times, clean laps and the first clean lap of the training episodes.

    With an env, the laps come from it (:class:`LapSource`); without one (a learner
    whose workers drive the cars) from :meth:`record_lap`.
    """

    def __init__(self, env: Any | None, num_envs: int, state_path: Path | None = None) -> None:
        self.source = None if env is None else LapSource(env, num_envs)
        self.state_path = state_path
        self.laps = 0
        self.clean_laps = 0
        self.best_lap_s: float | None = None
        self.first_clean_lap: dict[str, float] | None = None

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        if self.state_path is not None:  # beside the checkpoints, for a resume
            stamped = {**self.state(), "env_steps": trainer.counters.env_steps}
            write_text_atomic(self.state_path, json.dumps(stamped, indent=2) + "\n")

    def load(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` (a resumed run; :func:`read_lap_totals`)."""
        self.laps = int(state.get("laps", 0))
        self.clean_laps = int(state.get("clean_laps", 0))
        self.best_lap_s = state.get("best_lap_s")
        self.first_clean_lap = state.get("first_clean_lap")

    def state(self) -> dict[str, Any]:
        """JSON-friendly totals."""
        return {
            "laps": self.laps,
            "clean_laps": self.clean_laps,
            "best_lap_s": self.best_lap_s,
            "first_clean_lap": self.first_clean_lap,
        }

    def record_lap(self, trainer: Trainer, time_s: float, clean: bool) -> None:
        """Count a completed lap of ``time_s`` (clean or not) at the trainer's counters."""
        self.laps += 1
        if not clean:
            return
        self.clean_laps += 1
        if self.best_lap_s is None or time_s < self.best_lap_s:
            self.best_lap_s = time_s
        if self.first_clean_lap is None:
            counters = trainer.counters
            self.first_clean_lap = {
                "env_steps": counters.env_steps,
                "train_time_s": counters.train_time_s,
                "lap_time_s": time_s,
            }
            logger.info(
                "first clean lap (%.3f s) after %d steps, %.0f s of training",
                time_s,
                counters.env_steps,
                counters.train_time_s,
            )
        writer = trainer.writer
        if writer is not None:
            writer.add_scalar("laps/clean_lap_s", time_s, trainer.counters.env_steps)

    def on_step(self, trainer: Trainer) -> None:
        if self.source is not None:
            for _car, lap in self.source.step():
                self.record_lap(trainer, lap.time_s, lap.clean)

    def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> Mapping[str, float]:
        if self.source is not None:
            for lap in self.source.end_episode(episode.env_id):
                self.record_lap(trainer, lap.time_s, lap.clean)
        out = {"clean_laps": float(self.clean_laps)}
        if self.best_lap_s is not None:
            out["best_lap_s"] = self.best_lap_s
        return out


class StopRules(Callback):
    """Stops training after ``time_limit_s`` of training or ``clean_laps`` clean laps."""

    def __init__(self, laps: LapStats, time_limit_s: float, clean_laps: int) -> None:
        self.laps, self.time_limit_s, self.clean_laps = laps, time_limit_s, clean_laps
        self.reason: str | None = None

    def on_step(self, trainer: Trainer) -> None:
        if self.time_limit_s and trainer.counters.train_time_s >= self.time_limit_s:
            self.reason = f"time limit ({self.time_limit_s:g} s)"
        elif self.clean_laps and self.laps.clean_laps >= self.clean_laps:
            self.reason = f"{self.laps.clean_laps} clean laps"
        else:
            return
        trainer.stop()


BEST_CHECKPOINT = "best"
"""The checkpoint folder (under ``checkpoints/``) of the best policy of the periodic
evaluations (``train.eval_interval``)."""
BEST_RESULTS_FILE = "evaluation.json"
"""Its periodic evaluation's results and step, beside it."""


def policy_score(results: Mapping[str, float]) -> tuple[float, float]:
    """How an evaluation ranks a policy (greater is better): a clean lap beats none,
    then the faster best clean lap; without one, the greater mean return."""
    if results.get("clean_laps", 0.0) > 0 and "best_lap_s" in results:
        return (1.0, -float(results["best_lap_s"]))
    return (0.0, float(results.get("return_mean", -math.inf)))


def read_best_results(folder: Path) -> dict[str, float] | None:
    """The periodic evaluation of the policy kept in ``folder`` (:data:`BEST_RESULTS_FILE`,
    with its ``env_steps``), or None where there is none or it is unreadable (a copy
    being rewritten when the run was killed: unscored)."""
    try:
        kept = json.loads((folder / BEST_RESULTS_FILE).read_text(encoding="utf-8"))
        results = {key: float(value) for key, value in kept.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return results if "env_steps" in results else None


class BestPolicy(Callback):
    """Keeps the best policy of the periodic evaluations as ``checkpoints/best`` (with
    :data:`BEST_RESULTS_FILE`): a later, worse policy does not replace it. A resumed run
    goes on from the one kept."""

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / "checkpoints" / BEST_CHECKPOINT
        self.results = read_best_results(self.folder)

    def on_evaluation(self, trainer: Trainer, results: Mapping[str, float]) -> None:
        if self.results is not None and policy_score(results) <= policy_score(self.results):
            return
        # Unscored while it is written: a run killed in between replaces it next time.
        (self.folder / BEST_RESULTS_FILE).unlink(missing_ok=True)
        path = trainer.save_checkpoint(BEST_CHECKPOINT)
        if path is None:  # no run folder
            return
        self.results = {**results, "env_steps": float(trainer.counters.env_steps)}
        write_text_atomic(path / BEST_RESULTS_FILE, json.dumps(self.results, indent=2) + "\n")


class WandbLogger(Callback):
    """Weights & Biases: the same scalars as TensorBoard (``train.wandb=on|offline``)."""

    def __init__(self, config: Config, run_dir: Path) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise ConfigError(
                f"train.wandb={config.train.wandb} needs the wandb package: "
                "pip install 'acgym[wandb]' (or train.wandb=off)"
            ) from exc
        self.wandb = wandb
        self.run = wandb.init(
            project=config.train.wandb_project,
            entity=config.train.wandb_entity,
            name=run_dir.name,
            id=slug(run_dir.name),
            resume="allow",
            dir=str(run_dir),
            mode="offline" if config.train.wandb == "offline" else "online",
            config=config.to_dict(),
        )

    def _log(self, trainer: Trainer, values: Mapping[str, float], prefix: str = "") -> None:
        self.run.log(
            {prefix + k: float(v) for k, v in values.items()}, step=trainer.counters.env_steps
        )

    def on_log(self, trainer: Trainer, scalars: Mapping[str, float]) -> None:
        self._log(trainer, scalars)

    def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> None:
        values = {"return": episode.episode_return, "length": float(episode.length)}
        values.update(trainer.extra_metrics)
        self._log(trainer, values, "episode/")

    def on_evaluation(self, trainer: Trainer, results: Mapping[str, float]) -> None:
        self._log(trainer, results, "eval/")

    def finish(self) -> None:
        """Close the W&B run."""
        self.run.finish()


# --------------------------------------------------------------------- the run


@dataclass
class RunResult:
    """What a run did."""

    run_dir: Path
    """The run folder."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The summary (also in ``summary.json``)."""
    interrupted: bool = False
    """Stopped by Ctrl-C / SIGTERM."""


@contextlib.contextmanager
def graceful_stop(trainer: Trainer) -> Iterator[list[str]]:
    """First Ctrl-C / SIGTERM: ``trainer.stop()``; a second Ctrl-C: KeyboardInterrupt."""
    received: list[str] = []

    def handler(signum: int, frame: Any) -> None:
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        received.append(signal.Signals(signum).name)
        logger.warning("%s: stopping after this step (Ctrl-C again to stop at once)", received[-1])
        trainer.stop()

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: no handlers
        previous = {}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def open_run(config: Config) -> tuple[Path, dict[str, Any]]:
    """The run's folder, with the resolved ``config.yaml`` written in it, and the lap
    totals a resumed run continues from (empty for a new run).

    Raises:
        DataFileError: A resumed run without a checkpoint, or without readable lap totals
            (:func:`read_lap_totals`).
        ConfigError: Settings this run cannot honour (the real-time loop with several
            cars, periodic evaluation without a second env).
    """
    train = config.train
    lap_totals: dict[str, Any] = {}
    if train.resume is not None:
        run_dir = resume_run_dir(train.resume)
        resolve_checkpoint(train.resume)  # a run killed before its first one: nothing to resume
        lap_totals = read_lap_totals(run_dir / LAPS_FILE)
    else:
        run_dir = Path(train.run_dir) if train.run_dir else new_run_dir(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / CONFIG_FILE)
    if config.realtime and train.num_envs != 1:
        raise ConfigError("the real-time loop drives one car: set train.num_envs=1")
    if config.backend != "sim" and config.eval_interval:
        raise ConfigError(
            f"train.eval_interval needs a second env; with backend={config.backend} the "
            "final evaluation runs after training (train.eval_at_end)"
        )
    return run_dir, lap_totals


def restore_lap_totals(
    laps: LapStats, lap_totals: Mapping[str, Any], trainer: Trainer, run_dir: Path
) -> None:
    """A resumed run's lap totals into ``laps`` (a warning when they are of another step
    than the checkpoint resumed)."""
    laps.load(lap_totals)
    saved_at = lap_totals.get("env_steps", trainer.counters.env_steps)
    if saved_at != trainer.counters.env_steps:
        logger.warning(
            "%s holds the lap totals of step %d, not of the checkpoint resumed (step "
            "%d): the totals are off by the laps in between",
            run_dir / LAPS_FILE,
            saved_at,
            trainer.counters.env_steps,
        )


def run_training(
    config: Config,
    *,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
) -> RunResult:
    """Train as ``config`` says (see the module docstring), in this process.

    Args:
        config: The resolved configuration (:func:`resolve_config`).
        callbacks: Extra hooks of the trainer (tests).
        progress: Override ``train.progress``.

    Returns:
        The run folder and its summary.

    Raises:
        ConfigError: ``config`` asks for workers (``train.workers`` > 1 or
            ``train.ray_address``): that run is ``acgym.dist.run.run_distributed``'s.
    """
    import torch

    from acgym.rl.envs import make_env

    train = config.train
    if config.distributed:
        raise ConfigError(
            f"train.workers={train.workers} / train.ray_address={train.ray_address} ask for "
            "a distributed run: acgym train starts it (acgym.dist.run.run_distributed)"
        )
    resumed = train.resume is not None
    run_dir, lap_totals = open_run(config)
    if config.agent.num_threads is not None and config.agent.torch_device().type == "cpu":
        torch.set_num_threads(config.agent.num_threads)

    start_wall = time.perf_counter()
    wandb_logger = WandbLogger(config, run_dir) if train.wandb != "off" else None
    compile_time_s = warm_up_kernels(config)
    env = make_env(
        config, num_envs=train.num_envs, output_dir=run_dir if train.log_episodes else None
    )
    if config.realtime and config.backend == "sim":  # rehearse the game's timing
        from acgym.rl.realtime import RealTimeEnv

        env = RealTimeEnv(env)
    eval_env = None
    try:
        vector = hasattr(env, "num_envs") and hasattr(env, "single_observation_space")
        obs_space = env.single_observation_space if vector else env.observation_space
        action_space = env.single_action_space if vector else env.action_space
        check_vector_observation(obs_space)
        agent = make_agent(
            config.agent,
            obs_space.shape[0],
            action_space.shape[0],
            num_envs=train.num_envs,
            action_low=action_space.low,
            action_high=action_space.high,
            pixels=pixel_layout_of(env),  # image observations: the agent with an encoder
        )
        offline = None
        if train.load_offline_data and not resumed:
            offline = load_offline(config, agent)
        laps = LapStats(env, train.num_envs, run_dir / LAPS_FILE)
        stops = StopRules(laps, train.time_limit_s, train.stop_after_clean_laps)
        hooks: list[Callback] = [laps, stops, *callbacks]
        if wandb_logger is not None:
            hooks.append(wandb_logger)
        evaluate = None
        if config.eval_interval:
            eval_env = make_env(config, evaluation=True)
            evaluate = evaluation_hook(eval_env)
            hooks.append(BestPolicy(run_dir))
        trainer = Trainer(
            env,
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
        with trainer, graceful_stop(trainer) as signals:
            pretrain_first(trainer, train.pretrain, train.pretrain_steps)
            # Stopped during the pretraining: no collection, only the checkpoint.
            summary = trainer.train(trainer.counters.env_steps if signals else None)
        interrupted = bool(signals)
    except BaseException:
        if wandb_logger is not None:
            wandb_logger.finish()
        raise
    finally:
        env.close()
        if eval_env is not None:
            eval_env.close()
    summary = run_summary(
        config,
        run_dir,
        summary,
        laps=laps,
        stopped_by=stops.reason or ("signal" if interrupted else "step budget"),
        compile_time_s=compile_time_s,
        wall_time_s=time.perf_counter() - start_wall,
        offline=offline,
    )
    return finish_run(config, run_dir, summary, agent, interrupted, wandb_logger)


def check_vector_observation(obs_space: Any) -> None:
    """Refuse an observation the agents cannot take: anything but a flat vector (image
    observations arrive flat: :func:`acgym.rl.envs.make_env` wraps them).

    Raises:
        ConfigError: Not a 1-D vector.
    """
    if obs_space.shape is None or len(obs_space.shape) != 1:
        raise ConfigError(
            f"training needs flat observations, got {obs_space}: make the env with "
            "acgym.rl.envs.make_env, which flattens image observations (acgym.rl.pixels)"
        )


def evaluation_hook(eval_env: Any) -> Callable[[Any, int], dict[str, float]]:
    """The trainer's periodic evaluation on ``eval_env`` (``train.eval_interval``)."""
    from acgym.rl.evaluation import episode_metrics, evaluate_agent

    def evaluate(agent: Any, episodes: int) -> dict[str, float]:
        return episode_metrics(evaluate_agent(eval_env, agent, episodes))

    return evaluate


def pretrain_first(trainer: Trainer, pretrain: bool, pretrain_steps: int | None) -> None:
    """Offline pretraining before collecting (``train.pretrain``), unless a resumed run
    did it already.

    Raises:
        ConfigError: Pretraining without offline data.
    """
    if not pretrain or trainer.counters.pretrain_updates > 0:
        return
    if len(trainer.agent.demonstrations) == 0:
        raise ConfigError(
            "train.pretrain needs offline data: train.load_offline_data=true train.dataset_path=DIR"
        )
    trainer.pretrain(pretrain_steps)


def run_summary(
    config: Config,
    run_dir: Path,
    trained: Mapping[str, Any],
    *,
    laps: LapStats,
    stopped_by: str,
    compile_time_s: float | None,
    wall_time_s: float,
    offline: Any = None,
) -> dict[str, Any]:
    """The end-of-run summary (``summary.json``) from the trainer's counters.

    Args:
        config: The run's configuration.
        run_dir: The run folder.
        trained: What :meth:`Trainer.train` returned (counters, steps/s).
        laps: The run's lap totals.
        stopped_by: What ended training.
        compile_time_s: The kernels' warm-up, s (None: none).
        wall_time_s: The run's wall time so far, s.
        offline: The offline data loaded (None: none).
    """
    train = config.train
    return {
        "run_dir": str(run_dir),
        "track": config.env.track,
        "car": config.env.car,
        "algorithm": config.agent.algorithm,
        "num_envs": train.num_envs,
        "updates_per_step": train.updates_per_step,
        "env_steps": trained["env_steps"],
        "episodes": trained["episodes"],
        "updates": trained["num_updates"],
        "pretrain_updates": trained["pretrain_updates"],
        "train_time_s": trained["train_time_s"],
        "compile_time_s": compile_time_s,
        "wall_time_s": wall_time_s,
        "steps_per_s": trained["steps_per_s"],
        "stopped_by": stopped_by,
        "laps": laps.state(),
        "offline_transitions": None if offline is None else offline.transitions,
        "load_average": list(os.getloadavg()),
        "checkpoint": str(latest_checkpoint(run_dir / "checkpoints") or ""),
    }


def finish_run(
    config: Config,
    run_dir: Path,
    summary: dict[str, Any],
    agent: Any,
    interrupted: bool,
    wandb_logger: WandbLogger | None = None,
) -> RunResult:
    """Evaluate the final policy (``train.eval_at_end``, not after a signal), write
    ``summary.json`` and close Weights & Biases."""
    if config.train.eval_at_end and not interrupted:
        from acgym.rl.evaluation import evaluate_checkpoint

        report = evaluate_checkpoint(
            summary["checkpoint"],
            config,
            num_episodes=config.train.final_eval_episodes,
            out_dir=run_dir / EVAL_DIR,
            agent=agent,
        )
        summary["eval"] = report_summary(report)
        best = run_dir / "checkpoints" / BEST_CHECKPOINT
        kept = read_best_results(best)
        if kept is not None:
            report = evaluate_checkpoint(
                best,
                config,
                num_episodes=config.train.final_eval_episodes,
                out_dir=run_dir / BEST_EVAL_DIR,
                expert=False,
            )
            summary["eval_best"] = {
                **report_summary(report, expert_best_lap_s=summary["eval"]["expert_best_lap_s"]),
                "env_steps": int(kept["env_steps"]),
            }
    write_text_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    if wandb_logger is not None:
        wandb_logger.finish()
    return RunResult(run_dir, summary, interrupted)


def report_summary(
    report: Mapping[str, Any], expert_best_lap_s: float | None = None
) -> dict[str, Any]:
    """The summary's part of an evaluation report; ``expert_best_lap_s`` stands in for
    the report's own when that drove no expert."""
    out = {key: report[key] for key in ("best_lap_s", "clean_laps", "expert_best_lap_s", "plot")}
    if out["expert_best_lap_s"] is None:
        out["expert_best_lap_s"] = expert_best_lap_s
    best, expert = out["best_lap_s"], out["expert_best_lap_s"]
    out["gap_to_expert_s"] = None if best is None or expert is None else best - expert
    return out


def load_offline(config: Config, agent: Any) -> Any:
    """Fill the agent's replay with the offline data of ``train.dataset_path``."""
    from acgym.rl.offline import fill_replay

    if not config.train.dataset_path:
        raise ConfigError("train.load_offline_data=true needs train.dataset_path=DIR")
    return fill_replay(
        agent, config.train.dataset_path, config.env, all_tracks=config.train.dataset_all_tracks
    )


_LAP_TOTAL_TYPES: dict[str, tuple[type, ...]] = {
    "laps": (int,),
    "clean_laps": (int,),
    "best_lap_s": (int, float, type(None)),
    "first_clean_lap": (dict, type(None)),
    "env_steps": (int,),
}


def read_lap_totals(path: Path) -> dict[str, Any]:
    """The lap totals a resumed run continues from (``laps.json``, written with every
    checkpoint; keys missing from it count from zero).

    Args:
        path: The run's ``laps.json``.

    Raises:
        DataFileError: The file is missing (the run has a checkpoint, so it was written:
            deleted since, or the run was killed between its first checkpoint and this
            file) or is not lap totals (corrupt). Resuming would reset the totals
            silently; the message says how to resume anyway.
    """
    remedy = "restore the file, or write {} into it to resume with the lap totals counted from zero"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(
            f"{path} is missing, but the run has a checkpoint (each checkpoint writes it): "
            f"its lap totals (laps, clean laps, best lap, first clean lap) are lost; {remedy}"
        ) from None
    try:
        totals = json.loads(text)
    except ValueError as exc:
        raise DataFileError(f"{path} is not valid JSON ({exc}): {remedy}") from None
    if not isinstance(totals, dict):
        raise DataFileError(f"{path}: expected a JSON object of lap totals: {remedy}")
    for key, types in _LAP_TOTAL_TYPES.items():
        value = totals.get(key)
        if key in totals and (not isinstance(value, types) or isinstance(value, bool)):
            raise DataFileError(
                f"{path}: {key} must be {' or '.join(t.__name__ for t in types)}, got "
                f"{value!r}: {remedy}"
            )
    return totals


def warm_up_kernels(config: Config) -> float | None:
    """Compile the simulator's and the env's kernels (or load them from Numba's cache)
    before training: one reset and one step of a throwaway env of the run's settings,
    without files. When no compiled kernels are cached (the first run after an install
    or an update) it first logs :data:`COMPILE_MESSAGE`.

    Args:
        config: The run's configuration.

    Returns:
        The warm-up's wall time, s; ``None`` for the game (its env is made once: the
        kernels compile on its first step).
    """
    if config.backend != "sim":
        return None
    from acgym.rl.envs import make_env

    if not kernels_cached():
        logger.info(COMPILE_MESSAGE)
    start_s = time.perf_counter()
    env = make_env(config, num_envs=config.train.num_envs)
    try:
        env.reset(seed=config.agent.seed)
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    finally:
        env.close()
    return time.perf_counter() - start_s


def format_summary(result: RunResult) -> str:
    """The end-of-run summary a person reads."""
    s = result.summary
    laps = s["laps"]
    lines = [
        "",
        f"{'stopped' if result.interrupted else 'done'}: {s['env_steps']:,} steps, "
        f"{s['episodes']} episodes, {s['updates']:,} updates in {_duration(s['train_time_s'])} "
        f"({s['steps_per_s']:.0f} steps/s this session; stopped by {s['stopped_by']})",
    ]
    if s.get("compile_time_s") is not None:
        lines.append(
            f"warm-up: the kernels compiled or loaded in {s['compile_time_s']:.1f} s, before "
            "the training time"
        )
    if laps["clean_laps"]:
        first = laps["first_clean_lap"]
        lines.append(
            f"training: {laps['clean_laps']} clean laps of {laps['laps']}, best "
            f"{laps['best_lap_s']:.3f} s; first clean lap after {first['env_steps']:,} steps "
            f"({_duration(first['train_time_s'])})"
        )
    else:
        lines.append(f"training: no clean lap yet ({laps['laps']} laps completed)")
    evaluation = s.get("eval")
    for key, name in (("eval", "final policy"), ("eval_best", "best evaluated policy")):
        if s.get(key):
            lines.append(_evaluation_line(name, s[key]))
    run_dir = result.run_dir
    lines += [
        f"files: {run_dir}/ (config.yaml, checkpoints/, tb/, laps/, episodes_stats.csv, "
        f"{SUMMARY_FILE}{', eval/' if evaluation else ''}"
        f"{', eval_best/' if s.get('eval_best') else ''})",
        f"  tensorboard --logdir {run_dir / 'tb'}",
        f"  acgym eval --checkpoint {run_dir}",
    ]
    if result.interrupted:
        lines.append(f"  acgym train train.resume={run_dir}")
    return "\n".join(lines)


def _evaluation_line(name: str, evaluation: Mapping[str, Any]) -> str:
    """``final policy: 105.123 s (expert 102.168 s, +2.9 %), 3 clean laps; plot ...``."""
    best, expert = evaluation["best_lap_s"], evaluation["expert_best_lap_s"]
    text = f"{best:.3f} s" if best is not None else "no clean lap"
    if expert is not None:
        gap = "" if best is None else f", {100.0 * (best / expert - 1.0):+.1f} %"
        text += f" (expert {expert:.3f} s{gap})"
    if "env_steps" in evaluation:
        name += f" (step {evaluation['env_steps']:,})"
    return f"{name}: {text}, {evaluation['clean_laps']} clean laps; plot {evaluation['plot']}"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


__all__ = [
    "BEST_CHECKPOINT",
    "BestPolicy",
    "LapSource",
    "LapStats",
    "RunResult",
    "StopRules",
    "WandbLogger",
    "check_vector_observation",
    "evaluation_hook",
    "finish_run",
    "format_summary",
    "graceful_stop",
    "load_offline",
    "new_run_dir",
    "open_run",
    "policy_score",
    "pretrain_first",
    "read_best_results",
    "read_lap_totals",
    "report_summary",
    "resolve_config",
    "restore_lap_totals",
    "resume_run_dir",
    "run_summary",
    "run_training",
    "warm_up_kernels",
]

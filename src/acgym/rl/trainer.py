"""A generic off-policy training loop for Gymnasium environments with Box spaces.

Works with a ``gymnasium.Env`` or a ``gymnasium.vector.VectorEnv`` (next-step or
same-step autoreset). Each iteration, in the original implementation's order:

1. act: uniformly random actions for the first ``start_steps`` steps, then the policy;
2. learn: ``updates_per_step`` gradient updates per environment step (on the replay
   buffer as it was before this step);
3. step the environment with the actions of 1 (optionally in a background thread, at
   the same time as 2: the results are the same, only the wall time changes);
4. store the transitions (final observations of ended episodes, terminations kept apart
   from truncations), count episodes, log, checkpoint, evaluate.

Plug-in points for an environment-specific layer: :class:`Callback` (episode ends,
logs, checkpoints, evaluations), an ``evaluate`` hook, ``info_keys`` (episode-end info
values logged and shown in the progress bar, e.g. the best lap time) and ``stop()``.
A single ``Env`` is reset with ``seed + reset_count`` at every episode, so a run resumed
from a checkpoint taken at an episode boundary continues exactly as if uninterrupted
(with the replay buffer saved).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from numpy.typing import NDArray

from acgym.config_loader import to_plain
from acgym.errors import ConfigError
from acgym.fileio import write_text_atomic
from acgym.rl import checkpoint as ckpt
from acgym.rl.config import AgentConfig, TrainerConfig
from acgym.rl.discor import DisCor
from acgym.rl.pixel_sac import agent_class
from acgym.rl.pixels import PixelLayout
from acgym.rl.sac import SAC

logger = logging.getLogger(__name__)

EvaluateFn = Callable[[SAC, int], Mapping[str, float]]
"""``evaluate(agent, num_episodes) -> metrics``, called every ``eval_interval`` steps."""


@dataclass(frozen=True)
class EpisodeStats:
    """One finished training episode."""

    env_id: int
    """Index of the sub-environment (0 for a single Env)."""
    index: int
    """Episode number in the run, from 1."""
    episode_return: float
    """Sum of the episode's rewards."""
    length: int
    """Steps in the episode."""
    terminated: bool
    """Ended in a terminal state (else truncated)."""
    info: Mapping[str, Any]
    """The environment's info dict of the last step."""
    env_steps: int
    """Run's environment steps when the episode ended."""


class Callback:
    """Hooks of :class:`Trainer`; override what you need (all no-ops here)."""

    def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> Mapping[str, float] | None:
        """An episode ended; extra metrics returned here are logged as ``episode/<key>``
        and shown in the progress bar."""
        return None

    def on_step(self, trainer: Trainer) -> None:
        """An iteration ended (after the episode ends it produced were reported)."""

    def on_log(self, trainer: Trainer, scalars: Mapping[str, float]) -> None:
        """Scalars were just written to TensorBoard."""

    def on_evaluation(self, trainer: Trainer, results: Mapping[str, float]) -> None:
        """The evaluation hook ran."""

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        """A checkpoint was written to ``path``."""


@dataclass
class Counters:
    """Progress of a run; saved in checkpoints."""

    env_steps: int = 0
    """Transitions collected, all sub-environments counted."""
    iterations: int = 0
    """Calls of ``env.step``."""
    episodes: int = 0
    """Finished episodes."""
    resets: int = 0
    """Calls of ``env.reset`` (the seed of the next reset is ``seed + resets``)."""
    update_budget: float = 0.0
    """Fractional updates carried over (``updates_per_step`` not an integer)."""
    pretrain_updates: int = 0
    """Gradient updates of offline pretraining."""
    train_time_s: float = field(default=0.0, compare=False)
    """Wall time spent in :meth:`Trainer.train`, all sessions of a resumed run, s (not
    compared: two identical runs differ in it)."""
    updates_skipped: int = 0
    """Real-time loop: updates of the ratio that did not fit in a control period."""


@dataclass
class EnvStep:
    """What one step of :class:`EnvSteps` produced, per sub-environment."""

    next_obs: NDArray[np.float32]  # (N, obs_dim) s_{t+1}; final observation if it ended
    obs: NDArray[np.float32] | None  # (N, obs_dim) to act on next; None: reset first
    rewards: NDArray[np.float64]  # (N,)
    terminated: NDArray[np.bool_]  # (N,)
    truncated: NDArray[np.bool_]  # (N,)
    valid: NDArray[np.bool_]  # (N,) False: an autoreset step, no transition
    ended_infos: dict[int, Mapping[str, Any]] = field(default_factory=dict)


def _box(space: gym.Space, what: str) -> gym.spaces.Box:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ConfigError(f"expected a 1-D Box {what} space, got {space}")
    return space


def _env_info(infos: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Sub-environment ``index``'s entries of a vector env's info dict of arrays."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        mask = infos.get("_" + key)
        if mask is not None and not mask[index]:
            continue
        out[key] = _env_info(value, index) if isinstance(value, Mapping) else value[index]
    return out


class EnvSteps:
    """A single Env or a VectorEnv seen as ``num_envs`` environments with same-step
    resets: ``step`` returns the final observation of ended episodes for the replay and
    the reset observation to act on."""

    def __init__(self, env: gym.Env | gym.vector.VectorEnv) -> None:
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)
        if self.vector:
            obs_space, action_space = env.single_observation_space, env.single_action_space
            self.num_envs = env.num_envs
            mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
            self.same_step = mode == gym.vector.AutoresetMode.SAME_STEP
            if mode not in (gym.vector.AutoresetMode.SAME_STEP, gym.vector.AutoresetMode.NEXT_STEP):
                raise ConfigError(f"vector envs need next-step or same-step autoreset, got {mode}")
        else:
            obs_space, action_space = env.observation_space, env.action_space
            self.num_envs = 1
            self.same_step = True
        self.obs_dim = _box(obs_space, "observation").shape[0]
        action_box = _box(action_space, "action")
        self.action_dim = action_box.shape[0]
        self.action_low = action_box.low.astype(np.float64)
        self.action_high = action_box.high.astype(np.float64)
        self.observation_layout = ckpt.env_observation_layout(env)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self.seed = 0
        self.resets = 0

    def _reset(self) -> NDArray[np.float32]:
        obs, _ = self.env.reset(seed=self.seed + self.resets)
        self.resets += 1
        return np.asarray(obs, dtype=np.float32).reshape(self.num_envs, self.obs_dim)

    def num_transitions_next(self) -> int:
        """Transitions the next ``step`` will produce (next-step autoreset steps give none)."""
        return int(self.num_envs - np.count_nonzero(self._autoreset))

    def reset(self) -> NDArray[np.float32]:
        self._autoreset[:] = False
        return self._reset()

    def realtime_env(self) -> Any:
        """The outermost wrapper (or env) of a single env that has the real-time pair
        ``set_actions(a)`` / ``step(None)``; ConfigError when there is none."""
        env: Any = self.env
        while not self.vector and not hasattr(env, "set_actions") and hasattr(env, "env"):
            env = env.env
        if self.vector or not hasattr(env, "set_actions"):
            raise ConfigError(
                "the real-time loop needs a single env with set_actions(a) / step(None) "
                f"(acgym's RacingEnv), got {type(self.env).__name__}"
            )
        return env

    def set_actions(self, actions: NDArray[np.float32]) -> None:
        """Real time: apply the actions now (the world goes on)."""
        self.realtime_env().set_actions(actions[0])

    def step(self, actions: NDArray[np.float32] | None) -> EnvStep:
        """Step with ``actions``; ``None`` (real time): read the state the actions applied
        by :meth:`set_actions` led to."""
        if not self.vector:
            if actions is None:
                obs, reward, terminated, truncated, info = self.realtime_env().step(None)
            else:
                obs, reward, terminated, truncated, info = self.env.step(actions[0])
            next_obs = np.asarray(obs, dtype=np.float32).reshape(1, self.obs_dim)
            step = EnvStep(
                next_obs,
                next_obs,
                np.array([reward], dtype=np.float64),
                np.array([terminated]),
                np.array([truncated]),
                np.ones(1, dtype=bool),
            )
            if terminated or truncated:
                # The reset waits for the next iteration, so that a checkpoint taken now
                # resumes with the same reset seed.
                step.ended_infos[0] = info
                step.obs = None
            return step
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        obs = np.asarray(obs, dtype=np.float32)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        done = terminated | truncated
        if self.same_step:
            next_obs = obs.copy()
            for i in np.flatnonzero(done):
                next_obs[i] = infos["final_obs"][i]
            valid = np.ones(self.num_envs, dtype=bool)
            ended = {
                int(i): _env_info(infos.get("final_info", {}), i) for i in np.flatnonzero(done)
            }
        else:  # next-step: the step after an episode end only resets that sub-env
            next_obs = obs
            valid = ~self._autoreset
            self._autoreset = done & valid
            ended = {int(i): _env_info(infos, i) for i in np.flatnonzero(done & valid)}
        return EnvStep(
            next_obs, obs, np.asarray(rewards, np.float64), terminated, truncated, valid, ended
        )


def make_agent(
    config: AgentConfig,
    obs_dim: int,
    action_dim: int,
    *,
    num_envs: int = 1,
    action_low: NDArray[np.floating] | None = None,
    action_high: NDArray[np.floating] | None = None,
    pixels: PixelLayout | None = None,
) -> SAC:
    """SAC or DisCor, as ``config.algorithm`` says; with ``pixels`` (the layout of image
    observations, :func:`acgym.rl.pixels.pixel_layout_of`) the one with an image encoder."""
    if pixels is not None:
        return agent_class(config.algorithm, pixels)(
            obs_dim,
            action_dim,
            config,
            num_envs=num_envs,
            action_low=action_low,
            action_high=action_high,
            pixels=pixels,
        )
    cls = DisCor if config.algorithm == "discor" else SAC
    return cls(
        obs_dim,
        action_dim,
        config,
        num_envs=num_envs,
        action_low=action_low,
        action_high=action_high,
    )


class Trainer:
    """Off-policy training of a SAC/DisCor agent on a Gymnasium (vector) environment.

    Args:
        env: a ``gymnasium.Env`` or ``gymnasium.vector.VectorEnv`` with 1-D Box spaces.
            The trainer does not close it. A loop that collects elsewhere (the
            distributed learner, ``acgym.dist``) never calls :meth:`train` and may pass
            any object with ``observation_space``, ``action_space`` and
            ``observation_layout``: nothing else of the env is read then.
        config: loop settings.
        agent: the agent to train; built from ``agent_config`` when ``None``.
        agent_config: hyperparameters of the agent to build.
        run_dir: folder for ``config.json``, TensorBoard logs (``tb/``) and
            ``checkpoints/``; ``None`` writes nothing.
        resume: a checkpoint folder, or a run folder (its latest checkpoint), to continue;
            refused when the env's observation layout is not the checkpoint's.
        callbacks: hooks, called in order.
        evaluate: ``evaluate(agent, num_episodes) -> metrics`` every ``eval_interval``.
        info_keys: keys of the environment's final info to log per episode
            (``episode/<key>``) and show in the progress bar.
    """

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        config: TrainerConfig | None = None,
        *,
        agent: SAC | None = None,
        agent_config: AgentConfig | None = None,
        run_dir: Path | str | None = None,
        resume: Path | str | None = None,
        callbacks: Sequence[Callback] = (),
        evaluate: EvaluateFn | None = None,
        info_keys: Sequence[str] = (),
    ) -> None:
        self.config = config or TrainerConfig()
        self.envs = EnvSteps(env)
        if agent is None:
            agent = make_agent(
                agent_config or AgentConfig(),
                self.envs.obs_dim,
                self.envs.action_dim,
                num_envs=self.envs.num_envs,
                action_low=self.envs.action_low,
                action_high=self.envs.action_high,
            )
        if (agent.obs_dim, agent.action_dim) != (self.envs.obs_dim, self.envs.action_dim):
            raise ConfigError(
                f"agent expects (obs_dim, action_dim) = {(agent.obs_dim, agent.action_dim)}, "
                f"env has {(self.envs.obs_dim, self.envs.action_dim)}"
            )
        self.agent = agent
        self.envs.seed = agent.config.seed
        self.callbacks = list(callbacks)
        self.evaluate_fn = evaluate
        self.info_keys = tuple(info_keys)
        self.counters = Counters()
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.last_metrics: dict[str, float] = {}
        self.recent_returns: deque[float] = deque(maxlen=10)
        self.extra_metrics: dict[str, float] = {}
        self._stop = False
        self._obs: NDArray[np.float32] | None = None  # current observations, (N, obs_dim)
        self._episode_returns = np.zeros(self.envs.num_envs)
        self._episode_lengths = np.zeros(self.envs.num_envs, dtype=np.int64)
        self._pool: ThreadPoolExecutor | None = None
        self._writer: Any = None
        if resume is not None:
            self._resume(Path(resume))
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_text_atomic(
                self.run_dir / "config.json",
                json.dumps(
                    {"agent": to_plain(agent.config), "trainer": to_plain(self.config)}, indent=2
                )
                + "\n",
            )

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Ask :meth:`train` to return after the current iteration (a checkpoint is
        written first when the trainer has a run folder)."""
        self._stop = True

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was asked since the current :meth:`train` began (a loop
        that collects elsewhere, such as a distributed learner's, checks it too)."""
        return self._stop

    def close(self) -> None:
        """Flush logs and stop the background thread (the env stays open)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writer(self) -> Any:
        """The TensorBoard ``SummaryWriter`` (``None`` without a run folder)."""
        if self._writer is None and self.run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(
                str(self.run_dir / "tb"), purge_step=self.counters.env_steps or None
            )
        return self._writer

    # ----------------------------------------------------------------- training
    def online_update(self, num_updates: int) -> dict[str, torch.Tensor]:
        """Gradient updates while collecting; after a pretraining with cloning, the
        cloning term fades over ``config.bc_fade_updates`` online updates."""
        config = self.config
        pretrained = self.counters.pretrain_updates
        if pretrained == 0 or config.pretrain_bc_alpha is None or config.bc_fade_updates == 0:
            return self.agent.update(num_updates)
        online = self.agent.num_updates - pretrained
        weight = max(0.0, 1.0 - online / config.bc_fade_updates)  # 0: SAC's own loss
        return self.agent.update(num_updates, bc_alpha=config.pretrain_bc_alpha, bc_weight=weight)

    def pretrain(self, num_updates: int | None = None) -> dict[str, float]:
        """Offline pretraining on the replay buffer's demonstrations, temperature fixed,
        the actor cloning them when ``config.pretrain_bc_alpha`` is set.

        Args:
            num_updates: gradient updates; ``None`` = one per stored demonstration
                transition (the original's choice).

        Returns:
            Metrics of the last update.
        """
        if num_updates is None:
            num_updates = len(self.agent.demonstrations)
        metrics: dict[str, torch.Tensor] = {}
        bar = self._progress_bar(num_updates, 0, "pretrain")
        chunk = max(1, self.config.log_interval)
        done = 0
        while done < num_updates and not self._stop:
            count = min(chunk, num_updates - done)
            metrics = self.agent.update(
                count, update_alpha=False, bc_alpha=self.config.pretrain_bc_alpha
            )
            done += count
            self.counters.pretrain_updates += count
            if bar is not None:
                bar.update(count)
            if self.writer is not None and metrics:
                for key, value in metrics.items():
                    self.writer.add_scalar(
                        f"pretrain/{key}", float(value), self.counters.pretrain_updates
                    )
        if bar is not None:
            bar.close()
        return {key: float(value) for key, value in metrics.items()}

    def train(self, total_steps: int | None = None) -> dict[str, float]:
        """Train until ``total_steps`` environment steps (default: the config's) or
        :meth:`stop`.

        Returns:
            A summary: counters, steps/s of this call, the last losses.
        """
        total = self.config.total_steps if total_steps is None else total_steps
        config, agent, envs, counters = self.config, self.agent, self.envs, self.counters
        num_envs = envs.num_envs
        episode_returns, episode_lengths = self._episode_returns, self._episode_lengths
        bar = self._progress_bar(total, counters.env_steps, "train")
        if config.threaded_env and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="acgym-env")
        start_time = time.perf_counter()
        start_steps = counters.env_steps
        window_time, window_steps, window_updates = (
            start_time,
            counters.env_steps,
            agent.num_updates,
        )
        last_postfix = 0.0
        metrics: dict[str, torch.Tensor] = {}
        self._stop = False
        realtime = config.realtime
        if realtime:
            envs.realtime_env()  # fail early
            period_s = self._control_period_s()
        state_time = time.perf_counter()
        time_before = counters.train_time_s
        while counters.env_steps < total and not self._stop:
            if self._obs is None:  # a new run, a resumed one, or a single env's episode end
                envs.resets = counters.resets
                self._obs = envs.reset()
                counters.resets = envs.resets
                state_time = time.perf_counter()
            obs = self._obs
            if counters.env_steps < config.start_steps:
                actions = agent.random_action(num_envs)
            else:
                actions = agent.act(obs)
            num_updates = 0
            if (
                counters.env_steps >= config.start_steps
                and len(agent.replay) >= agent.config.batch_size
            ):
                counters.update_budget += config.updates_per_step * envs.num_transitions_next()
                num_updates = int(counters.update_budget)
                counters.update_budget -= num_updates
            if realtime:
                # The original's order: apply now, learn while the world advances, then
                # read the state the actions led to.
                envs.set_actions(actions)
                deadline = state_time + period_s - config.realtime_margin_s
                done_updates = 0
                while done_updates < num_updates and time.perf_counter() < deadline:
                    metrics = self.online_update(1)
                    done_updates += 1
                counters.updates_skipped += num_updates - done_updates
                step = envs.step(None)
                state_time = time.perf_counter()
            elif self._pool is not None:
                future = self._pool.submit(envs.step, actions)
                if num_updates:
                    metrics = self.online_update(num_updates)
                step = future.result()
            else:
                if num_updates:
                    metrics = self.online_update(num_updates)
                step = envs.step(actions)
            valid = np.flatnonzero(step.valid)
            agent.observe(
                obs[valid],
                actions[valid],
                step.rewards[valid],
                step.next_obs[valid],
                step.terminated[valid],
                step.truncated[valid],
                env_ids=valid,
            )
            counters.iterations += 1
            previous_steps = counters.env_steps
            counters.env_steps += len(valid)
            episode_returns[valid] += step.rewards[valid]
            episode_lengths[valid] += 1
            for env_id, info in step.ended_infos.items():
                self.episode_end(
                    EpisodeStats(
                        env_id,
                        counters.episodes + 1,
                        float(episode_returns[env_id]),
                        int(episode_lengths[env_id]),
                        bool(step.terminated[env_id]),
                        info,
                        counters.env_steps,
                    )
                )
                episode_returns[env_id] = 0.0
                episode_lengths[env_id] = 0
            self._obs = step.obs
            counters.train_time_s = time_before + time.perf_counter() - start_time
            for callback in self.callbacks:
                callback.on_step(self)
            if bar is not None:
                bar.update(counters.env_steps - previous_steps)
            if crossed(previous_steps, counters.env_steps, config.log_interval):
                now = time.perf_counter()
                elapsed = max(now - window_time, 1e-9)
                rates = {
                    "time/steps_per_s": (counters.env_steps - window_steps) / elapsed,
                    "time/updates_per_s": (agent.num_updates - window_updates) / elapsed,
                }
                if realtime:
                    rates["time/updates_skipped"] = float(counters.updates_skipped)
                window_time, window_steps, window_updates = (
                    now,
                    counters.env_steps,
                    agent.num_updates,
                )
                self.log_scalars(metrics, rates)
                if bar is not None and now - last_postfix > 0.5:
                    last_postfix = now
                    bar.set_postfix(self._postfix(rates["time/steps_per_s"]), refresh=False)
            if config.eval_interval and crossed(
                previous_steps, counters.env_steps, config.eval_interval
            ):
                self.run_evaluation()
            if config.checkpoint_interval and crossed(
                previous_steps, counters.env_steps, config.checkpoint_interval
            ):
                self.save_checkpoint()
        elapsed = time.perf_counter() - start_time
        if bar is not None:
            bar.close()
        if self.run_dir is not None and not self._is_checkpointed():
            self.save_checkpoint()
        if self.writer is not None:
            self.writer.flush()
        self.last_metrics = {key: float(value) for key, value in metrics.items()}
        return {
            **dataclasses.asdict(counters),
            "num_updates": agent.num_updates,
            "steps_per_s": (counters.env_steps - start_steps) / max(elapsed, 1e-9),
            **self.last_metrics,
        }

    def _control_period_s(self) -> float:
        """The real-time env's control period: its ``control_period_s``, or its config's."""
        env = self.envs.realtime_env()
        period_s = getattr(env, "control_period_s", None)
        if period_s is None:
            period_s = getattr(getattr(env, "config", None), "control_period_s", None)
        if not isinstance(period_s, float | int) or period_s <= 0:
            raise ConfigError("the real-time loop needs env.config.control_period_s (seconds)")
        return float(period_s)

    def run_evaluation(self) -> dict[str, float]:
        """Call the evaluation hook now; log and return its metrics."""
        if self.evaluate_fn is None:
            return {}
        results = {
            k: float(v)
            for k, v in self.evaluate_fn(self.agent, self.config.num_eval_episodes).items()
        }
        if self.writer is not None:
            for key, value in results.items():
                self.writer.add_scalar(f"eval/{key}", value, self.counters.env_steps)
        for callback in self.callbacks:
            callback.on_evaluation(self, results)
        return results

    # -------------------------------------------------------------- checkpoints
    def save_checkpoint(self, name: str | None = None) -> Path | None:
        """Write a checkpoint of the agent and the counters under ``run_dir/checkpoints``:
        ``step_<env steps>`` (the latest; older ones pruned), or the folder ``name`` (a
        copy of the agent kept aside, e.g. the best evaluated policy, without the replay
        buffer, replaced by the next save under that name; neither the latest nor
        pruned)."""
        if self.run_dir is None:
            return None
        folder = self.run_dir / "checkpoints"
        path = folder / (name or f"step_{self.counters.env_steps:010d}")
        ckpt.save_checkpoint(
            path,
            self.agent,
            save_replay=self.config.save_replay and name is None,
            observation_layout=self.envs.observation_layout,
            extra={
                "counters": dataclasses.asdict(self.counters),
                "trainer_config": to_plain(self.config),
            },
        )
        if name is not None:
            return path
        ckpt.mark_latest(folder, path)
        ckpt.prune_checkpoints(folder, self.config.keep_checkpoints)
        self._checkpointed_at = self.counters.env_steps
        for callback in self.callbacks:
            callback.on_checkpoint(self, path)
        return path

    def _is_checkpointed(self) -> bool:
        return getattr(self, "_checkpointed_at", None) == self.counters.env_steps

    def _resume(self, path: Path) -> None:
        path = ckpt.resolve_checkpoint(path)
        meta = ckpt.load_checkpoint(
            path, self.agent, observation_layout=self.envs.observation_layout
        )
        self.counters = Counters(**meta["extra"].get("counters", {}))
        if not meta["replay"]:
            logger.warning("%s has no replay buffer: learning restarts from new experience", path)
        # Episodes in flight were cut by the interruption: they bootstrap.
        self.agent.replay.flush_pending()
        self._checkpointed_at = self.counters.env_steps
        logger.info("resumed from %s at %d steps", path, self.counters.env_steps)

    # ------------------------------------------------------------------ logging
    def episode_end(self, episode: EpisodeStats) -> None:
        """Count a finished episode, call the callbacks' ``on_episode_end`` and log it."""
        self.counters.episodes += 1
        self.recent_returns.append(episode.episode_return)
        extra: dict[str, float] = {}
        for key in self.info_keys:
            if key in episode.info:
                extra[key] = float(episode.info[key])
        for callback in self.callbacks:
            extra.update(callback.on_episode_end(self, episode) or {})
        self.extra_metrics.update(extra)
        writer = self.writer
        if writer is not None:
            step = episode.env_steps
            writer.add_scalar("episode/return", episode.episode_return, step)
            writer.add_scalar("episode/length", episode.length, step)
            for key, value in extra.items():
                writer.add_scalar(f"episode/{key}", value, step)

    def log_scalars(self, metrics: Mapping[str, torch.Tensor], rates: Mapping[str, float]) -> None:
        """Write the losses, rates and replay size to TensorBoard at the current env
        step and call the callbacks' ``on_log``."""
        scalars = {key: float(value) for key, value in metrics.items()}
        scalars.update(rates)
        scalars["replay/size"] = float(len(self.agent.replay))
        writer = self.writer
        if writer is not None:
            for key, value in scalars.items():
                writer.add_scalar(key, value, self.counters.env_steps)
        for callback in self.callbacks:
            callback.on_log(self, scalars)

    def _postfix(self, steps_per_s: float) -> dict[str, str]:
        postfix = {"steps/s": f"{steps_per_s:.0f}"}
        if self.recent_returns:
            postfix["return"] = f"{np.mean(self.recent_returns):.3g}"
        postfix.update({key: f"{value:.4g}" for key, value in self.extra_metrics.items()})
        return postfix

    def _progress_bar(self, total: int, initial: int, desc: str) -> Any:
        if not self.config.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def crossed(before: int, after: int, interval: int) -> bool:
    """Whether a multiple of ``interval`` lies in ``(before, after]``."""
    return interval > 0 and after // interval > before // interval


def evaluate_policy(
    env: gym.Env, agent: SAC, num_episodes: int = 1, *, seed: int | None = None
) -> dict[str, float]:
    """Run the deterministic policy for ``num_episodes`` on a single ``env``.

    Returns:
        ``{"return_mean", "return_std", "length_mean"}``.
    """
    returns, lengths = [], []
    for episode in range(num_episodes):
        obs, _ = env.reset(seed=None if seed is None else seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs, deterministic=True))
            total += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
    return {
        "return_mean": float(np.mean(returns)),
        "return_std": float(np.std(returns)),
        "length_mean": float(np.mean(lengths)),
    }


__all__ = [
    "Callback",
    "Counters",
    "EnvStep",
    "EnvSteps",
    "EpisodeStats",
    "EvaluateFn",
    "Trainer",
    "crossed",
    "evaluate_policy",
    "make_agent",
]

"""A rollout worker: its env, its copy of the policy, and the batches it hands over.

:class:`RolloutWorker` drives either ``train.num_envs`` simulated cars (the batched vector
env of ``acgym/Race-v0``) or one remote car (the game on a PC, or ``acgym sim serve``:
``remote.hosts[slot]``), acting with the newest policy weights it received (uniformly
random actions until the first). A background thread collects all the time; each call
of :meth:`RolloutWorker.poll` takes the learner's acknowledgement (and new weights),
seals what was collected since into a numbered batch and returns every batch not yet
acknowledged (:mod:`acgym.dist.transport`).

* Lock-step envs (the simulator, a lock-step server) wait while the unacknowledged
  transitions reach ``2 x train.send_steps x train.num_envs``: the learner's pace (its
  update-to-data ratio) bounds the collection, as in the single-process loop. A real-time
  car (the game) never waits.
* A remote car that stops answering (the game closed, the network down, the server
  killed) does not end the worker: the car's open segment is discarded and counted, and
  the worker connects again every ``remote.reconnect_interval_s`` until it answers. Any
  other error ends the collection and the next :meth:`~RolloutWorker.poll` raises it (the
  learner replaces the worker).

Nothing here imports Ray: :mod:`acgym.dist.pool` makes this class a Ray actor.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from acgym.config import Config, parse_host
from acgym.config_loader import load_section
from acgym.dist.transport import (
    RANDOM_POLICY,
    EpisodeEnd,
    LapRecord,
    Outbox,
    Segment,
    SegmentRecorder,
)
from acgym.errors import BackendError, ProtocolError
from acgym.rl.sac import SAC

logger = logging.getLogger(__name__)

WORKERS_DIR = "workers"
"""Under the run folder: each worker's episode log, ``workers/w<slot>/``."""
RECOVERABLE = (BackendError, ProtocolError, OSError)
"""Errors of a remote car the worker recovers from by connecting again."""
BACKPRESSURE_FACTOR = 2
"""A lock-step worker waits while this many segments per car are unacknowledged."""


def policy_weights(agent: SAC) -> dict[str, NDArray[np.float32]]:
    """The policy's weights as plain numpy arrays (what the workers receive)."""
    return {name: t.detach().cpu().numpy() for name, t in agent.actor.state_dict().items()}


def load_policy_weights(agent: SAC, weights: Mapping[str, NDArray[np.float32]]) -> None:
    """Load :func:`policy_weights` into ``agent``'s policy."""
    agent.actor.load_state_dict(
        {name: torch.from_numpy(np.array(w)) for name, w in weights.items()}
    )


def worker_config(config: Config, slot: int) -> Config:
    """The configuration a worker drives its env with: the run's, with the remote car of
    ``remote.hosts[slot]`` (when hosts are given)."""
    hosts = config.remote.hosts
    if not hosts:
        return config
    env = config.env
    host, ego_port, mgmt_port = parse_host(
        hosts[slot], env.ego_server_port, env.simulation_management_server_port
    )
    env = dataclasses.replace(
        env,
        remote_machine_ip=host,
        ego_server_port=ego_port,
        simulation_management_server_port=mgmt_port,
    )
    return dataclasses.replace(config, env=env)


class RolloutWorker:
    """One rollout worker (see the module docstring).

    Args:
        config: The run's configuration as plain data (``Config.to_dict()``).
        slot: The worker's slot, ``0 .. train.workers - 1``.
        incarnation: How many times the slot's worker was replaced before this one.
        run_dir: The run folder: the episode log goes to ``workers/w<slot>/`` under it
            (``train.log_episodes``), on the machine the worker runs on. None: no log.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        slot: int,
        incarnation: int = 0,
        run_dir: str | None = None,
    ) -> None:
        self.config = worker_config(load_section(Config, config), slot)
        self.slot = slot
        self.incarnation = incarnation
        self.realtime = self.config.realtime
        train = self.config.train
        self.num_envs = 1 if self.config.backend != "sim" else train.num_envs
        self.send_steps = train.send_steps
        self.output_dir = None
        if run_dir is not None and train.log_episodes:
            self.output_dir = Path(run_dir) / WORKERS_DIR / f"w{slot}"
        torch.set_num_threads(1)  # one core per worker; the learner has its own
        self.outbox = Outbox(slot, incarnation)
        self.version = RANDOM_POLICY
        self.agent: SAC | None = None
        self.env: Any = None
        self.env_info: dict[str, Any] | None = None
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        self._waiting = False
        self._closed: list[Segment] = []
        self._episodes: list[EpisodeEnd] = []
        self._laps: list[LapRecord] = []
        self._recorders: list[SegmentRecorder] = []
        self.produced = 0
        """Transitions recorded (steps of the cars that made one)."""
        self.discarded = 0
        """Transitions of open segments dropped when the remote car failed under them."""
        self.disconnects = 0
        """Times the remote car stopped answering."""
        seed = self.config.agent.seed + 1000 * (slot + 1) + 100_000 * incarnation
        self.seed = seed

    # ------------------------------------------------------------------ env
    def _open_env(self) -> Any:
        from acgym.rl.envs import make_env
        from acgym.rl.run import LapSource
        from acgym.rl.trainer import EnvSteps, make_agent

        env = make_env(self.config, num_envs=self.num_envs, output_dir=self.output_dir)
        try:
            envs = EnvSteps(env)
            if self.agent is None:
                agent_config = dataclasses.replace(
                    self.config.agent,
                    replay_size=1,
                    offline_replay_size=1,
                    use_offline_replay=False,
                    device="cpu",
                    num_threads=1,
                    seed=self.seed,
                )
                self.agent = make_agent(
                    agent_config,
                    envs.obs_dim,
                    envs.action_dim,
                    action_low=envs.action_low,
                    action_high=envs.action_high,
                )
                self._recorders = [
                    SegmentRecorder(car, envs.obs_dim, envs.action_dim, self.send_steps)
                    for car in range(envs.num_envs)
                ]
            self.env_info = {
                "obs_dim": envs.obs_dim,
                "action_dim": envs.action_dim,
                "action_low": envs.action_low.tolist(),
                "action_high": envs.action_high.tolist(),
                "observation_layout": None
                if envs.observation_layout is None
                else list(envs.observation_layout),
                "num_envs": envs.num_envs,
                "host": self.config.env.remote_machine_ip if self.config.backend != "sim" else None,
                "node": os.uname().nodename,
                "pid": os.getpid(),
            }
            envs.seed = self.seed
            self._laps_source = LapSource(env, envs.num_envs)
            self.env, self._envs = env, envs
            return envs
        except BaseException:
            env.close()
            raise

    def describe(self) -> dict[str, Any]:
        """Make the env (the simulator's kernels compiled or loaded first; or connect to
        the remote car) and start collecting; returns the spaces, observation layout and
        where the worker runs.

        Raises:
            BackendError: The remote car does not answer.
        """
        if self.env is None:
            from acgym.rl.run import warm_up_kernels

            warm_up_kernels(self.config)  # compiled (or loaded) before the first step
            self._open_env()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"acgym-worker-{self.slot}", daemon=True
            )
            self._thread.start()
        assert self.env_info is not None
        return dict(self.env_info)

    def _close_env(self) -> None:
        env, self.env = self.env, None
        if env is not None:
            try:
                env.close()
            except RECOVERABLE as exc:
                logger.debug("worker %d: closing the env: %s", self.slot, exc)

    # ------------------------------------------------------------ collecting
    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self.env is None:
                    self._open_env()
                try:
                    self._collect()
                except RECOVERABLE as exc:
                    if self.config.backend == "sim":
                        raise
                    self._lost_car(exc)
        except BaseException as exc:  # the next poll raises it; the learner replaces us
            logger.exception("worker %d failed", self.slot)
            with self._lock:
                self._error = f"{type(exc).__name__}: {exc}"
                self._lock.notify_all()
        finally:
            self._close_env()

    def _lost_car(self, exc: BaseException) -> None:
        """The remote car stopped answering: drop its open segment, wait, reconnect."""
        with self._lock:
            dropped = sum(recorder.discard() for recorder in self._recorders)
            self.discarded += dropped
            self.disconnects += 1
        logger.warning(
            "worker %d: the car at %s stopped answering (%s); %d open steps discarded, "
            "connecting again every %g s",
            self.slot,
            self.config.env.remote_machine_ip,
            exc,
            dropped,
            self.config.remote.reconnect_interval_s,
        )
        self._close_env()
        while not self._stopping.wait(self.config.remote.reconnect_interval_s):
            try:
                self._open_env()
                logger.warning("worker %d: the car answers again", self.slot)
                return
            except RECOVERABLE as again:
                logger.debug("worker %d: still no answer: %s", self.slot, again)

    def _backpressure(self) -> bool:
        """Whether a lock-step worker must wait for acknowledgements."""
        if self.realtime:
            return False
        held = self.outbox.unacked_transitions + sum(s.length for s in self._closed)
        return held >= BACKPRESSURE_FACTOR * self.send_steps * self.num_envs

    def _collect(self) -> None:
        envs, agent, recorders = self._envs, self.agent, self._recorders
        assert agent is not None
        returns = np.zeros(envs.num_envs)
        lengths = np.zeros(envs.num_envs, dtype=np.int64)
        obs = envs.reset()
        while not self._stopping.is_set():
            with self._lock:
                while self._backpressure() and not self._stopping.is_set():
                    self._waiting = True
                    self._lock.wait(0.5)
                self._waiting = False
                if self.version == RANDOM_POLICY:
                    actions = agent.random_action(envs.num_envs)
                else:
                    actions = agent.act(obs)
            step = envs.step(actions)
            unit = agent.normalize_action(actions)
            laps = self._laps_source.step()
            with self._lock:
                for i in np.flatnonzero(step.valid):
                    recorders[i].add(obs[i], unit[i], float(step.rewards[i]))
                    returns[i] += step.rewards[i]
                    lengths[i] += 1
                    self.produced += 1
                    ended = bool(step.terminated[i] or step.truncated[i])
                    if ended or recorders[i].full:
                        self._closed.append(
                            recorders[i].close(step.next_obs[i], bool(step.terminated[i]))
                        )
                self._laps.extend(LapRecord(car, lap.time_s, lap.clean) for car, lap in laps)
                for car in step.ended_infos:
                    self._episodes.append(
                        EpisodeEnd(
                            car, float(returns[car]), int(lengths[car]), bool(step.terminated[car])
                        )
                    )
                    self._laps.extend(
                        LapRecord(car, lap.time_s, lap.clean)
                        for lap in self._laps_source.end_episode(car)
                    )
                    returns[car], lengths[car] = 0.0, 0
                self._lock.notify_all()
            obs = envs.reset() if step.obs is None else step.obs

    # ---------------------------------------------------------- the learner
    def poll(
        self,
        ack: int,
        version: int = RANDOM_POLICY,
        weights: Mapping[str, NDArray[np.float32]] | None = None,
        wait_s: float = 1.0,
    ) -> dict[str, Any]:
        """Take the acknowledgement and newer weights; seal what was collected since the
        last poll (waiting up to ``wait_s`` for something); return every batch not
        acknowledged yet and the worker's counters.

        Args:
            ack: The highest ``seq`` the learner stored of this worker's stream (-1: none).
            version: The version of ``weights`` (the learner's update count).
            weights: New policy weights (:func:`policy_weights`), or None.
            wait_s: Longest wait for a first closed segment, s.

        Returns:
            ``{"batches": [messages], "status": {...}}``.

        Raises:
            BackendError: The collection failed (the error is in the message).
        """
        with self._lock:
            self.outbox.ack(ack)
            if weights is not None and version > self.version and self.agent is not None:
                load_policy_weights(self.agent, weights)
                self.version = version
            self._lock.notify_all()
            deadline = time.monotonic() + wait_s
            while not (self._closed or self._episodes or self._laps or self._error):
                left = deadline - time.monotonic()
                if left <= 0 or self.outbox.unacked():
                    break
                self._lock.wait(left)
            if self._error is not None:
                raise BackendError(f"worker {self.slot}: {self._error}")
            if self._closed or self._episodes or self._laps:
                assert self.env_info is not None
                self.outbox.seal(
                    self.version,
                    self._closed,
                    self._episodes,
                    self._laps,
                    obs_dim=self.env_info["obs_dim"],
                    action_dim=self.env_info["action_dim"],
                )
                self._closed, self._episodes, self._laps = [], [], []
            return {
                "batches": [batch.to_message() for batch in self.outbox.unacked()],
                "status": self.status(),
            }

    def status(self) -> dict[str, int]:
        """The worker's counters (``pending``: recorded steps in no batch yet;
        ``waiting``: 1 while a lock-step worker waits for acknowledgements)."""
        pending = sum(r.length for r in self._recorders) + sum(s.length for s in self._closed)
        return {
            "version": self.version,
            "produced": self.produced,
            "sealed": self.outbox.sealed_transitions,
            "acked": self.outbox.acked_transitions,
            "unacked": self.outbox.unacked_transitions,
            "pending": pending,
            "discarded": self.discarded,
            "disconnects": self.disconnects,
            "waiting": int(self._waiting),
        }

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        return os.getpid()

    def stop(self) -> dict[str, int]:
        """Stop collecting and close the env; returns the final counters."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=max(30.0, 2 * self.config.remote.timeout_s))
        self._close_env()
        with self._lock:
            return self.status()


__all__ = [
    "RECOVERABLE",
    "WORKERS_DIR",
    "RolloutWorker",
    "load_policy_weights",
    "policy_weights",
    "worker_config",
]

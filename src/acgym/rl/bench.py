"""``acgym bench sac``: gradient updates per second of SAC and DisCor, and what each
speed-up buys.

Default sizes: observation 125, action 3, three hidden layers of 256 (four for DisCor's
error networks), batch 128. Variants are timed in interleaved rounds (every variant once
per round) and the best and median rounds are reported, so that a burst of load on a
shared machine hits all variants alike. The ladder starts from a plain loop written like
the original implementation (two separate critic MLPs, ``torch.distributions``, Adam
per parameter, Polyak in Python, three backward passes, ``.item()`` every update) and
switches on one optimisation at a time. ``trainer`` times the whole training loop on
synthetic environments, stepping the env in-line or in a background thread.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

from acgym.rl.config import AgentConfig, TrainerConfig
from acgym.rl.discor import DisCor
from acgym.rl.networks import mlp
from acgym.rl.replay import NStepReplay, ReplayBatch
from acgym.rl.sac import SAC, SpeedOptions
from acgym.rl.trainer import Trainer

OBS_DIM = 125
ACTION_DIM = 3
BATCH_SIZE = 128
REPLAY_ROWS = 20_000


# A round counts as quiet when tasks waited for a CPU less than this share of its time
# (Linux pressure stall information); shared machines have bursts of load.
QUIET_STALL_SHARE = 0.05


def _psi_line() -> str | None:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


def _cpu_pressure() -> float | None:
    """Linux PSI: share of the last 10 s some task waited for a CPU, in percent."""
    line = _psi_line()
    return None if line is None else float(line.split("avg10=")[1].split()[0])


def _cpu_stall_us() -> int | None:
    """Linux PSI: total microseconds some task waited for a CPU since boot."""
    line = _psi_line()
    return None if line is None else int(line.split("total=")[1].split()[0])


def _filled_replay(seed: int = 0) -> NStepReplay:
    """A replay buffer of ``REPLAY_ROWS`` random transitions (episodes of 1000 steps)."""
    replay = NStepReplay(REPLAY_ROWS, OBS_DIM, ACTION_DIM, gamma=0.992, n_step=3, seed=seed)
    rng = np.random.default_rng(seed)
    episode = 1000
    for _ in range(REPLAY_ROWS // episode):
        obs = rng.normal(size=(episode + 1, OBS_DIM)).astype(np.float32)
        replay.add_episode(
            obs[:-1],
            rng.uniform(-1, 1, (episode, ACTION_DIM)),
            rng.normal(size=episode),
            obs[1:],
            np.zeros(episode, dtype=bool),
        )
    return replay


class _PlainTwin(nn.Module):
    def __init__(self, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.q1 = mlp(OBS_DIM + ACTION_DIM, hidden, 1)
        self.q2 = mlp(OBS_DIM + ACTION_DIM, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs, action], dim=1)
        return self.q1(x), self.q2(x)


class PlainLoop:
    """The original implementation's update structure, as the baseline of the ladder."""

    def __init__(self, config: AgentConfig, replay: NStepReplay) -> None:
        torch.manual_seed(config.seed)
        self.config, self.replay = config, replay
        self.discor = config.algorithm == "discor"
        self.policy = mlp(OBS_DIM, config.actor_hidden, 2 * ACTION_DIM)
        self.q, self.q_target = _PlainTwin(config.critic_hidden), _PlainTwin(config.critic_hidden)
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.policy_optim = torch.optim.Adam(
            self.policy.parameters(), config.actor_lr, foreach=False
        )
        self.q_optim = torch.optim.Adam(self.q.parameters(), config.critic_lr, foreach=False)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.alpha_optim = torch.optim.Adam([self.log_alpha], config.alpha_lr, foreach=False)
        self.alpha = self.log_alpha.detach().exp()
        if self.discor:
            self.err, self.err_target = (
                _PlainTwin(config.error_hidden),
                _PlainTwin(config.error_hidden),
            )
            self.err_target.load_state_dict(self.err.state_dict())
            self.err_target.requires_grad_(False)
            self.err_optim = torch.optim.Adam(self.err.parameters(), config.error_lr, foreach=False)
            self.tau1 = torch.tensor(config.error_tau_init)
            self.tau2 = torch.tensor(config.error_tau_init)
        self.stats: dict[str, float] = {}

    def _sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = torch.chunk(self.policy(obs), 2, dim=-1)
        normal = Normal(mean, log_std.clamp(-20, 2).exp())
        pre_tanh = normal.rsample()
        action = torch.tanh(pre_tanh)
        log_prob = normal.log_prob(pre_tanh) - torch.log(1 - action.pow(2) + 1e-6)
        return action, -log_prob.sum(dim=1, keepdim=True)

    @staticmethod
    def _step(optim: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optim.zero_grad()
        loss.backward()
        optim.step()

    @staticmethod
    def _soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
        for t, s in zip(target.parameters(), source.parameters(), strict=True):
            t.data.copy_(t.data * (1.0 - tau) + s.data * tau)

    def update(self, num_updates: int = 1) -> None:
        for _ in range(num_updates):
            self._update(self.replay.sample(self.config.batch_size))

    def _update(self, batch: ReplayBatch) -> None:
        obs, actions = batch.observations, batch.actions
        rewards = batch.rewards[:, None]
        next_obs, dones = batch.next_observations, batch.terminations[:, None]
        gamma, discount = self.config.gamma, self.config.gamma**self.config.n_step
        sampled, entropies = self._sample(obs)
        q1, q2 = self.q(obs, sampled)
        policy_loss = torch.mean(-torch.min(q1, q2) - self.alpha * entropies)
        self._step(self.policy_optim, policy_loss)
        entropy_loss = -torch.mean(self.log_alpha * (-ACTION_DIM - entropies.detach()))
        self._step(self.alpha_optim, entropy_loss)
        self.alpha = self.log_alpha.detach().exp()
        if self.discor:
            with torch.no_grad():
                next_actions, _ = self._sample(next_obs)
                e1, e2 = self.err_target(next_obs, next_actions)
            w1 = torch.softmax(-(1 - dones) * gamma * e1 / self.tau1, dim=0)
            w2 = torch.softmax(-(1 - dones) * gamma * e2 / self.tau2, dim=0)
        with torch.no_grad():
            next_actions, next_entropies = self._sample(next_obs)
            n1, n2 = self.q_target(next_obs, next_actions)
            target = rewards + (1 - dones) * discount * (
                torch.min(n1, n2) + self.alpha * next_entropies
            )
        c1, c2 = self.q(obs, actions)
        if self.discor:
            q_loss = torch.sum((c1 - target).pow(2) * w1) + torch.sum((c2 - target).pow(2) * w2)
        else:
            q_loss = torch.mean((c1 - target).pow(2)) + torch.mean((c2 - target).pow(2))
        self.stats = {"q1": c1.detach().mean().item(), "q2": c2.detach().mean().item()}
        self._step(self.q_optim, q_loss)
        if self.discor:
            err1, err2 = self.err(obs, actions)
            with torch.no_grad():
                next_actions, _ = self._sample(next_obs)
                e1, e2 = self.err_target(next_obs, next_actions)
                t1 = (c1.detach() - target).abs() + (1 - dones) * gamma * e1
                t2 = (c2.detach() - target).abs() + (1 - dones) * gamma * e2
            err_loss = torch.mean((err1 - t1).pow(2)) + torch.mean((err2 - t2).pow(2))
            tau = self.config.tau
            self.tau1.copy_(self.tau1 * (1 - tau) + err1.detach().mean() * tau)
            self.tau2.copy_(self.tau2 * (1 - tau) + err2.detach().mean() * tau)
            self._step(self.err_optim, err_loss)
            self._soft_update(self.err_target, self.err, tau)
        self._soft_update(self.q_target, self.q, self.config.tau)


def _ladder() -> list[tuple[str, SpeedOptions | None]]:
    """The steps from the plain loop to the default, each adding one optimisation."""
    steps = [
        ("batched twin critic, own log-prob", {}),
        ("+ fused Adam", {"optimizer": "fused"}),
        ("+ foreach Polyak", {"foreach_polyak": True}),
        ("+ no critic weight grads in policy loss", {"detach_critic_in_actor_loss": True}),
        ("+ one policy/temperature step", {"joint_actor_alpha_step": True}),
        ("+ shared observation term (default)", {"shared_obs_term": True}),
    ]
    ladder: list[tuple[str, SpeedOptions | None]] = [("plain loop (original structure)", None)]
    options = {
        "optimizer": "loop",
        "foreach_polyak": False,
        "detach_critic_in_actor_loss": False,
        "joint_actor_alpha_step": False,
        "shared_obs_term": False,
    }
    for label, change in steps:
        options.update(change)
        ladder.append((label, SpeedOptions(**options)))
    assert ladder[-1][1] == SpeedOptions()
    return ladder


def _interleaved_rates(
    variants: dict[str, Callable[[int], Any]], rounds: int, updates: int
) -> dict[str, dict[str, float]]:
    """Updates per second of each variant over interleaved rounds.

    Returns, per variant: the best and median round, over all rounds and over the quiet
    ones (CPU stall below ``QUIET_STALL_SHARE``; the ``quiet`` figures equal the overall
    ones where the kernel reports no pressure information).
    """
    rates: dict[str, list[tuple[float, bool]]] = {name: [] for name in variants}
    for fn in variants.values():
        fn(3)  # warm up
    for _ in range(rounds):
        for name, fn in variants.items():
            stall_before = _cpu_stall_us()
            start = time.perf_counter()
            fn(updates)
            elapsed = time.perf_counter() - start
            stall_after = _cpu_stall_us()
            quiet = (
                stall_before is None
                or stall_after is None
                or (stall_after - stall_before) < QUIET_STALL_SHARE * elapsed * 1e6
            )
            rates[name].append((updates / elapsed, quiet))
    summary = {}
    for name, rounds_of in rates.items():
        every = [rate for rate, _ in rounds_of]
        quiet = [rate for rate, is_quiet in rounds_of if is_quiet]
        summary[name] = {
            "best": max(every),
            "median": statistics.median(every),
            "quiet_rounds": len(quiet),
            "quiet_best": max(quiet) if quiet else None,
            "quiet_median": statistics.median(quiet) if quiet else None,
            "rounds": len(every),
        }
    return summary


def bench_updates(threads: int, rounds: int, updates: int, replay: NStepReplay) -> dict[str, Any]:
    """The ladder for SAC and the plain vs default comparison for DisCor."""
    torch.set_num_threads(threads)
    variants: dict[str, Callable[[int], Any]] = {}
    for algorithm in ("sac", "discor"):
        config = AgentConfig(algorithm=algorithm, device="cpu", replay_size=REPLAY_ROWS)
        if algorithm == "sac":
            steps = _ladder()
        else:
            steps = [(_ladder()[0][0], None), ("default", SpeedOptions())]
        for label, speed in steps:
            if speed is None:
                variants[f"{algorithm}: {label}"] = PlainLoop(config, replay).update
            else:
                cls = DisCor if algorithm == "discor" else SAC
                agent = cls(OBS_DIM, ACTION_DIM, config, replay=replay, speed=speed)
                variants[f"{algorithm}: {label}"] = agent.update
    return _interleaved_rates(variants, rounds, updates)


def bench_acting(threads: int, replay: NStepReplay) -> dict[str, float]:
    """Latency of ``act`` on one observation (the real-time path) and of replay ops."""
    torch.set_num_threads(threads)
    agent = SAC(OBS_DIM, ACTION_DIM, AgentConfig(device="cpu", replay_size=REPLAY_ROWS))
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    row = np.zeros(OBS_DIM, dtype=np.float32)
    action = np.zeros(ACTION_DIM, dtype=np.float32)

    def best_us(fn: Callable[[], Any], calls: int = 300) -> float:
        fn()
        best = math.inf
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best = min(best, (time.perf_counter() - start) / calls)
        return best * 1e6

    return {
        "act_us": best_us(lambda: agent.act(obs)),
        "act_deterministic_us": best_us(lambda: agent.act(obs, deterministic=True)),
        "replay_sample_us": best_us(lambda: replay.sample(BATCH_SIZE)),
        "replay_add_us": best_us(lambda: replay.add(row, action, 0.0, row, False, False)),
    }


class SyntheticEnv(gym.Env):
    """Observation 125, action 3; each step costs ``step_ms`` of CPU holding the GIL
    (``kind="python"``) or of waiting without it (``kind="wait"``, like a native
    simulator that releases the GIL or a game answering over UDP)."""

    def __init__(self, step_ms: float, kind: str, episode_steps: int = 1000) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self.step_s, self.kind, self.episode_steps = step_ms / 1000.0, kind, episode_steps
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self.np_random.uniform(-1, 1, OBS_DIM).astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.kind == "wait":
            time.sleep(self.step_s)
        else:
            end = time.perf_counter() + self.step_s
            while time.perf_counter() < end:
                pass
        self._t += 1
        obs = self.np_random.uniform(-1, 1, OBS_DIM).astype(np.float32)
        return obs, float(-np.abs(action).sum()), False, self._t >= self.episode_steps, {}


def bench_trainer(
    threads: int,
    steps: int,
    envs: tuple[tuple[float, str], ...] = ((0.0, "python"), (2.0, "python"), (2.0, "wait")),
) -> dict[str, dict[str, float]]:
    """Training-loop steps/s (one update per step, default networks): env in-line vs in
    a background thread, for env steps of 0 and 2 ms holding or releasing the GIL."""
    torch.set_num_threads(threads)
    results: dict[str, dict[str, float]] = {}
    for step_ms, kind in envs:
        row = {}
        for threaded in (False, True):
            config = TrainerConfig(
                total_steps=steps,
                start_steps=BATCH_SIZE,
                progress=False,
                checkpoint_interval=0,
                threaded_env=threaded,
            )
            agent_config = AgentConfig(device="cpu", replay_size=steps)
            with Trainer(SyntheticEnv(step_ms, kind), config, agent_config=agent_config) as trainer:
                trainer.train(BATCH_SIZE)  # fill, no updates yet
                start, done = time.perf_counter(), trainer.counters.env_steps
                trainer.train(BATCH_SIZE + steps)
                rate = (trainer.counters.env_steps - done) / (time.perf_counter() - start)
            row["threaded" if threaded else "inline"] = rate
        results[f"env {step_ms:g} ms {kind}"] = row
    return results


def warm_up(args: argparse.Namespace) -> None:
    """The first act and update of SAC and DisCor (PyTorch's first calls allocate and
    pick kernels; nothing is compiled ahead)."""
    replay = _filled_replay()
    for cls in (SAC, DisCor):
        agent = cls(OBS_DIM, ACTION_DIM, AgentConfig(device="cpu"), replay=replay)
        agent.act(np.zeros(OBS_DIM, dtype=np.float32))
        agent.update(1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the SAC benchmarks; ``args.quick`` makes them short (a smoke check)."""
    quick = bool(getattr(args, "quick", False))
    rounds, updates = (1, 2) if quick else (15, 30)
    previous_threads = torch.get_num_threads()
    pressure_before = _cpu_pressure()
    try:
        replay = _filled_replay()
        # Quick: one thread only (a smoke check that may share the CPU with tests).
        threads = (1,) if quick else (1, 2)
        updates_per_s = {f"threads={t}": bench_updates(t, rounds, updates, replay) for t in threads}
        acting = {f"threads={t}": bench_acting(t, replay) for t in threads}
        if quick:
            trainer = {"threads=1": bench_trainer(1, 5, ((0.0, "python"),))}
        else:
            trainer = {f"threads={t}": bench_trainer(t, 300) for t in threads}
    finally:
        torch.set_num_threads(previous_threads)
    best = {
        key: max(row[key]["best"] for row in updates_per_s.values())
        for key in next(iter(updates_per_s.values()))
    }
    return {
        "sizes": {
            "obs_dim": OBS_DIM,
            "action_dim": ACTION_DIM,
            "hidden": [256, 256, 256],
            "error_hidden": [256, 256, 256, 256],
            "batch_size": BATCH_SIZE,
        },
        "torch": torch.__version__,
        "quick": quick,
        "rounds": rounds,
        "updates_per_round": updates,
        "cpu_pressure_avg10_percent": {"before": pressure_before, "after": _cpu_pressure()},
        "updates_per_s": updates_per_s,
        "best_updates_per_s": best,
        "acting": acting,
        "trainer_steps_per_s": trainer,
        "ladder_order": [label for label, _ in _ladder()],
    }

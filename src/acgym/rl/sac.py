"""Soft Actor-Critic with n-step returns and automatic entropy tuning.

One update, in the original implementation's order (Haarnoja et al. 2018; the
assetto_corsa_gym DisCor code base):

1. policy:  ``L_pi = E[alpha log pi(a|s) - min_i Q_i(s, a)]``, ``a ~ pi(.|s)``;
   temperature: ``L_alpha = -E[log(alpha) (H_target - H)]`` with ``H = -log pi(a|s)``
   and ``H_target = -|A|``. Both from one backward pass and one Adam step (their
   parameters are disjoint, so this equals two separate steps);
2. critics: ``y = R + (1 - d) gamma^m (min_i Q'_i(s', a') - alpha log pi(a'|s'))`` with
   ``a' ~ pi(.|s')`` from the updated policy and ``alpha`` after its step,
   ``L_Q = sum_i E[(Q_i(s, a) - y)^2]``;
3. target critics: Polyak averaging ``Q' <- (1 - tau) Q' + tau Q``.

``R``, ``m``, ``d`` are the n-step return, its length and the termination flag from
:class:`acgym.rl.replay.ReplayBatch`. The two critics are one batched
:class:`~acgym.rl.networks.EnsembleMLP`. Speed (:class:`SpeedOptions`, measured in
docs/bench/sac.md): fused Adam, Polyak by ``torch._foreach_lerp_``, no critic weight
gradients in the policy loss, the observation's share of the critic's first layer
computed once for both losses (the critic does not change between them), no host syncs
in the update (metrics come back as tensors, only for the last update of a call).
No reward scaling and no gradient clipping, as the original.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor

from acgym.errors import ConfigError
from acgym.rl.config import AgentConfig
from acgym.rl.networks import EnsembleMLP, SquashedGaussianActor
from acgym.rl.replay import EnsembleReplay, NStepReplay, Replay, ReplayBatch


@dataclass(frozen=True)
class SpeedOptions:
    """Implementation switches of the update; every combination computes the same maths.

    They exist to measure what each optimisation buys (``acgym bench sac``) and to test
    that the fast path matches the plain one. Leave the defaults for training.
    """

    optimizer: str = "fused"
    """Adam implementation: ``"loop"`` (per parameter), ``"foreach"`` or ``"fused"``."""
    foreach_polyak: bool = True
    """Target update with one ``torch._foreach_lerp_`` instead of a Python loop."""
    detach_critic_in_actor_loss: bool = True
    """The policy loss reaches the action through detached critic weights, so its
    backward pass skips the critic's weight gradients (discarded anyway)."""
    joint_actor_alpha_step: bool = True
    """One backward pass and one optimizer step for the policy and the temperature."""
    shared_obs_term: bool = True
    """The observation's share of the critic's first layer is computed once per update
    for the policy loss and the critic loss (the critic does not change in between), and
    the policy loss differentiates only the action columns."""


def make_replay(
    config: AgentConfig, obs_dim: int, action_dim: int, num_envs: int, device: torch.device
) -> NStepReplay | EnsembleReplay:
    """The replay buffer ``config`` asks for (online only, or online + offline)."""
    online = NStepReplay(
        config.replay_size,
        obs_dim,
        action_dim,
        config.gamma,
        config.n_step,
        num_envs,
        seed=config.seed + 1,
        device=device,
    )
    if not config.use_offline_replay:
        return online
    offline = NStepReplay(
        config.offline_replay_size,
        obs_dim,
        action_dim,
        config.gamma,
        config.n_step,
        num_envs=1,
        seed=config.seed + 2,
        device=device,
    )
    return EnsembleReplay(online, offline, config.offline_fraction)


def _adam(groups: list[dict[str, Any]], kind: str, device: torch.device) -> torch.optim.Adam:
    if kind == "fused":
        return torch.optim.Adam(groups, fused=True)
    if kind == "foreach":
        return torch.optim.Adam(groups, foreach=True)
    if kind == "loop":
        return torch.optim.Adam(groups, foreach=False)
    raise ConfigError(f"optimizer must be 'loop', 'foreach' or 'fused', got {kind!r}")


def _linear_schedule(num_updates: int, updates: tuple[int, int], start: float, end: float) -> float:
    """``start`` until the first of ``updates``, then linearly to ``end`` at the last, and
    ``end`` after."""
    first, last = updates
    done = min(1.0, max(0.0, (num_updates - first) / (last - first)))
    return start + done * (end - start)


class SAC:
    """Soft Actor-Critic agent: networks, optimisers, temperature and replay buffer.

    The agent works in normalised actions ``[-1, 1]^action_dim``; :meth:`act` and
    :meth:`random_action` return environment actions (scaled to ``[action_low,
    action_high]``) and :meth:`observe` normalises them back before storing.

    Args:
        obs_dim: observation width.
        action_dim: action width.
        config: hyperparameters.
        num_envs: environments feeding the replay buffer (its pending windows).
        action_low: ``(action_dim,)`` lower bounds of the environment's actions;
            ``None`` = -1.
        action_high: ``(action_dim,)`` upper bounds; ``None`` = 1.
        replay: a replay buffer to use instead of the one ``config`` describes.
        speed: implementation switches (benchmarks and tests).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: AgentConfig | None = None,
        *,
        num_envs: int = 1,
        action_low: ArrayLike | None = None,
        action_high: ArrayLike | None = None,
        replay: Replay | None = None,
        speed: SpeedOptions | None = None,
    ) -> None:
        self.config = config = config or AgentConfig()
        self.speed = speed = speed or SpeedOptions()
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.device = device = config.torch_device()
        if config.num_threads is not None and device.type == "cpu":
            torch.set_num_threads(config.num_threads)
        low = np.full(action_dim, -1.0) if action_low is None else np.asarray(action_low, float)
        high = np.full(action_dim, 1.0) if action_high is None else np.asarray(action_high, float)
        if low.shape != (action_dim,) or high.shape != (action_dim,):
            raise ConfigError(
                f"action bounds must have shape ({action_dim},), got {low.shape}, {high.shape}"
            )
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ConfigError(f"action bounds must be finite with high > low, got {low}, {high}")
        self.action_low = low.astype(np.float32)
        self.action_high = high.astype(np.float32)
        self.initial_target_entropy = (
            -float(action_dim) if config.target_entropy is None else config.target_entropy
        )

        # Seeded initialisation that leaves the global torch RNG untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self._build_networks()
        self.num_updates = 0
        self._build_optimizers()
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        self.np_rng = np.random.default_rng(config.seed)
        self.replay: Replay = (
            make_replay(config, obs_dim, action_dim, num_envs, device) if replay is None else replay
        )  # an empty buffer is falsy: test for None

    # ----------------------------------------------------------------- construction
    def _build_networks(self) -> None:
        config, device = self.config, self.device
        in_dim = self.input_dim + self.action_dim
        self.actor = SquashedGaussianActor(self.input_dim, self.action_dim, config.actor_hidden)
        self.actor.to(device)
        self.critic = EnsembleMLP(2, in_dim, config.critic_hidden, 1).to(device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.full(
            (1,), math.log(config.init_alpha), device=device, requires_grad=True
        )
        # Views that share storage with the critic's weights but carry no gradient.
        self._critic_frozen = [p.detach() for p in self.critic.parameters()]
        self._online = list(self.critic.parameters())
        self._target = list(self.critic_target.parameters())

    def _build_optimizers(self) -> None:
        config, device = self.config, self.device
        actor_group = {"params": list(self.actor.parameters()), "lr": config.actor_lr}
        alpha_group = {"params": [self.log_alpha], "lr": config.alpha_lr}
        if self.speed.joint_actor_alpha_step:
            self.actor_optim = _adam([actor_group, alpha_group], self.speed.optimizer, device)
            self.alpha_optim = None
        else:
            self.actor_optim = _adam([actor_group], self.speed.optimizer, device)
            self.alpha_optim = _adam([alpha_group], self.speed.optimizer, device)
        self.critic_optim = _adam(self._critic_groups(), self.speed.optimizer, device)
        self._lr_schedules: list[torch.optim.lr_scheduler.LambdaLR] = []
        if config.final_lr_fraction != 1.0:
            # the rates follow lr_fraction (from num_updates, so a resumed agent continues)
            for optim in (self.actor_optim, self.critic_optim):
                rules = [
                    self._constant_lr if group["params"][0] is self.log_alpha else self._lr_rule
                    for group in optim.param_groups
                ]
                self._lr_schedules.append(torch.optim.lr_scheduler.LambdaLR(optim, rules))

    def _lr_rule(self, _: int) -> float:
        return self.lr_fraction

    @staticmethod
    def _constant_lr(_: int) -> float:
        return 1.0

    def _critic_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.critic.parameters()), "lr": self.config.critic_lr}]

    # -------------------------------------------------------------------- acting
    @property
    def alpha(self) -> float:
        """The current entropy temperature."""
        return float(self.log_alpha.detach().exp())

    def to_env_action(self, action: NDArray[np.floating]) -> NDArray[np.float32]:
        """Scale normalised actions ``[-1, 1]`` to the environment's bounds."""
        scaled = self.action_low + 0.5 * (np.asarray(action) + 1.0) * (
            self.action_high - self.action_low
        )
        return scaled.astype(np.float32)

    def normalize_action(self, action: ArrayLike) -> NDArray[np.float32]:
        """Map environment actions to ``[-1, 1]`` (clipped), the inverse of
        :meth:`to_env_action`."""
        unit = (
            2.0
            * (np.asarray(action, dtype=np.float64) - self.action_low)
            / (self.action_high - self.action_low)
            - 1.0
        )
        return np.clip(unit, -1.0, 1.0).astype(np.float32)

    def act(self, obs: ArrayLike, deterministic: bool = False) -> NDArray[np.float32]:
        """Actions for observations ``(obs_dim,)`` or ``(N, obs_dim)``, in environment units.

        Samples from the policy, or takes ``tanh(mean)`` when ``deterministic``.
        """
        obs = np.asarray(obs, dtype=np.float32)
        with torch.inference_mode():
            x = self.encode_observations(
                torch.as_tensor(obs, device=self.device).reshape(-1, self.obs_dim)
            )
            if deterministic:
                action = self.actor.mean_action(x)
            else:
                action = self.actor.sample_action(x, self.generator)
            action = action.cpu().numpy()
        return self.to_env_action(action.reshape(*obs.shape[:-1], self.action_dim))

    def random_action(self, num: int | None = None) -> NDArray[np.float32]:
        """Uniformly random environment actions, ``(action_dim,)`` or ``(num, action_dim)``."""
        shape = (self.action_dim,) if num is None else (num, self.action_dim)
        return self.to_env_action(self.np_rng.uniform(-1.0, 1.0, size=shape))

    def observe(
        self,
        obs: ArrayLike,
        action: ArrayLike,
        reward: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Store transitions (environment actions) in the replay buffer; see
        :meth:`acgym.rl.replay.NStepReplay.add` for shapes."""
        self.replay.add(
            obs, self.normalize_action(action), reward, next_obs, terminated, truncated, env_ids
        )

    @property
    def demonstrations(self) -> Replay:
        """Where demonstration data goes: the offline buffer, or the only buffer."""
        return self.replay.offline if isinstance(self.replay, EnsembleReplay) else self.replay

    # ------------------------------------------------------------------ learning
    def update(
        self,
        num_updates: int = 1,
        *,
        update_alpha: bool = True,
        bc_alpha: float | None = None,
        bc_weight: float = 1.0,
    ) -> dict[str, Tensor]:
        """Run ``num_updates`` gradient updates on batches sampled from the replay buffer.

        Args:
            num_updates: updates to run.
            update_alpha: tune the temperature (off for offline pretraining, as the
                original).
            bc_alpha: None: SAC's actor loss. A number: the actor also clones the
                demonstrations' actions, as TD3+BC (Fujimoto and Gu 2021), written with
                SAC's loss unscaled: ``(alpha log pi - Q) + bc_weight * mean|Q| / bc_alpha *
                |tanh(mean) - a_demo|^2`` (smaller ``bc_alpha``: closer to the
                demonstrations). The demonstrations are the batch's offline rows with an
                offline buffer, else the whole batch.
            bc_weight: weight of the cloning term (fades it out; 0 = SAC's loss).

        Returns:
            Metrics of the last update as 0-d tensors (convert with ``float`` when
            logging, to keep host syncs out of the loop); empty when ``num_updates`` is 0.
        """
        metrics: dict[str, Tensor] = {}
        clone = None
        if bc_alpha is not None and bc_weight > 0.0:
            rows = self.config.batch_size
            if isinstance(self.replay, EnsembleReplay):
                rows = self.replay.num_offline(rows)  # the offline rows come first
            clone = (rows, bc_weight / bc_alpha) if rows > 0 else None
        for i in range(num_updates):
            metrics = self.update_on_batch(
                self.replay.sample(self.config.batch_size),
                update_alpha=update_alpha,
                metrics=i == num_updates - 1,
                clone=clone,
            )
        return metrics

    def update_on_batch(
        self,
        batch: ReplayBatch,
        *,
        update_alpha: bool = True,
        metrics: bool = True,
        clone: tuple[int, float] | None = None,
    ) -> dict[str, Tensor]:
        """One gradient update on ``batch`` (policy, temperature, critics, targets).

        Args:
            clone: ``(rows, weight / bc_alpha)``: clone the actions of the batch's first
                ``rows`` rows (:meth:`update`); None: SAC's actor loss.

        Returns:
            Metrics as 0-d tensors, or ``{}`` when ``metrics`` is false (saves work).
        """
        batch, actor_obs = self.encode_batch(batch)
        obs = batch.observations
        obs_term = self.critic.first_layer_term(obs) if self.speed.shared_obs_term else None
        demos = None if clone is None else (batch.actions[: clone[0]], clone[1])
        out = self._policy_step(actor_obs, obs_term, update_alpha, metrics, demos)
        with torch.no_grad():
            alpha = self.log_alpha.exp()
            next_action, next_log_prob, _ = self.actor(batch.next_observations, self.generator)
            next_sa = torch.cat([batch.next_observations, next_action], dim=-1)
            next_q = self.critic_target(next_sa).squeeze(-1).amin(dim=0)
            target = batch.rewards + (1.0 - batch.terminations) * batch.discounts * (
                next_q - alpha * next_log_prob
            )
        q = self._current_q(batch, obs_term)
        out.update(self._critic_step(batch, q, next_sa, target, metrics))
        self.num_updates += 1
        for schedule in self._lr_schedules:
            schedule.step()
        if self.num_updates % self.config.target_update_interval == 0:
            self._update_targets()
        return out

    def encode_batch(self, batch: ReplayBatch) -> tuple[ReplayBatch, Tensor]:
        """The batch as the networks take it, and the actor's observations: as is here;
        an agent with an encoder (``acgym.rl.pixel_sac``) encodes the observations."""
        return batch, batch.observations

    def encode_observations(self, obs: Tensor) -> Tensor:
        """Observations as the actor takes them when acting: as is here."""
        return obs

    @property
    def target_entropy(self) -> float:
        """The temperature's target entropy now: ``config.target_entropy`` (default
        ``-action_dim``), moved linearly to ``config.final_target_entropy`` over
        ``config.target_entropy_updates`` gradient updates when that is set."""
        final = self.config.final_target_entropy
        if final is None:
            return self.initial_target_entropy
        return _linear_schedule(
            self.num_updates,
            (0, self.config.target_entropy_updates),
            self.initial_target_entropy,
            final,
        )

    @property
    def lr_fraction(self) -> float:
        """The learning rates now, as a fraction of the configured ones: 1 until the first
        of ``config.lr_decay_updates``, then linearly to ``config.final_lr_fraction`` at
        the last."""
        return _linear_schedule(
            self.num_updates, self.config.lr_decay_updates, 1.0, self.config.final_lr_fraction
        )

    @property
    def input_dim(self) -> int:
        """Width of the actor's and the critics' observation input (``obs_dim`` here)."""
        return self.obs_dim

    def _current_q(self, batch: ReplayBatch, obs_term: Tensor | None) -> Tensor:
        """``Q_i(s, a)`` of the batch, ``(2, batch)``, with gradients to the critic."""
        if obs_term is None:
            sa = torch.cat([batch.observations, batch.actions], dim=-1)
            return self.critic(sa).squeeze(-1)
        return self.critic.forward_with_term(obs_term, batch.actions).squeeze(-1)

    def _policy_step(
        self,
        obs: Tensor,
        obs_term: Tensor | None,
        update_alpha: bool,
        metrics: bool,
        demos: tuple[Tensor, float] | None = None,
    ) -> dict[str, Tensor]:
        action, log_prob, mean_action = self.actor(obs, self.generator)
        frozen = self._critic_frozen if self.speed.detach_critic_in_actor_loss else None
        if obs_term is None:
            q = self.critic(torch.cat([obs, action], dim=-1), frozen)
        else:
            q = self.critic.forward_with_term(obs_term.detach(), action, frozen)
        q = q.squeeze(-1).amin(dim=0)
        alpha = self.log_alpha.detach().exp()
        actor_loss = (alpha * log_prob - q).mean()
        bc_loss = None
        if demos is not None:  # TD3+BC: cloning weighed against the scale of Q
            demo_actions, weight = demos
            rows = len(demo_actions)
            bc_loss = (mean_action[:rows] - demo_actions).square().sum(dim=-1).mean()
            actor_loss = actor_loss + weight * q.detach().abs().mean() * bc_loss
        entropy = -log_prob.detach()
        alpha_loss = -(self.log_alpha * (self.target_entropy - entropy)).mean()
        self.actor_optim.zero_grad(set_to_none=True)
        if self.alpha_optim is None:
            (actor_loss + alpha_loss if update_alpha else actor_loss).backward()
            self.actor_optim.step()
        else:
            actor_loss.backward()
            self.actor_optim.step()
            if update_alpha:
                self.alpha_optim.zero_grad(set_to_none=True)
                alpha_loss.backward()
                self.alpha_optim.step()
        if not metrics:
            return {}
        out = {
            "loss/actor": actor_loss.detach(),
            "loss/alpha": alpha_loss.detach(),
            "stats/alpha": alpha[0],
            "stats/entropy": entropy.mean(),
            "stats/target_entropy": torch.tensor(self.target_entropy),
        }
        if bc_loss is not None:
            out["loss/behaviour_cloning"] = bc_loss.detach()
        return out

    def _critic_step(
        self, batch: ReplayBatch, q: Tensor, next_sa: Tensor, target: Tensor, metrics: bool
    ) -> dict[str, Tensor]:
        """Step the critics on ``q = Q_i(s, a)`` ``(2, batch)`` towards ``target``
        ``(batch,)``; ``next_sa`` is ``(s', a')`` of the target, ``(batch, in_dim)``."""
        critic_loss = (q - target).square().mean(dim=1).sum()
        self.critic_optim.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optim.step()
        if not metrics:
            return {}
        return {"loss/critic": critic_loss.detach(), "stats/q_mean": q.detach().mean()}

    @torch.no_grad()
    def _update_targets(self) -> None:
        if self.speed.foreach_polyak:
            torch._foreach_lerp_(self._target, self._online, self.config.tau)
        else:
            for target, online in zip(self._target, self._online, strict=True):
                target.mul_(1.0 - self.config.tau).add_(online, alpha=self.config.tau)

    # --------------------------------------------------------------- checkpoints
    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        optims = {"actor_optim": self.actor_optim, "critic_optim": self.critic_optim}
        if self.alpha_optim is not None:
            optims["alpha_optim"] = self.alpha_optim
        return optims

    def _tensors(self) -> dict[str, Tensor]:
        return {"log_alpha": self.log_alpha}

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, temperature, noise generator and update counter.

        Tensors and plain containers only (loadable with ``weights_only=True``); the numpy
        generator of random actions is in ``"np_rng"`` as a JSON-friendly dict.
        """
        state: dict[str, Any] = {name: m.state_dict() for name, m in self._modules().items()}
        state.update({name: o.state_dict() for name, o in self._optimizers().items()})
        state.update({name: t.detach().clone() for name, t in self._tensors().items()})
        state["generator"] = self.generator.get_state()
        state["np_rng"] = self.np_rng.bit_generator.state
        state["num_updates"] = self.num_updates
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (same config and speed options)."""
        for name, module in self._modules().items():
            module.load_state_dict(state[name])
        for name, optim in self._optimizers().items():
            optim.load_state_dict(state[name])
        with torch.no_grad():
            for name, tensor in self._tensors().items():
                tensor.copy_(state[name])
        self.generator.set_state(state["generator"])
        self.np_rng.bit_generator.state = state["np_rng"]
        self.num_updates = int(state["num_updates"])

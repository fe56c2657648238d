"""DisCor: SAC whose critic loss is reweighted by the estimated error of its targets.

Kumar, Gupta, Levine, "DisCor: Corrective Feedback in Reinforcement Learning via
Distribution Correction" (NeurIPS 2020). An error network ``Delta_i(s, a)`` per critic
estimates the discounted sum of the Bellman errors of ``Q_i`` along the policy:

    Delta_i(s, a) <- |Q_i(s, a) - y| + (1 - d) gamma Delta'_i(s', a'),    a' ~ pi(.|s')

(``Delta'`` the Polyak-averaged target error network), and transitions whose targets
are likely wrong get less weight in the critic loss:

    w_i = softmax_batch(-(1 - d) gamma Delta'_i(s', a') / tau_i),
    L_Q = sum_i sum_batch w_i (Q_i(s, a) - y)^2.

The temperature ``tau_i`` starts at ``error_tau_init`` and follows the mean predicted
error with the Polyak coefficient. These are the original implementation's choices:
self-normalised weights over the batch, a single-step ``gamma`` in the error terms
(``AgentConfig.error_nstep_discount`` switches to ``gamma^m``), four hidden layers.
Deliberate differences: one next-action sample ``a'`` serves the critic target, the
weights and the error target (the original draws three), and the critic and error
losses share one backward pass and one optimiser step (their parameters are disjoint).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from acgym.rl.networks import EnsembleMLP
from acgym.rl.replay import ReplayBatch
from acgym.rl.sac import SAC


class DisCor(SAC):
    """SAC with DisCor's error networks and weighted critic loss (same arguments)."""

    def _build_networks(self) -> None:
        super()._build_networks()
        config = self.config
        in_dim = self.input_dim + self.action_dim
        self.error = EnsembleMLP(2, in_dim, config.error_hidden, 1).to(self.device)
        self.error_target = copy.deepcopy(self.error).requires_grad_(False)
        self.error_tau = torch.full((2,), config.error_tau_init, device=self.device)
        self._online += list(self.error.parameters())
        self._target += list(self.error_target.parameters())

    def _critic_groups(self) -> list[dict[str, Any]]:
        return [
            *super()._critic_groups(),
            {"params": list(self.error.parameters()), "lr": self.config.error_lr},
        ]

    def _critic_step(
        self, batch: ReplayBatch, q: Tensor, next_sa: Tensor, target: Tensor, metrics: bool
    ) -> dict[str, Tensor]:
        discount = batch.discounts if self.config.error_nstep_discount else self.config.gamma
        with torch.no_grad():
            next_error = self.error_target(next_sa).squeeze(-1)  # (2, batch)
            discounted_next_error = (1.0 - batch.terminations) * discount * next_error
            weights = torch.softmax(-discounted_next_error / self.error_tau[:, None], dim=1)
        td = q - target
        critic_loss = (weights * td.square()).sum()
        sa = torch.cat([batch.observations, batch.actions], dim=-1)
        error = self.error(sa).squeeze(-1)  # (2, batch)
        error_target = td.detach().abs() + discounted_next_error
        error_loss = (error - error_target).square().mean(dim=1).sum()
        self.critic_optim.zero_grad(set_to_none=True)
        (critic_loss + error_loss).backward()
        self.critic_optim.step()
        error_mean = error.detach().mean(dim=1)
        self.error_tau.lerp_(error_mean, self.config.tau)
        if not metrics:
            return {}
        return {
            "loss/critic": critic_loss.detach(),
            "loss/error": error_loss.detach(),
            "stats/q_mean": q.detach().mean(),
            "stats/error_mean": error_mean.mean(),
            "stats/error_tau": self.error_tau.mean(),
            # 1 = uniform weights; large = a few transitions dominate the critic loss.
            "stats/weight_max_x_batch": weights.amax() * weights.shape[1],
        }

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {**super()._modules(), "error": self.error, "error_target": self.error_target}

    def _tensors(self) -> dict[str, Tensor]:
        return {**super()._tensors(), "error_tau": self.error_tau}

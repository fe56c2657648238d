"""Networks of SAC and DisCor: a squashed Gaussian actor and batched ensemble critics.

The twin critics (and DisCor's twin error networks) are one :class:`EnsembleMLP`: every
layer holds the weights of all members, shape ``(members, in, out)``, and runs as one
``torch.baddbmm``, so both critics are evaluated in a single pass. Initialisation follows
the original implementation: Xavier-uniform weights, zero biases, ReLU hidden layers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# Bounds of the actor's log standard deviation (the original's GaussianPolicy).
LOG_STD_MIN = -20.0
LOG_STD_MAX = 2.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """A ReLU multilayer perceptron with the original's Xavier-uniform init, zero biases."""
    layers: list[nn.Module] = []
    units = in_dim
    for width in hidden:
        layers += [nn.Linear(units, width), nn.ReLU()]
        units = width
    layers.append(nn.Linear(units, out_dim))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class EnsembleMLP(nn.Module):
    """``members`` independent ReLU MLPs evaluated in one batched pass.

    Layer ``k`` stores ``weight_k`` of shape ``(members, in_k, out_k)`` and ``bias_k`` of
    shape ``(members, 1, out_k)``; member ``m`` is exactly the MLP with
    ``nn.Linear.weight = weight_k[m].T`` and ``bias = bias_k[m, 0]``.

    Args:
        members: number of independent networks (2 for twin critics).
        in_dim: input width.
        hidden: hidden layer widths.
        out_dim: output width of each member.
    """

    def __init__(self, members: int, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.members = members
        dims = [in_dim, *hidden, out_dim]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(dims):
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # Xavier uniform, gain 1
            weight = torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))
        self._refresh_param_lists()

    def _refresh_param_lists(self) -> None:
        # Plain lists: iterating a ParameterList costs ~13 us per forward pass.
        self._weight_list = list(self.weights)
        self._bias_list = list(self.biases)

    def _apply(self, fn: Any, recurse: bool = True) -> EnsembleMLP:
        result = super()._apply(fn, recurse)
        self._refresh_param_lists()  # .to() may replace the parameters
        return result

    def _params(self, params: Sequence[Tensor] | None) -> tuple[Sequence[Tensor], Sequence[Tensor]]:
        if params is None:
            return self._weight_list, self._bias_list
        num_layers = len(self._weight_list)
        return params[:num_layers], params[num_layers:]

    def forward(self, x: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """Evaluate every member.

        Args:
            x: input, ``(batch, in_dim)`` shared by all members, or ``(members, batch,
                in_dim)``.
            params: optional replacement tensors in ``parameters()`` order (weights then
                biases); detached copies let a loss reach the input without
                computing weight gradients.

        Returns:
            ``(members, batch, out_dim)``.
        """
        weights, biases = self._params(params)
        h = x.expand(self.members, *x.shape) if x.dim() == 2 else x
        return self._layers_from(torch.baddbmm(biases[0], h, weights[0]), weights, biases)

    def first_layer_term(self, x_head: Tensor, params: Sequence[Tensor] | None = None) -> Tensor:
        """The first layer's pre-activation from the leading input columns only.

        ``bias_0 + x_head @ weight_0[:, :k]`` for ``x_head`` of shape ``(batch, k)``: a
        term that several passes with the same leading inputs (the observation) and
        different trailing ones (actions) can share; see :meth:`forward_with_term`.

        Returns:
            ``(members, batch, hidden_0)``.
        """
        weights, biases = self._params(params)
        head = x_head.shape[-1]
        x_head = x_head.expand(self.members, *x_head.shape)
        return torch.baddbmm(biases[0], x_head, weights[0][:, :head])

    def forward_with_term(
        self, term: Tensor, x_tail: Tensor, params: Sequence[Tensor] | None = None
    ) -> Tensor:
        """``forward(cat([x_head, x_tail], -1))`` given ``term = first_layer_term(x_head)``.

        Args:
            term: ``(members, batch, hidden_0)`` from :meth:`first_layer_term`.
            x_tail: ``(batch, in_dim - k)`` the trailing input columns; a gradient
                reaching it costs a ``(in_dim - k)``-column product, not ``in_dim``.
            params: as in :meth:`forward`.

        Returns:
            ``(members, batch, out_dim)``.
        """
        weights, biases = self._params(params)
        tail = x_tail.shape[-1]
        x_tail = x_tail.expand(self.members, *x_tail.shape)
        first = torch.baddbmm(term, x_tail, weights[0][:, weights[0].shape[1] - tail :])
        return self._layers_from(first, weights, biases)

    @staticmethod
    def _layers_from(first: Tensor, weights: Sequence[Tensor], biases: Sequence[Tensor]) -> Tensor:
        """The rest of the forward pass from the first layer's pre-activation."""
        h = first
        for k in range(1, len(weights)):
            h = F.relu(h)
            weight, bias = weights[k], biases[k]
            if weight.shape[-1] == 1:
                # One output column: multiply-and-sum is 2-3x faster than a degenerate
                # bmm on CPU (forward and backward), and no slower on GPU.
                h = (h * weight.transpose(1, 2)).sum(dim=-1, keepdim=True) + bias
            else:
                h = torch.baddbmm(bias, h, weight)
        return h

    def member(self, index: int) -> nn.Sequential:
        """A standalone copy of member ``index`` as an ``nn.Sequential`` of ``nn.Linear``."""
        layers: list[nn.Module] = []
        for k, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            linear = nn.Linear(weight.shape[1], weight.shape[2])
            with torch.no_grad():
                linear.weight.copy_(weight[index].T)
                linear.bias.copy_(bias[index, 0])
            layers.append(linear)
            if k < len(self.weights) - 1:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)


class SquashedGaussianActor(nn.Module):
    """Gaussian policy squashed by ``tanh`` into ``[-1, 1]^action_dim``.

    Args:
        obs_dim: observation width.
        action_dim: action width.
        hidden: hidden layer widths.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.net = mlp(obs_dim, hidden, 2 * action_dim)
        self._linears = [m for m in self.net if isinstance(m, nn.Linear)]

    def _mean_log_std(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        # The layers called directly: nn.Module.__call__ per layer is measurable overhead.
        h = obs
        for layer in self._linears[:-1]:
            h = F.relu(F.linear(h, layer.weight, layer.bias))
        last = self._linears[-1]
        mean, log_std = F.linear(h, last.weight, last.bias).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def forward(
        self, obs: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Sample actions with the reparameterisation trick.

        Args:
            obs: ``(batch, obs_dim)``.
            generator: random source of the Gaussian noise.

        Returns:
            ``(action, log_prob, mean_action)``: the sampled action ``(batch,
            action_dim)`` in ``[-1, 1]``, its log-density ``(batch,)`` including the
            tanh correction, and the deterministic action ``tanh(mean)``.
        """
        mean, log_std = self._mean_log_std(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        pre_tanh = mean + log_std.exp() * noise
        action = torch.tanh(pre_tanh)
        # log N(u; mean, std) - sum log(1 - tanh(u)^2), the latter in the stable form
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) (SAC paper, appendix C).
        log_prob = (
            -0.5 * noise.square()
            - log_std
            - _HALF_LOG_2PI
            - 2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))
        ).sum(dim=-1)
        return action, log_prob, torch.tanh(mean)

    def mean_action(self, obs: Tensor) -> Tensor:
        """The deterministic action ``tanh(mean)``, ``(batch, action_dim)``."""
        return torch.tanh(self._mean_log_std(obs)[0])

    def sample_action(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A sampled action ``(batch, action_dim)`` without its log-density (acting)."""
        mean, log_std = self._mean_log_std(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return torch.tanh(mean + log_std.exp() * noise)

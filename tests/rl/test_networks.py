"""Networks: the batched twin critic equals two separate MLPs; the actor's log-density."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from acgym.rl.networks import EnsembleMLP, SquashedGaussianActor


def test_ensemble_members_equal_separate_mlps_in_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    ensemble = EnsembleMLP(2, in_dim=7, hidden=(16, 16, 16), out_dim=1).double()
    separate = [ensemble.member(i).double() for i in range(2)]
    x = torch.randn(32, 7, dtype=torch.float64, requires_grad=True)
    x_separate = x.detach().clone().requires_grad_(True)

    out = ensemble(x)  # (2, 32, 1)
    out_separate = torch.stack([net(x_separate) for net in separate])
    assert out.shape == (2, 32, 1)
    torch.testing.assert_close(out, out_separate)

    weights = torch.randn(2, 32, 1, dtype=torch.float64)
    (out * weights).sum().backward()
    (out_separate * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_separate.grad)
    for i, net in enumerate(separate):
        linears = [m for m in net if isinstance(m, torch.nn.Linear)]
        for k, linear in enumerate(linears):
            torch.testing.assert_close(ensemble.weights[k].grad[i], linear.weight.grad.T)
            torch.testing.assert_close(ensemble.biases[k].grad[i, 0], linear.bias.grad)


def test_ensemble_accepts_one_input_per_member() -> None:
    ensemble = EnsembleMLP(3, in_dim=4, hidden=(8,), out_dim=2)
    x = torch.randn(3, 5, 4)
    out = ensemble(x)
    for i in range(3):
        torch.testing.assert_close(out[i], ensemble.member(i)(x[i]))


def test_ensemble_init_is_xavier_uniform_with_zero_bias() -> None:
    ensemble = EnsembleMLP(2, in_dim=256, hidden=(256,), out_dim=256)
    bound = math.sqrt(6.0 / 512)
    for weight in ensemble.weights:
        assert weight.abs().max() <= bound
        assert weight.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.02)
    assert all(torch.count_nonzero(b) == 0 for b in ensemble.biases)


def test_actor_log_prob_matches_tanh_transformed_gaussian() -> None:
    torch.manual_seed(1)
    actor = SquashedGaussianActor(obs_dim=5, action_dim=3, hidden=(32, 32)).double()
    obs = torch.randn(64, 5, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    action, log_prob, mean_action = actor(obs, generator)
    mean, log_std = actor.net(obs).chunk(2, dim=-1)
    log_std = log_std.clamp(-20.0, 2.0)
    pre_tanh = torch.atanh(action)
    expected = (Normal(mean, log_std.exp()).log_prob(pre_tanh) - torch.log1p(-action.square())).sum(
        -1
    )
    torch.testing.assert_close(log_prob, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mean_action, torch.tanh(mean))
    torch.testing.assert_close(actor.mean_action(obs), torch.tanh(mean))
    assert action.abs().max() <= 1.0


def test_actor_noise_comes_from_the_given_generator() -> None:
    actor = SquashedGaussianActor(obs_dim=2, action_dim=1, hidden=(8,))
    obs = torch.zeros(4, 2)
    first = actor(obs, torch.Generator().manual_seed(5))[0]
    second = actor(obs, torch.Generator().manual_seed(5))[0]
    torch.testing.assert_close(first, second)

"""SAC and DisCor agents: the update's maths, speed switches, actions, config, checkpoints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from acgym.config import TrainingConfig
from acgym.config_loader import load_section
from acgym.errors import ConfigError, DataFileError
from acgym.rl import SAC, DisCor, SpeedOptions
from acgym.rl.checkpoint import load_agent, load_checkpoint, save_checkpoint
from acgym.rl.config import AgentConfig, TrainerConfig
from acgym.rl.replay import ReplayBatch

SMALL = dict(actor_hidden=(16, 16), critic_hidden=(16, 16), error_hidden=(16, 16), replay_size=500)
PLAIN = SpeedOptions(
    optimizer="loop",
    foreach_polyak=False,
    detach_critic_in_actor_loss=False,
    joint_actor_alpha_step=False,
    shared_obs_term=False,
)


def _agent(algorithm: str = "sac", speed: SpeedOptions | None = None, **overrides: object) -> SAC:
    config = AgentConfig(algorithm=algorithm, batch_size=32, device="cpu", **{**SMALL, **overrides})
    cls = DisCor if algorithm == "discor" else SAC
    return cls(3, 2, config, speed=speed)


def _fill(agent: SAC, steps: int = 200, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for t in range(steps):
        agent.observe(
            rng.normal(size=3),
            rng.uniform(-1, 1, 2),
            rng.normal(),
            rng.normal(size=3),
            t % 50 == 49,
            t % 50 == 24,
        )


def _params(agent: SAC) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value.detach().clone()
        for name, module in agent._modules().items()
        for key, value in module.state_dict().items()
    } | {"log_alpha": agent.log_alpha.detach().clone()}


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_fast_update_computes_the_same_as_the_plain_one(algorithm: str) -> None:
    fast, plain = _agent(algorithm), _agent(algorithm, PLAIN)
    _fill(fast)
    _fill(plain)
    for _ in range(5):
        fast_metrics, plain_metrics = fast.update(), plain.update()
    for key, value in _params(fast).items():
        torch.testing.assert_close(value, _params(plain)[key], rtol=1e-4, atol=1e-5, msg=key)
    for key, value in fast_metrics.items():
        torch.testing.assert_close(value, plain_metrics[key], rtol=1e-4, atol=1e-5, msg=key)


def test_temperature_rises_when_entropy_is_below_target() -> None:
    agent = _agent(target_entropy=100.0)  # unreachable: alpha must grow
    _fill(agent)
    agent.update(10)
    assert agent.alpha > 1.0
    frozen = _agent(target_entropy=100.0)
    _fill(frozen)
    frozen.update(10, update_alpha=False)
    assert frozen.alpha == 1.0


def test_target_entropy_moves_linearly_to_its_final_value_then_stays() -> None:
    constant = _agent()
    _fill(constant)
    constant.update(4)
    assert constant.target_entropy == -2.0  # -action_dim, unchanged by updates
    agent = _agent(final_target_entropy=-6.0, target_entropy_updates=8)
    _fill(agent)
    seen = [agent.target_entropy]
    for _ in range(5):
        metrics = agent.update(2)
        seen.append(agent.target_entropy)
    assert seen == [-2.0, -3.0, -4.0, -5.0, -6.0, -6.0]
    # The temperature's loss of the last update used the target of that update.
    assert float(metrics["stats/target_entropy"]) == -6.0


def test_a_lower_final_target_entropy_lowers_the_temperature() -> None:
    kept = _agent(target_entropy=100.0)  # unreachable: alpha grows
    lowered = _agent(target_entropy=100.0, final_target_entropy=-100.0, target_entropy_updates=1)
    for agent in (kept, lowered):
        _fill(agent)
        agent.update(20)
    assert lowered.alpha < 1.0 < kept.alpha


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_learning_rates_fall_linearly_between_the_given_updates_but_the_temperatures(
    algorithm: str,
) -> None:
    rates = {"actor_lr": 1e-3, "critic_lr": 2e-3, "error_lr": 4e-3, "alpha_lr": 3e-4}
    agent = _agent(algorithm, final_lr_fraction=0.1, lr_decay_updates=(2, 6), **rates)
    _fill(agent)

    def groups() -> dict[float, float]:
        """Each param group's learning rate now, keyed by its configured one."""
        return {
            g["initial_lr"]: g["lr"] for o in agent._optimizers().values() for g in o.param_groups
        }

    fractions = []
    for _ in range(4):
        agent.update(2)
        fractions.append(agent.lr_fraction)
        assert groups()[3e-4] == 3e-4  # the temperature's rate is kept
    assert fractions == pytest.approx([1.0, 0.55, 0.1, 0.1])
    decayed = {1e-3: 1e-4, 2e-3: 2e-4, 3e-4: 3e-4} | ({4e-3: 4e-4} if algorithm == "discor" else {})
    assert groups() == pytest.approx(decayed)


def test_a_resumed_agent_continues_the_learning_rate_schedule() -> None:
    agent = _agent(final_lr_fraction=0.5, lr_decay_updates=(0, 10))
    _fill(agent)
    agent.update(4)
    resumed = _agent(final_lr_fraction=0.5, lr_decay_updates=(0, 10))
    _fill(resumed)  # the same transitions (the replay is saved apart)
    resumed.load_state_dict(agent.state_dict())
    for a in (agent, resumed):
        a.update(2)
    assert resumed.lr_fraction == agent.lr_fraction == pytest.approx(0.7)
    assert resumed.actor_optim.param_groups[0]["lr"] == pytest.approx(0.7 * 3e-4)
    assert resumed.actor_optim.param_groups[0]["lr"] == agent.actor_optim.param_groups[0]["lr"]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"final_lr_fraction": 1.5}, "final_lr_fraction"),
        ({"final_lr_fraction": -0.1}, "final_lr_fraction"),
        ({"lr_decay_updates": (5, 5)}, "lr_decay_updates"),
        ({"lr_decay_updates": (-1, 5)}, "lr_decay_updates"),
    ],
)
def test_a_bad_learning_rate_schedule_is_refused(overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AgentConfig(**overrides)


def test_target_entropy_updates_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="target_entropy_updates"):
        AgentConfig(target_entropy_updates=0)


def test_target_networks_follow_by_polyak_averaging() -> None:
    agent = _agent(tau=0.25)
    _fill(agent)
    target_before = [p.clone() for p in agent.critic_target.parameters()]
    agent.update()
    for before, online, after in zip(
        target_before, agent.critic.parameters(), agent.critic_target.parameters(), strict=True
    ):
        torch.testing.assert_close(after, 0.75 * before + 0.25 * online.detach())


def test_critic_target_uses_n_step_reward_discount_and_termination() -> None:
    agent = _agent()
    obs = torch.zeros(4, 3)
    batch = ReplayBatch(
        obs,
        torch.zeros(4, 2),
        torch.tensor([1.0, 2.0, 3.0, 4.0]),
        obs,
        torch.tensor([0.0, 1.0, 0.0, 1.0]),
        torch.tensor([0.5, 0.5, 0.25, 0.25]),
    )
    captured = {}
    agent._critic_step = lambda batch, sa, next_sa, target, metrics: (
        captured.update(target=target) or {}
    )
    generator_state = agent.generator.get_state()
    agent.update_on_batch(batch)
    agent.generator.set_state(generator_state)
    # Recompute the soft value of s' with the same noise draw order: policy step first.
    with torch.no_grad():
        agent.actor(obs, agent.generator)  # the policy step's sample
        next_action, next_log_prob, _ = agent.actor(obs, agent.generator)
        next_q = agent.critic_target(torch.cat([obs, next_action], -1)).squeeze(-1).amin(0)
        value = next_q - agent.log_alpha.exp() * next_log_prob
    expected = batch.rewards + (1 - batch.terminations) * batch.discounts * value
    torch.testing.assert_close(captured["target"], expected)
    assert captured["target"][1] == 2.0 and captured["target"][3] == 4.0


def _discor_with_constant_target_error(value: float, tau: float = 10.0) -> DisCor:
    agent = _agent("discor", error_tau_init=tau)
    with torch.no_grad():
        agent.error_target.weights[-1].zero_()
        agent.error_target.biases[-1].fill_(value)
    return agent


def test_discor_weights_and_error_targets_match_the_closed_form() -> None:
    error_value, tau, gamma = 3.0, 2.0, 0.992
    agent = _discor_with_constant_target_error(error_value, tau)
    torch.manual_seed(0)
    batch = ReplayBatch(
        torch.randn(6, 3),
        torch.rand(6, 2) * 2 - 1,
        torch.zeros(6),
        torch.randn(6, 3),
        torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
        torch.full((6,), gamma**3),
    )
    target = torch.randn(6)
    sa = torch.cat([batch.observations, batch.actions], -1)
    next_sa = torch.cat([batch.next_observations, batch.actions], -1)
    with torch.no_grad():
        q = agent.critic(sa).squeeze(-1)
        error = agent.error(sa).squeeze(-1)
    metrics = agent._critic_step(batch, agent._current_q(batch, None), next_sa, target, True)
    # Non-terminal transitions weigh exp(-gamma * Delta / tau) relative to terminal ones.
    logits = -(1 - batch.terminations) * gamma * error_value / tau
    weights = torch.softmax(logits, 0)
    expected_critic = (weights * (q - target).square()).sum()
    error_target = (q - target).abs() + (1 - batch.terminations) * gamma * error_value
    expected_error = (error - error_target).square().mean(1).sum()
    torch.testing.assert_close(metrics["loss/critic"], expected_critic)
    torch.testing.assert_close(metrics["loss/error"], expected_error)
    # The temperature follows the mean predicted error.
    torch.testing.assert_close(agent.error_tau, tau + 0.005 * (error.mean(1) - tau))


def test_discor_with_zero_error_weighs_like_sac() -> None:
    agent = _discor_with_constant_target_error(0.0)
    _fill(agent)
    batch = agent.replay.sample(32)
    sa = torch.cat([batch.observations, batch.actions], -1)
    target = batch.rewards
    with torch.no_grad():
        q = agent.critic(sa).squeeze(-1)
    metrics = agent._critic_step(batch, agent._current_q(batch, None), sa, target, True)
    torch.testing.assert_close(metrics["loss/critic"], (q - target).square().mean(1).sum())


def test_discor_can_discount_errors_by_the_n_step_discount() -> None:
    agent = _discor_with_constant_target_error(1.0)
    agent.config = dataclasses.replace(agent.config, error_nstep_discount=True)
    batch = ReplayBatch(
        torch.zeros(2, 3),
        torch.zeros(2, 2),
        torch.zeros(2),
        torch.zeros(2, 3),
        torch.zeros(2),
        torch.tensor([0.5, 0.25]),
    )
    sa = torch.zeros(2, 5)
    with torch.no_grad():
        q = agent.critic(sa).squeeze(-1)
        error = agent.error(sa).squeeze(-1)
    metrics = agent._critic_step(batch, agent._current_q(batch, None), sa, torch.zeros(2), True)
    error_target = q.abs() + torch.tensor([0.5, 0.25])
    torch.testing.assert_close(metrics["loss/error"], (error - error_target).square().mean(1).sum())


def test_actions_are_scaled_to_the_environment_bounds_and_back() -> None:
    config = AgentConfig(device="cpu", **SMALL)
    agent = SAC(3, 2, config, action_low=[0.0, -2.0], action_high=[1.0, 6.0])
    actions = agent.act(np.zeros((100, 3)))
    assert actions.shape == (100, 2) and actions.dtype == np.float32
    assert np.all(actions >= [0.0, -2.0]) and np.all(actions <= [1.0, 6.0])
    assert agent.act(np.zeros(3), deterministic=True).shape == (2,)
    random = agent.random_action(1000)
    assert random.min(0) == pytest.approx([0.0, -2.0], abs=0.05)
    np.testing.assert_allclose(agent.normalize_action([[0.5, 2.0], [1.0, 6.0]]), [[0, 0], [1, 1]])
    np.testing.assert_allclose(agent.normalize_action([[9.0, -9.0]]), [[1.0, -1.0]])  # clipped


def test_agent_rejects_unbounded_actions() -> None:
    with pytest.raises(ConfigError, match="finite"):
        SAC(3, 1, AgentConfig(device="cpu", **SMALL), action_low=[-np.inf], action_high=[1.0])


def test_auto_device_prefers_cuda() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert AgentConfig().torch_device().type == expected
    assert AgentConfig(device="cpu").torch_device().type == "cpu"


def test_initialisation_is_seeded_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first, second = _agent(seed=7), _agent(seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    for key, value in _params(first).items():
        assert torch.equal(value, _params(second)[key])
    assert not torch.equal(
        _params(_agent(seed=8))["actor.net.0.weight"], _params(first)["actor.net.0.weight"]
    )


ORIGINAL_CONFIG = {  # the original config.yml's learning sections
    "seed": 0,
    "Agent": {
        "num_steps": 8_000_000,
        "batch_size": 128,
        "memory_size": 8_000_000,
        "offline_buffer_size": 12_000_000,
        "use_offline_buffer": False,
        "update_interval": 1,
        "start_steps": 2000,
        "log_interval": 10,
        "eval_interval": 0,
        "num_eval_episodes": 1,
        "checkpoint_freq": 200_000,
    },
    "SAC": {
        "gamma": 0.992,
        "nstep": 3,
        "policy_lr": 0.0003,
        "q_lr": 0.0003,
        "entropy_lr": 0.0003,
        "policy_hidden_units": [256, 256, 256],
        "q_hidden_units": [256, 256, 256],
        "target_update_coef": 0.005,
        "log_interval": 10,
    },
    "DisCor": {"error_lr": 0.0003, "error_hidden_units": [256, 256, 256, 256], "tau_init": 10.0},
    "AssettoCorsa": {"track": "monza"},  # the environment's section is not ours
}


def test_defaults_are_the_original_hyperparameters() -> None:
    tree = {**ORIGINAL_CONFIG, "algo": "discor"}
    assert load_section(AgentConfig, tree, section="agent") == AgentConfig(algorithm="discor")
    assert load_section(TrainingConfig, tree, section="train").trainer_config() == TrainerConfig()


def test_original_keys_are_translated_and_unknown_ones_refused() -> None:
    tree = {"SAC": {"nstep": 5, "q_lr": 1e-3}, "Agent": {"update_interval": 2}}
    agent_config = load_section(AgentConfig, tree, section="agent")
    assert agent_config.n_step == 5 and agent_config.critic_lr == 1e-3
    assert load_section(TrainingConfig, tree, section="train").updates_per_step == 0.5
    with pytest.raises(ConfigError, match=r"SAC\.lr"):
        load_section(AgentConfig, {"SAC": {"lr": 1e-3}}, section="agent")
    with pytest.raises(ConfigError, match="unknown config key 'gama'; did you mean 'gamma'"):
        load_section(AgentConfig, {"gamma": 0.9, "gama": 0.9}, section="agent")


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_checkpoint_round_trip_continues_identically(algorithm: str, tmp_path: Path) -> None:
    agent = _agent(algorithm)
    _fill(agent)
    agent.update(3)
    save_checkpoint(tmp_path / "ckpt", agent, save_replay=True, extra={"note": "x"})
    restored = _agent(algorithm, seed=99)
    meta = load_checkpoint(tmp_path / "ckpt", restored)
    assert meta["extra"] == {"note": "x"} and restored.num_updates == 3
    agent.update(4)
    restored.update(4)
    for key, value in _params(agent).items():
        assert torch.equal(value, _params(restored)[key]), key
    assert np.array_equal(agent.act(np.ones(3)), restored.act(np.ones(3)))
    assert np.array_equal(agent.random_action(), restored.random_action())
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "agent.pt",
        "meta.json",
        "replay.npz",
    ]
    json.loads((tmp_path / "ckpt" / "meta.json").read_text())


def test_load_agent_rebuilds_a_policy_for_evaluation(tmp_path: Path) -> None:
    agent = _agent("discor")
    save_checkpoint(tmp_path / "ckpt", agent)
    policy = load_agent(tmp_path / "ckpt")
    assert isinstance(policy, DisCor) and len(policy.replay) == 0
    obs = np.linspace(-1, 1, 3)
    assert np.array_equal(policy.act(obs, deterministic=True), agent.act(obs, deterministic=True))


def test_incomplete_checkpoint_is_refused(tmp_path: Path) -> None:
    agent = _agent()
    save_checkpoint(tmp_path / "ckpt", agent)
    (tmp_path / "ckpt" / "meta.json").unlink()
    with pytest.raises(DataFileError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path / "ckpt", agent)


def test_checkpoint_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ckpt", _agent("sac"))
    with pytest.raises(DataFileError, match="algorithm"):
        load_checkpoint(tmp_path / "ckpt", _agent("discor"))


def _demonstrations(agent: SAC, steps: int = 256, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Transitions whose actions are a fixed function of the observation, reward 0."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(steps, 3))
    actions = np.tanh(np.stack((obs[:, 0] - obs[:, 1], 0.5 * obs[:, 2]), axis=1))
    for t in range(steps):
        agent.observe(obs[t], actions[t], 0.0, rng.normal(size=3), False, t % 32 == 31)
    return obs, actions


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_behaviour_cloning_in_pretraining_pulls_the_policy_to_the_demonstrations(
    algorithm: str,
) -> None:
    """``bc_alpha`` adds |tanh(mu) - a|^2 to the actor loss (TD3+BC): after the same
    updates on the same demonstrations, the cloned policy's mean action is near the
    demonstrated one, much nearer than plain SAC's, and the loss is reported."""
    errors = {}
    for bc_alpha in (None, 2.5):
        agent = _agent(algorithm, actor_lr=1e-3)
        obs, actions = _demonstrations(agent)
        metrics = agent.update(1500, update_alpha=False, bc_alpha=bc_alpha)
        with torch.no_grad():
            mean = agent.actor.mean_action(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        errors[bc_alpha] = float(np.mean((mean - actions) ** 2))
        assert ("loss/behaviour_cloning" in metrics) == (bc_alpha is not None)
    assert errors[2.5] < 0.06
    assert errors[2.5] < 0.25 * errors[None]


def test_pretrain_bc_alpha_is_positive_or_null() -> None:
    from acgym.config import load_config

    assert load_config(None, ["train.pretrain_bc_alpha=null"]).train.pretrain_bc_alpha is None
    assert load_config(None, []).train.pretrain_bc_alpha == 2.5
    with pytest.raises(ConfigError, match="pretrain_bc_alpha must be a positive number or null"):
        load_config(None, ["train.pretrain_bc_alpha=0"])

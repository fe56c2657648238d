"""SAC and DisCor really learn: a point on a line driven to the origin in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from rl_envs import PointEnv

from acgym.rl import AgentConfig, Trainer, TrainerConfig, evaluate_policy

EVAL_EPISODES = 20
EVAL_SEED = 1000


def _return_of(policy: object) -> float:
    """Mean return of ``policy(x) -> a`` on the evaluation episodes."""
    env, returns = PointEnv(), []
    for episode in range(EVAL_EPISODES):
        obs, _ = env.reset(seed=EVAL_SEED + episode)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(np.array([policy(float(obs[0]))]))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_agent_learns_to_drive_a_point_to_the_origin(algorithm: str) -> None:
    agent_config = AgentConfig(
        algorithm=algorithm,
        actor_hidden=(32, 32),
        critic_hidden=(32, 32),
        error_hidden=(32, 32),
        actor_lr=1e-3,
        critic_lr=1e-3,
        alpha_lr=1e-3,
        error_lr=1e-3,
        gamma=0.9,
        batch_size=64,
        replay_size=5000,
        device="cpu",
    )
    config = TrainerConfig(total_steps=1200, start_steps=200, progress=False, checkpoint_interval=0)
    with Trainer(PointEnv(), config, agent_config=agent_config) as trainer:
        trainer.train()
    learned = evaluate_policy(PointEnv(), trainer.agent, EVAL_EPISODES, seed=EVAL_SEED)
    optimal = _return_of(lambda x: float(np.clip(-x / 0.25, -1.0, 1.0)))
    standing_still = _return_of(lambda x: 0.0)
    assert standing_still < optimal - 8.0  # the task is not trivial to score on
    # Within 10% of the gap between doing nothing and the optimum.
    assert learned["return_mean"] > optimal - 0.1 * (optimal - standing_still)

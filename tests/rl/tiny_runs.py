"""Overrides of a tiny ``acgym train`` run on the built-in simulator (seconds, not hours)."""

from __future__ import annotations

TINY = [
    "agent.actor_hidden=[32,32]",
    "agent.critic_hidden=[32,32]",
    "agent.batch_size=32",
    "agent.replay_size=5000",
    "train.start_steps=100",
    "train.log_interval=50",
    "train.progress=false",
    "env.max_episode_py_time=12",  # 300 steps: several episodes in a tiny run
]

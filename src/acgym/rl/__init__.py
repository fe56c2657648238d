"""Reinforcement learning: SAC and DisCor with n-step replay, checkpoints, a training loop.

The agent API (:class:`SAC`, :class:`DisCor`) is what every training loop uses:
``act(obs) -> action``, ``observe(...)`` to store transitions, ``update(num_updates) ->
metrics``; :class:`Trainer` is the generic lock-step / vector-env loop around it.
"""

from __future__ import annotations

from acgym.rl.checkpoint import load_agent, load_checkpoint, save_checkpoint
from acgym.rl.config import AgentConfig, TrainerConfig, from_original
from acgym.rl.discor import DisCor
from acgym.rl.replay import EnsembleReplay, NStepReplay, ReplayBatch
from acgym.rl.sac import SAC, SpeedOptions
from acgym.rl.trainer import Callback, EpisodeStats, Trainer, evaluate_policy, make_agent

__all__ = [
    "SAC",
    "AgentConfig",
    "Callback",
    "DisCor",
    "EnsembleReplay",
    "EpisodeStats",
    "NStepReplay",
    "ReplayBatch",
    "SpeedOptions",
    "Trainer",
    "TrainerConfig",
    "evaluate_policy",
    "from_original",
    "load_agent",
    "load_checkpoint",
    "make_agent",
    "save_checkpoint",
]

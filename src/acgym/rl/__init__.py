"""Reinforcement learning: SAC and DisCor with n-step replay, checkpoints, a training loop.

The agent API (:class:`SAC`, :class:`DisCor`) is what every training loop uses:
``act(obs) -> action``, ``observe(...)`` to store transitions, ``update(num_updates) ->
metrics``; :class:`Trainer` is the generic lock-step / vector-env / real-time loop around
it. A whole run (``acgym train``) is :func:`acgym.rl.run.run_training`; evaluation
(``acgym eval``) :mod:`acgym.rl.evaluation`; offline data :mod:`acgym.rl.offline`; the
expert's laps :mod:`acgym.rl.expert`; lap statistics :mod:`acgym.rl.laps`.
"""

from __future__ import annotations

from acgym.rl.checkpoint import load_agent, load_checkpoint, save_checkpoint
from acgym.rl.config import AgentConfig, TrainerConfig
from acgym.rl.discor import DisCor
from acgym.rl.laps import EpisodeLaps, Lap, LapTracker, laps_from_states
from acgym.rl.realtime import RealTimeEnv
from acgym.rl.replay import EnsembleReplay, NStepReplay, ReplayBatch
from acgym.rl.sac import SAC, SpeedOptions
from acgym.rl.trainer import Callback, EpisodeStats, Trainer, evaluate_policy, make_agent

__all__ = [
    "SAC",
    "AgentConfig",
    "Callback",
    "DisCor",
    "EnsembleReplay",
    "EpisodeLaps",
    "EpisodeStats",
    "Lap",
    "LapTracker",
    "NStepReplay",
    "RealTimeEnv",
    "ReplayBatch",
    "SpeedOptions",
    "Trainer",
    "TrainerConfig",
    "evaluate_policy",
    "laps_from_states",
    "load_agent",
    "load_checkpoint",
    "make_agent",
    "save_checkpoint",
]

"""The Gymnasium racing environment: config, actions, observations, rewards,
terminations, episode log and the orchestrator over a backend."""

from __future__ import annotations

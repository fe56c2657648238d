"""Shared settings of the acgym.dist tests: tiny, fast runs on the built-in oval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from acgym.config import Config, load_config

TINY = (
    "env.track=oval",
    "agent.actor_hidden=[32,32]",
    "agent.critic_hidden=[32,32]",
    "agent.batch_size=32",
    "agent.replay_size=20000",
    "agent.num_threads=1",
    "agent.device=cpu",
    "train.start_steps=64",
    "train.updates_per_step=0.25",
    "train.send_steps=32",
    "train.weight_sync_updates=5",
    "train.log_interval=50",
    "train.eval_at_end=false",
    "train.progress=false",
    "env.max_episode_py_time=12",  # 300 steps: short episodes and final evaluations
)
"""Overrides of every test run: small networks, short segments, no final evaluation."""


def tiny_config(*overrides: str) -> Config:
    """The test settings, then ``overrides``."""
    return load_config(None, [*TINY, *overrides])


def stored_rows(replay: Any) -> np.ndarray:
    """Every stored transition's ``(s_t, a_t)`` as one row (a step of a car is unique)."""
    stored = replay.stored()
    return np.concatenate([stored["observations"], stored["actions"]], axis=1)


def count_unique(rows: np.ndarray) -> int:
    """Distinct rows of a 2-D array."""
    return len(np.unique(rows, axis=0))


def free_ports(count: int) -> Sequence[int]:
    """``count`` loopback ports free now (UDP and TCP)."""
    import socket

    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        if port not in ports:
            ports.append(port)
    return ports

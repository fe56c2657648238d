"""``acgym bench pixels``: gradient updates per second of SAC and DisCor on pixels.

The agents of ``acgym train env.image.enabled=true`` (:mod:`acgym.rl.pixel_sac`): the
default camera's 64 x 64 grey images, 3 stacked, beside the 125-value vector; the default
encoder (``agent.encoder_channels``, ``encoder_feature_dim``), networks and batch (128),
the replay filled with random observations. One update encodes the batch twice (with
and without gradients), shifts every image and steps the encoder with the critics.
Each figure is the best (and median) of calibrated loops (:func:`acgym.timing.time_per_call_s`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from acgym.timing import time_per_call_s

IMAGE = (1, 64, 64)
FRAME_STACK = 3
VECTOR_DIM = 125


def _agent(algorithm: str, threads: int) -> Any:
    import torch

    from acgym.rl.config import AgentConfig
    from acgym.rl.pixel_sac import agent_class
    from acgym.rl.pixels import PixelLayout

    torch.set_num_threads(threads)
    layout = PixelLayout(*IMAGE, FRAME_STACK, VECTOR_DIM)
    config = AgentConfig(algorithm=algorithm, replay_size=2_000, device="cpu", num_threads=threads)
    agent = agent_class(algorithm, layout)(layout.flat_dim, 3, config, pixels=layout)
    rng = np.random.default_rng(0)
    for _ in range(300):
        pixels = rng.integers(0, 256, (1, layout.pixel_dim)).astype(np.float32)
        obs = np.concatenate([pixels, rng.normal(size=(1, VECTOR_DIM)).astype(np.float32)], 1)
        agent.observe(obs, rng.uniform(-1, 1, (1, 3)), [1.0], obs, [False], [False])
    return agent


def warm_up(args: argparse.Namespace) -> None:
    """One update of each agent (PyTorch's first calls)."""
    for algorithm in ("sac", "discor"):
        _agent(algorithm, 1).update(1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The figures (``args.quick``: short loops, a smoke check)."""
    quick = bool(getattr(args, "quick", False))
    min_time_s, repeats = (0.05, 1) if quick else (3.0, 3)
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    for algorithm in ("sac", "discor"):
        for threads in (1, 2):
            agent = _agent(algorithm, threads)
            timing = time_per_call_s(lambda: agent.update(1), min_time_s, repeats)  # noqa: B023
            results[f"{algorithm}_{threads}_threads"] = {
                "best_updates_per_s": 1.0 / timing["best_s"],
                "median_updates_per_s": 1.0 / timing["median_s"],
            }
    return {
        "setup": {
            "image": f"{IMAGE} x {FRAME_STACK} stacked, vector {VECTOR_DIM}",
            "agent": "AgentConfig defaults (batch 128, 3 x 256 networks, encoder 16-32-32, 50 features)",
            "quick": quick,
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        },
        **results,
    }

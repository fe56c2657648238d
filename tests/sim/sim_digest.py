"""A fixed simulator run and the SHA-256 of its final states and outputs: run as a script
(a process of its own) and imported (this process) by the determinism tests."""

from __future__ import annotations

import hashlib

import numpy as np

from acgym.sim import World, list_cars, load_car


def run_digest(steps: int = 100) -> str:
    """Every preset three times in one batch, seeded random controls, ``steps`` steps."""
    world = World([load_car(name) for name in list_cars()] * 3)
    world.reset(speed_mps=12.0)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        world.step(rng.uniform(-1, 1, (world.num_cars, 3)))
    return hashlib.sha256(world.state.tobytes() + world.outputs.tobytes()).hexdigest()


if __name__ == "__main__":
    print(run_digest())

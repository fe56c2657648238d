"""``acgym bench env``: environment steps per second on the simulator, one core.

Timed: ``RacingEnv.step`` over ``LocalSim`` (one car) and ``RaceVectorEnv.step`` with 64
cars, both with the default observation (125 values: 11 rays, 12 curvature samples,
history), the default reward and episode rules, no episode files (``output_dir=None``),
and the built-in default track and car; then both again on real circuits
(:data:`REAL_CIRCUITS`) against the oval's figures (target: at least
:data:`TARGET_CIRCUIT_FRACTION` of them). Actions come from a seeded random policy (a
random walk of the steering, mostly throttle), so cars leave the track now and then:
the resets are inside the timing, as in training. Each figure is the best (and the
median) of several blocks of steps. The simulator's own step is timed inside the same
steps (the time spent in ``SimSession.step``, averaged over every block, warm-up
included), so the environment's share (median step time minus the simulator's) can be
read off. ``profile`` lists the functions with the most own time per single-env step
(cProfile; its overhead inflates every figure in it, so compare them with each other only).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

VECTOR_CARS = 64
"""Cars of the vector benchmark."""

TARGET_SINGLE_STEPS_PER_S = 5_000
TARGET_VECTOR_STEPS_PER_S = 50_000

REAL_CIRCUITS = ("Catalunya", "Suzuka")
"""Real circuits timed beside the oval (Suzuka crosses itself: the level-aware queries)."""

TARGET_CIRCUIT_FRACTION = 0.9
"""A real circuit's env steps/s: at least this fraction of the oval's."""


def policy_actions(num_steps: int, num_cars: int, seed: int = 0) -> NDArray[np.float32]:
    """``(T, N, 3)`` relative actions: steering noise, throttle mostly on, brake off."""
    rng = np.random.default_rng(seed)
    actions = np.empty((num_steps, num_cars, 3), dtype=np.float32)
    actions[..., 0] = rng.normal(0.0, 0.3, (num_steps, num_cars))
    actions[..., 1] = rng.normal(0.4, 0.4, (num_steps, num_cars))
    actions[..., 2] = -1.0
    return np.clip(actions, -1.0, 1.0)


class _TimedStep:
    """Wraps a session's ``step`` and adds up the time spent in it (the simulator's share of
    the very steps being timed)."""

    def __init__(self, session: Any) -> None:
        self._step = session.step
        self.seconds = 0.0
        session.step = self

    def __call__(self, *args: Any) -> None:
        start = time.perf_counter()
        self._step(*args)
        self.seconds += time.perf_counter() - start


def _blocks(step_block: Callable[[], int], repeats: int) -> dict[str, float]:
    """Steps per second of ``step_block`` (which returns its step count): best, median."""
    step_block()  # warm up (compilation, caches)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = step_block()
        rates.append(steps / (time.perf_counter() - start))
    return {"best_steps_per_s": max(rates), "median_steps_per_s": statistics.median(rates)}


def bench_single(
    num_steps: int, repeats: int, *, image: bool = False, track: str | None = None
) -> dict[str, Any]:
    """One ``acgym/Race-v0`` environment (no wrappers) on ``track`` (default: the default
    track): env steps per second."""
    from acgym.env.factory import make_race_env
    from acgym.track.builtin import DEFAULT_TRACK

    env = make_race_env(track or DEFAULT_TRACK, image=image)
    env.reset(seed=0)
    actions = policy_actions(num_steps, 1)[:, 0]
    resets = [0]

    def block() -> int:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
                resets[0] += 1
        return num_steps

    timer = _TimedStep(env.backend.session)  # type: ignore[attr-defined]
    result = _blocks(block, repeats)
    env.close()
    sim_us = 1e6 * timer.seconds / (num_steps * (repeats + 1))
    return {
        "track": env.track.name,
        **result,
        "us_per_step": 1e6 / result["best_steps_per_s"],
        "sim_us_per_step": sim_us,
        "env_us_per_step": 1e6 / result["median_steps_per_s"] - sim_us,
        "resets_per_1000_steps": 1000.0 * resets[0] / (num_steps * (repeats + 1)),
    }


def bench_vector(
    num_cars: int,
    num_steps: int,
    repeats: int,
    *,
    image: bool = False,
    track: str | None = None,
) -> dict[str, Any]:
    """``RaceVectorEnv`` with ``num_cars`` cars on ``track`` (default: the default
    track): env steps (car steps) per second."""
    from acgym.env.factory import make_race_vector_env
    from acgym.track.builtin import DEFAULT_TRACK

    env = make_race_vector_env(num_cars, track or DEFAULT_TRACK, image=image)
    env.reset(seed=0)
    actions = policy_actions(num_steps, num_cars)
    ends = [0]

    def block() -> int:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            ends[0] += int(np.count_nonzero(terminated | truncated))
        return num_steps * num_cars

    timer = _TimedStep(env.session)
    result = _blocks(block, repeats)
    env.close()
    sim_us = 1e6 * timer.seconds / (num_steps * (repeats + 1))
    median_us = 1e6 * num_cars / result["median_steps_per_s"]
    return {
        "track": env.track.name,
        "num_cars": num_cars,
        **result,
        "us_per_batched_step": 1e6 * num_cars / result["best_steps_per_s"],
        "sim_us_per_batched_step": sim_us,
        "env_us_per_car_step": (median_us - sim_us) / num_cars,
        "resets_per_1000_car_steps": 1000.0 * ends[0] / (num_steps * num_cars * (repeats + 1)),
    }


def profile_single(num_steps: int, top: int = 12) -> list[dict[str, Any]]:
    """The functions with the most own time in single-env steps (µs per step, cProfile)."""
    from acgym.env.factory import make_race_env

    env = make_race_env()
    env.reset(seed=0)
    actions = policy_actions(num_steps, 1, seed=1)[:, 0]

    def run() -> None:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    run()  # warm up
    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    env.close()
    return [
        {
            "function": f"{os.path.basename(path)}:{line}({name})",
            "own_us_per_step": 1e6 * own_s / num_steps,
            "calls_per_step": calls / num_steps,
        }
        for (path, line, name), (_, calls, own_s, _, _) in rows
    ]


def warm_up(args: argparse.Namespace) -> None:
    """The first reset and step of the single and the vector env, with and without the
    image (compiles the simulator's, the observation's and the image's kernels or loads
    them from the cache)."""
    from acgym.env.factory import make_race_env, make_race_vector_env

    for image in (False, True):
        for env in (make_race_env(image=image), make_race_vector_env(2, image=image)):
            env.reset(seed=0)
            env.step(np.zeros(env.action_space.shape, dtype=np.float32))
            env.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's figures (``args.quick``: short runs, a smoke check)."""
    quick = bool(getattr(args, "quick", False))
    steps, repeats = (200, 2) if quick else (3000, 7)
    vector_steps = 20 if quick else 300
    load_before = os.getloadavg()[0]
    single = bench_single(steps, repeats)
    vector = bench_vector(VECTOR_CARS, vector_steps, repeats)
    single_image = bench_single(steps // 2, repeats, image=True)
    vector_image = bench_vector(VECTOR_CARS, vector_steps // 2, repeats, image=True)
    circuits = {}
    for name in REAL_CIRCUITS:
        on_circuit = bench_single(steps, repeats, track=name)
        on_circuit_vector = bench_vector(VECTOR_CARS, vector_steps, repeats, track=name)
        circuits[name] = {
            "single": on_circuit,
            f"vector_{VECTOR_CARS}": on_circuit_vector,
            "single_fraction_of_oval": on_circuit["median_steps_per_s"]
            / single["median_steps_per_s"],
            "vector_fraction_of_oval": on_circuit_vector["median_steps_per_s"]
            / vector["median_steps_per_s"],
        }
    return {
        "setup": {
            "track": "oval (acgym.track.builtin.DEFAULT_TRACK)",
            "car": "dallara_f317",
            "observation": "default: 125 values (11 rays, 12 curvature samples, history)",
            "output_dir": None,
            "steps_per_block": {"single": steps, "vector_batched": vector_steps},
            "repeats": repeats,
            "quick": quick,
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        },
        "single": single,
        f"vector_{VECTOR_CARS}": vector,
        "single_with_image": single_image,
        f"vector_{VECTOR_CARS}_with_image": vector_image,
        "real_circuits": circuits,
        "profile_single": profile_single(steps),
        "targets": {
            "circuit_fraction_of_oval": TARGET_CIRCUIT_FRACTION,
            "circuits_met": all(
                c["single_fraction_of_oval"] >= TARGET_CIRCUIT_FRACTION
                and c["vector_fraction_of_oval"] >= TARGET_CIRCUIT_FRACTION
                for c in circuits.values()
            ),
            "single_steps_per_s": TARGET_SINGLE_STEPS_PER_S,
            "vector_env_steps_per_s": TARGET_VECTOR_STEPS_PER_S,
            "single_met": single["best_steps_per_s"] >= TARGET_SINGLE_STEPS_PER_S,
            "vector_met": vector["best_steps_per_s"] >= TARGET_VECTOR_STEPS_PER_S,
        },
    }

"""The simulator's expert driver (``acgym.sim.driver``) at the wheel of a ``RacingEnv``.

The expert is asked through the environment's simulator extension
(``env.unwrapped.expert_action()``, :mod:`acgym.env.sim_extension`): its controls come as
actions through the environment's own action mapping (the exact inverse, relative or
absolute), so its laps go through the same rate limits, reward and episode-end rules as
the agent's and are logged by the environment's episode log in the original dataset
layout: demonstrations for offline training, the reference lap of the evaluation plot,
and ``acgym sim drive``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acgym.env.config import EnvConfig
from acgym.errors import ConfigError
from acgym.protocol import channels as ch
from acgym.rl.laps import EpisodeLaps, laps_from_states

if TYPE_CHECKING:
    from acgym.track.track import Track

logger = logging.getLogger(__name__)


@dataclass
class ExpertRun:
    """One episode driven by the expert."""

    states: Any
    """The episode's logged states (a DataFrame)."""
    laps: EpisodeLaps
    """Its completed laps."""
    steps: int
    """Steps driven."""
    ended_by_env: bool
    """The episode ended by the environment's rules (terminated or truncated) rather than
    by reaching the laps or the step limit."""


def drive_expert(
    env: Any,
    *,
    laps: int = 1,
    max_steps: int | None = None,
    seed: int | None = 0,
    noise_std: float = 0.0,
) -> ExpertRun:
    """Drive one episode of ``env`` (an ``acgym/Race-v0`` env) with the expert.

    Args:
        env: A single simulator env (``gymnasium.make("acgym/Race-v0")``).
        laps: Stop once this many laps are completed.
        max_steps: Stop after this many steps (None: the laps, or the env's end).
        seed: Reset seed (a random start, ``env.start.random``, is drawn from it; so is
            the noise).
        noise_std: Standard deviation of Gaussian noise added to each of the expert's
            actions (in action units, [-1, 1]) before they are applied: the expert then
            corrects what the noise did, so the episode shows recoveries from states off
            its own line (DART, Laskey et al. 2017). The log holds the applied controls.

    Returns:
        The episode; its states stay in the env's recorder until the next reset / close
        (which write the episode log when the env has an output folder).
    """
    base = env.unwrapped
    if not getattr(base, "has_simulator", False):
        raise ConfigError(
            "the expert drives the built-in simulator in this process only (acgym/Race-v0, "
            "backend=sim)"
        )
    if not (math.isfinite(noise_std) and noise_std >= 0.0):
        raise ConfigError(f"noise_std: expected a finite number >= 0, got {noise_std}")
    noise = np.random.default_rng(seed)
    env.reset(seed=seed)
    completed = base.telemetry_columns[ch.COMPLETED_LAPS]
    steps, ended = 0, False
    limit = max_steps if max_steps is not None else base.max_episode_steps + 1
    while steps < limit:
        action = base.expert_action()
        if noise_std > 0.0:
            action = action + noise.normal(0.0, noise_std, action.shape)
            action = np.clip(action, -1.0, 1.0).astype(np.float32)
        _, _, terminated, truncated, _ = env.step(action)
        steps += 1
        if terminated or truncated:
            ended = True
            break
        if base.telemetry_rows()[0, completed] >= laps:
            break
    states = base.episode_states()
    return ExpertRun(states, laps_from_states(states), steps, ended)


def make_sim_env(
    track: Track | str,
    car: str,
    config: EnvConfig | None = None,
    *,
    output_dir: Path | None = None,
) -> Any:
    """A single ``acgym/Race-v0`` env of ``track`` and ``car`` with ``config`` (whose
    ``track`` and ``car`` become these; its ``start`` says where episodes start)."""
    import gymnasium as gym

    import acgym  # noqa: F401  (registers the ids)

    return gym.make("acgym/Race-v0", track=track, car=car, config=config, output_dir=output_dir)


def record_expert(
    out: Path | str,
    *,
    track: str,
    car: str,
    laps: int = 1,
    max_steps: int | None = None,
    config: EnvConfig | None = None,
    run_name: str | None = None,
    episodes: int = 1,
    noise_std: float = 0.0,
    seed: int = 0,
) -> tuple[Path, list[ExpertRun]]:
    """Record expert laps as a dataset run: ``<out>/<track>/<car>/<run>/laps/*.parquet``
    with ``static_info.json``, ``episodes_stats.csv`` and ``env_config.yaml``.

    Args:
        out, track, car: Dataset folder, track and car.
        laps, max_steps: Each episode ends after this many laps (or steps).
        config: The environment's settings; with ``start.random`` every episode starts
            at a random place, speed and heading drawn from its seed.
        run_name: The run's folder name (default ``<YYYYmmdd_HHMMSS>_expert``).
        episodes: Episodes to drive, with seeds ``seed``, ``seed + 1``, ...
        noise_std: Action noise of :func:`drive_expert` (0: the expert's own laps).

    Returns:
        ``(run folder, the expert's episodes)``.
    """
    if laps < 1:
        raise ConfigError(f"laps must be >= 1, got {laps}")
    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    run = run_name or datetime.now().strftime("%Y%m%d_%H%M%S") + "_expert"
    run_dir = Path(out) / track / car / run
    env = make_sim_env(track, car, config, output_dir=run_dir)
    results = []
    try:
        for k in range(episodes):
            result = drive_expert(
                env, laps=laps, max_steps=max_steps, seed=seed + k, noise_std=noise_std
            )
            results.append(result)
            logger.info(
                "expert episode %d: %d steps, %d clean laps (best %s s)",
                k + 1,
                result.steps,
                result.laps.clean_laps,
                result.laps.best_lap_s,
            )
    finally:
        env.close()  # writes the last episode (each reset wrote the one before)
    logger.info("expert: %d episodes -> %s", len(results), run_dir)
    return run_dir, results


__all__ = ["ExpertRun", "drive_expert", "make_sim_env", "record_expert"]

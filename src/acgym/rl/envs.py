"""The environments of a run, made from its :class:`acgym.config.Config` by their ids.

* ``backend=sim``: ``acgym/Race-v0``; one car with ``gymnasium.make``, N cars with
  ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` (one batched
  simulator).
* ``backend=remote``: ``acgym/AssettoCorsa-v0`` (the game plugin or ``acgym sim serve``),
  always one car.

Every env of a run (training, evaluation, the expert's) is made from the same
``config.env``: where its episodes start is ``env.start`` (``env.start.random`` and its
bounds), for evaluation too; nothing here changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from acgym.errors import ConfigError
from acgym.rl.pixels import wrap_pixels

if TYPE_CHECKING:
    from acgym.config import Config

SIM_ENV_ID = "acgym/Race-v0"
REMOTE_ENV_ID = "acgym/AssettoCorsa-v0"


def env_kwargs(config: Config, *, output_dir: Path | str | None = None) -> dict[str, Any]:
    """Keyword arguments of the env's entry point for ``config``."""
    env = config.env
    kwargs: dict[str, Any] = {
        "track": env.track,
        "car": env.car,
        "config": env,
        "output_dir": None if output_dir is None else str(output_dir),
    }
    if config.backend == "sim":
        kwargs["world_config"] = {
            "control_hz": float(env.ego_sampling_freq),
            "physics_hz": config.sim.physics_hz,
            "auto_shift": config.sim.auto_shift,
        }
    else:
        remote = config.remote
        kwargs.update(
            host=env.remote_machine_ip,
            token=remote.token,
            legacy=remote.legacy,
            mode=config.remote_mode,
            timeout_s=remote.timeout_s,
        )
    return kwargs


def make_env(
    config: Config,
    *,
    num_envs: int = 1,
    output_dir: Path | str | None = None,
    evaluation: bool = False,
) -> gym.Env | gym.vector.VectorEnv:
    """The run's environment: a single env (``num_envs == 1``) or a vector env; with
    image observations, seen flat with ``agent.frame_stack`` images
    (:func:`acgym.rl.pixels.wrap_pixels`).

    Args:
        config: The run's configuration.
        num_envs: Cars collecting at once (simulator only).
        output_dir: Episode log folder (None: no files).
        evaluation: Evaluation mode (``set_eval_mode``: ``env.eval_number_of_laps``
            laps, the game's out-of-track rule); episodes start where ``env.start`` says,
            as in training.
    """
    import acgym  # noqa: F401  (registers the ids)

    kwargs = env_kwargs(config, output_dir=output_dir)
    if config.backend != "sim":
        if num_envs != 1:
            raise ConfigError(f"the remote backend drives one car; got train.num_envs={num_envs}")
        env: Any = gym.make(REMOTE_ENV_ID, **kwargs)
    elif num_envs == 1:
        env = gym.make(SIM_ENV_ID, **kwargs)
    else:
        env = gym.make_vec(
            SIM_ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
        )
    if evaluation:
        env.unwrapped.set_eval_mode()
    return wrap_pixels(env, config.agent.frame_stack)  # image observations: flat, stacked


def sim_rows(env: Any) -> Callable[[], Any] | None:
    """A function returning the simulator's current telemetry rows ``(N, C)`` behind an
    env (columns: ``env.unwrapped.telemetry_columns``), or None for a backend without them
    (the game): the env's simulator extension, ``acgym.env.sim_extension``."""
    base = env.unwrapped
    return base.telemetry_rows if getattr(base, "has_simulator", False) else None


__all__ = ["REMOTE_ENV_ID", "SIM_ENV_ID", "env_kwargs", "make_env", "sim_rows"]

"""The Gymnasium racing environment and its pieces.

``RacingEnv`` orchestrates a :class:`Backend` (the game or the simulator) with small,
separately tested pieces: ``EnvConfig`` (the original ``AssettoCorsa:`` options),
actions (``ActionMapper`` and the car maps, with the exact inverse), observations (a
``Frame`` of features and terms in the original 125-value order), rewards and
terminations (named terms and rules), and the atomic episode log (``load_history`` reads
it back, and the original's laps). ``StepPipeline`` runs them for N cars, so the single
env and ``RaceVectorEnv`` compute the same numbers.

Backends and factories load on first use (they pull in the simulator or the protocol):
``LocalSim``, ``Remote``, ``RaceVectorEnv``, ``make_race_env``, ``make_race_vector_env``,
``make_remote_env``. See docs/environment.md.
"""

from __future__ import annotations

from acgym import kernel_cache

kernel_cache.install()  # before any kernel is compiled or loaded: see acgym.kernel_cache

from acgym.env.actions import ActionMapper, BrakeMap, CarMaps, SteerMap, controls_from_telemetry  # noqa: E402
from acgym.env.backend import Backend, BackendKind, Controls, RowBackend, RowLayout  # noqa: E402
from acgym.env.config import EnvConfig  # noqa: E402
from acgym.env.episode_log import EpisodeLog, EpisodeRecorder  # noqa: E402
from acgym.env.history import History, RebuiltEpisode, load_history, rebuild_episode  # noqa: E402
from acgym.env.observations import (  # noqa: E402
    Frame,
    ObservationBuilder,
    ObservationLayout,
    StateExpander,
    frame_from_columns,
    make_observation_builder,
)
from acgym.env.pipeline import StepPipeline  # noqa: E402
from acgym.env.racing_env import RacingEnv  # noqa: E402
from acgym.env.rewards import Reward, make_reward  # noqa: E402
from acgym.env.terminations import Terminations, make_terminations  # noqa: E402

__all__ = [
    "ActionMapper",
    "Backend",
    "BackendKind",
    "BrakeMap",
    "CarMaps",
    "Controls",
    "EnvConfig",
    "EpisodeLog",
    "EpisodeRecorder",
    "Frame",
    "History",
    "LocalSim",
    "ObservationBuilder",
    "ObservationLayout",
    "RaceVectorEnv",
    "RacingEnv",
    "RebuiltEpisode",
    "Remote",
    "Reward",
    "RowBackend",
    "RowLayout",
    "StateExpander",
    "SteerMap",
    "StepPipeline",
    "Terminations",
    "controls_from_telemetry",
    "frame_from_columns",
    "load_history",
    "make_observation_builder",
    "make_race_env",
    "make_race_vector_env",
    "make_remote_env",
    "make_reward",
    "make_terminations",
    "rebuild_episode",
]

_LAZY = {
    "LocalSim": "acgym.env.backends.local",
    "Remote": "acgym.env.backends.remote",
    "RaceVectorEnv": "acgym.env.vector_env",
    "make_race_env": "acgym.env.factory",
    "make_race_vector_env": "acgym.env.factory",
    "make_remote_env": "acgym.env.factory",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'acgym.env' has no attribute {name!r}")

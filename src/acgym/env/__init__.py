"""The Gymnasium racing environment and its pieces.

``RacingEnv`` orchestrates a :class:`Backend` (the game or the simulator) with small,
separately tested pieces: ``EnvConfig`` (the original ``AssettoCorsa:`` options),
actions (``ActionMapper`` and the car maps, with the exact inverse), observations (a
``Frame`` of features and terms in the original 125-value order), rewards and
terminations (named terms and rules), and the atomic episode log (``load_history`` reads
it back, and the original's laps).
"""

from __future__ import annotations

from acgym.env.actions import ActionMapper, BrakeMap, CarMaps, SteerMap, controls_from_telemetry
from acgym.env.backend import Backend, BackendKind, Controls
from acgym.env.config import EnvConfig
from acgym.env.episode_log import EpisodeLog, EpisodeRecorder
from acgym.env.history import History, RebuiltEpisode, load_history, rebuild_episode
from acgym.env.observations import (
    Frame,
    ObservationBuilder,
    ObservationLayout,
    StateExpander,
    frame_from_columns,
    make_observation_builder,
)
from acgym.env.racing_env import RacingEnv
from acgym.env.rewards import Reward, make_reward
from acgym.env.terminations import Terminations, make_terminations

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
    "ObservationBuilder",
    "ObservationLayout",
    "RacingEnv",
    "RebuiltEpisode",
    "Reward",
    "StateExpander",
    "SteerMap",
    "Terminations",
    "controls_from_telemetry",
    "frame_from_columns",
    "load_history",
    "make_observation_builder",
    "make_reward",
    "make_terminations",
    "rebuild_episode",
]

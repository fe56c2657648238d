"""Helpers of the acgym.human tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

import acgym  # noqa: F401  (registers the ids)
from acgym.human.devices import DeviceInput
from acgym.human.person import Person
from acgym.rl.expert import drive_expert

TRACK, CAR = "oval", "dallara_f317"
LONG_EPISODES = [  # acgym drive's: leaving the track or stopping does not end the episode
    "max_episode_py_time=3600",
    "enable_out_of_track_termination=false",
    "enable_low_speed_termination=false",
]


TINY_TRAIN = [  # a training run of seconds (networks of 16, 30 steps, no evaluation)
    "agent.actor_hidden=[16]",
    "agent.critic_hidden=[16]",
    "agent.batch_size=16",
    "agent.replay_size=5000",
    "train.total_steps=30",
    "train.start_steps=20",
    "train.num_envs=1",
    "train.progress=false",
    "train.eval_at_end=false",
    "env.track=oval",  # where the recorded laps are (acgym train's default is a circuit)
]


@dataclass(frozen=True)
class ExpertLap:
    """The expert's lap: its time, its states and the device inputs that replay it."""

    time_s: float
    states: Any
    inputs: list[DeviceInput]


def make_env(output_dir: Any = None, overrides: list[str] | None = None) -> Any:
    """An ``acgym/Race-v0`` of the oval (long episodes)."""
    return gym.make(
        "acgym/Race-v0",
        track=TRACK,
        car=CAR,
        overrides=LONG_EPISODES + list(overrides or []),
        output_dir=output_dir,
    )


def expert_lap() -> ExpertLap:
    """Drive the expert for one lap; its applied controls as a device's inputs (step k's
    input is the control applied at step k + 1)."""
    env = make_env()
    try:
        run = drive_expert(env, laps=1)
        person = Person(env.unwrapped.action_mapper)
    finally:
        env.close()
    columns = [f"current_action_abs_{i}" for i in range(3)]
    controls = run.states[columns].to_numpy()
    (lap,) = run.laps.laps
    return ExpertLap(lap.time_s, run.states, [person.input_of_controls(c) for c in controls[1:]])


def throttle(value: float = 0.8) -> DeviceInput:
    """Straight ahead, throttle at ``value``."""
    return DeviceInput(0.0, value, 0.0)


def speed_of(env: Any) -> float:
    """The simulator's speed of the car, m/s."""
    base = env.unwrapped
    return float(base.telemetry_rows()[0, base.telemetry_columns["speed"]])


def xy_of(env: Any) -> np.ndarray:
    """The simulator's position of the car, m."""
    base = env.unwrapped
    cols = base.telemetry_columns
    row = base.telemetry_rows()[0]
    return np.array([row[cols["world_position_x"]], row[cols["world_position_y"]]])

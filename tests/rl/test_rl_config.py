"""The run's configuration tree: documented, strict, YAML + key=value, original names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from acgym.config import Config, config_help, documented_keys, field_docstrings, load_config
from acgym.errors import ConfigError

ORIGINAL_YAML = """
load_offline_data: False
pre_train: False
dataset_path: null
work_dir: null
task: AssettoCorsaGym
seed: 0
disable_wandb: False
wandb_entity: null
wandb_project: sac
wandb_silent: False
exp_name: null
task_title: null
save_csv: True
save_video: False
save_agent: False
action_dim: null
steps: null
Agent:
  num_steps: 8_000_000
  batch_size: 128
  memory_size: 8_000_000
  offline_buffer_size: 12_000_000
  use_offline_buffer: False
  update_interval: 1
  start_steps: 2000
  log_interval: 10
  eval_interval: 0
  num_eval_episodes: 1
  checkpoint_freq: 200_000
SAC:
  gamma: 0.992
  nstep: 3
  policy_lr: 0.0003
  q_lr: 0.0003
  entropy_lr: 0.0003
  policy_hidden_units: [256, 256, 256]
  q_hidden_units: [256, 256, 256]
  target_update_coef: 0.005
  log_interval: 10
DisCor:
  error_lr: 0.0003
  error_hidden_units: [256, 256, 256, 256]
  tau_init: 10.0
AssettoCorsa:
  ego_sampling_freq: 25
  max_episode_py_time: 600.
  track: "ks_barcelona-layout_gp"
  car: "dallara_f317"
  use_relative_actions: True
"""


def _dataclasses_in(cls: type) -> list[type]:
    found = [cls]
    instance = cls()
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            found.extend(_dataclasses_in(type(value)))
    return found


def test_every_field_of_the_tree_has_a_docstring() -> None:
    missing = [
        f"{cls.__name__}.{f.name}"
        for cls in _dataclasses_in(Config)
        for f in dataclasses.fields(cls)
        if not field_docstrings(cls).get(f.name)
    ]
    assert missing == []
    assert all(doc for _, _, doc in documented_keys())
    assert "train.updates_per_step=" in config_help()


def test_the_original_config_file_loads_with_its_meaning(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_YAML)
    config = load_config(path)
    assert config.env.track == "ks_barcelona-layout_gp"
    assert config.train.total_steps == 8_000_000
    assert config.train.checkpoint_interval == 200_000
    assert config.agent.replay_size == 8_000_000
    assert config.agent.actor_hidden == (256, 256, 256)
    assert config.agent.error_hidden == (256, 256, 256, 256)
    assert config.train.wandb == "off"  # disable_wandb: False leaves the setting alone
    assert config.train.wandb_project == "sac"


def test_original_keys_on_the_command_line_are_accepted() -> None:
    config = load_config(
        overrides=[
            "AssettoCorsa.track=monza",
            "Agent.use_offline_buffer=True",
            "load_offline_data=True",
            "dataset_path=/data/ac",
            "pre_train=True",
            "Agent.update_interval=4",
            "SAC.nstep=5",
            "DisCor.tau_init=3.0",
            "seed=7",
        ]
    )
    assert config.env.track == "monza"
    assert config.agent.use_offline_replay and config.train.load_offline_data
    assert config.train.dataset_path == "/data/ac" and config.train.pretrain
    assert config.train.updates_per_step == 0.25  # one update every 4 steps
    assert (config.agent.n_step, config.agent.error_tau_init, config.agent.seed) == (5, 3.0, 7)


@pytest.mark.parametrize(
    ("override", "named", "suggested"),
    [
        ("train.total_step=5", "train.total_step", "train.total_steps"),
        ("env.observation.num_ray=5", "env.observation.num_ray", "env.observation.num_rays"),
        ("Agent.num_step=5", "Agent.num_step", "Agent.num_steps"),
        ("trian.total_steps=5", "trian", "train"),
    ],
)
def test_an_unknown_key_is_an_error_naming_it_and_the_closest(
    override: str, named: str, suggested: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    assert repr(named) in str(error.value) and repr(suggested) in str(error.value)


@pytest.mark.parametrize(
    "override",
    ["train.total_steps=many", "train.num_envs=0", "backend=game", "train.wandb=maybe", "x"],
)
def test_bad_values_are_config_errors(override: str) -> None:
    with pytest.raises(ConfigError):
        load_config(overrides=[override])


def test_the_saved_config_loads_back_to_the_same_tree(tmp_path: Path) -> None:
    config = load_config(
        overrides=["agent.algorithm=discor", "train.num_envs=3", "env.observation.num_rays=5"]
    )
    path = config.save(tmp_path / "config.yaml")
    assert load_config(path) == config
    assert load_config(overrides=["train.wandb=true"]).train.wandb == "on"


def test_yaml_and_overrides_layer_on_a_base(tmp_path: Path) -> None:
    base = load_config(overrides=["train.total_steps=1000", "train.num_envs=2"])
    path = tmp_path / "more.yaml"
    path.write_text("train:\n  num_envs: 6\nsim:\n  physics_hz: 100\n")
    config = load_config(path, ["total_steps=2000"], base=base)
    assert (config.train.total_steps, config.train.num_envs, config.sim.physics_hz) == (
        2000,
        6,
        100.0,
    )


def test_the_game_backend_trains_in_real_time_and_the_simulator_in_lock_step() -> None:
    assert not load_config().realtime
    assert load_config(overrides=["backend=ac"]).realtime
    assert load_config(overrides=["backend=remote"]).realtime  # remote.mode=realtime
    assert not load_config(overrides=["backend=remote", "remote.mode=lockstep"]).realtime
    assert load_config(overrides=["train.realtime=true"]).realtime  # rehearsal on the sim
    assert load_config(overrides=["algo=discor"]).agent.algorithm == "discor"

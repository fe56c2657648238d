"""The run's configuration tree: documented, strict, YAML + key=value, original names;
every key reachable from the command line; one start key for every env of a run."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from acgym.cli import main
from acgym.config import (
    DEFAULT_EVAL_INTERVAL,
    Config,
    config_help,
    documented_keys,
    field_docstrings,
    load_config,
)
from acgym.config_loader import RUN_SECTIONS, RUN_VALUES
from acgym.env.config import EnvConfig
from acgym.errors import ConfigError
from acgym.rl.config import AgentConfig
from acgym.rl.run import open_run

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
    ("override", "named"),
    [
        ("train.total_steps=many", "train.total_steps"),
        ("train.total_steps=1e6", "train.total_steps"),
        ("train.num_envs=0", "train.num_envs"),
        ("backend=game", "backend"),
        ("train.wandb=maybe", "train.wandb"),
        ("x", "override 'x'"),
        ("Agent.update_interval=0", "Agent.update_interval"),
        ("env.track=[3]", "env.track"),
        ("env=3", "env"),
        ("env.max_gap.x=1", "env.max_gap"),
        ("agent.actor_hidden=[8,4.5]", "agent.actor_hidden"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(override: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(overrides=[override])


def test_values_that_omegaconf_converts_to_the_fields_type() -> None:
    """The type rules are OmegaConf's: these conversions are accepted (docs/training.md)."""
    config = load_config(
        overrides=[
            "env.use_relative_actions=no",  # yes / no, true / false, on / off, 1 / 0
            "train.progress=0",
            'env.enable_sensors="False"',
            'train.total_steps="5000"',  # a string of digits for an int
            "env.max_gap=2",  # an int for a float
            'env.gap_const="1e1"',  # a string of a number for a float
            "remote.token=1234",  # a number for a string: its text
            "env.observation.channels=[speed,gap]",  # a list for a tuple
        ]
    )
    assert config.env.use_relative_actions is False and config.train.progress is False
    assert config.env.enable_sensors is False
    assert config.train.total_steps == 5000
    assert config.env.max_gap == 2.0 and config.env.gap_const == 10.0
    assert config.remote.token == "1234"
    assert config.env.observation.channels == ("speed", "gap")
    # YAML reads 0123 as an octal number and 1e5 as a float: quote such strings.
    assert load_config(overrides=["remote.token=0123"]).remote.token == "83"
    assert load_config(overrides=["remote.token='0123'"]).remote.token == "0123"


def test_later_overrides_win_whatever_name_they_use() -> None:
    config = load_config(overrides=["env.track=a", "track=b", "env.track=c"])
    assert config.env.track == "c"
    assert load_config(overrides=["env.track=a", "AssettoCorsa.track=b"]).env.track == "b"


def test_a_string_that_reads_as_a_number_survives_the_saved_config(tmp_path: Path) -> None:
    config = load_config(overrides=["remote.token='1e5'", "env.car='0x1F'"])
    assert (config.remote.token, config.env.car) == ("1e5", "0x1F")
    assert load_config(config.save(tmp_path / "config.yaml")) == config


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


def test_periodic_evaluation_defaults_to_the_simulator_only(tmp_path: Path) -> None:
    assert load_config().eval_interval == DEFAULT_EVAL_INTERVAL
    assert load_config(overrides=["backend=ac"]).eval_interval == 0  # no second env
    assert load_config(overrides=["train.eval_interval=0"]).eval_interval == 0
    assert (
        load_config(overrides=["train.eval_interval=7"])
        .train.trainer_config(eval_interval=7)
        .eval_interval
        == 7
    )
    assert load_config().train.trainer_config().eval_interval == 0  # None is resolved above
    with pytest.raises(ConfigError, match="eval_interval must be >= 0"):
        load_config(overrides=["train.eval_interval=-1"])
    asked = load_config(overrides=["backend=ac", "train.num_envs=1", "train.eval_interval=1000"])
    with pytest.raises(ConfigError, match="needs a second env"):
        open_run(
            dataclasses.replace(
                asked, train=dataclasses.replace(asked.train, run_dir=str(tmp_path / "run"))
            )
        )


def test_the_loaders_sections_are_the_trees() -> None:
    assert tuple(f.name for f in dataclasses.fields(Config)) == (*RUN_VALUES, *RUN_SECTIONS)


# --------------------------------------------------------------------- every key on the line

CHOICES = {  # keys whose value is one of a few names: another valid one
    "backend": "remote",
    "recipe": "original",
    "env.reward.kind": "original",
    "env.start.max_profile_speed_fraction": 0.95,  # half the default is under the minimum
    "agent.algorithm": "discor",
    "agent.device": "cpu",
    "agent.lr_decay_updates": [4, 8],
    "train.wandb": "offline",
    "remote.mode": "lockstep",
    "env.color_mode": "bgr",
    "env.screen_capture_transport": "udp",
    "env.image.view": "map",
    "env.image.camera.color": "rgb",
}


def _get(config: Any, key: str) -> Any:
    for part in key.split("."):
        config = getattr(config, part)
    return config


def _annotation(key: str) -> Any:
    *parents, leaf = key.split(".")
    return typing.get_type_hints(type(_get(Config(), ".".join(parents)) if parents else Config))[
        leaf
    ]


def _other_value(key: str, default: Any) -> Any:
    """A valid value of ``key`` other than its default."""
    if key in CHOICES:
        return CHOICES[key]
    kind = _annotation(key)
    if type(None) in typing.get_args(kind):  # X | None
        (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) is tuple:
        item = typing.get_args(kind)[0]
        return [8, 4] if item is int else [*reversed(default), "other"]
    if kind is bool:
        return not default
    if kind is int:
        return 3 if default is None else default + 2
    if kind is float:
        return 0.5 if not default else default / 2
    assert kind is str, key
    return "other_name"


def _command_line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(("key", "default"), [(k, d) for k, d, _ in documented_keys()])
def test_every_documented_key_round_trips_through_the_command_line(
    key: str, default: Any, tmp_path: Path
) -> None:
    assert _plain(_get(load_config(), key)) == default  # the listed default is the real one
    value = _other_value(key, default)
    assert value != default
    config = load_config(overrides=[f"{key}={_command_line(value)}"])
    assert _plain(_get(config, key)) == value
    assert load_config(config.save(tmp_path / "config.yaml")) == config


def test_acgym_train_help_config_lists_every_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split("=", 1)[0] for line in lines if line and not line.startswith(" ")}
    assert {key for key, _, _ in documented_keys()} <= listed
    assert any("AssettoCorsa.<key>" in line and "Agent.<key>" in line for line in lines)


# --------------------------------------------------------------------- one start key


def test_the_removed_sim_random_start_says_to_use_env_start_random(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sim\.random_start is gone; use env\.start\.random"):
        load_config(overrides=["sim.random_start=true"])
    old = tmp_path / "config.yaml"  # a run folder's config.yaml from before
    old.write_text("sim:\n  physics_hz: 200.0\n  random_start: false\n")
    with pytest.raises(ConfigError, match=r"config.yaml: sim\.random_start is gone"):
        load_config(old)


def _lap_fraction_from_the_line(spline: np.ndarray) -> np.ndarray:
    return np.minimum(spline, 1.0 - spline)


@pytest.mark.parametrize("random", [True, False])
def test_env_start_random_places_training_recording_and_evaluation_alike(
    random: bool, tmp_path: Path
) -> None:
    from acgym.env.backends.local import SIM_ROW_LAYOUT
    from acgym.rl.envs import make_env, sim_rows
    from acgym.rl.expert import record_expert

    config = load_config(overrides=[f"env.start.random={str(random).lower()}"])
    column = SIM_ROW_LAYOUT.columns["NormalizedSplinePosition"]
    starts = {}
    for name, env in (
        ("train", make_env(config, num_envs=2)),
        ("eval", make_env(config, evaluation=True)),
    ):
        env.reset(seed=0)
        rows = sim_rows(env)
        assert rows is not None
        starts[name] = rows()[:, column].copy()
        env.close()
    _, runs = record_expert(
        tmp_path, track=config.env.track, car=config.env.car, max_steps=1, config=config.env
    )
    starts["record"] = runs[0].states["NormalizedSplinePosition"].to_numpy()[:1]
    for name, spline in starts.items():
        from_line = _lap_fraction_from_the_line(spline)
        if random:
            assert np.all(from_line > 0.01), (name, spline)
        else:
            assert np.all(from_line < 1e-3), (name, spline)


# --------------------------------------------------------------------- recipes


def test_the_default_recipe_learns_with_progress_and_starts_spread_over_the_lap() -> None:
    config = load_config()
    assert config.recipe == "progress"
    assert config.env.reward.kind == "progress"
    start = config.env.start
    assert start.random and start.max_profile_speed_fraction > 0 and start.failure_fraction > 0
    assert config.agent.n_step == 10


def test_acgym_train_learns_a_real_circuit_by_default() -> None:
    from acgym.track.builtin import builtin_info

    assert builtin_info(load_config().env.track).source != builtin_info("oval").source


def test_one_switch_gives_the_originals_reward_starts_and_n_step() -> None:
    config = load_config(overrides=["recipe=original"])
    assert config.env.reward.kind == "original"
    assert config.env.start == EnvConfig().start  # the line, at rest
    assert config.agent.n_step == AgentConfig().n_step == 3
    assert config.env.track == load_config().env.track  # the same task


def test_keys_given_beside_a_recipe_apply_over_its_defaults(tmp_path: Path) -> None:
    config = load_config(overrides=["agent.n_step=5", "recipe=original", "env.start.random=true"])
    assert (config.agent.n_step, config.env.start.random) == (5, True)
    assert config.env.reward.kind == "original"
    path = tmp_path / "run.yaml"
    path.write_text("recipe: original\nagent:\n  gamma: 0.99\n")
    from_file = load_config(path)
    assert (from_file.recipe, from_file.agent.gamma, from_file.agent.n_step) == (
        "original",
        0.99,
        3,
    )
    saved = config.save(tmp_path / "config.yaml")
    assert load_config(saved) == config


def test_an_unknown_recipe_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"recipe must be one of \('progress', 'original'\)"):
        load_config(overrides=["recipe=sophy"])


def test_the_originals_config_yml_starts_from_the_original_recipe(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_YAML)
    config = load_config(path)
    assert config.recipe == "original" and config.env.reward.kind == "original"
    assert not config.env.start.random
    assert load_config(path, ["recipe=progress"]).env.reward.kind == "progress"
    ours = tmp_path / "ours.yaml"
    ours.write_text("agent:\n  gamma: 0.99\n")
    assert load_config(ours).recipe == "progress"

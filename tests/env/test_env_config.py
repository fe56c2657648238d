"""EnvConfig through the one loader: the original AssettoCorsa section loads as is (alone
or in a whole original config.yml, as acgym train reads it); unknown keys are refused."""

from __future__ import annotations

import pytest
import yaml

from acgym.config import load_config
from acgym.env.config import EnvConfig, load_env_config
from acgym.env.factory import resolve_config
from acgym.errors import ConfigError

ORIGINAL_CONFIG_YML = """
seed: 0
AssettoCorsa:
  ego_sampling_freq: 25     # in Hz
  max_episode_py_time: 600. # in seconds
  gap_const: 12.
  eval_number_of_laps: 4    # including out lap which is incomplete
  save_lap_csv: False
  remote_machine_ip: "localhost"   # "192.168.0.1" # "localhost"
  ego_server_port: 2345
  opponents_server_port: 2346
  simulation_management_server_port: 2347
  use_relative_actions: True
  enable_sensors: True
  vjoy_executed_by_server: False
  enable_out_of_track_termination: True
  enable_low_speed_termination: True
  recover_car_on_done: False
  send_reset_at_start: True
  record_controls_from_client: False
  enable_out_of_track_penalty: False
  max_laps_number: null
  enable_task_id_in_obs: False
  penalize_actions_diff: False
  penalize_actions_diff_coef: 0.1
  max_steer_rate: 900.0   # steering: deg/s
  track: "ks_barcelona-layout_gp"
  car: "dallara_f317"
  use_ac_out_of_track: True
  add_previous_obs_to_state: True
  use_reference_line_in_reward: True
  use_target_speed: False
  screen_capture_enable: False
  final_image_width: 320      # Final image width in pixels
  final_image_height: 240     # Final image height in pixels
  color_mode: "gray"           # Options: "gray" or "bgr"
  use_obs_extra: False
"""


def test_original_section_loads_and_equals_the_defaults(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_CONFIG_YML)
    config = load_env_config(path)
    assert config == EnvConfig()
    original = yaml.safe_load(ORIGINAL_CONFIG_YML)["AssettoCorsa"]
    for key, value in original.items():
        assert getattr(config, key) == value, key


def test_step_limit_is_episode_time_times_rate():
    config = EnvConfig()
    assert config.max_episode_steps == 15_000
    assert config.low_speed_timeout_steps == 250
    assert config.control_period_s == pytest.approx(0.04)


def test_unknown_key_is_refused_naming_the_closest_valid_key():
    with pytest.raises(ConfigError, match=r"unknown config key 'max_steer_rat'.*'max_steer_rate'"):
        load_env_config({"max_steer_rat": 100.0})


def test_unknown_nested_key_is_refused_with_its_full_name():
    with pytest.raises(ConfigError, match=r"'observation.num_ray'.*'observation.num_rays'"):
        load_env_config({"observation": {"num_ray": 5}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"use_relative_actions": "maybe"}, "use_relative_actions: .*not a valid bool"),
        ({"use_relative_actions": 1.0}, "use_relative_actions: .*not a valid bool"),
        ({"ego_sampling_freq": 25.5}, "ego_sampling_freq: .*could not be converted to Integer"),
        ({"ego_sampling_freq": "abc"}, "ego_sampling_freq: .*could not be converted to Integer"),
        ({"max_steer_rate": "fast"}, "max_steer_rate: .*could not be converted to Float"),
        ({"track": [3]}, "track: Cannot convert 'ListConfig' to string"),
        ({"track": None}, "track: Incompatible value 'None'"),
        ({"observation": {"num_rays": 4}}, "odd"),
        ({"color_mode": "rgba"}, "'gray', 'bgr' or 'rgb'"),
        ({"gap_const": 0.0}, "positive"),
        ({"screen_capture_transport": "tcp"}, "screen_capture_transport: expected 'auto'"),
        ({"final_image_width": 4}, "final_image_width: expected 8 to 2048"),
        ({"observation": {"channels": "speed"}}, "observation.channels: .*str is not a"),
        ({"observation": 5}, "observation: .*int is not a subclass of ObservationConfig"),
    ],
)
def test_wrong_values_are_refused_saying_what_was_expected(values, message):
    with pytest.raises(ConfigError, match=message):
        load_env_config(values)


def test_a_range_check_of_the_tree_comes_out_as_is():
    for load, key in ((load_env_config, "gap_const"), (load_config, "env.gap_const")):
        with pytest.raises(ConfigError) as error:
            load(overrides=[f"{key}=0"])
        assert str(error.value) == "gap_const: expected a positive number, got 0.0"


def test_dotlist_overrides_accept_the_original_section_prefix():
    config = load_env_config(
        overrides=[
            "AssettoCorsa.track=monza",
            "max_laps_number=3",
            "observation.num_rays=5",
            "max_gap=null",
        ]
    )
    assert config.track == "monza"
    assert config.max_laps_number == 3
    assert config.observation.num_rays == 5
    assert config.max_gap is None
    assert config.car == "dallara_f317"


def test_dotlist_override_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        load_env_config(overrides=["track"])


def test_config_round_trips_through_yaml(tmp_path):
    config = load_env_config(overrides=["observation.channels=[speed,gap]", "max_gap=3.5"])
    path = tmp_path / "env.yaml"
    path.write_text(config.to_yaml())
    assert load_env_config(path) == config
    assert config.observation.channels == ("speed", "gap")


def test_an_omegaconf_section_loads_like_a_dict():
    from omegaconf import OmegaConf

    full = OmegaConf.create(yaml.safe_load(ORIGINAL_CONFIG_YML))
    full.AssettoCorsa.track = "monza"
    assert load_env_config(full.AssettoCorsa) == EnvConfig(track="monza")
    assert load_env_config(full) == EnvConfig(track="monza")  # the whole file


def test_an_older_original_section_with_train_steps_loads(tmp_path):
    """Older original config.yml files carry ``AssettoCorsa.train_steps`` (no effect)."""
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_CONFIG_YML + "  train_steps: 10_000_000\n")
    config = load_env_config(path)
    assert config.train_steps == 10_000_000
    assert config.max_episode_steps == EnvConfig().max_episode_steps


def test_an_original_config_yml_gives_the_env_the_same_options_as_acgym_train(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_CONFIG_YML.replace('"dallara_f317"', "bmw_z4_gt3"))
    overrides = ["AssettoCorsa.max_gap=4.0", "start.random=true"]
    env_config = load_env_config(path, overrides)
    assert env_config.car == "bmw_z4_gt3" and env_config.max_gap == 4.0
    assert env_config.start.random
    run = ["AssettoCorsa.max_gap=4.0", "env.start.random=true"]
    assert load_config(path, run).env == env_config
    assert resolve_config(str(path), overrides) == env_config  # gym.make(config=path)
    assert resolve_config(yaml.safe_load(path.read_text()), overrides) == env_config


def test_a_run_config_yaml_gives_its_env_section(tmp_path):
    run = load_config(overrides=["env.max_gap=2.5", "train.num_envs=2", "track=monza"])
    path = run.save(tmp_path / "config.yaml")
    assert load_env_config(path) == run.env


def test_the_env_entry_points_refuse_what_the_run_loader_refuses(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(ORIGINAL_CONFIG_YML + "Agent:\n  num_step: 5\n")
    for load in (load_env_config, load_config):
        with pytest.raises(ConfigError, match=r"'Agent.num_step'.*'Agent.num_steps'"):
            load(path)
    with pytest.raises(
        ConfigError, match="expected an instance of EnvConfig, a mapping or a YAML path"
    ):
        resolve_config(42)


def test_an_instance_is_a_base_for_overrides():
    base = EnvConfig(track="monza", max_gap=3.0)
    config = resolve_config(base, ["start.random=true"])
    assert (config.track, config.max_gap, config.start.random) == ("monza", 3.0, True)
    assert load_env_config(overrides=["max_gap=1e-1"]).max_gap == 0.1  # YAML 1.2 numbers

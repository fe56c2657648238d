"""Offline data: expert laps recorded, read back, rebuilt, replayed, loaded and exported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from acgym.cli import main
from acgym.env import CarMaps, EnvConfig, controls_from_telemetry, load_history
from acgym.errors import ConfigError, DataFileError
from acgym.rl import AgentConfig, Trainer, TrainerConfig
from acgym.rl.expert import make_sim_env
from acgym.rl.offline import (
    export_minari,
    fill_replay,
    find_runs,
    iter_transitions,
    minari_episode_buffers,
)
from acgym.rl.replay import NStepReplay
from acgym.sim.car_params import car_folder

STEPS = 400  # from the line into the first corner
CAR = "dallara_f317"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of one expert run: the first ``STEPS`` steps of a lap from the line."""
    root = tmp_path_factory.mktemp("dataset")
    code = main(
        [
            "record",
            "--expert",
            "--track",
            "oval",
            "--car",
            CAR,
            "--laps",
            "1",
            "--max-steps",
            str(STEPS),
            "--out",
            str(root),
            "recipe=original",  # from the line at rest, as the replay below
        ]
    )
    assert code == 0
    return root


def test_recorded_laps_use_the_original_layout(dataset: Path) -> None:
    (run,) = find_runs(dataset)
    assert (run.track, run.car) == ("oval", CAR)
    assert run.laps_dir.parent.parent.parent == dataset / "oval"
    assert (run.laps_dir / "static_info.json").is_file()
    assert (run.laps_dir.parent / "episodes_stats.csv").is_file()
    assert len(run.files) == 1 and run.files[0].suffix == ".parquet"
    assert find_runs(dataset, track="other") == []


def test_rebuilt_actions_replayed_through_the_env_reproduce_the_logged_controls(
    dataset: Path,
) -> None:
    config = EnvConfig(track="oval", car=CAR)
    ((_, path, transitions),) = list(iter_transitions(find_runs(dataset), config))
    assert len(transitions) == STEPS  # STEPS + 1 logged states (the reset state first)
    states = load_history(path).states
    car = CarMaps.from_folder(car_folder(CAR))
    logged = controls_from_telemetry(
        states["steerAngle"], states["accStatus"], states["brakeStatus"], car
    )
    assert np.ptp(logged[:, 0]) > 0.01 and np.ptp(logged[:, 1]) > 0.5  # the expert did drive

    env = make_sim_env("oval", CAR, config)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, transitions.observations[0], atol=1e-5)
    for action in transitions.actions:
        obs, *_ = env.step(action)
    replayed = env.unwrapped.episode_states()
    env.close()
    again = controls_from_telemetry(
        replayed["steerAngle"], replayed["accStatus"], replayed["brakeStatus"], car
    )
    np.testing.assert_allclose(again, logged, atol=1e-5)
    np.testing.assert_allclose(obs, transitions.next_observations[-1], atol=1e-4)


def test_add_episode_stores_what_step_by_step_adds_store() -> None:
    rng = np.random.default_rng(3)
    length, gamma = 11, 0.9
    obs = rng.normal(size=(length + 1, 2))
    actions = rng.uniform(-1, 1, size=(length, 1))
    rewards = rng.normal(size=length)
    terminated = np.zeros(length, dtype=bool)
    terminated[4] = True  # an out-of-track step inside the episode: no bootstrap, goes on
    whole = NStepReplay(100, 2, 1, gamma, n_step=3)
    whole.add_episode(obs[:-1], actions, rewards, obs[1:], terminated)
    stepwise = NStepReplay(100, 2, 1, gamma, n_step=3)
    for t in range(length):
        last = t == length - 1
        stepwise.add(obs[t], actions[t], rewards[t], obs[t + 1], terminated[t], last)
    a, b = whole.stored(), stepwise.stored()
    order_a = np.lexsort(a["observations"].T)
    order_b = np.lexsort(b["observations"].T)
    for key in a:
        np.testing.assert_allclose(a[key][order_a], b[key][order_b], rtol=1e-6, err_msg=key)


def test_offline_buffer_is_filled_and_pretraining_runs(dataset: Path) -> None:
    env = make_sim_env("oval", CAR)
    agent_config = AgentConfig(
        actor_hidden=(16,),
        critic_hidden=(16,),
        batch_size=16,
        replay_size=1000,
        offline_replay_size=1000,
        use_offline_replay=True,
        device="cpu",
    )
    loop = TrainerConfig(total_steps=40, start_steps=10, progress=False, checkpoint_interval=0)
    with Trainer(env, loop, agent_config=agent_config) as trainer:
        summary = fill_replay(trainer.agent, dataset, EnvConfig(track="oval", car=CAR))
        assert (summary.runs, summary.episodes, summary.transitions) == (1, 1, STEPS)
        assert len(trainer.agent.replay.offline) == STEPS and len(trainer.agent.replay.online) == 0
        metrics = trainer.pretrain(25)
        trainer.train()
    env.close()
    assert trainer.counters.pretrain_updates == 25 and np.isfinite(metrics["loss/critic"])
    assert len(trainer.agent.replay.online) > 0


def test_minari_buffers_hold_whole_episodes(dataset: Path) -> None:
    (buffer,) = minari_episode_buffers(dataset, EnvConfig(track="oval", car=CAR))
    assert buffer["observations"].shape == (STEPS + 1, 125)
    assert buffer["actions"].shape == (STEPS, 3)
    assert buffer["rewards"].shape == buffer["terminations"].shape == (STEPS,)
    assert buffer["truncations"][-1] and not buffer["truncations"][:-1].any()
    assert np.all(np.abs(buffer["actions"]) <= 1.0)
    assert set(buffer["infos"]["track"]) == {"oval"}


def test_a_minari_export_loads_back_with_minari(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Minari's default storage (HDF5) needs h5py, which the extra does not bring: the
    export writes Arrow files through pyarrow, and Minari reads them back."""
    import minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    config = EnvConfig(track="oval", car=CAR)
    (buffer,) = minari_episode_buffers(dataset, config)
    export_minari(dataset, "acgym/oval-expert-v0", config)
    loaded = minari.load_dataset("acgym/oval-expert-v0")
    assert (loaded.total_episodes, loaded.total_steps) == (1, STEPS)
    (episode,) = loaded.iterate_episodes()
    np.testing.assert_array_equal(episode.observations, buffer["observations"].astype(np.float32))
    np.testing.assert_array_equal(episode.actions, buffer["actions"].astype(np.float32))
    np.testing.assert_allclose(episode.rewards, buffer["rewards"])
    assert episode.truncations[-1] and not episode.terminations.any()
    assert set(episode.infos["track"]) == {"oval"}
    with pytest.raises(DataFileError, match="already exists"):
        export_minari(dataset, "acgym/oval-expert-v0", config)


def test_a_failed_minari_export_leaves_no_folder_behind(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minari
    from minari.storage import get_dataset_path

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))

    def fail(dataset_id: str, **kwargs: object) -> None:
        Path(get_dataset_path(dataset_id), "data").mkdir(parents=True)  # as Minari does
        raise OSError("disk full")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", fail)
    with pytest.raises(OSError, match="disk full"):
        export_minari(dataset, "acgym/oval-expert-v1", EnvConfig(track="oval", car=CAR))
    assert not Path(get_dataset_path("acgym/oval-expert-v1")).exists()


def test_minari_export_without_minari_says_how_to_install_it(
    dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "minari", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"acgym\[minari\]"):
        export_minari(dataset, "acgym/oval-expert-v0", EnvConfig(track="oval", car=CAR))


def test_offline_data_from_the_train_command_reaches_the_offline_buffer(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "train",
            "agent.actor_hidden=[16]",
            "agent.critic_hidden=[16]",
            "agent.batch_size=16",
            "agent.replay_size=2000",
            "agent.offline_replay_size=2000",
            "Agent.use_offline_buffer=True",
            "load_offline_data=True",
            f"dataset_path={dataset}",
            "pre_train=True",
            "train.total_steps=60",
            "train.start_steps=20",
            "train.num_envs=2",
            "train.progress=false",
            "train.eval_at_end=false",
            "env.track=oval",  # the dataset's track
            f"train.run_dir={tmp_path / 'run'}",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["offline_transitions"] == STEPS
    assert summary["pretrain_updates"] == STEPS  # one update per demonstration (original)


def test_record_drives_several_episodes_from_random_starts_with_action_noise(
    tmp_path: Path,
) -> None:
    """``--episodes 2 --noise 0.2`` with random starts: two episode files in one run, each
    starting somewhere else; the noise shows in the logged controls (the same seeded start
    without noise steers differently) and the expert still drives on."""
    common = ["record", "--expert", "--track", "oval", "--car", CAR, "--max-steps", "60"]
    starts = [
        "env.start.random=true",
        "env.start.max_lateral_offset_m=2",
        "env.start.max_speed_mps=30",
    ]
    noisy, clean = tmp_path / "noisy", tmp_path / "clean"
    assert main([*common, "--episodes", "2", "--noise", "0.2", "--out", str(noisy), *starts]) == 0
    assert main([*common, "--out", str(clean), *starts]) == 0
    (run,) = find_runs(noisy)
    assert len(run.files) == 2
    first, second = (load_history(path).states for path in sorted(run.files))
    start_xy = [
        (s["world_position_x"].iloc[0], s["world_position_y"].iloc[0]) for s in (first, second)
    ]
    assert start_xy[0] != start_xy[1]  # seeds seed and seed + 1: two random starts
    (clean_run,) = find_runs(clean)
    unperturbed = load_history(clean_run.files[0]).states
    assert unperturbed["world_position_x"].iloc[0] == first["world_position_x"].iloc[0]
    steer_gap = np.abs(first["steerAngle"].to_numpy() - unperturbed["steerAngle"].to_numpy())
    assert steer_gap.max() > 1.0  # degrees of steering-wheel angle
    assert first["speed"].iloc[-1] > 5.0


def test_record_refuses_negative_noise_and_zero_episodes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["record", "--expert", "--track", "oval", "--max-steps", "5", "--out", str(tmp_path)]
    assert main([*common, "--noise", "-0.1"]) == 1
    assert "noise_std: expected a finite number >= 0, got -0.1" in capsys.readouterr().err
    assert main([*common, "--episodes", "0"]) == 1
    assert "episodes must be >= 1, got 0" in capsys.readouterr().err

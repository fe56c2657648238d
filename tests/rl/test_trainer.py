"""The training loop: vector envs, update ratio, hooks, logs, checkpoints and resume."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from rl_envs import CounterEnv, PointEnv

from acgym.errors import ConfigError
from acgym.rl import AgentConfig, Callback, EpisodeStats, Trainer, TrainerConfig
from acgym.rl.checkpoint import latest_checkpoint
from acgym.rl.run import BEST_CHECKPOINT, BEST_RESULTS_FILE, BestPolicy, policy_score

GAMMA = 0.9
AGENT = AgentConfig(
    actor_hidden=(16, 16),
    critic_hidden=(16, 16),
    error_hidden=(16, 16),
    batch_size=16,
    replay_size=2000,
    gamma=GAMMA,
    n_step=3,
    device="cpu",
)
LOOP = TrainerConfig(
    total_steps=60, start_steps=20, progress=False, checkpoint_interval=0, log_interval=10
)


def _params(trainer: Trainer) -> list[torch.Tensor]:
    agent = trainer.agent
    return [p.detach().clone() for m in agent._modules().values() for p in m.state_dict().values()]


def _assert_same_run(a: Trainer, b: Trainer) -> None:
    assert a.counters == b.counters
    assert a.agent.num_updates == b.agent.num_updates
    for x, y in zip(_params(a), _params(b), strict=True):
        assert torch.equal(x, y)
    for key, value in a.agent.replay.stored().items():
        assert np.array_equal(value, b.agent.replay.stored()[key]), key


def _check_counter_transitions(trainer: Trainer, length: int, terminate: bool) -> None:
    """Every stored transition of CounterEnv: t -> t + m in one episode, closed form."""
    stored = trainer.agent.replay.stored()
    t, episode = stored["observations"][:, 0], stored["observations"][:, 1]
    next_t, next_episode = stored["next_observations"][:, 0], stored["next_observations"][:, 1]
    m = np.rint(np.log(stored["discounts"]) / np.log(GAMMA))
    assert np.array_equal(episode, next_episode)
    assert np.array_equal(next_t - t, m) and np.all((m >= 1) & (m <= 3))
    assert np.all(next_t <= length)
    np.testing.assert_allclose(stored["rewards"], (1 - GAMMA**m) / (1 - GAMMA), rtol=1e-6)
    expected_termination = terminate & (next_t == length)
    assert np.array_equal(stored["terminations"] == 1.0, expected_termination)


@pytest.mark.parametrize("terminate", [False, True])
def test_single_env_transitions_are_exact_n_step_and_never_cross_episodes(terminate: bool) -> None:
    with Trainer(CounterEnv(length=5, terminate=terminate), LOOP, agent_config=AGENT) as trainer:
        summary = trainer.train(50)
    assert summary["env_steps"] == 50 and summary["episodes"] == 10
    assert len(trainer.agent.replay) == 50  # every episode ended: nothing pending
    _check_counter_transitions(trainer, 5, terminate)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_transitions_are_exact_in_both_autoreset_modes(mode: AutoresetMode) -> None:
    env = SyncVectorEnv([lambda: CounterEnv(length=4, terminate=True)] * 3, autoreset_mode=mode)
    episodes: list[EpisodeStats] = []

    class Record(Callback):
        def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> None:
            episodes.append(episode)

    with Trainer(env, LOOP, agent_config=AGENT, callbacks=[Record()]) as trainer:
        trainer.train(60)
    env.close()
    _check_counter_transitions(trainer, 4, True)
    assert trainer.counters.env_steps == 60
    assert len(trainer.agent.replay) + trainer.agent.replay.num_pending == 60
    assert all(e.length == 4 and e.episode_return == 4.0 and e.terminated for e in episodes)
    assert len(episodes) == trainer.counters.episodes == 15
    assert all(e.info["lap_time_s"] > 0 for e in episodes)


def test_actions_reach_the_env_within_its_bounds() -> None:
    env = CounterEnv(length=5, low=2.0, high=3.0)  # asserts every action is in its space
    with Trainer(env, LOOP, agent_config=AGENT) as trainer:
        trainer.train(40)
    actions = trainer.agent.replay.stored()["actions"]
    assert actions.min() >= -1.0 and actions.max() <= 1.0


@pytest.mark.parametrize(
    ("ratio", "num_envs", "expected"), [(1.0, 1, 40), (0.5, 1, 20), (2.0, 2, 80)]
)
def test_updates_per_step_sets_the_update_to_data_ratio(
    ratio: float, num_envs: int, expected: int
) -> None:
    env = (
        SyncVectorEnv([lambda: CounterEnv(length=7)] * num_envs) if num_envs > 1 else CounterEnv(7)
    )
    config = TrainerConfig(
        total_steps=60,
        start_steps=20,
        progress=False,
        checkpoint_interval=0,
        updates_per_step=ratio,
    )
    with Trainer(env, config, agent_config=AGENT) as trainer:
        trainer.train()
    assert trainer.agent.num_updates == expected


def test_threaded_env_gives_the_same_run_as_inline() -> None:
    runs = []
    for threaded in (False, True):
        config = TrainerConfig(
            total_steps=80,
            start_steps=20,
            progress=False,
            checkpoint_interval=0,
            threaded_env=threaded,
        )
        with Trainer(PointEnv(max_steps=15), config, agent_config=AGENT) as trainer:
            trainer.train()
        runs.append(trainer)
    _assert_same_run(*runs)


class _Kill(Callback):
    """Dies like a killed process right after the checkpoint at ``at_step``."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_checkpoint(self, trainer: Trainer, path: Path) -> None:
        if trainer.counters.env_steps == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("algorithm", ["sac", "discor"])
def test_killed_run_resumes_exactly_where_it_stopped(algorithm: str, tmp_path: Path) -> None:
    agent_config = AgentConfig(**{**AGENT.__dict__, "algorithm": algorithm})
    config = TrainerConfig(
        total_steps=100,
        start_steps=20,
        progress=False,
        checkpoint_interval=20,
        save_replay=True,
        keep_checkpoints=2,
        log_interval=10,
    )
    with Trainer(
        PointEnv(max_steps=10), config, agent_config=agent_config, run_dir=tmp_path / "a"
    ) as whole:
        whole.train()

    killed = Trainer(
        PointEnv(max_steps=10),
        config,
        agent_config=agent_config,
        run_dir=tmp_path / "b",
        callbacks=[_Kill(at_step=60)],
    )
    with pytest.raises(KeyboardInterrupt):
        killed.train()
    killed.close()
    checkpoints = tmp_path / "b" / "checkpoints"
    assert latest_checkpoint(checkpoints).name == "step_0000000060"
    assert sorted(p.name for p in checkpoints.glob("step_*")) == [
        "step_0000000040",
        "step_0000000060",
    ]

    with Trainer(
        PointEnv(max_steps=10),
        config,
        agent_config=agent_config,
        run_dir=tmp_path / "b",
        resume=tmp_path / "b",
    ) as resumed:
        assert resumed.counters.env_steps == 60
        resumed.train()
    _assert_same_run(whole, resumed)
    assert (tmp_path / "b" / "tb").is_dir()


def test_resume_mid_episode_bootstraps_the_cut_episode(tmp_path: Path) -> None:
    config = TrainerConfig(
        total_steps=45, start_steps=10, progress=False, checkpoint_interval=0, save_replay=True
    )
    with Trainer(CounterEnv(length=10), config, agent_config=AGENT, run_dir=tmp_path) as first:
        first.train()
    assert first.agent.replay.num_pending == 2  # 45 = 4 episodes + 5 steps, n_step 3
    with Trainer(CounterEnv(length=10), config, agent_config=AGENT, resume=tmp_path) as resumed:
        assert resumed.agent.replay.num_pending == 0
        assert len(resumed.agent.replay) == 45
        resumed.train(60)
    assert resumed.counters.env_steps == 60


def test_hooks_logs_and_progress_metrics(tmp_path: Path) -> None:
    evaluations: list[Mapping[str, float]] = []
    logs: list[Mapping[str, float]] = []

    class Hooks(Callback):
        def on_episode_end(self, trainer: Trainer, episode: EpisodeStats) -> Mapping[str, float]:
            return {"best_lap_time_s": 1.5 * episode.index}

        def on_log(self, trainer: Trainer, scalars: Mapping[str, float]) -> None:
            logs.append(scalars)

        def on_evaluation(self, trainer: Trainer, results: Mapping[str, float]) -> None:
            evaluations.append(results)

    config = TrainerConfig(
        total_steps=60,
        start_steps=20,
        progress=True,
        checkpoint_interval=0,
        log_interval=10,
        eval_interval=30,
        num_eval_episodes=2,
    )
    with Trainer(
        CounterEnv(length=6),
        config,
        agent_config=AGENT,
        run_dir=tmp_path,
        callbacks=[Hooks()],
        evaluate=lambda agent, n: {"return_mean": float(n)},
        info_keys=["lap_time_s"],
    ) as trainer:
        summary = trainer.train()
    assert evaluations == [{"return_mean": 2.0}] * 2
    assert len(logs) == 6 and "loss/critic" in logs[-1] and "time/steps_per_s" in logs[-1]
    assert trainer.extra_metrics == {"lap_time_s": 100.0, "best_lap_time_s": 15.0}
    assert {"loss/actor", "loss/critic", "stats/alpha", "steps_per_s"} <= set(summary)
    assert (tmp_path / "config.json").is_file()
    assert any((tmp_path / "tb").iterdir())
    assert latest_checkpoint(tmp_path / "checkpoints").name == "step_0000000060"


def test_the_best_evaluated_policy_is_kept_aside_and_survives_a_resume(tmp_path: Path) -> None:
    results = iter(
        [
            {"return_mean": 5.0, "clean_laps": 0.0},  # kept: the first
            {"return_mean": 3.0, "clean_laps": 0.0},  # worse: no lap, less return
            {"return_mean": 1.0, "clean_laps": 1.0, "best_lap_s": 40.0},  # a lap beats none
            {"return_mean": 9.0, "clean_laps": 1.0, "best_lap_s": 41.0},  # slower lap
        ]
    )
    config = dataclasses.replace(
        LOOP, total_steps=80, eval_interval=20, checkpoint_interval=20, save_replay=True
    )
    with Trainer(
        CounterEnv(length=6),
        config,
        agent_config=AGENT,
        run_dir=tmp_path,
        callbacks=[BestPolicy(tmp_path)],
        evaluate=lambda agent, n: next(results),
    ) as trainer:
        trainer.train()
    folder = tmp_path / "checkpoints"
    kept = json.loads((folder / BEST_CHECKPOINT / BEST_RESULTS_FILE).read_text())
    assert kept == {"return_mean": 1.0, "clean_laps": 1.0, "best_lap_s": 40.0, "env_steps": 60.0}
    meta = json.loads((folder / BEST_CHECKPOINT / "meta.json").read_text())
    assert meta["extra"]["counters"]["env_steps"] == 60
    assert latest_checkpoint(folder).name == "step_0000000080"  # the best is not the latest
    assert not (folder / BEST_CHECKPOINT / "replay.npz").exists()
    # A resumed run compares with the policy kept: a slower lap does not replace it.
    resumed = BestPolicy(tmp_path)
    assert resumed.results == kept
    resumed.on_evaluation(trainer, {"return_mean": 0.0, "clean_laps": 2.0, "best_lap_s": 40.5})
    assert json.loads((folder / BEST_CHECKPOINT / BEST_RESULTS_FILE).read_text()) == kept
    # Results left half-written by a killed run score nothing: the next policy replaces it.
    for text in ("{", '{"return_mean": null, "env_steps": 1}', "[1]", '{"return_mean": 1}'):
        (folder / BEST_CHECKPOINT / BEST_RESULTS_FILE).write_text(text)
        assert BestPolicy(tmp_path).results is None


def test_a_clean_lap_ranks_above_any_return_and_faster_above_slower() -> None:
    no_lap = policy_score({"return_mean": 1e6, "clean_laps": 0.0})
    slow = policy_score({"return_mean": 1.0, "clean_laps": 1.0, "best_lap_s": 41.0})
    fast = policy_score({"return_mean": 0.5, "clean_laps": 1.0, "best_lap_s": 40.0})
    assert no_lap < slow < fast
    assert policy_score({"return_mean": 2.0}) > policy_score({"return_mean": 1.0})


def test_pretraining_learns_from_demonstrations_with_a_fixed_temperature() -> None:
    agent_config = AgentConfig(
        **{**AGENT.__dict__, "use_offline_replay": True, "offline_replay_size": 500}
    )
    with Trainer(PointEnv(), LOOP, agent_config=agent_config) as trainer:
        demos = trainer.agent.demonstrations
        for t in range(100):
            demos.add([0.5], [-1.0], [-0.25], [0.25], [False], [t % 10 == 9])
        metrics = trainer.pretrain()
    assert trainer.agent.num_updates == 100 == trainer.counters.pretrain_updates
    assert trainer.agent.alpha == 1.0 and np.isfinite(metrics["loss/critic"])


@pytest.mark.parametrize("bc_alpha", [2.5, None])
def test_cloning_fades_out_over_the_first_online_updates_after_pretraining(
    bc_alpha: float | None,
) -> None:
    """Pretraining clones the demonstrations (``pretrain_bc_alpha``); online updates keep a
    cloning term whose weight falls linearly to 0 over ``bc_fade_updates`` updates, then
    plain SAC. Without ``pretrain_bc_alpha`` no update clones."""
    agent_config = AgentConfig(
        **{**AGENT.__dict__, "use_offline_replay": True, "offline_replay_size": 500}
    )
    loop = dataclasses.replace(
        LOOP, updates_per_step=1.0, pretrain_bc_alpha=bc_alpha, bc_fade_updates=20
    )
    with Trainer(PointEnv(), loop, agent_config=agent_config) as trainer:
        demos = trainer.agent.demonstrations
        for t in range(100):
            demos.add([0.5], [-1.0], [-0.25], [0.25], [False], [t % 10 == 9])
        calls: list[tuple[int, float | None, float]] = []
        update = trainer.agent.update

        def recording_update(num_updates=1, *, update_alpha=True, bc_alpha=None, bc_weight=1.0):
            calls.append((num_updates, bc_alpha, bc_weight if bc_alpha is not None else 0.0))
            return update(
                num_updates, update_alpha=update_alpha, bc_alpha=bc_alpha, bc_weight=bc_weight
            )

        trainer.agent.update = recording_update  # type: ignore[method-assign]
        trainer.pretrain(10)
        trainer.train()
    pretraining, online = calls[:1], calls[1:]
    assert pretraining == [(10, bc_alpha, 1.0 if bc_alpha is not None else 0.0)]
    weights = [w for _, _, w in online]
    assert len(online) == 40  # steps 20..59, one update each
    if bc_alpha is None:
        assert weights == [0.0] * 40
    else:
        expected = [max(0.0, 1.0 - k / 20) for k in range(40)]
        np.testing.assert_allclose(weights, expected)
        assert all(a == bc_alpha for _, a, w in online if w > 0)


def test_image_observations_are_refused_with_a_clear_error() -> None:
    class ImageEnv(gym.Env):
        observation_space = gym.spaces.Box(0, 255, shape=(4, 4), dtype=np.uint8)
        action_space = gym.spaces.Box(-1, 1, shape=(1,), dtype=np.float32)

    with pytest.raises(ConfigError, match="1-D Box observation"):
        Trainer(ImageEnv(), LOOP, agent_config=AGENT)

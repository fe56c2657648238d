"""N-step replay: closed-form returns, episode ends, vector adds, mixing, state."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.errors import ConfigError, DataFileError
from acgym.rl.replay import EnsembleReplay, NStepReplay

GAMMA = 0.9


def _fill(
    buffer: NStepReplay, rewards: list[float], *, terminated: bool = False, truncated: bool = False
) -> None:
    """One episode in env 0: observation t = [t, t], reward r_t; the last step ends it."""
    for t, reward in enumerate(rewards):
        last = t == len(rewards) - 1
        buffer.add(
            [t, t],
            [0.1 * t],
            [reward],
            [t + 1, t + 1],
            [terminated and last],
            [truncated and last],
        )


def _by_start(buffer: NStepReplay) -> dict[int, dict[str, float]]:
    stored = buffer.stored()
    return {
        int(obs[0]): {
            "reward": float(stored["rewards"][i]),
            "next": float(stored["next_observations"][i, 0]),
            "termination": float(stored["terminations"][i]),
            "discount": float(stored["discounts"][i]),
            "action": float(stored["actions"][i, 0]),
        }
        for i, obs in enumerate(stored["observations"])
    }


@pytest.mark.parametrize("n_step", [1, 2, 3, 5])
def test_n_step_returns_inside_an_episode_match_the_closed_form(n_step: int) -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=n_step)
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    _fill(buffer, rewards)  # the episode has not ended: the last n-1 steps are pending
    rows = _by_start(buffer)
    assert sorted(rows) == list(range(len(rewards) - n_step + 1))
    assert buffer.num_pending == n_step - 1
    for t, row in rows.items():
        expected = sum(GAMMA**k * rewards[t + k] for k in range(n_step))
        assert row["reward"] == pytest.approx(expected)
        assert row["next"] == t + n_step
        assert row["discount"] == pytest.approx(GAMMA**n_step)
        assert row["termination"] == 0.0
        assert row["action"] == pytest.approx(0.1 * t)


@pytest.mark.parametrize("n_step", [1, 3, 4])
def test_terminated_episode_cuts_returns_and_does_not_bootstrap(n_step: int) -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=n_step)
    rewards = [1.0, 10.0, 100.0, 1000.0, 10000.0]
    _fill(buffer, rewards, terminated=True)
    rows = _by_start(buffer)
    assert sorted(rows) == list(range(len(rewards)))
    assert buffer.num_pending == 0
    end = len(rewards)
    for t, row in rows.items():
        m = min(n_step, end - t)
        assert row["reward"] == pytest.approx(sum(GAMMA**k * rewards[t + k] for k in range(m)))
        assert row["next"] == t + m
        assert row["discount"] == pytest.approx(GAMMA**m)
        assert row["termination"] == (1.0 if t + m == end else 0.0)


def test_truncated_episode_bootstraps_from_the_final_observation() -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=3)
    rewards = [1.0, 2.0, 3.0, 4.0]
    _fill(buffer, rewards, truncated=True)
    rows = _by_start(buffer)
    # Last transitions: 2 steps (t=2) and 1 step (t=3), discount gamma^m, no termination.
    assert rows[2] == pytest.approx(
        {
            "reward": 3.0 + GAMMA * 4.0,
            "next": 4.0,
            "termination": 0.0,
            "discount": GAMMA**2,
            "action": 0.2,
        }
    )
    assert rows[3] == pytest.approx(
        {"reward": 4.0, "next": 4.0, "termination": 0.0, "discount": GAMMA, "action": 0.3}
    )
    assert all(row["termination"] == 0.0 for row in rows.values())


def test_returns_never_cross_into_the_next_episode() -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=3)
    _fill(buffer, [1.0, 1.0], terminated=True)
    for t in range(4):  # second episode, observations offset by 100
        buffer.add([100 + t] * 2, [0.0], [5.0], [101 + t] * 2, [False], [t == 3])
    stored = buffer.stored()
    starts = stored["observations"][:, 0]
    nexts = stored["next_observations"][:, 0]
    assert np.all((starts < 100) == (nexts < 100))
    second = starts >= 100
    assert np.all(nexts[second] <= 104) and np.all(nexts[~second] <= 2)
    assert stored["rewards"][starts == 100][0] == pytest.approx(5.0 * (1 + GAMMA + GAMMA**2))


def test_vector_add_keeps_each_environment_s_steps_apart() -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=2, num_envs=3)
    # env e: observation [t, e], reward e + 1; env 1 terminates at t = 1.
    for t in range(3):
        env_ids = np.array([0, 2]) if t == 2 else np.array([0, 1, 2])
        obs = np.array([[t, e] for e in env_ids], dtype=np.float32)
        next_obs = obs + np.array([1.0, 0.0], dtype=np.float32)
        terminated = (env_ids == 1) & (t == 1)
        buffer.add(
            obs,
            np.zeros((len(env_ids), 1)),
            env_ids + 1.0,
            next_obs,
            terminated,
            [False] * len(env_ids),
            env_ids=env_ids,
        )
    stored = buffer.stored()
    for obs, reward, next_obs, term, disc in zip(
        stored["observations"],
        stored["rewards"],
        stored["next_observations"],
        stored["terminations"],
        stored["discounts"],
        strict=True,
    ):
        env = int(obs[1])
        assert next_obs[1] == env  # never another environment's observation
        m = int(next_obs[0] - obs[0])
        assert disc == pytest.approx(GAMMA**m)
        assert reward == pytest.approx((env + 1.0) * sum(GAMMA**k for k in range(m)))
        assert term == (1.0 if env == 1 and next_obs[0] == 2 else 0.0)
    assert len(buffer) == 2 + 2 + 2  # envs 0 and 2: starts t=0, 1; env 1: flushed t=0, 1
    assert buffer.num_pending == 2  # t=2 of envs 0 and 2


def test_flush_pending_ends_every_open_episode_as_truncated() -> None:
    buffer = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=3)
    _fill(buffer, [1.0, 1.0])
    assert len(buffer) == 0
    buffer.flush_pending()
    rows = _by_start(buffer)
    assert rows[0]["reward"] == pytest.approx(1 + GAMMA) and rows[0]["next"] == 2
    assert rows[1]["discount"] == pytest.approx(GAMMA) and rows[1]["termination"] == 0.0
    assert buffer.num_pending == 0


def test_ring_overwrites_the_oldest_transitions() -> None:
    buffer = NStepReplay(4, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=1)
    _fill(buffer, [float(t) for t in range(10)])
    assert len(buffer) == 4
    assert sorted(_by_start(buffer)) == [6, 7, 8, 9]


def test_samples_are_tensors_with_the_documented_shapes() -> None:
    buffer = NStepReplay(50, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=2, seed=0)
    _fill(buffer, [1.0] * 10, truncated=True)
    batch = buffer.sample(7)
    assert batch.observations.shape == (7, 2) and batch.next_observations.shape == (7, 2)
    assert batch.actions.shape == (7, 1)
    for name in ("rewards", "terminations", "discounts"):
        assert getattr(batch, name).shape == (7,)


def test_sampling_an_empty_buffer_says_what_to_do() -> None:
    with pytest.raises(ConfigError, match="empty"):
        NStepReplay(5, obs_dim=2, action_dim=1, gamma=GAMMA).sample(3)


def test_state_dict_round_trip_restores_contents_windows_and_sampler() -> None:
    source = NStepReplay(8, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=3, seed=1)
    _fill(source, [float(t) for t in range(11)])  # wrapped ring, 2 pending steps
    copy = NStepReplay(8, obs_dim=2, action_dim=1, gamma=GAMMA, n_step=3, seed=99)
    copy.load_state_dict({k: np.array(v) for k, v in source.state_dict().items()})
    for a, b in zip(source.sample(16), copy.sample(16), strict=True):
        assert np.array_equal(a.numpy(), b.numpy())
    _fill(source, [1.0], truncated=True)
    _fill(copy, [1.0], truncated=True)
    for key, value in source.stored().items():
        assert np.array_equal(value, copy.stored()[key])


def test_state_of_another_shape_is_refused() -> None:
    state = NStepReplay(8, obs_dim=2, action_dim=1, gamma=GAMMA).state_dict()
    with pytest.raises(DataFileError, match="capacity"):
        NStepReplay(9, obs_dim=2, action_dim=1, gamma=GAMMA).load_state_dict(state)


def test_ensemble_mixes_offline_and_online_halves() -> None:
    online = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, seed=0)
    offline = NStepReplay(100, obs_dim=2, action_dim=1, gamma=GAMMA, seed=1)
    mixed = EnsembleReplay(online, offline, offline_fraction=0.5)
    for t in range(10):
        offline.add([-1.0, t], [0.0], [0.0], [-1.0, t + 1], [False], [False])
    assert np.all(mixed.sample(8).observations[:, 0].numpy() == -1.0)  # online empty
    for t in range(10):
        mixed.add([1.0, t], [0.0], [0.0], [1.0, t + 1], [False], [False])
    assert len(online) == 10 and len(mixed) == 20
    source = mixed.sample(128).observations[:, 0].numpy()
    assert np.count_nonzero(source == -1.0) == 64 and np.count_nonzero(source == 1.0) == 64

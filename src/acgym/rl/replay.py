"""Replay buffers with n-step returns, for one or many environments at once.

:class:`NStepReplay` stores finished n-step transitions in preallocated numpy arrays (a
ring): for a transition starting at ``t`` and summing ``m`` rewards,

    reward = sum_{k < m} gamma^k r_{t+k},   next_observation = s_{t+m},
    discount = gamma^m,                      termination = 1 if the episode terminated at t+m.

``m = n`` inside an episode and ``m < n`` for the last transitions of an episode. A
*terminated* episode does not bootstrap (``termination = 1``); a *truncated* one
(time limit, a cut run) does: its last transitions keep ``termination = 0`` and bootstrap
from the final observation with ``gamma^m``. A learner's target is
``reward + (1 - termination) * discount * V(next_observation)``.

Each environment has its own pending window of at most ``n`` steps, so transitions of
parallel environments never mix, and :meth:`NStepReplay.add` takes the N transitions of
a vector environment in one call. :class:`EnsembleReplay` mixes an online buffer with an
offline one (demonstrations), as the original's ``EnsembleBuffer``: half of each batch
from each by default.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Protocol

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from acgym.errors import ConfigError, DataFileError


class ReplayBatch(NamedTuple):
    """A batch of n-step transitions, as tensors on the learner's device."""

    observations: torch.Tensor
    """``(batch, obs_dim)`` observations ``s_t``."""
    actions: torch.Tensor
    """``(batch, action_dim)`` actions ``a_t``, normalised to ``[-1, 1]``."""
    rewards: torch.Tensor
    """``(batch,)`` discounted reward sums ``sum_{k<m} gamma^k r_{t+k}``."""
    next_observations: torch.Tensor
    """``(batch, obs_dim)`` observations ``s_{t+m}`` to bootstrap from."""
    terminations: torch.Tensor
    """``(batch,)`` 1.0 where the episode terminated at ``t+m`` (no bootstrap), else 0.0."""
    discounts: torch.Tensor
    """``(batch,)`` ``gamma^m``, the discount of the bootstrap value."""


class Replay(Protocol):
    """What a learner needs from a replay buffer."""

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None: ...

    def sample(self, batch_size: int) -> ReplayBatch: ...

    def flush_pending(self) -> None: ...

    def __len__(self) -> int: ...

    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


_ARRAYS = ("obs", "actions", "rewards", "next_obs", "terminations", "discounts")
_WINDOW = ("win_obs", "win_actions", "win_rewards", "win_len", "last_next_obs")


class NStepReplay:
    """Ring buffer of n-step transitions from ``num_envs`` environments.

    Args:
        capacity: number of transitions kept; the oldest are overwritten.
        obs_dim: observation width.
        action_dim: action width.
        gamma: per-step discount.
        n_step: rewards summed per transition (1 = plain one-step replay).
        num_envs: number of environments feeding the buffer (one pending window each).
        seed: seed of the sampling random generator.
        device: device of the sampled tensors.
    """

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        action_dim: int,
        gamma: float,
        n_step: int = 1,
        num_envs: int = 1,
        seed: int | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        if capacity < 1 or n_step < 1 or num_envs < 1:
            raise ConfigError(
                f"replay needs capacity, n_step and num_envs >= 1, got {capacity}, {n_step}, "
                f"{num_envs}"
            )
        if not 0.0 < gamma <= 1.0:
            raise ConfigError(f"gamma must be in (0, 1], got {gamma}")
        self.capacity = capacity
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.gamma = gamma
        self.n_step = n_step
        self.num_envs = num_envs
        self.device = torch.device(device)
        self._rng = np.random.default_rng(seed)
        self._powers = gamma ** np.arange(n_step + 1, dtype=np.float64)
        # np.zeros of a large array is lazily backed by the OS: untouched rows cost no RAM.
        self._allocate_observations(capacity, obs_dim)
        self._actions = np.zeros((capacity, action_dim), dtype=np.float32)
        self._rewards = np.zeros(capacity, dtype=np.float32)
        self._terminations = np.zeros(capacity, dtype=np.float32)
        self._discounts = np.zeros(capacity, dtype=np.float32)
        self._ptr = 0
        self._size = 0
        # Pending steps per environment, oldest first: at most n_step of them.
        self._win_obs = np.zeros((num_envs, n_step, obs_dim), dtype=np.float32)
        self._win_actions = np.zeros((num_envs, n_step, action_dim), dtype=np.float32)
        self._win_rewards = np.zeros((num_envs, n_step), dtype=np.float64)
        self._win_len = np.zeros(num_envs, dtype=np.int64)
        self._last_next_obs = np.zeros((num_envs, obs_dim), dtype=np.float32)

    def __len__(self) -> int:
        return self._size

    @property
    def num_pending(self) -> int:
        """Steps waiting in the per-environment windows (not yet sampleable)."""
        return int(self._win_len.sum())

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Add one step of ``k`` environments.

        Args:
            obs: ``(k, obs_dim)`` observations ``s_t`` (or ``(obs_dim,)`` when ``k = 1``).
            actions: ``(k, action_dim)`` actions in ``[-1, 1]``.
            rewards: ``(k,)`` rewards ``r_t``.
            next_obs: ``(k, obs_dim)`` observations ``s_{t+1}``; for an episode that ended,
                its final observation (not the reset one).
            terminated: ``(k,)`` the episode reached a terminal state (no bootstrap).
            truncated: ``(k,)`` the episode was cut (time limit): it bootstraps.
            env_ids: ``(k,)`` which environments these rows are; default ``0..k-1``.
        """
        obs = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        k = obs.shape[0]
        actions = np.asarray(actions, dtype=np.float32).reshape(k, self.action_dim)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(k)
        next_obs = np.asarray(next_obs, dtype=np.float32).reshape(k, self.obs_dim)
        terminated = np.asarray(terminated, dtype=bool).reshape(k)
        truncated = np.asarray(truncated, dtype=bool).reshape(k)
        if env_ids is None:
            if k > self.num_envs:
                raise ConfigError(f"expected at most {self.num_envs} environments, got {k}")
            ids = np.arange(k)
        else:
            ids = np.asarray(env_ids, dtype=np.int64).reshape(k)
        slots = self._win_len[ids]
        self._win_obs[ids, slots] = obs
        self._win_actions[ids, slots] = actions
        self._win_rewards[ids, slots] = rewards
        self._win_len[ids] = slots + 1
        self._last_next_obs[ids] = next_obs
        done = terminated | truncated
        full = ~done & (slots + 1 == self.n_step)
        if full.any():
            full_ids = ids[full]
            returns = self._win_rewards[full_ids] @ self._powers[: self.n_step]
            self._write(
                self._win_obs[full_ids, 0],
                self._win_actions[full_ids, 0],
                returns,
                next_obs[full],
                np.zeros(len(full_ids)),
                np.full(len(full_ids), self._powers[self.n_step]),
            )
            # Slide the windows by one step (fancy indexing copies the right side first).
            self._win_obs[full_ids, :-1] = self._win_obs[full_ids, 1:]
            self._win_actions[full_ids, :-1] = self._win_actions[full_ids, 1:]
            self._win_rewards[full_ids, :-1] = self._win_rewards[full_ids, 1:]
            self._win_len[full_ids] -= 1
        for row in np.flatnonzero(done):
            self._flush(int(ids[row]), next_obs[row], bool(terminated[row]))

    def add_episode(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        truncated: bool = True,
    ) -> int:
        """Add a whole recorded sequence of one environment at once (offline data).

        The same transitions as :meth:`add` called step by step, computed in one pass:
        a step with ``terminated`` ends a segment without bootstrap (the original data
        loader marks out-of-track steps of human laps so, and goes on); the sequence's
        last step ends it as ``truncated`` (bootstrap) unless it terminated.

        Args:
            obs: ``(T, obs_dim)`` observations ``s_t``.
            actions: ``(T, action_dim)`` actions in ``[-1, 1]``.
            rewards: ``(T,)`` rewards ``r_t``.
            next_obs: ``(T, obs_dim)`` observations ``s_{t+1}``.
            terminated: ``(T,)`` ``s_{t+1}`` is terminal.
            truncated: the sequence was cut after its last step (else its last step must
                be terminated or the sequence continues: not supported).

        Returns:
            The number of transitions written (``T``).
        """
        obs = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        length = obs.shape[0]
        actions = np.asarray(actions, dtype=np.float32).reshape(length, self.action_dim)
        rewards = np.asarray(rewards, dtype=np.float64).reshape(length)
        next_obs = np.asarray(next_obs, dtype=np.float32).reshape(length, self.obs_dim)
        terminated = np.asarray(terminated, dtype=bool).reshape(length)
        if length == 0:
            return 0
        if not (truncated or terminated[-1]):
            raise ConfigError("add_episode: the last step must end the sequence (truncated)")
        # Segment end (exclusive) of every step: the next terminated step, or the end.
        ends = np.flatnonzero(terminated) + 1
        if ends.size == 0 or ends[-1] != length:
            ends = np.append(ends, length)
        segment_end = np.repeat(ends, np.diff(np.concatenate(([0], ends))))
        index = np.arange(length)
        m = np.minimum(self.n_step, segment_end - index)  # rewards summed per transition
        returns = np.zeros(length)
        for k in range(self.n_step):
            inside = k < m
            returns[inside] += self._powers[k] * rewards[index[inside] + k]
        last = index + m - 1
        reaches_end = index + m == segment_end
        terminations = (reaches_end & terminated[last]).astype(np.float64)
        for start in range(0, length, self.capacity):  # a sequence longer than the ring
            rows = slice(start, start + self.capacity)
            self._write(
                obs[rows],
                actions[rows],
                returns[rows],
                next_obs[last[rows]],
                terminations[rows],
                self._powers[m[rows]],
            )
        return length

    def flush_pending(self) -> None:
        """End every pending episode as truncated (the run stops or the env is reset).

        Each pending step becomes a transition that bootstraps from the last observation
        seen in its environment.
        """
        for env_id in np.flatnonzero(self._win_len):
            self._flush(int(env_id), self._last_next_obs[env_id], terminated=False)

    def _flush(self, env_id: int, final_obs: np.ndarray, terminated: bool) -> None:
        length = int(self._win_len[env_id])
        if length == 0:
            return
        rewards = self._win_rewards[env_id, :length]
        returns = np.empty(length)
        acc = 0.0
        for j in range(length - 1, -1, -1):  # G_j = r_j + gamma G_{j+1}
            acc = rewards[j] + self.gamma * acc
            returns[j] = acc
        self._write(
            self._win_obs[env_id, :length],
            self._win_actions[env_id, :length],
            returns,
            np.broadcast_to(final_obs, (length, self.obs_dim)),
            np.full(length, float(terminated)),
            self._powers[length:0:-1],  # gamma^(length - j)
        )
        self._win_len[env_id] = 0

    def _write(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminations: np.ndarray,
        discounts: np.ndarray,
    ) -> None:
        count = len(rewards)
        rows = (self._ptr + np.arange(count)) % self.capacity
        self._store_observations(rows, obs, next_obs)
        self._actions[rows] = actions
        self._rewards[rows] = rewards
        self._terminations[rows] = terminations
        self._discounts[rows] = discounts
        self._ptr = int((self._ptr + count) % self.capacity)
        self._size = min(self._size + count, self.capacity)

    def sample_arrays(self, batch_size: int) -> tuple[NDArray[np.float32], ...]:
        """Sample ``batch_size`` stored transitions uniformly, with replacement.

        Returns:
            numpy arrays in :class:`ReplayBatch` field order.
        """
        if self._size == 0:
            raise ConfigError("cannot sample from an empty replay buffer: add transitions first")
        rows = self._rng.integers(0, self._size, size=batch_size)
        obs, next_obs = self._load_observations(rows)
        return (
            obs,
            self._actions[rows],
            self._rewards[rows],
            next_obs,
            self._terminations[rows],
            self._discounts[rows],
        )

    def _allocate_observations(self, capacity: int, obs_dim: int) -> None:
        """The stored observations' arrays (float32 rows)."""
        self._obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self._next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)

    def _store_observations(self, rows: np.ndarray, obs: np.ndarray, next_obs: np.ndarray) -> None:
        """Write the observations of ring ``rows`` (a subclass may store them otherwise)."""
        self._obs[rows] = obs
        self._next_obs[rows] = next_obs

    def _load_observations(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(obs, next_obs)`` of ring ``rows``, float32."""
        return self._obs[rows], self._next_obs[rows]

    def sample(self, batch_size: int) -> ReplayBatch:
        """Sample a batch of transitions as tensors on ``self.device``."""
        return to_batch(self.sample_arrays(batch_size), self.device)

    def stored(self) -> dict[str, NDArray[np.float32]]:
        """The stored transitions (views, storage order), keyed like :class:`ReplayBatch`."""
        size = self._size
        return {
            "observations": self._obs[:size],
            "actions": self._actions[:size],
            "rewards": self._rewards[:size],
            "next_observations": self._next_obs[:size],
            "terminations": self._terminations[:size],
            "discounts": self._discounts[:size],
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly: stored rows, windows, sampler state.

        Only the filled rows are included; values are plain numpy arrays (for ``.npz``).
        """
        size = self._size
        state: dict[str, np.ndarray] = {name: getattr(self, f"_{name}")[:size] for name in _ARRAYS}
        state.update({name: getattr(self, f"_{name}") for name in _WINDOW})
        state["meta"] = np.array(
            json.dumps(
                {
                    "capacity": self.capacity,
                    "obs_dim": self.obs_dim,
                    "action_dim": self.action_dim,
                    "gamma": self.gamma,
                    "n_step": self.n_step,
                    "num_envs": self.num_envs,
                    "ptr": self._ptr,
                    "size": self._size,
                    "rng": self._rng.bit_generator.state,
                }
            )
        )
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output into this (identically shaped) buffer."""
        meta: dict[str, Any] = json.loads(str(state["meta"]))
        for key in ("capacity", "obs_dim", "action_dim", "gamma", "n_step", "num_envs"):
            if meta[key] != getattr(self, key):
                raise DataFileError(
                    f"replay state has {key}={meta[key]}, this buffer has "
                    f"{getattr(self, key)}: create the buffer with the saved settings"
                )
        size = int(meta["size"])
        for name in _ARRAYS:
            getattr(self, f"_{name}")[:size] = state[name]
        for name in _WINDOW:
            getattr(self, f"_{name}")[...] = state[name]
        self._ptr = int(meta["ptr"])
        self._size = size
        self._rng.bit_generator.state = meta["rng"]


class EnsembleReplay:
    """An online buffer mixed with an offline (demonstration) buffer.

    New experience goes to ``online``; fill ``offline`` directly with recorded data.
    Each batch takes ``round(offline_fraction * batch_size)`` transitions from
    ``offline`` and the rest from ``online`` (the original: half and half); while one of
    them is empty the whole batch comes from the other.

    Args:
        online: buffer of the agent's own experience.
        offline: buffer of demonstrations.
        offline_fraction: share of each batch drawn from ``offline``.
    """

    def __init__(
        self, online: NStepReplay, offline: NStepReplay, offline_fraction: float = 0.5
    ) -> None:
        if not 0.0 <= offline_fraction <= 1.0:
            raise ConfigError(f"offline_fraction must be in [0, 1], got {offline_fraction}")
        self.online = online
        self.offline = offline
        self.offline_fraction = offline_fraction
        self.device = online.device

    def __len__(self) -> int:
        return len(self.online) + len(self.offline)

    def add(
        self,
        obs: ArrayLike,
        actions: ArrayLike,
        rewards: ArrayLike,
        next_obs: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        env_ids: ArrayLike | None = None,
    ) -> None:
        """Add to the online buffer (see :meth:`NStepReplay.add`)."""
        self.online.add(obs, actions, rewards, next_obs, terminated, truncated, env_ids)

    def flush_pending(self) -> None:
        """End the pending episodes of both buffers as truncated."""
        self.online.flush_pending()
        self.offline.flush_pending()

    def num_offline(self, batch_size: int) -> int:
        """How many of a sampled batch's rows (the first ones) are offline rows."""
        if len(self.online) == 0:
            return batch_size
        if len(self.offline) == 0:
            return 0
        return round(self.offline_fraction * batch_size)

    def sample(self, batch_size: int) -> ReplayBatch:
        """Sample a mixed batch: offline rows first (:meth:`num_offline`), then online rows."""
        num_offline = self.num_offline(batch_size)
        parts = []
        if num_offline > 0:
            parts.append(self.offline.sample_arrays(num_offline))
        if num_offline < batch_size:
            parts.append(self.online.sample_arrays(batch_size - num_offline))
        if len(parts) == 1:
            return to_batch(parts[0], self.device)
        return to_batch(
            tuple(np.concatenate(pair) for pair in zip(*parts, strict=True)), self.device
        )

    def state_dict(self) -> dict[str, np.ndarray]:
        """Both buffers' states, keys prefixed ``online/`` and ``offline/``."""
        state = {f"online/{k}": v for k, v in self.online.state_dict().items()}
        state.update({f"offline/{k}": v for k, v in self.offline.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` output."""
        for prefix, buffer in (("online/", self.online), ("offline/", self.offline)):
            buffer.load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )


def to_batch(arrays: tuple[np.ndarray, ...], device: torch.device) -> ReplayBatch:
    """Wrap numpy arrays (in :class:`ReplayBatch` order) as tensors on ``device``."""
    if device.type == "cpu":
        return ReplayBatch(*(torch.from_numpy(a) for a in arrays))
    # One host-to-device copy instead of six: pack the columns, move, split.
    columns = [a.reshape(len(a), -1) for a in arrays]
    widths = [c.shape[1] for c in columns]
    packed = torch.from_numpy(np.concatenate(columns, axis=1)).to(device)
    parts = packed.split(widths, dim=1)
    return ReplayBatch(*(p if a.ndim == 2 else p[:, 0] for p, a in zip(parts, arrays, strict=True)))

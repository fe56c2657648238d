"""An n-step replay of flat pixel observations that keeps the pixels as bytes.

:class:`PixelReplay` is :class:`acgym.rl.replay.NStepReplay` (same n-step transitions,
windows, sampling and state) whose stored observations are split by their
:class:`~acgym.rl.pixels.PixelLayout`: the pixels (whole numbers 0..255) as ``uint8``,
the vector as ``float32``: a quarter of the memory of float pixels (a 3 x 64 x 64 stack
is 12 KB per observation, 24 KB per transition with its next observation). Sampled
batches are float32 flat observations, as from the plain buffer.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from acgym.errors import DataFileError
from acgym.rl.pixels import PixelLayout
from acgym.rl.replay import NStepReplay

_PIXEL_ARRAYS = ("pixels", "vectors", "next_pixels", "next_vectors")

MEMORY_FRACTION = 0.5
"""The share of the machine's physical memory a pixel replay may fill."""

logger = logging.getLogger(__name__)


def transition_bytes(layout: PixelLayout, action_dim: int) -> int:
    """Memory of one stored transition: both observations' pixels (bytes) and vectors,
    the action, reward, termination and discount (float32), bytes."""
    return 2 * (layout.pixel_dim + 4 * layout.vector_dim) + 4 * (action_dim + 3)


def physical_memory_bytes() -> int:
    """The machine's physical memory, bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def fitting_capacity(
    requested: int, layout: PixelLayout, action_dim: int, memory_bytes: int | None = None
) -> int:
    """``requested`` transitions, or as many as fill :data:`MEMORY_FRACTION` of
    ``memory_bytes`` (default: this machine's) when fewer; a warning says so.

    ``agent.replay_size``'s default (8M, the original's, of vector observations) would
    need ~100 GB of 64 x 64 stacks: a full buffer must not end a long run out of memory.
    """
    memory = physical_memory_bytes() if memory_bytes is None else memory_bytes
    per_transition = transition_bytes(layout, action_dim)
    fits = max(1, int(MEMORY_FRACTION * memory) // per_transition)
    if requested <= fits:
        return requested
    logger.warning(
        "agent.replay_size=%d pixel transitions would need %.1f GB (%d B each); the replay "
        "keeps %d (%.0f %% of this machine's %.1f GB). Set agent.replay_size to choose.",
        requested, requested * per_transition / 1e9, per_transition, fits,
        100 * MEMORY_FRACTION, memory / 1e9,
    )  # fmt: skip
    return fits


class PixelReplay(NStepReplay):
    """:class:`NStepReplay` with the pixels stored as bytes.

    Args:
        layout: The observations' layout (``obs_dim`` is its ``flat_dim``).
        Others: as :class:`NStepReplay`.
    """

    def __init__(self, layout: PixelLayout, capacity: int, action_dim: int, gamma: float, n_step: int = 1, num_envs: int = 1, seed: int | None = None, device: Any = "cpu") -> None:  # fmt: skip
        super().__init__(
            capacity, layout.flat_dim, action_dim, gamma, n_step, num_envs, seed, device
        )
        self.layout = layout
        # The base's float observations are replaced by the four arrays below (its
        # state then holds zero-width ones); all lazily backed by the OS.
        self._pixels = np.zeros((capacity, layout.pixel_dim), dtype=np.uint8)
        self._next_pixels = np.zeros((capacity, layout.pixel_dim), dtype=np.uint8)
        self._vectors = np.zeros((capacity, layout.vector_dim), dtype=np.float32)
        self._next_vectors = np.zeros((capacity, layout.vector_dim), dtype=np.float32)

    def _allocate_observations(self, capacity: int, obs_dim: int) -> None:
        self._obs = np.zeros((capacity, 0), dtype=np.float32)
        self._next_obs = np.zeros((capacity, 0), dtype=np.float32)

    def _store_observations(self, rows: np.ndarray, obs: np.ndarray, next_obs: np.ndarray) -> None:
        split = self.layout.pixel_dim
        self._pixels[rows] = obs[:, :split]
        self._vectors[rows] = obs[:, split:]
        self._next_pixels[rows] = next_obs[:, :split]
        self._next_vectors[rows] = next_obs[:, split:]

    def _load_observations(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = np.concatenate([self._pixels[rows], self._vectors[rows]], axis=1, dtype=np.float32)
        next_obs = np.concatenate(
            [self._next_pixels[rows], self._next_vectors[rows]], axis=1, dtype=np.float32
        )
        return obs, next_obs

    def stored(self) -> dict[str, np.ndarray]:
        """The stored transitions (storage order), keyed like the plain buffer's."""
        out = super().stored()
        rows = np.arange(self._size)
        out["observations"], out["next_observations"] = self._load_observations(rows)
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """As the plain buffer's, with the pixels and vectors instead of float observations."""
        state = super().state_dict()
        size = self._size
        for name in _PIXEL_ARRAYS:
            state[name] = getattr(self, f"_{name}")[:size]
        meta = json.loads(str(state["meta"]))
        meta["pixel_layout"] = self.layout.image_name
        state["meta"] = np.array(json.dumps(meta))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        meta: dict[str, Any] = json.loads(str(state["meta"]))
        if meta.get("pixel_layout") != self.layout.image_name:
            raise DataFileError(
                f"replay state of images {meta.get('pixel_layout')}, this buffer's are "
                f"{self.layout.image_name}: create the buffer with the saved settings"
            )
        size = int(meta["size"])
        super().load_state_dict({k: v for k, v in state.items() if k not in _PIXEL_ARRAYS})
        for name in _PIXEL_ARRAYS:
            getattr(self, f"_{name}")[:size] = state[name]

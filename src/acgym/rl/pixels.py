"""Image observations for the learner: a Dict of ``image`` and ``vector`` seen as one flat
vector, with the last ``frame_stack`` images stacked.

The trainer, the replay buffers and the agents work on flat ``float32`` vectors; an env
whose observation is a Dict (``env.image.enabled`` or ``env.screen_capture_enable``) is
wrapped by :class:`PixelObservations` (one env) or :class:`PixelVectorObservations` (a
vector env, same-step autoreset), whose observation is ``[pixels, vector]``: the last
``frame_stack`` images, oldest first, channels first (``(frame_stack * C, H, W)``,
flattened, values 0..255), then the vector. A new episode starts with its first image
repeated. :class:`PixelLayout` says where each part is; the encoder
(:mod:`acgym.rl.encoder`) and the replay (:mod:`acgym.rl.pixel_replay`) read it.

The layout's first name describes the image (``image[3x64x64 stack 3 | ...]`` with the
env's image settings), so a checkpoint records them and refuses an env whose images
differ (:func:`acgym.rl.checkpoint.check_observation_layout`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorWrapper
from numpy.typing import NDArray

from acgym.errors import ConfigError

IMAGE_KEY, VECTOR_KEY = "image", "vector"
_IMAGE_NAME = re.compile(r"^image\[(\d+)x(\d+)x(\d+) stack (\d+)(?: \| (.*))?\]$")


@dataclass(frozen=True)
class PixelLayout:
    """Where the image and the vector are in a flat observation.

    Attributes:
        channels, height, width: One image (``C``, ``H``, ``W``).
        frame_stack: Images stacked (``k``): the encoder sees ``k * C`` channels.
        vector_dim: Values after the pixels.
        settings: The env's image settings (for the checkpoint's layout check).
    """

    channels: int
    height: int
    width: int
    frame_stack: int
    vector_dim: int
    settings: str = ""

    @property
    def stacked_shape(self) -> tuple[int, int, int]:
        """``(k * C, H, W)``: what the encoder convolves."""
        return self.frame_stack * self.channels, self.height, self.width

    @property
    def pixel_dim(self) -> int:
        """Pixel values in a flat observation."""
        k_c, h, w = self.stacked_shape
        return k_c * h * w

    @property
    def flat_dim(self) -> int:
        return self.pixel_dim + self.vector_dim

    @property
    def image_name(self) -> str:
        """The layout's name of the image part (shape, stack and settings)."""
        suffix = f" | {self.settings}" if self.settings else ""
        return f"image[{self.channels}x{self.height}x{self.width} stack {self.frame_stack}{suffix}]"

    @classmethod
    def from_names(cls, names: Sequence[str] | None) -> PixelLayout | None:
        """The layout an observation layout describes, or None without an image."""
        if not names:
            return None
        match = _IMAGE_NAME.match(str(names[0]))
        if match is None:
            return None
        c, h, w, k = (int(match.group(i)) for i in range(1, 5))
        return cls(c, h, w, k, len(names) - 1, match.group(5) or "")


def image_settings(env: Any) -> str:
    """The env's image settings, as text (which view, camera or captured frames)."""
    config = getattr(getattr(env, "unwrapped", env), "config", None)
    if config is None:
        return ""
    if config.screen_capture_enable:
        return f"screen capture {config.final_image_width}x{config.final_image_height} {config.color_mode}"
    image = config.image
    if image.view == "map":
        return f"map {image.size_px}px {image.m_per_px}m/px behind {image.behind_px}px"
    cam = image.camera
    return (
        f"camera {cam.width_px}x{cam.height_px} {cam.color} fov {cam.fov_deg} "
        f"mount {cam.mount_forward_m},{cam.mount_height_m} pitch {cam.pitch_deg} "
        f"max {cam.max_distance_m} car {int(cam.draw_car)}"
    )


def _layout(space: gym.Space, frame_stack: int, settings: str) -> PixelLayout:
    if not isinstance(space, gym.spaces.Dict) or set(space.spaces) != {IMAGE_KEY, VECTOR_KEY}:
        raise ConfigError(f"expected a Dict observation of 'image' and 'vector', got {space}")
    if frame_stack < 1:
        raise ConfigError(f"agent.frame_stack: expected >= 1, got {frame_stack}")
    height, width, channels = space[IMAGE_KEY].shape
    return PixelLayout(channels, height, width, frame_stack, space[VECTOR_KEY].shape[0], settings)


class FrameStacks:
    """The last ``k`` images of N envs, channels first: ``(N, k * C, H, W)`` uint8."""

    def __init__(self, layout: PixelLayout, num_envs: int) -> None:
        self.layout = layout
        self.frames = np.zeros((num_envs, *layout.stacked_shape), dtype=np.uint8)

    def start(self, rows: NDArray[np.intp], images: NDArray[np.uint8]) -> None:
        """New episodes: their first image ``(n, H, W, C)`` fills their whole stack."""
        first = np.moveaxis(images, -1, 1)
        self.frames[rows] = np.tile(first, (1, self.layout.frame_stack, 1, 1))

    def push(self, rows: NDArray[np.intp], images: NDArray[np.uint8]) -> None:
        """The next image ``(n, H, W, C)`` of these envs: the oldest leaves."""
        c = self.layout.channels
        self.frames[rows, :-c] = self.frames[rows, c:]
        self.frames[rows, -c:] = np.moveaxis(images, -1, 1)

    def flat(self, rows: NDArray[np.intp], vectors: NDArray[Any]) -> NDArray[np.float32]:
        """``(n, flat_dim)``: these envs' stacks and ``vectors``."""
        pixels = self.frames[rows].reshape(len(rows), -1)
        return np.concatenate([pixels, np.asarray(vectors).reshape(len(rows), -1)], axis=1).astype(
            np.float32
        )


class PixelObservations(gym.Wrapper):
    """One env with a Dict observation, seen with flat stacked observations (module
    docstring). The real-time pair ``set_actions(a)`` / ``step(None)`` passes through."""

    def __init__(self, env: gym.Env, frame_stack: int) -> None:
        super().__init__(env)
        self.layout = _layout(env.observation_space, frame_stack, image_settings(env))
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (self.layout.flat_dim,), np.float32
        )
        self._stacks = FrameStacks(self.layout, 1)
        self._row = np.zeros(1, dtype=np.intp)

    @property
    def observation_layout(self) -> tuple[str, ...]:
        """The image's name, then the env's names of the vector."""
        names = self.env.unwrapped.observation_layout
        return (self.layout.image_name, *names)

    def reset(self, **kwargs: Any) -> tuple[NDArray[np.float32], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._stacks.start(self._row, obs[IMAGE_KEY][None])
        return self._stacks.flat(self._row, obs[VECTOR_KEY])[0], info

    def step(self, action: Any) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if action is None:  # the real-time pair: the actions went out with set_actions
            obs, reward, terminated, truncated, info = self.env.unwrapped.step(None)
        else:
            obs, reward, terminated, truncated, info = self.env.step(action)
        self._stacks.push(self._row, obs[IMAGE_KEY][None])
        return self._stacks.flat(self._row, obs[VECTOR_KEY])[0], reward, terminated, truncated, info

    def set_actions(self, action: Any) -> None:
        """Apply an action now (the real-time pair of the env)."""
        self.env.unwrapped.set_actions(action)


class PixelVectorObservations(VectorWrapper):
    """A vector env with Dict observations and same-step autoreset (acgym's), seen with
    flat stacked observations; ``info["final_obs"]`` holds the ended episodes' last flat
    observations (their own stacks), and their new first observations start afresh."""

    def __init__(self, env: gym.vector.VectorEnv, frame_stack: int) -> None:
        super().__init__(env)
        self.layout = _layout(env.single_observation_space, frame_stack, image_settings(env))
        box = gym.spaces.Box(-np.inf, np.inf, (self.layout.flat_dim,), np.float32)
        self.single_observation_space = box
        self.observation_space = gym.vector.utils.batch_space(box, env.num_envs)
        self._stacks = FrameStacks(self.layout, env.num_envs)
        self._all = np.arange(env.num_envs, dtype=np.intp)

    @property
    def observation_layout(self) -> tuple[str, ...]:
        names = self.env.unwrapped.observation_layout
        return (self.layout.image_name, *names)

    def reset(self, **kwargs: Any) -> tuple[NDArray[np.float32], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._stacks.start(self._all, obs[IMAGE_KEY])
        return self._stacks.flat(self._all, obs[VECTOR_KEY]), info

    def step(self, actions: Any) -> tuple[Any, ...]:
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        ended = np.flatnonzero(np.asarray(terminated) | np.asarray(truncated))
        if ended.size:
            finals = infos["final_obs"]
            final_flat = np.empty(self.num_envs, dtype=object)
            images = np.stack([finals[i][IMAGE_KEY] for i in ended])
            self._stacks.push(ended, images)
            vectors = np.stack([finals[i][VECTOR_KEY] for i in ended])
            for row, flat in zip(ended, self._stacks.flat(ended, vectors), strict=True):
                final_flat[row] = flat
            infos = {**infos, "final_obs": final_flat}
            self._stacks.start(ended, obs[IMAGE_KEY][ended])
        going = np.setdiff1d(self._all, ended)
        self._stacks.push(going, obs[IMAGE_KEY][going])
        return self._stacks.flat(self._all, obs[VECTOR_KEY]), rewards, terminated, truncated, infos


def wrap_pixels(env: Any, frame_stack: int) -> Any:
    """``env`` with flat stacked observations when its observation is a Dict, else as is."""
    vector = isinstance(env, gym.vector.VectorEnv)
    space = env.single_observation_space if vector else env.observation_space
    if not isinstance(space, gym.spaces.Dict):
        return env
    return (
        PixelVectorObservations(env, frame_stack) if vector else PixelObservations(env, frame_stack)
    )


def pixel_layout_of(env: Any) -> PixelLayout | None:
    """The pixel layout of an env wrapped by :func:`wrap_pixels`, else None."""
    layout = getattr(env, "layout", None)
    return layout if isinstance(layout, PixelLayout) else None

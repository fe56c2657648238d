"""The per-step computation shared by the single and the vector environment.

One :class:`StepPipeline` holds, for N cars, the state expander, the observation builder
and its history, the reward, the termination rules, the episode step counters and the
optional egocentric image, and where the latest terminated episodes ended (for starts
placed before them, ``start.failure_fraction``). Everything runs on the car axis; the
single environment is the case N = 1, so both environments compute the same numbers by
construction.

Order of one step (the original ``step``): expand the state into a frame, build the
observation, check it is finite, compute the reward (which reads the previous applied
controls and the lap distance from the history), evaluate the episode-end rules, push the
step into the history.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from acgym.env.camera import Camera
from acgym.env.captured import CapturedImages, FrameSource
from acgym.env.config import EnvConfig
from acgym.env.derived import LAP_DIST
from acgym.env.image import EgoImage, PoseImages
from acgym.env.observations import (
    POSE_CHANNELS,
    Frame,
    StateExpander,
    make_observation_builder,
)
from acgym.env.rewards import LapProgress, StepChange, actions_diff, make_reward
from acgym.env.starts import EpisodeEnds
from acgym.env.terminations import EpisodeEnd, make_terminations
from acgym.track.track import Track

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

VECTOR_KEY = "vector"
"""Key of the vector in a Dict observation (with the image)."""

IMAGE_KEY = "image"
"""Key of the egocentric image in a Dict observation."""


def make_image(
    track: Track, config: EnvConfig, num_cars: int, frames: FrameSource | None = None
) -> PoseImages | None:
    """The image term of the observation, or None without one.

    ``screen_capture_enable``: the game's frames (``frames``, from a remote backend with
    a capture helper), or on the simulator the camera at ``final_image_*`` in
    ``color_mode``; else with ``image.enabled`` the camera or the map (``image.view``).
    """
    if config.screen_capture_enable:
        channels = 1 if config.color_mode == "gray" else 3
        shape = (config.final_image_height, config.final_image_width, channels)
        if frames is not None:
            return CapturedImages(shape, frames)
        camera = dataclasses.replace(
            config.image.camera,
            width_px=config.final_image_width,
            height_px=config.final_image_height,
            color=config.color_mode,
        )
        return Camera(track, camera, num_cars)
    if not config.image.enabled:
        return None
    if config.image.view == "camera":
        return Camera(track, config.image.camera, num_cars)
    return EgoImage(track, config.image, num_cars)


class StepPipeline:
    """Frame -> observation, reward, episode end for N cars (see the module docstring).

    Args:
        config: Environment config.
        track: Track geometry.
        num_cars: N.
        target_speed_mps: Target speed per reference-line point (``use_target_speed``).
        frames: The current game frame, from a remote backend with a capture helper
            (``screen_capture_enable``); None: images are drawn from the poses.
    """

    def __init__(
        self,
        config: EnvConfig,
        track: Track,
        num_cars: int = 1,
        frames: FrameSource | None = None,
        *,
        target_speed_mps: FloatArray | None = None,
    ) -> None:
        self.config = config
        self.num_cars = num_cars
        self.expander = StateExpander(config, track, num_cars, target_speed_mps=target_speed_mps)
        self.builder = make_observation_builder(config)
        self.history = self.builder.new_history(num_cars)
        self.reward_fn = make_reward(config)
        self.progress = LapProgress(num_cars)
        self.terminations = make_terminations(config)
        self.terminations.reset(num_cars)
        self.ep_steps = np.zeros(num_cars, dtype=np.int64)
        self.failure_ends = EpisodeEnds(config.start.failure_memory)
        self.image = make_image(track, config, num_cars, frames)
        frame = self.expander.frame
        self._pose = [frame.index[c] for c in POSE_CHANNELS]

    @property
    def single_space(self) -> spaces.Space[Any]:
        """One car's observation space: the vector Box, or a Dict with the image."""
        vector = self.builder.space
        if self.image is None:
            return vector
        image = spaces.Box(0, 255, shape=self.image.shape, dtype=np.uint8)
        return spaces.Dict({VECTOR_KEY: vector, IMAGE_KEY: image})

    def observe(self, frame: Frame, cars: NDArray[np.int64] | None = None) -> FloatArray:
        """The ``(N, D)`` vector observations (a reused buffer); draws the images too."""
        obs = self.builder.build(frame, self.history)
        self.builder.check_finite(obs)
        if self.image is not None:
            x, y, yaw = (frame.values[:, c] for c in self._pose)
            self.image.draw(x, y, yaw, cars)
        return obs

    def judge(
        self, frame: Frame, *, evaluate_end: bool = True
    ) -> tuple[FloatArray, list[FloatArray], EpisodeEnd]:
        """Reward total ``(N,)``, its weighted terms, and the episode-end decision
        (``evaluate_end=False``: no rule runs and nothing ends, for a reset state)."""
        progress_m = self.progress(frame, self.expander.track_length_m)
        change = StepChange(actions_diff(frame, self.history), progress_m)
        total, parts = self.reward_fn(frame, change)
        if evaluate_end:
            end = self.terminations(frame, self.ep_steps)
            if end.terminated.any():
                self.failure_ends.record(frame.column(LAP_DIST)[end.terminated])
            return total, parts, end
        n = self.num_cars
        none = np.zeros(n, dtype=bool)
        return (
            total,
            parts,
            EpisodeEnd(none, none, np.zeros((len(self.terminations.rules), n), bool)),
        )

    def info(self, parts: list[FloatArray], end: EpisodeEnd, car: int = 0) -> dict[str, Any]:
        """A car's step info: ``terminated``, ``TimeLimit.truncated``, ``reward/<term>``,
        at an episode end ``termination_reasons``, and ``tyres_out_missing_steps`` once a
        state came without its tyres-out count (out of track then from the geometry)."""
        terminated, truncated = bool(end.terminated[car]), bool(end.truncated[car])
        info: dict[str, Any] = {"terminated": terminated, "TimeLimit.truncated": truncated}
        if self.expander.tyres_out_missing_steps:
            info["tyres_out_missing_steps"] = self.expander.tyres_out_missing_steps
        for key, part in zip(self.reward_fn.info_keys, parts, strict=True):
            info[key] = float(part[car])
        if terminated or truncated:
            info["termination_reasons"] = self.terminations.reasons(end.fired, car)
        return info

    def push(self, obs: FloatArray, frame: Frame) -> None:
        """Append this step to the history."""
        self.builder.push(obs, frame, self.history)
        self.progress.push(frame)

    def clear(self, mask: BoolArray | None = None) -> None:
        """Start new episodes (for the cars in ``mask``, or all)."""
        self.expander.forget_progress(mask)
        self.history.clear(mask)
        self.progress.clear(mask)
        self.terminations.reset(self.num_cars, mask)
        if mask is None:
            self.ep_steps[:] = 0
        else:
            self.ep_steps[mask] = 0

    def single_observation(self, obs: FloatArray, car: int = 0) -> Any:
        """Car ``car``'s observation in the space's form (new arrays)."""
        vector = obs[car].astype(np.float32)
        if self.image is None:
            return vector
        return {VECTOR_KEY: vector, IMAGE_KEY: self.image.images[car].copy()}

"""The game's frames as the observation's image (``screen_capture_enable`` on a remote car).

The remote backend pairs every state with the frame the capture helper grabbed for it
(:class:`acgym.protocol.frame_client.FrameReceiver`, by the state's tag); this image
term copies that frame into the observation, checking it has the configured shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from acgym.env.image import FloatArray, PoseImages
from acgym.errors import BackendError

FrameSource = Callable[[], NDArray[np.uint8] | None]
"""The current state's frame (a remote backend's ``current_frame``), None before one."""


class CapturedImages(PoseImages):
    """One car's image: the frame of its current state.

    Args:
        shape: ``(final_image_height, final_image_width, channels)``.
        frames: Where the current frame comes from.
    """

    def __init__(self, shape: tuple[int, int, int], frames: FrameSource) -> None:
        super().__init__(shape, 1)
        self.frames = frames

    def render(
        self, x_m: FloatArray, y_m: FloatArray, heading_rad: FloatArray, cars: NDArray[np.int64]
    ) -> None:
        """Copy the current frame (the poses are not needed: the game drew it).

        Raises:
            BackendError: no frame yet, or one of another shape than configured.
        """
        frame = self.frames()
        if frame is None:
            raise BackendError("no game frame for this state: the backend delivers none")
        if frame.shape != self.shape:
            raise BackendError(
                f"the capture helper sends {frame.shape} frames (height, width, channels), the "
                f"environment expects {self.shape}: give `acgym capture` the environment's "
                "final_image_width, final_image_height and color_mode"
            )
        self.images[0] = frame

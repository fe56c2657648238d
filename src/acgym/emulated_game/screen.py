"""The emulated game's screen: a real X11 window showing the car's camera view.

Every game frame, :class:`EmulatedScreen` draws the simulated camera's view of the car
(:class:`acgym.env.camera.Camera`, RGB) into an X11 window (:class:`acgym.capture.x11.X11Window`)
titled like the game's, so that the capture helper grabs a real window, as it grabs the
game's. The frame's ``packetId`` is written in its top-left corner as a row of black and
white blocks (:func:`write_packet_id`, read back by :func:`read_packet_id`): a test can
tell which game frame a captured image shows, and so check it against the state it came
with.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from acgym.emulated_game.game import EmulatedGame
from acgym.protocol import channels as ch

WINDOW_TITLE = "Assetto Corsa (acgym emulated game)"
"""Its window's title (contains the game's, which ``acgym capture`` looks for)."""
ID_BITS = 24
ID_BLOCK_PX = 4
"""Side of one block of the packet-id strip, pixels (bit 0 leftmost, white = 1)."""


def write_packet_id(image: NDArray[np.uint8], packet_id: int) -> None:
    """Draw ``packet_id`` (mod 2^24) as ``ID_BITS`` blocks along the image's top edge."""
    for bit in range(ID_BITS):
        value = 255 if (packet_id >> bit) & 1 else 0
        image[:ID_BLOCK_PX, bit * ID_BLOCK_PX : (bit + 1) * ID_BLOCK_PX] = value


def read_packet_id(image: NDArray[np.uint8]) -> int:
    """The packet id :func:`write_packet_id` drew (grey or colour, unscaled)."""
    if image.shape[1] < ID_BITS * ID_BLOCK_PX:
        raise ValueError(f"the packet-id strip needs {ID_BITS * ID_BLOCK_PX} px of width")
    centre = ID_BLOCK_PX // 2
    blocks = image[centre, centre : ID_BITS * ID_BLOCK_PX : ID_BLOCK_PX]
    bits = blocks.reshape(ID_BITS, -1).mean(axis=1) > 127
    return int(sum(1 << k for k in range(ID_BITS) if bits[k]))


class EmulatedScreen:
    """The window of an :class:`EmulatedGame` (see the module docstring).

    Args:
        game: The game whose car is seen.
        width, height: The window's size, pixels (at least 96 wide for the id strip).
        display: The X display (default ``$DISPLAY``).
    """

    def __init__(
        self, game: EmulatedGame, width: int = 320, height: int = 240, display: str | None = None
    ) -> None:
        from acgym.capture.x11 import X11Window
        from acgym.env.camera import Camera
        from acgym.env.config import CameraConfig

        self.game = game
        self.camera = Camera(
            game.track, CameraConfig(width_px=width, height_px=height, color="rgb")
        )
        self.window = X11Window(WINDOW_TITLE, width, height, display)
        self.frames_drawn = 0

    def draw(self) -> None:
        """Show the current frame: the camera at the car's pose, the packet id on top."""
        state = self.game.state
        image = self.camera.draw(
            np.array([state[ch.WORLD_POSITION_X]], dtype=np.float64),
            np.array([state[ch.WORLD_POSITION_Y]], dtype=np.float64),
            np.array([state[ch.YAW]], dtype=np.float64),
        )[0]
        write_packet_id(image, int(state[ch.PACKET_ID]))
        self.window.show(image)
        self.frames_drawn += 1

    def close(self) -> None:
        """Close the window (safe twice)."""
        self.window.close()

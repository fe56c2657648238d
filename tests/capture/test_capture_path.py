"""The game's pixels end to end, on a real X server (Xvfb): the emulated game draws its
camera view and packet id in a real window every frame, the unmodified plugin triggers
the capture helper after each state, the helper grabs the window, and the environment
pairs every state with the frame grabbed for it, through shared memory and over UDP."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from capture_helpers import write_config

from acgym.capture.config import CaptureConfig
from acgym.capture.helper import CaptureHelper
from acgym.capture.x11 import X11Grabber, X11Window
from acgym.emulated_game import EmulatedGame, PluginRunner
from acgym.emulated_game.screen import (
    WINDOW_TITLE,
    EmulatedScreen,
    read_packet_id,
    write_packet_id,
)
from acgym.env.factory import make_remote_env
from acgym.protocol import channels as ch

WIDTH, HEIGHT = 160, 120


def test_a_grab_returns_what_the_window_shows(x_display: str) -> None:
    window = X11Window("acgym grab test", 128, 48, x_display)
    grabber = X11Grabber("acgym grab test", x_display)
    try:
        image = np.zeros((48, 128, 3), dtype=np.uint8)
        image[..., 0] = 200  # red
        image[10:20, 30:40] = (10, 250, 30)
        write_packet_id(image, 0xA5A5)
        window.show(image)
        grabbed = grabber.grab()
        assert grabbed.shape == (48, 128, 4)
        np.testing.assert_array_equal(grabbed[..., 2::-1], image)  # BGRA -> RGB
        assert read_packet_id(grabbed[..., 2::-1]) == 0xA5A5
    finally:
        grabber.close()
        window.close()


@pytest.mark.parametrize("transport", ["shm", "udp"])
def test_every_state_comes_with_the_frame_grabbed_for_it(
    x_display: str, app_dir: Path, transport: str
) -> None:
    game = EmulatedGame("oval", "dallara_f317")
    screen = EmulatedScreen(game, WIDTH, HEIGHT, x_display)
    helper = CaptureHelper(
        X11Grabber(WINDOW_TITLE, x_display),
        CaptureConfig(
            window_name=WINDOW_TITLE,
            final_image_width=WIDTH,
            final_image_height=HEIGHT,
            color_mode="rgb",
            port=0,
        ),
    ).start()
    settings = {"screen_capture_enable": "true", "screen_capture_port": str(helper.address[1])}
    write_config(app_dir, settings)
    runner = PluginRunner(game, app_dir, screen=screen)
    runner.start()
    env = None
    try:
        assert runner.app.error == "", runner.app.error
        ego_port, mgmt_port = runner.app.ego.address[1], runner.app.mgmt.address[1]
        env = make_remote_env(
            "oval",
            "dallara_f317",
            ego_port=ego_port,
            mgmt_port=mgmt_port,
            overrides=[
                "screen_capture_enable=true",
                f"screen_capture_port={helper.address[1]}",
                f"screen_capture_transport={transport}",
                f"final_image_width={WIDTH}",
                f"final_image_height={HEIGHT}",
                "color_mode=rgb",
                "screen_capture_timeout_s=0.5",
            ],
        )
        assert env.observation_space["image"].shape == (HEIGHT, WIDTH, 3)
        obs, _ = env.reset()
        images = [obs["image"]]
        for _ in range(25):
            obs, *_ = env.step(np.array([0.0, 1.0, -1.0], dtype=np.float32))
            images.append(obs["image"])
        states = env.episode_states()
        shown = [read_packet_id(image) for image in images]
        sampled = states[ch.PACKET_ID].to_numpy()[-len(images) :].astype(int)
        # each frame was grabbed after its state was sampled: it shows that game frame or
        # a later one, never an earlier one; and each state has a frame of its own (how
        # much later depends on the machine's load: not asserted)
        assert (np.array(shown) >= sampled).all(), (shown, sampled.tolist())
        assert all(b > a for a, b in itertools.pairwise(shown))
        camera_pixels = images[-1][HEIGHT // 2 :]
        assert camera_pixels.std() > 5  # the camera's view, not an empty window
        assert helper.counters.get("frames_captured", 0) >= len(images)
    finally:
        if env is not None:
            env.close()
        runner.stop()
        helper.stop()
        screen.close()

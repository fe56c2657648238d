"""Crop, resize and colours of captured frames in closed form; the helper's settings and
the original's screen_capture_* keys; the simulator's answer to screen_capture_enable."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.capture.config import CaptureConfig, load_capture_config
from acgym.capture.image_ops import convert, crop, process, resize_area
from acgym.errors import ConfigError


def test_shrinking_averages_each_box_and_growing_repeats_pixels():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1) * 10
    small = resize_area(image, 2, 2)[..., 0]
    np.testing.assert_array_equal(small, [[25, 45], [105, 125]])  # 2x2 means
    big = resize_area(image[:2, :2], 4, 4)[..., 0]
    np.testing.assert_array_equal(big, [[0, 0, 10, 10], [0, 0, 10, 10], [40, 40, 50, 50], [40, 40, 50, 50]])  # fmt: skip


def test_colours_follow_the_asked_mode():
    bgra = np.zeros((2, 2, 4), dtype=np.uint8)
    bgra[..., 2] = 200  # red in X11's BGRA
    assert convert(bgra, "bgra", "rgb")[0, 0].tolist() == [200, 0, 0]
    assert convert(bgra, "bgra", "bgr")[0, 0].tolist() == [0, 0, 200]
    assert convert(bgra, "bgra", "gray")[0, 0].tolist() == [round(0.299 * 200)]
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 1] = 100
    assert convert(rgb, "rgb", "gray")[0, 0].tolist() == [round(0.587 * 100)]


def test_crop_then_resize_gives_the_configured_frame():
    bgra = np.zeros((100, 200, 4), dtype=np.uint8)
    bgra[:20] = 255  # a title bar of 20 rows, cut off
    frame = process(bgra, "bgra", (0, 20, 0, 0), 40, 16, "gray")
    assert frame.shape == (16, 40, 1) and not frame.any()
    with pytest.raises(ConfigError, match="leave nothing"):
        crop(bgra, (100, 0, 100, 0))


def test_the_originals_keys_map_onto_the_helpers(tmp_path):
    original = tmp_path / "config.yml"
    original.write_text(
        "screen_capture_enable: true\nfinal_image_width: 128\nfinal_image_height: 96\n"
        "color_mode: bgr\nscreen_capture_save_to_disk: true\nscreen_capture_save_path: shots\n"
        "screen_capture_freq: 25\nscreen_capture_worker: screen_capture_worker.py\n"
        "relocate_screen: true\n"
    )
    config = load_capture_config(original, ["screen_capture_verbose=true", "port=2400"])
    assert config == CaptureConfig(
        final_image_width=128,
        final_image_height=96,
        color_mode="bgr",
        save_to_disk=True,
        save_path="shots",
        verbose=True,
        port=2400,
    )
    with pytest.raises(ConfigError, match="color_mode"):
        load_capture_config({"color_mode": "cmyk"})
    with pytest.raises(ConfigError, match="final_image_width"):
        load_capture_config(overrides=["final_image_width=0"])


def test_screen_capture_on_the_simulator_is_the_camera_at_the_frames_size():
    from acgym.env.camera import Camera
    from acgym.env.factory import make_race_env

    env = make_race_env(
        "oval",
        overrides=[
            "screen_capture_enable=true",
            "final_image_width=48",
            "final_image_height=32",
            "color_mode=bgr",
        ],
    )
    try:
        assert env.observation_space["image"].shape == (32, 48, 3)
        obs, _ = env.reset()
        image = env.pipeline.image
        assert isinstance(image, Camera) and image.config.color == "bgr"
        sky = obs["image"][0, 24]  # the top row is sky: blue first in BGR
        assert sky[0] > sky[2]
    finally:
        env.close()

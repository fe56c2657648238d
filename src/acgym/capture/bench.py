"""``acgym bench capture``: the game's pixels from trigger to observation, over loopback.

A 1280 x 720 window on a private Xvfb shows the simulated camera's view of the default
track (a game-like picture, so that compression costs what it would). For each delivered
size (128 x 128 grey, 320 x 240 RGB) and transport (the shared-memory ring, the UDP
stream to a subscriber on 127.0.0.1), a client sends the helper a ``capture`` trigger,
as the game's ego server does after each state, and waits for that frame through a
:class:`~acgym.protocol.frame_client.FrameReceiver`, as the environment does. Timed per
frame: trigger sent to frame in hand (latency: the grab, crop, resize, conversion, ring
write or compression and chunks, reassembly). Frames one after the other give the
frames/s the path sustains; the control rate needs 25.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from typing import Any

import numpy as np

SOURCE_WIDTH, SOURCE_HEIGHT = 1280, 720
CASES = (("128x128_gray", 128, 128, "gray"), ("320x240_rgb", 320, 240, "rgb"))
TRANSPORTS = ("shm", "udp")


def warm_up(args: argparse.Namespace) -> None:
    """Compile the camera's kernels (the window's picture) and the resize kernel."""
    from acgym.capture.image_ops import process

    picture = _picture()
    bgra = np.concatenate([picture[..., ::-1], np.zeros_like(picture[..., :1])], axis=2)
    for _, width, height, color in CASES:
        process(bgra, "bgra", (0, 0, 0, 0), width, height, color)


def _picture() -> np.ndarray:
    from acgym.env.camera import Camera
    from acgym.env.config import CameraConfig
    from acgym.track.builtin import DEFAULT_TRACK, load_builtin

    track = load_builtin(DEFAULT_TRACK)
    camera = Camera(
        track, CameraConfig(width_px=SOURCE_WIDTH, height_px=SOURCE_HEIGHT, color="rgb")
    )
    i = len(track.line_m) // 3
    pose = (
        track.line_m[i : i + 1, 0],
        track.line_m[i : i + 1, 1],
        track.line_heading_rad[i : i + 1],
    )
    return camera.draw(*(np.ascontiguousarray(p) for p in pose))[0].copy()


def _measure(
    display: str, width: int, height: int, color: str, transport: str, frames: int
) -> dict[str, Any]:
    from acgym.capture.config import CaptureConfig
    from acgym.capture.helper import CaptureHelper
    from acgym.capture.x11 import X11Grabber
    from acgym.protocol.frame_client import FrameReceiver
    from acgym.protocol.frames import encode_capture

    config = CaptureConfig(
        window_name="acgym capture bench", final_image_width=width, final_image_height=height,
        color_mode=color, port=0, display=display,
    )  # fmt: skip
    helper = CaptureHelper(X11Grabber(config.window_name, display), config).start()
    receiver = FrameReceiver("127.0.0.1", helper.address[1], transport=transport)
    trigger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.open()
        latencies_s = []
        nonce, missing = 1234, 0
        start_s = time.perf_counter()
        for seq in range(1, frames + 1):
            sent_s = time.perf_counter()
            trigger.sendto(encode_capture(nonce, seq), helper.address)
            image = receiver.get(nonce, seq, 1.0)
            if image is None:
                missing += 1
                continue
            latencies_s.append(time.perf_counter() - sent_s)
        elapsed_s = time.perf_counter() - start_s
    finally:
        trigger.close()
        receiver.close()
        helper.stop()
    ms = sorted(1e3 * t for t in latencies_s)
    return {
        "frames": frames,
        "frames_missing": missing,
        "frames_per_s": len(ms) / elapsed_s,
        "latency_ms_p50": statistics.median(ms),
        "latency_ms_p95": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
        "latency_ms_max": ms[-1],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The figures (``args.quick``: a few frames, a smoke check)."""
    from acgym.capture.x11 import X11Window
    from acgym.capture.xvfb import private_display

    quick = bool(getattr(args, "quick", False))
    frames = 20 if quick else 300
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    with private_display(SOURCE_WIDTH, SOURCE_HEIGHT) as display:
        window = X11Window("acgym capture bench", SOURCE_WIDTH, SOURCE_HEIGHT, display)
        try:
            window.show(_picture())
            for name, width, height, color in CASES:
                results[name] = {
                    transport: _measure(display, width, height, color, transport, frames)
                    for transport in TRANSPORTS
                }
        finally:
            window.close()
    return {
        "setup": {
            "source_window_px": [SOURCE_WIDTH, SOURCE_HEIGHT],
            "picture": "the simulated camera's RGB view of the default track",
            "frames_per_case": frames,
            "quick": quick,
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        },
        **results,
    }

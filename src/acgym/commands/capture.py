"""``acgym capture``: the capture helper beside the game (docs/plugin.md, "The game's pixels").

::

    acgym capture [--window "Assetto Corsa"] [--config FILE] [--duration-s S] [key=value ...]

Keys are :class:`acgym.capture.config.CaptureConfig`'s (``final_image_width=128``,
``color_mode=rgb``, ``port=2348``, ``host``, ``token``, ``crop_px=[0,30,0,0]``...) or the
original plugin's ``screen_capture_*`` keys. Linux and Proton grab the window through
X11; Windows through dxcam.
"""

from __future__ import annotations

import argparse
import logging
import sys

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``acgym capture``."""
    parser = subparsers.add_parser(
        "capture",
        help="grab the game's window for every state (run it on the game's machine)",
        description="The capture helper: on each state the game plugin sends (with "
        "screen_capture_enable = true in its config.ini), grab the game's window, crop and "
        "resize it, and deliver the frame tagged with that state: in shared memory to a "
        "client on this machine, compressed over UDP to clients elsewhere. Ctrl-C stops it.",
    )
    parser.add_argument("--window", default=None, help="part of the game window's title")
    parser.add_argument(
        "--config", default=None, help="YAML of the settings (ours or the original's keys)"
    )
    parser.add_argument(
        "--duration-s", type=float, default=0.0, help="stop after this long (0: until Ctrl-C)"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="settings")
    parser.set_defaults(handler=_capture)


def make_grabber(window_name: str, display: str | None) -> object:
    """The platform's grabber of the window titled ``window_name``."""
    if sys.platform == "win32":
        from acgym.capture.windows import DxcamGrabber

        return DxcamGrabber(window_name)
    from acgym.capture.x11 import X11Grabber

    return X11Grabber(window_name, display)


def _capture(args: argparse.Namespace) -> int:
    from acgym.capture.config import load_capture_config
    from acgym.capture.helper import CaptureHelper

    overrides = list(args.overrides)
    if args.window is not None:
        overrides.append(f"window_name={args.window}")
    config = load_capture_config(args.config, overrides)
    grabber = make_grabber(config.window_name, config.display)
    helper = CaptureHelper(grabber, config)  # type: ignore[arg-type]
    host, port = helper.address
    print(
        f"capturing {config.window_name!r} as {config.final_image_width}x"
        f"{config.final_image_height} {config.color_mode} on UDP {host}:{port}; set "
        f"screen_capture_enable = true and screen_capture_port = {port} in the plugin's "
        "config.ini (Ctrl-C stops)",
        flush=True,
    )
    try:
        helper.serve_forever(args.duration_s)
    except KeyboardInterrupt:
        pass
    finally:
        helper.stop()
        print(f"capture helper stopped; counters {helper.counters}", flush=True)
    return 0

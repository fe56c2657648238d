"""pygame-ce (SDL) for the human part: importing it, opening its video and input systems,
and the messages when it, a display or a device is missing."""

from __future__ import annotations

import os
from types import ModuleType

from acgym.env.rendering import has_display
from acgym.errors import ConfigError

HEADLESS_DRIVERS = ("dummy", "offscreen")
"""SDL video drivers that need no display (tests, benchmarks): ``SDL_VIDEODRIVER=dummy``."""


def import_pygame() -> ModuleType:
    """pygame-ce, imported quietly.

    Raises:
        ConfigError: It is not installed, saying how to install it.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ConfigError(
            "driving and input devices need pygame-ce: pip install 'acgym[human]' "
            f"(import failed: {exc})"
        ) from None
    return pygame


def headless() -> bool:
    """SDL was asked for a video driver that needs no display."""
    return os.environ.get("SDL_VIDEODRIVER", "") in HEADLESS_DRIVERS


def init_video() -> ModuleType:
    """pygame with its video (window, events) and joystick systems started.

    Raises:
        ConfigError: No display to open a window on (and no headless SDL driver asked for),
            or SDL could not start its video system.
    """
    if not (has_display() or headless()):
        raise ConfigError(
            "acgym drive needs a display to open its window, and DISPLAY / WAYLAND_DISPLAY "
            "is not set: run it on the desktop (or through ssh -X), or with "
            "SDL_VIDEODRIVER=dummy to drive without a picture (recording only)"
        )
    pygame = import_pygame()
    try:
        pygame.display.init()
    except pygame.error as exc:
        raise ConfigError(
            f"SDL could not open the display ({exc}): check DISPLAY, or set SDL_VIDEODRIVER "
            "(x11, wayland; dummy for no picture)"
        ) from None
    pygame.joystick.init()
    pygame.font.init()
    return pygame


def init_joysticks() -> ModuleType:
    """pygame with only its joystick system started (listing devices needs no display)."""
    pygame = import_pygame()
    pygame.joystick.init()
    return pygame


__all__ = ["HEADLESS_DRIVERS", "headless", "import_pygame", "init_joysticks", "init_video"]

"""Shared setup of the acgym.human tests: SDL draws into memory (its ``dummy`` video
driver: no display, no X server), and one expert lap whose controls a scripted device
replays."""

from __future__ import annotations

import os

import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame starts its video system
os.environ["SDL_AUDIODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from human_helpers import ExpertLap, expert_lap


@pytest.fixture(scope="session")
def oval_expert_lap() -> ExpertLap:
    """The expert's first lap of the oval with the default car (driven once per worker)."""
    return expert_lap()

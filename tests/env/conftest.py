"""Shared fixtures of the environment tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
"""The shared reference folder (sample car and track files in the original formats)."""


@pytest.fixture(scope="session")
def reference_cars_dir() -> Path:
    """Folder of the original car map samples (``<car>/steer_map.csv``, ``brake_map.csv``)."""
    return REFERENCE_DIR / "cars"

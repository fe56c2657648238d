"""Shared fixtures of the environment tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from reference_files import find_reference_dir


@pytest.fixture(scope="session")
def reference_cars_dir() -> Path:
    """Folder of the original car map samples (``<car>/steer_map.csv``, ``brake_map.csv``)."""
    return find_reference_dir() / "cars"

"""Shared fixtures of the simulator tests."""

from __future__ import annotations

import pytest

from acgym.sim import CarParams, list_cars, load_car
from acgym.sim.bench import rounded_rectangle_track
from acgym.track.track import Track

PRESETS = list_cars()


@pytest.fixture(params=PRESETS)
def car(request: pytest.FixtureRequest) -> CarParams:
    """Every car preset, one test each."""
    return load_car(request.param)


@pytest.fixture(scope="session")
def loop_track() -> Track:
    """An 800 m x 400 m rounded rectangle, 12 m wide."""
    return rounded_rectangle_track()

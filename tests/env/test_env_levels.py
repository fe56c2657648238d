"""The environment's features on a track that crosses itself: each car on its own level.

The figure-8 (``acgym.track.bench.figure_eight``, a = 300 m, 12 m wide) passes the
origin at s = L / 4 heading 225 degrees (branch A) and at s = 3 L / 4 heading 315
degrees (branch B); B's direction is A's left. A car 2 m along B from the origin is on
B's line and 2 m left of A's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_fakes import full_state

from acgym.env.config import EnvConfig
from acgym.env.observations import StateExpander
from acgym.env.pipeline import StepPipeline
from acgym.track.bench import figure_eight
from acgym.track.track import Track

U_B = np.array([1.0, -1.0]) / math.sqrt(2.0)
HEADING_A_RAD = math.radians(225.0)


@pytest.fixture(scope="module")
def eight() -> Track:
    return figure_eight()


def _state_at_crossing(spline: float) -> dict[str, float]:
    x_m, y_m = 2.0 * U_B
    return full_state(
        world_position_x=x_m,
        world_position_y=y_m,
        yaw=HEADING_A_RAD,
        NormalizedSplinePosition=spline,
    )


def test_the_gap_and_rays_at_the_crossing_are_the_cars_level(eight: Track) -> None:
    expander = StateExpander(EnvConfig(), eight)
    gap, ahead = expander.frame.index["gap"], expander.frame.rays_m.shape[1] // 2
    frame = expander.expand(_state_at_crossing(0.25))  # just reset, on A
    assert frame.values[0, gap] == pytest.approx(-2.0, abs=0.01)  # + is right: 2 m left
    assert frame.rays_m[0, ahead] > 80.0  # passes under B's borders (6 m ahead)
    assert expander.progress_m[0] == pytest.approx(0.25 * eight.length_m, abs=0.01)
    # the previous projection, not the spline position, keeps the car on A ...
    frame = expander.expand(_state_at_crossing(0.75))
    assert frame.values[0, gap] == pytest.approx(-2.0, abs=0.01)
    # ... until a reset forgets it: then the state's spline position (B) picks the level
    expander.forget_progress()
    frame = expander.expand(_state_at_crossing(0.75))
    assert frame.values[0, gap] == pytest.approx(0.0, abs=0.01)
    assert frame.rays_m[0, ahead] == pytest.approx(6.0, abs=0.01)  # B's border


def test_starting_new_episodes_forgets_the_progress_of_those_cars_only(eight: Track) -> None:
    pipeline = StepPipeline(EnvConfig(), eight, num_cars=3)
    pipeline.expander.progress_m[:] = [10.0, 20.0, 30.0]
    pipeline.clear(np.array([True, False, True]))
    np.testing.assert_array_equal(pipeline.expander.progress_m, [math.nan, 20.0, math.nan])
    pipeline.clear()
    assert np.isnan(pipeline.expander.progress_m).all()

"""The evaluation's lap figure: where along the track a lap is behind the expert's."""

from __future__ import annotations

import numpy as np
import pytest

from acgym.env.config import EnvConfig
from acgym.rl.evaluation import LapTrace, lap_figure, lap_trace, time_behind_s, unwrap_laps
from acgym.rl.expert import drive_expert, make_sim_env
from acgym.track.builtin import load_builtin

PERIOD_S = 0.04


def _steady_lap(length_m: float, speed_mps: float, period_s: float) -> LapTrace:
    """A lap at one speed, sampled every ``period_s``, starting on the line."""
    elapsed = np.arange(0.0, length_m / speed_mps + period_s, period_s)
    along = elapsed * speed_mps / length_m
    zeros = np.zeros_like(elapsed)
    xy = np.stack([zeros, zeros], axis=1)
    speed = np.full_like(elapsed, speed_mps * 3.6)
    return LapTrace(length_m / speed_mps, xy, speed, elapsed * speed_mps, elapsed, along)


def test_positions_in_laps_unwrap_across_the_start_line() -> None:
    laps = unwrap_laps([0.97, 0.99, 0.01, 0.5, 0.98, 0.02])
    np.testing.assert_allclose(laps, [-0.03, -0.01, 0.01, 0.5, 0.98, 1.02], atol=1e-12)
    np.testing.assert_allclose(unwrap_laps([0.2, 0.6, 0.9, 0.1]), [0.2, 0.6, 0.9, 1.1])
    assert unwrap_laps([]).size == 0


def test_a_slower_lap_falls_behind_in_proportion_to_the_distance() -> None:
    length_m = 4000.0
    expert = _steady_lap(length_m, 50.0, PERIOD_S)
    agent = _steady_lap(length_m, 40.0, 0.03)  # sampled at other instants
    behind = time_behind_s(agent, expert)
    along_m = agent.line_fraction * length_m
    np.testing.assert_allclose(behind, along_m / 40.0 - along_m / 50.0, atol=1e-9)
    assert behind[-1] == pytest.approx(agent.time_s - expert.time_s, abs=0.03 / 40.0 * 50.0)


@pytest.fixture(scope="module")
def expert_laps() -> tuple[LapTrace, LapTrace]:
    """The expert's standing and flying laps of the oval (the simulator's telemetry)."""
    env = make_sim_env("oval", "dallara_f317", EnvConfig(max_episode_py_time=1800.0))
    try:
        run = drive_expert(env, laps=2)
    finally:
        env.close()
    standing, flying = run.laps.laps[:2]
    return lap_trace(run.states, standing, PERIOD_S), lap_trace(run.states, flying, PERIOD_S)


def test_the_standing_lap_is_behind_the_flying_one_by_the_lap_times_difference(
    expert_laps: tuple[LapTrace, LapTrace],
) -> None:
    standing, flying = expert_laps
    for trace in expert_laps:  # one lap of the line, from the line
        assert abs(trace.line_fraction[0]) < 0.01
        assert trace.line_fraction[-1] == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(time_behind_s(flying, flying), 0.0, atol=1e-9)
    behind = time_behind_s(standing, flying)
    # The standing start loses its time in the first metres, and keeps the loss.
    assert behind[-1] == pytest.approx(standing.time_s - flying.time_s, abs=2 * PERIOD_S)
    assert behind[-1] > 1.0
    launch = standing.line_fraction < 0.1
    assert behind[launch].max() > 0.5 * behind[-1]


def test_the_figure_draws_speed_and_time_behind_against_the_distance_along_the_track(
    expert_laps: tuple[LapTrace, LapTrace],
) -> None:
    standing, flying = expert_laps
    track = load_builtin("oval")
    fig = lap_figure(track, standing, flying)
    speed_ax, behind_ax = fig.axes[-2:]
    assert speed_ax.get_ylabel() == "speed, km/h"
    assert behind_ax.get_ylabel() == "behind the expert, s"
    agent_line, zero_line = behind_ax.get_lines()[1], behind_ax.get_lines()[0]
    assert list(zero_line.get_ydata()) == [0.0, 0.0]
    np.testing.assert_allclose(agent_line.get_xdata(), standing.line_fraction * track.length_m)
    np.testing.assert_allclose(agent_line.get_ydata(), time_behind_s(standing, flying))
    # Without an expert's lap there is nothing to be behind.
    alone = lap_figure(track, standing, None)
    assert alone.axes[-1].get_lines()[1:] == []
    assert alone.axes[-1].get_title() == "no lap to compare with the expert's"

"""Sign conventions against the original: gap, curvature, ray order, yaw, end to end on the
simulator (a car left / right of the line, near a border, turning left / right)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from env_fakes import RADIUS_M, WIDTH_M, circle_track, full_state
from scipy.interpolate import UnivariateSpline

from acgym.env.config import EnvConfig
from acgym.env.factory import make_race_env
from acgym.env.features import ORIGINAL_GAP_SIGN
from acgym.env.observations import StateExpander
from acgym.track import Track


@pytest.fixture(scope="module")
def ccw():
    return circle_track()


@pytest.fixture(scope="module")
def cw():
    track = circle_track()  # the same circle driven clockwise: reversed points, borders swapped
    return Track.from_arrays(
        "circle_cw",
        left_m=track.right_m[::-1],
        right_m=track.left_m[::-1],
        line_m=track.line_m[::-1],
    )


def original_gap(point, start, end):
    """gap_cpu.get_gap for one segment: |d| * sign(cross(line_vec, pnt_vec)) * (-1)."""
    line_vec, pnt_vec = np.subtract(end, start), np.subtract(point, start)
    t = np.clip(np.dot(line_vec, pnt_vec) / np.dot(line_vec, line_vec), 0.0, 1.0)
    distance = np.hypot(*(pnt_vec - t * line_vec))
    cross = line_vec[0] * pnt_vec[1] - line_vec[1] * pnt_vec[0]
    return distance * np.sign(cross) * -1


def original_curvature(x, y):
    """curvature.curvature_splines: (x'y'' - y'x'') / (x'^2 + y'^2)^1.5 on index splines."""
    t = np.arange(len(x))
    weights = 1 / np.sqrt(0.1 * np.ones_like(x))
    fx, fy = UnivariateSpline(t, x, k=4, w=weights), UnivariateSpline(t, y, k=4, w=weights)
    dx, ddx, dy, ddy = (
        fx.derivative(1)(t),
        fx.derivative(2)(t),
        fy.derivative(1)(t),
        fy.derivative(2)(t),
    )
    return (dx * ddy - dy * ddx) / np.power(dx**2 + dy**2, 1.5)


def test_gap_is_positive_right_of_the_line_as_in_the_original(ccw):
    # At (R, 0) a CCW driver heads +y; (R + 2, 0) is 2 m to the driver's right.
    hand = original_gap([RADIUS_M + 2.0, 0.0], [RADIUS_M, -1.0], [RADIUS_M, 1.0])
    assert hand == pytest.approx(2.0)
    assert ORIGINAL_GAP_SIGN * ccw.project_point(RADIUS_M + 2.0, 0.0)[1] == pytest.approx(
        2.0, abs=1e-3
    )
    frame = StateExpander(EnvConfig(), ccw).expand(full_state(world_position_x=RADIUS_M + 2.0))
    assert frame.column("gap")[0] == pytest.approx(2.0, abs=1e-3)


def test_curvature_is_positive_turning_left_like_the_originals_splines(ccw, cw):
    for track, sign in ((ccw, 1.0), (cw, -1.0)):
        x, y = track.line_m[:, 0], track.line_m[:, 1]
        middle = slice(180, -180)  # the splines are open: their ends bend off
        # same sign; the original's smoothing spline shrinks a 100 m circle's by up to 6 %
        np.testing.assert_allclose(original_curvature(x, y)[middle], sign / RADIUS_M, rtol=0.07)
        np.testing.assert_allclose(track.line_curvature_1pm, sign / RADIUS_M, rtol=1e-3)


def test_rays_run_from_the_right_to_the_left_at_yaw_plus_the_originals_angles(ccw):
    yaw = math.pi / 2
    frame = StateExpander(EnvConfig(), ccw).expand(
        full_state(world_position_x=RADIUS_M - 4.0, yaw=yaw)
    )
    original_angles = np.linspace(0, np.pi, num=11, endpoint=True) + yaw - np.pi / 2
    expected = ccw.cast_rays(np.array([[RADIUS_M - 4.0, 0.0]]), 0.0, original_angles)
    np.testing.assert_allclose(frame.rays_m, expected, atol=1e-9)
    # 4 m left of the line (inside): the left border is 1 m away, the right one 9 m
    assert frame.rays_m[0, 10] == pytest.approx(1.0, abs=1e-2)
    assert frame.rays_m[0, 0] == pytest.approx(9.0, abs=1e-2)


@pytest.mark.parametrize("lateral_m", [3.0, -3.0])
def test_on_the_simulator_a_car_left_of_the_line_has_a_negative_gap_and_a_short_left_ray(
    ccw, lateral_m
):
    env = make_race_env(ccw)
    obs, _ = env.reset(options={"lateral_offset_m": lateral_m})
    layout = env.observation_layout
    assert obs[layout.index("gap")] == pytest.approx(-lateral_m / 10.0, abs=1e-3)
    near_m, far_m = WIDTH_M / 2 - abs(lateral_m), WIDTH_M / 2 + abs(lateral_m)
    left, right = obs[layout.index("ray_10")] * 200, obs[layout.index("ray_00")] * 200
    assert (left, right) == pytest.approx(
        (near_m, far_m) if lateral_m > 0 else (far_m, near_m), abs=0.05
    )
    yaw = env.episode_states()["yaw"].iloc[0]
    # the telemetry's yaw is the heading, anticlockwise from +x: the first segment's
    assert yaw == pytest.approx(float(ccw.line_point_at(0.0)[1]), abs=1e-12)
    assert yaw == pytest.approx(math.pi / 2, abs=0.005)


def test_on_the_simulator_curvature_ahead_is_positive_on_a_left_hand_loop(ccw, cw):
    for track, sign in ((ccw, 1.0), (cw, -1.0)):
        env = make_race_env(track)
        obs, _ = env.reset()
        curvature = obs[
            np.array([env.observation_layout.index(f"curvature_ahead_{k:02d}") for k in range(12)])
        ]
        np.testing.assert_allclose(curvature, sign * 0.1, rtol=2e-3)  # (1 / 100 m) / 0.1


@pytest.mark.parametrize("steer_action", [-1.0, 1.0])
def test_on_the_simulator_steering_left_turns_anticlockwise(ccw, steer_action):
    env = make_race_env(ccw)
    env.reset(options={"speed_mps": 15.0})
    for _ in range(10):
        obs, *_ = env.step(np.array([steer_action, 0.0, -1.0], dtype=np.float32))
    states = env.episode_states()
    yaw_rate = obs[env.observation_layout.index("angular_velocity_y")]
    # steer -1 is full left (DESIGN.md): the yaw grows (anticlockwise) and so does the yaw rate
    assert np.sign(yaw_rate) == -steer_action
    assert np.sign(states["yaw"].iloc[-1] - states["yaw"].iloc[0]) == -steer_action
    # turning left moves the car left of the line: the original's gap goes negative
    assert np.sign(states["gap"].iloc[-1]) == steer_action

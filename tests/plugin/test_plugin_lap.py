"""A whole lap through the plugin and the client: the client reads the track's AI line
from the plugin, drives the car from the states it receives (pure pursuit on the line,
a speed target), and the lap timing the plugin reports closes the lap.

The emulated game runs 8 times faster than the wall clock and the plugin streams 8 times
more states per wall-clock second, so the client still acts at 25 Hz of game time.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from plugin_helpers import client_for, write_config

from acgym.emulated_game import EmulatedGame, PluginRunner
from acgym.sim import load_car
from acgym.track.loaders.fast_lane import save_fast_lane

TIME_SCALE = 8.0
TARGET_SPEED_MPS = 30.0


class LineFollower:
    """Pure pursuit on the AI line from the plugin's track info, and a speed target."""

    def __init__(self, line_m: np.ndarray, car_name: str) -> None:
        self.line_m = line_m
        steering = load_car(car_name).steering
        self.map_deg = np.asarray(steering.map_deg)
        self.map_input = np.asarray(steering.map_input)
        self.ratio = steering.ratio
        self.wheelbase_m = load_car(car_name).chassis.wheelbase_m

    def controls(self, state: dict) -> tuple[float, float, float]:
        x, y = state["world_position_x"], state["world_position_y"]
        yaw, speed = state["yaw"], state["speed"]
        nearest = int(np.argmin(np.hypot(self.line_m[:, 0] - x, self.line_m[:, 1] - y)))
        look_ahead_m = 10.0 + 0.6 * speed
        step_m = np.median(np.hypot(*np.diff(self.line_m, axis=0).T))
        target = self.line_m[(nearest + int(look_ahead_m / step_m)) % len(self.line_m)]
        dx, dy = target[0] - x, target[1] - y
        ahead = math.cos(yaw) * dx + math.sin(yaw) * dy
        left = -math.sin(yaw) * dx + math.cos(yaw) * dy
        curvature = 2.0 * left / max(ahead * ahead + left * left, 1.0)
        road_wheel_left_rad = math.atan(self.wheelbase_m * curvature)
        wheel_deg = -math.degrees(road_wheel_left_rad) * self.ratio  # AC: negative = left
        steer = float(np.interp(wheel_deg, self.map_deg, self.map_input))
        error = TARGET_SPEED_MPS - speed
        acc = float(np.clip(0.3 * error, -1.0, 1.0))
        brake = 0.0 if error < -3.0 else -1.0
        return float(np.clip(steer, -1.0, 1.0)), acc, brake


@pytest.mark.slow
def test_a_whole_lap_through_plugin_and_client(app_dir: Path) -> None:
    game = EmulatedGame("oval", "bmw_z4_gt3")
    save_fast_lane(game.track, app_dir.parents[2] / "content/tracks/oval/ai/fast_lane.ai")
    write_config(app_dir, sampling_freq_hz=25.0 * TIME_SCALE, client_timeout_s=5.0)
    runner = PluginRunner(game, app_dir, time_scale=TIME_SCALE)
    with runner, client_for(runner, timeout_s=5.0) as client:
        info = client.static_info()
        follower = LineFollower(np.asarray(client.track_info()["fast_lane"]), info["CarName"])
        state = client.receive_state()
        max_gap_m = 0.0
        game_time_limit_s = 2.5 * game.track.length_m / TARGET_SPEED_MPS
        while state["LapCount"] < 1:
            client.send_controls(*follower.controls(state))
            state = client.receive_state()
            gap = np.min(
                np.hypot(
                    follower.line_m[:, 0] - state["world_position_x"],
                    follower.line_m[:, 1] - state["world_position_y"],
                )
            )
            max_gap_m = max(max_gap_m, float(gap))
            assert game.frames * game.frame_dt_s < game_time_limit_s, "no lap in time"
        assert state["completedLaps"] == 1
        assert state["iLastTime"] > 0 and state["BestLap"] == state["iLastTime"]
        assert state["LapInvalidated"] == 0
        # a standing start at the line, then about the target speed all the way round
        lap_s = state["iLastTime"] / 1000.0
        assert 0.8 < lap_s / (game.track.length_m / TARGET_SPEED_MPS) < 1.5
        assert max_gap_m < 5.0  # it stayed on the 15 m wide track

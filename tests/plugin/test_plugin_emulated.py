"""The real plugin, unmodified, in the emulated game, driven through the package's client.

What the client reads is the simulator's own telemetry, channel for channel; controls
reach the car through the virtual joystick; reset, lap timing, the token and legacy mode
of config.ini, and the game's shutdown work as docs/plugin.md says. The servers'
protocol behaviour (bad packets, tokens, a second or silent client, the limits) is tested
for the plugin and the package alike in test_server_mirror.py and test_server_fuzz.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plugin_helpers import (
    client_for,
    ports,
    receive_until,
    running_plugin,
    wait_until,
    write_config,
)
from proto_original_client import OriginalClientDouble

from acgym.emulated_game import EmulatedGame, PluginRunner
from acgym.errors import BackendError
from acgym.protocol.channels import LEGACY_STATE_CHANNELS, REQUIRED_CHANNELS
from acgym.track.loaders.fast_lane import save_fast_lane, write_fast_lane

SHM_CHANNELS = {"yaw", "pitch", "roll"} | {
    f"tyreContactHeading_{w}_{a}" for w in ("FL", "FR", "RL", "RR") for a in "xyz"
}
"""Channels read from the shared memory's float32 fields (the rest are float64)."""


def _assert_same_state(got: dict[str, Any], expected: dict[str, Any], skip: set[str]) -> None:
    for name, value in expected.items():
        if name in skip:
            continue
        tolerance = 2e-6 if name in SHM_CHANNELS else 1e-9
        if isinstance(value, list):
            assert got[name] == pytest.approx(value, rel=tolerance, abs=tolerance), name
        else:
            assert got[name] == pytest.approx(value, rel=tolerance, abs=tolerance), name


def test_states_are_the_simulators_telemetry_channel_for_channel(app_dir: Path) -> None:
    game = EmulatedGame()
    with running_plugin(game, app_dir, realtime=False) as runner:
        runner.step(1)  # the static info is complete from the first frame
        with client_for(runner) as client:
            for count, steer in enumerate((0.0, 0.4, -0.6), start=1):
                client.send_controls(steer, 0.6, -1.0)
                wait_until(lambda n=count: runner.app.backend.applied >= n, what="controls applied")
                runner.step(5)
                expected = dict(game.state)
                state = receive_until(client, lambda s, e=expected: s["packetId"] == e["packetId"])
                assert set(state) == set(expected) | {"timestamp_ac"}
                _assert_same_state(state, expected, skip={"steps"})
            assert state["steerAngle"] < 0.0  # the last controls steered left


def test_without_shared_memory_the_ac_module_alone_gives_the_state(app_dir: Path) -> None:
    game = EmulatedGame(shared_memory=False)
    with running_plugin(game, app_dir, realtime=False) as runner:
        runner.step(1)
        assert runner.app.pages is None
        with client_for(runner) as client:
            client.send_controls(0.5, 0.8, -1.0)
            runner.step(40)
            expected = dict(game.state)
            state = receive_until(
                client, lambda s, e=expected: s["currentTime"] == e["currentTime"]
            )
            assert set(REQUIRED_CHANNELS) <= set(state)
            lost = {"numberOfTyresOut", "penaltyTime"}  # only the shared memory has them
            assert all(math.isnan(state[name]) for name in lost)
            assert not SHM_CHANNELS - {"yaw", "pitch", "roll"} & set(state)
            # yaw, pitch, roll come from the tyre contact points instead
            assert state["yaw"] == pytest.approx(expected["yaw"], abs=1e-6)
            assert abs(state["pitch"]) < 0.05 and abs(state["roll"]) < 0.05
            skip = lost | SHM_CHANNELS | {"steps", "packetId"}
            _assert_same_state(state, expected, skip)
            assert client.static_info()["shared_memory"] == 0


def test_controls_reach_the_car_and_steer_both_ways(runner: PluginRunner) -> None:
    with client_for(runner) as client:
        right = receive_until(client, lambda s: s["steerAngle"] > 20.0, controls=(0.5, -1, -1))
        left = receive_until(client, lambda s: s["steerAngle"] < -20.0, controls=(-0.5, -1, -1))
        assert right["brakeStatus"] == 0.0 and left["accStatus"] == 0.0
        moving = receive_until(client, lambda s: s["speed"] > 2.0, controls=(0.0, 1.0, -1.0))
        assert moving["accStatus"] == pytest.approx(1.0, abs=1e-3)
        assert moving["actualGear"] >= 2
    assert runner.game.vjoy.calls["SetAxis"] > 0


def test_reset_puts_the_car_back_and_the_next_states_are_the_new_episode(
    runner: PluginRunner,
) -> None:
    with client_for(runner) as client:
        receive_until(client, lambda s: s["speed"] > 3.0, controls=(0.0, 1.0, -1.0))
        client.reset()
        first = client.receive_state()
        assert runner.game.resets == 1
        assert first["speed"] < 1.0
        assert math.hypot(first["world_position_x"], first["world_position_y"]) < 5.0
        assert client.last_seq >= 2


def test_reset_without_custom_shaders_patch_says_so(app_dir: Path) -> None:
    with running_plugin(EmulatedGame(csp=False), app_dir) as runner, client_for(runner) as client:
        client.receive_state()
        with pytest.raises(BackendError, match="Custom Shaders Patch"):
            client.reset()
        client.receive_state()  # the stream goes on


def test_lap_timing_through_the_plugin(app_dir: Path) -> None:
    game = EmulatedGame(start_distance_m=EmulatedGame().track.length_m - 12.0)
    with running_plugin(game, app_dir) as runner, client_for(runner) as client:
        before = client.receive_state()
        assert before["LapCount"] == 0 and before["NormalizedSplinePosition"] > 0.99
        after = receive_until(
            client, lambda s: s["LapCount"] == 1, timeout_s=15.0, controls=(0.0, 1.0, -1.0)
        )
        assert after["completedLaps"] == 1
        assert after["NormalizedSplinePosition"] < 0.5
        assert after["currentTime"] < before["currentTime"] + 15000
        for name in ("BestLap", "iLastTime", "LapInvalidated", "currentTime"):
            assert isinstance(after[name], int), name  # the out-lap sets no time
        later = client.receive_state()
        assert later["currentTime"] >= after["currentTime"]


def test_gear_shifts_through_the_joystick_buttons(app_dir: Path) -> None:
    with running_plugin(EmulatedGame(auto_shift=False), app_dir) as runner:
        with client_for(runner) as client:
            first = client.receive_state()
            assert first["actualGear"] == 2
            client.send_controls(0.0, -1.0, -1.0, enable_gear_shift=True, shift_up=True)
            state = receive_until(client, lambda s: s["actualGear"] == 3, controls=(0, -1, -1))
            assert client.static_info()["autoShifterOn"] == 0
            assert state["actualGear"] == 3


def test_static_and_track_info_from_the_game_folder(app_dir: Path) -> None:
    game = EmulatedGame()
    root = app_dir.parents[2]
    save_fast_lane(game.track, root / "content" / "tracks" / "oval" / "ai" / "fast_lane.ai")
    ui = root / "content" / "cars" / "bmw_z4_gt3" / "ui" / "ui_car.json"
    ui.parent.mkdir(parents=True)
    specs = {"weight": "1245kg", "length": "4.7m", "height": "1.2", "width": "2.0m"}
    ui.write_bytes(b"\xef\xbb\xbf" + json.dumps({"name": "BMW", "specs": specs}).encode())
    with running_plugin(game, app_dir) as runner, client_for(runner) as client:
        info = client.static_info()
        assert info["TrackName"] == "oval" and info["CarName"] == "bmw_z4_gt3"
        assert info["TrackLength"] == pytest.approx(game.track.length_m)
        assert info["backend"] == "assetto_corsa"
        assert info["CAR_MASS"] == 1245 and info["CAR_DIM_Z"] == 2.0
        # As the original: |FL - RL| and |RR - RL| of the tyre contact points.
        params = game.session.static_info()
        assert info["CAR_WHEELBASE"] == pytest.approx(params["CAR_WHEELBASE"], rel=1e-3)
        assert info["CAR_TRACK"] == pytest.approx(params["CAR_TRACK"], rel=1e-6)
        track = client.track_info()
        assert len(track["fast_lane"]) == len(game.track.line_m)
        assert track["fast_lane"][5] == pytest.approx(list(game.track.line_m[5]), abs=1e-3)
        config = client.config()
        assert config["ego_sampling_freq"] == 25.0
        assert config["control_backend_active"] == "emulated"
        assert "token" not in config
        assert client.server_info["reset_options"] == []
        assert client.server_counters()["mgmt_requests"] >= 4


def test_the_token_of_config_ini_keeps_other_clients_off(app_dir: Path) -> None:
    write_config(app_dir, token="s3cret-token")
    with running_plugin(EmulatedGame(), app_dir) as runner:
        with pytest.raises(BackendError, match="bad_token"):
            client_for(runner).connect()
        with client_for(runner, token="s3cret-token") as client:
            assert client.receive_state()["steps"] >= 1
        assert runner.app.config()["token_required"] is True


def test_other_interfaces_need_a_token_and_nothing_starts_without_one(app_dir: Path) -> None:
    write_config(app_dir, host="0.0.0.0")
    with running_plugin(EmulatedGame(), app_dir, realtime=False) as runner:
        app = runner.app
        assert "set a token" in app.error
        assert app.ego is None and app.mgmt is None
        assert "NOT RUNNING" in app.status_text()
        runner.step(3)  # frames go on without raising
        assert any("did not start" in line for line in runner.game.log_lines)


def test_legacy_mode_serves_the_double_of_the_original_client(app_dir: Path) -> None:
    """The original client's own ways (one ``recv`` per management reply, ``eval`` of every
    reply and state, controls with Python booleans): the plugin in legacy mode answers
    each, its states drive the car, and it never rejects a datagram of the original."""
    write_config(app_dir, legacy=True)
    with running_plugin(EmulatedGame(), app_dir) as runner:
        ego_port, mgmt_port = ports(runner)
        original = OriginalClientDouble(ego_port, mgmt_port, reset_wait_s=0.2)
        assert original.get_static_info()["TrackName"] == "oval"
        config = original.get_config()
        assert len(config) == 28 and config["ego_sampling_freq"] == 25
        assert original.get_track_info() == {}
        original.setup_connection()
        assert original.state["steps"] >= 1
        for _ in range(40):
            original.set_controls(0.5, 1.0, -1.0)
            original.respond_to_server()
            state = original.step_sim()
        assert set(LEGACY_STATE_CHANNELS) <= set(state)
        assert state["done"] == 0 and state["steerAngle"] > 20.0 and state["speed"] > 1.0
        original.reset()
        wait_until(lambda: runner.game.resets == 1, what="the legacy reset")
        assert original.state["steps"] >= 1
        original.close()
        counters = runner.app.counters
        assert counters.get("datagrams_rejected") == 0
        assert counters.get("server_errors") == 0


def test_the_games_shutdown_tells_the_client(app_dir: Path) -> None:
    runner = PluginRunner(EmulatedGame(), app_dir).start()
    client = client_for(runner)
    try:
        client.connect()
        client.receive_state()
        runner.stop()
        states = []
        with pytest.raises(BackendError, match="server_closing"):
            for _ in range(20):
                states.append(client.receive_state())
        assert states[-1]["done"] == 1
    finally:
        client.close()
        runner.stop()


def test_a_broken_ai_line_is_a_backend_error_not_a_malformed_reply(app_dir: Path) -> None:
    game = EmulatedGame()
    line = game.track.line_m
    sides = np.full(len(line), 7.0)
    sides[3] = np.nan
    points = np.stack((line[:, 1], np.zeros(len(line)), line[:, 0]), axis=1)
    root = app_dir.parents[2]
    write_fast_lane(
        root / "content" / "tracks" / "oval" / "ai" / "fast_lane.ai", points, sides, sides
    )
    with running_plugin(game, app_dir) as runner, client_for(runner) as client:
        with pytest.raises(BackendError, match=r"backend_error.*left_lane"):
            client.track_info()
        assert client.static_info()["TrackName"] == "oval"  # the connection goes on

"""Legacy mode: our client vs the original plugin (a faithful test double,
proto_original_plugin). The original client vs our legacy servers, package and plugin
alike, is in tests/plugin/test_server_mirror.py."""

from __future__ import annotations

import json

import pytest
from proto_helpers import wait_until
from proto_original_plugin import ORIGINAL_CONFIG, OriginalPluginDouble

from acgym.errors import BackendError, ProtocolError
from acgym.protocol.client import Client


def _legacy_client(plugin: OriginalPluginDouble, **kwargs: object) -> Client:
    kwargs.setdefault("timeout_s", 5.0)
    kwargs.setdefault("legacy_reset_wait_s", 0.05)
    return Client(ego_port=plugin.ego_port, mgmt_port=plugin.mgmt_port, legacy=True, **kwargs)  # type: ignore[arg-type]


def _well_formed_for_the_original(data: bytes) -> bool:
    if data in (b"connect", b"disconnect"):
        return True
    obj = json.loads(data.decode("utf-8"))
    return isinstance(obj, dict) and "server_steps" in obj and len(data) <= 1024


def test_the_plugin_double_dies_on_a_malformed_datagram_like_the_original() -> None:
    with OriginalPluginDouble() as plugin:
        client = _legacy_client(plugin)
        with client:
            client.receive_state()
            assert client._ego is not None
            client._ego.send(b'{"steer": 0.1}')  # no server_steps: the original dies
            wait_until(lambda: plugin.dead, what="the double to die")
            state = client.receive_state()
            while state["done"] != 1:
                state = client.receive_state()
    assert "server_steps" in (plugin.death or "")


def test_legacy_client_drives_the_original_plugin_without_ever_killing_it() -> None:
    with OriginalPluginDouble(rate_hz=50.0) as plugin:
        with _legacy_client(plugin, drain="every") as client:
            info = client.static_info()
            assert info["TrackName"] == "ks_barcelona" and info["TrackConfiguration"] == "layout_gp"
            assert info["backend"] == "assetto_corsa"
            config = client.config()
            assert config == ORIGINAL_CONFIG and len(config) == 28
            track = client.track_info()  # ~600 KB, in 20 KB segments, connection left open
            assert len(track["left_lane"]) == plugin.track_points == len(track["angle_array"])
            first = client.receive_state()
            assert first["steps"] >= 1 and len(first) >= 90 and first["done"] == 0
            for step in range(30):
                client.send_controls(
                    0.1, -1.0 + step / 15.0, -1.0, enable_gear_shift=True, shift_up=step == 3
                )
                state = client.receive_state()
            assert state["tyres_load"] == [1.0, 2.0, 3.0, 4.0]
            wait_until(lambda: plugin.controls_received == 30, what="controls at the plugin")
            assert plugin.controls["acc"] == pytest.approx(-1.0 + 29 / 15.0)
            client.reset()
            after = client.receive_state()
            assert after["steps"] <= 5  # steps restarted with the new connect
            assert plugin.resets == 1
            with pytest.raises(ProtocolError, match="start only"):
                client.reset({"distance_m": 10.0})
            with pytest.raises(ProtocolError, match="counters"):
                client.server_counters()
            counters = client.counters
        assert not plugin.dead, plugin.death
        assert all(_well_formed_for_the_original(data) for data in plugin.received)
    assert counters["states_received"] >= 31
    assert counters.get("states_late", 0) == 0


def test_legacy_client_refuses_to_send_controls_before_connecting() -> None:
    with OriginalPluginDouble() as plugin:
        client = _legacy_client(plugin)
        with pytest.raises(BackendError, match="not connected"):
            client.send_controls(0.0, 0.0, -1.0)
        assert plugin.received == [] and not plugin.dead

"""The plugin's wire module mirrors acgym.protocol: every message type is encoded with each
side and decoded with the other, bad input is refused with the same code by both, and the
legacy format is byte for byte the same."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from plugin_helpers import plugin_modules

from acgym.protocol import channels, codec, framing, messages
from acgym.protocol import legacy as legacy_wire
from acgym.protocol.messages import (
    Connect,
    Connected,
    Controls,
    ControlsMessage,
    Disconnect,
    Disconnected,
    ErrorMessage,
    Hello,
    Ok,
    Query,
    RejectedMessage,
    Reset,
    ResetOptions,
    State,
)

STATIC_INFO = {
    "TrackName": "oval",
    "TrackConfiguration": "",
    "TrackLength": 2536.6,
    "CarName": "bmw_z4_gt3",
    "WindSpeed": 0.0,
    "WindDirection": 0.0,
    "autoShifterOn": 1,
    "penaltiesEnabled": 0,
    "backend": "assetto_corsa",
    "backend_version": "acgym-plugin 0.1.0",
    "TyreContactPoint_FL": [1.0, 0.0, 2.5],
    "LastSplits": [],
}
HELLO_RESULT = {
    "version": 1,
    "server": "acgym-plugin 0.1.0",
    "backend": "assetto_corsa",
    "modes": ["realtime"],
    "control_rate_hz": 25.0,
    "ego_port": 2345,
    "reset_options": [],
    "max_request_bytes": 65536,
}
TRACK_INFO = {
    "fast_lane": [[0.0, 1.0], [2.0, 3.5]],
    "left_lane": [[0.0, 2.0], [2.0, 4.5]],
    "right_lane": [[0.0, 0.0], [2.0, 2.5]],
    "speed_arr": [15.0, 20.0],
    "throttle_arr": [1.0, 0.5],
    "brake_arr": [0.0, 0.2],
    "angle_array": [0.0, 90.0],
}
RESULTS = {
    "hello": HELLO_RESULT,
    "reset": {"first_seq": 12},
    "get_static_info": STATIC_INFO,
    "get_config": {"ego_sampling_freq": 25.0, "legacy": False, "control_backend": "vjoy"},
    "get_track_info": TRACK_INFO,
    "get_counters": {"states_sent": 3, "datagrams_rejected_bad_json": 1},
}


@pytest.fixture(scope="module")
def wire() -> Iterator[ModuleType]:
    with plugin_modules("acgym_wire") as (module,):
        yield module


# -- constants ----------------------------------------------------------------------------


def test_constants_are_the_packages(wire: ModuleType) -> None:
    for name in (
        "PROTOCOL_VERSION",
        "DEFAULT_HOST",
        "DEFAULT_EGO_PORT",
        "DEFAULT_MGMT_PORT",
        "DEFAULT_CONTROL_RATE_HZ",
        "CLIENT_DATAGRAM_MAX_BYTES",
        "SERVER_DATAGRAM_MAX_BYTES",
        "MGMT_REQUEST_MAX_BYTES",
        "MGMT_REPLY_MAX_BYTES",
        "MAX_CHANNELS",
        "MAX_CHANNEL_NAME_CHARS",
        "MAX_LIST_CHANNEL_SIZE",
        "MAX_TRACK_POINTS",
        "MAX_STRING_CHARS",
        "TOKEN_MAX_CHARS",
        "MAX_INT",
        "MAX_ID",
        "MODES",
        "ERROR_CODES",
        "DISCONNECT_REASONS",
        "QUERY_TYPES",
        "RESET_OPTION_RANGES",
    ):
        assert getattr(wire, name) == getattr(messages, name), name
    assert wire.MAX_FRAME_LIMIT == framing.MAX_FRAME_LIMIT
    assert dict(wire.STATIC_INFO_REQUIRED) == messages.STATIC_INFO_REQUIRED
    safe = messages.SAFE_CONTROLS
    assert wire.SAFE_CONTROLS == {
        name: getattr(safe, name)
        for name in ("steer", "acc", "brake", "enable_gear_shift", "shift_up", "shift_down")
    }


def test_legacy_tables_are_the_packages(wire: ModuleType) -> None:
    assert wire.LEGACY_STATE_CHANNELS == channels.LEGACY_STATE_CHANNELS
    assert set(wire.LEGACY_LIST_CHANNELS) == set(channels.LIST_CHANNELS)
    for name in channels.LEGACY_STATE_CHANNELS:
        assert wire.legacy_default_value(name) == channels.default_value(name), name
        assert type(wire.legacy_default_value(name)) is type(channels.default_value(name)), name
    assert dict(wire.LEGACY_CONFIG_KEYS) == legacy_wire.LEGACY_CONFIG_DEFAULTS
    assert [k for k, _ in wire.LEGACY_CONFIG_KEYS] == list(legacy_wire.LEGACY_CONFIG_DEFAULTS)
    assert wire.MGMT_WORDS == legacy_wire.MGMT_WORDS
    assert wire.LEGACY_DATAGRAM_MAX_BYTES == legacy_wire.LEGACY_DATAGRAM_MAX_BYTES


# -- ego stream, client to server -----------------------------------------------------------

CLIENT_MESSAGES = [
    Connect(token="secret", mode="realtime", nonce=7),
    Connect(token=None, mode="lockstep", nonce=0),
    ControlsMessage(3, 2, Controls(-0.5, 1.0, -1.0, True, False, True)),
    ControlsMessage(2**40, 0, Controls(0.0, -1.0, 0.25)),
    Disconnect(),
]


def _controls_dict(c: Controls) -> dict[str, Any]:
    return {
        "steer": c.steer,
        "acc": c.acc,
        "brake": c.brake,
        "enable_gear_shift": c.enable_gear_shift,
        "shift_up": c.shift_up,
        "shift_down": c.shift_down,
    }


def _plugin_encode_client(wire: ModuleType, msg: object) -> bytes:
    if isinstance(msg, Connect):
        return wire.encode_connect(msg.token, msg.mode, msg.nonce, msg.version)
    if isinstance(msg, ControlsMessage):
        return wire.encode_controls(msg.seq, msg.state_seq, _controls_dict(msg.controls))
    assert isinstance(msg, Disconnect)
    return wire.encode_disconnect()


def _as_package_client(decoded: dict[str, Any]) -> object:
    kind = decoded["type"]
    if kind == "connect":
        return Connect(decoded["token"], decoded["mode"], decoded["nonce"], decoded["version"])
    if kind == "controls":
        return ControlsMessage(
            decoded["seq"], decoded["state_seq"], Controls(**decoded["controls"])
        )
    assert decoded == {"type": "disconnect"}
    return Disconnect()


@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_client_messages_package_to_plugin(wire: ModuleType, msg: object) -> None:
    assert _as_package_client(wire.decode_from_client(codec.encode_ego(msg))) == msg  # type: ignore[arg-type]


@pytest.mark.parametrize("msg", CLIENT_MESSAGES, ids=lambda m: type(m).__name__)
def test_client_messages_plugin_to_package(wire: ModuleType, msg: object) -> None:
    data = _plugin_encode_client(wire, msg)
    assert data == codec.encode_ego(msg)  # type: ignore[arg-type]
    assert codec.decode_from_client(data) == msg


# -- ego stream, server to client -----------------------------------------------------------

SERVER_MESSAGES = [
    Connected("realtime", 25.0, 7),
    State(5, 4, {"steps": 5, "speed": 12.5, "actualGear": 3, "tyres_load": [1.0, 2.0, 3.0, 4.0]}),
    State(1, 0, {"steps": 1}),
    *(Disconnected(reason) for reason in messages.DISCONNECT_REASONS),
    ErrorMessage("bad_token", "the token does not match"),
]


def _plugin_encode_server(wire: ModuleType, msg: object) -> bytes:
    if isinstance(msg, Connected):
        return wire.encode_connected(msg.mode, msg.control_rate_hz, msg.nonce, msg.version)
    if isinstance(msg, State):
        return wire.encode_state(msg.seq, msg.ack, wire.normalize_channels(msg.channels))
    if isinstance(msg, Disconnected):
        return wire.encode_disconnected(msg.reason)
    assert isinstance(msg, ErrorMessage)
    return wire.encode_ego_error(msg.code, msg.message)


def _as_package_server(decoded: dict[str, Any]) -> object:
    kind = decoded["type"]
    if kind == "connected":
        return Connected(
            decoded["mode"], decoded["control_rate_hz"], decoded["nonce"], decoded["version"]
        )
    if kind == "state":
        return State(decoded["seq"], decoded["ack"], decoded["channels"])
    if kind == "disconnected":
        return Disconnected(decoded["reason"])
    assert kind == "error"
    return ErrorMessage(decoded["code"], decoded["message"])


@pytest.mark.parametrize("msg", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_plugin_to_package(wire: ModuleType, msg: object) -> None:
    data = _plugin_encode_server(wire, msg)
    assert data == codec.encode_ego(msg)  # type: ignore[arg-type]
    assert codec.decode_from_server(data) == msg


@pytest.mark.parametrize("msg", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_package_to_plugin(wire: ModuleType, msg: object) -> None:
    assert _as_package_server(wire.decode_from_server(codec.encode_ego(msg))) == msg  # type: ignore[arg-type]


def test_state_null_and_nan_mean_no_value_on_both_sides(wire: ModuleType) -> None:
    state = {"steps": 2, "speed": float("nan"), "yaw": None, "Mz": [1.0, float("inf"), None, 2.0]}
    plugin_data = wire.encode_state(2, 1, wire.normalize_channels(state))
    package_data = codec.encode_state(2, 1, codec.normalize_channels(state))
    assert plugin_data == package_data
    for decoded in (
        codec.decode_from_server(plugin_data).channels,
        wire.decode_from_server(package_data)["channels"],
    ):
        assert math.isnan(decoded["speed"]) and math.isnan(decoded["yaw"])
        assert decoded["Mz"][0] == 1.0 and math.isnan(decoded["Mz"][1])


def test_normalize_turns_tuples_and_bools_into_plain_numbers(wire: ModuleType) -> None:
    normalized = wire.normalize_channels({"a": (1.0, 2, True, None), "b": True, "c": 3})
    assert normalized == {"a": [1.0, 2, 1, None], "b": 1, "c": 3}
    with pytest.raises(ValueError, match="x"):
        wire.normalize_channels({"x": "fast"})


# -- management -----------------------------------------------------------------------------

REQUESTS = [
    Hello(1, "tok", "acgym"),
    Hello(2, None, "doctor"),
    Reset(3, ResetOptions(distance_m=10.0, seed=3)),
    Reset(4),
    *(Query(5 + i, kind) for i, kind in enumerate(messages.QUERY_TYPES)),
]


def _plugin_encode_request(wire: ModuleType, request: object) -> bytes:
    if isinstance(request, Hello):
        return wire.encode_hello(request.id, request.token, request.client, request.version)
    if isinstance(request, Reset):
        return wire.encode_reset(request.id, request.options.to_dict())
    assert isinstance(request, Query)
    return wire.encode_query(request.id, request.type)


def _as_package_request(decoded: dict[str, Any]) -> object:
    kind = decoded["type"]
    if kind == "hello":
        return Hello(decoded["id"], decoded["token"], decoded["client"], decoded["version"])
    if kind == "reset":
        return Reset(decoded["id"], ResetOptions(**decoded["options"]))
    return Query(decoded["id"], kind)


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_requests_package_to_plugin(wire: ModuleType, request_: object) -> None:
    assert _as_package_request(wire.decode_request(codec.encode_request(request_))) == request_  # type: ignore[arg-type]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: type(r).__name__)
def test_requests_plugin_to_package(wire: ModuleType, request_: object) -> None:
    data = _plugin_encode_request(wire, request_)
    assert data == codec.encode_request(request_)  # type: ignore[arg-type]
    assert codec.decode_request(data) == request_


@pytest.mark.parametrize("kind", sorted(RESULTS))
def test_ok_replies_both_ways(wire: ModuleType, kind: str) -> None:
    result = RESULTS[kind]
    plugin_body = wire.encode_ok(9, result)
    assert plugin_body == codec.encode_reply(Ok(9, result))
    assert codec.decode_reply(plugin_body, kind, 9) == Ok(9, result)
    assert wire.decode_reply(codec.encode_reply(Ok(9, result)), kind, 9) == {
        "type": "ok",
        "id": 9,
        "result": result,
    }


@pytest.mark.parametrize("code", messages.ERROR_CODES)
def test_error_replies_both_ways(wire: ModuleType, code: str) -> None:
    for request_id in (7, None):
        plugin_body = wire.encode_error_reply(request_id, code, "what went wrong")
        package_msg = ErrorMessage(code, "what went wrong", request_id)
        assert plugin_body == codec.encode_reply(package_msg)
        assert codec.decode_reply(plugin_body, "get_config", 7) == package_msg
        assert wire.decode_reply(codec.encode_reply(package_msg), "get_config", 7) == {
            "type": "error",
            "id": request_id,
            "code": code,
            "message": "what went wrong",
        }


def test_static_info_check_agrees(wire: ModuleType) -> None:
    assert wire.check_static_info(dict(STATIC_INFO)) == messages.check_static_info(
        dict(STATIC_INFO)
    )
    for key in ("TrackName", "backend", "autoShifterOn"):
        broken = {k: v for k, v in STATIC_INFO.items() if k != key}
        with pytest.raises(wire.WireError) as plugin_error:
            wire.check_static_info(broken)
        with pytest.raises(RejectedMessage) as package_error:
            messages.check_static_info(broken)
        assert plugin_error.value.code == package_error.value.code == "bad_message"


def test_frames_are_the_same_bytes_and_decode_split_anywhere(wire: ModuleType) -> None:
    bodies = [codec.encode_request(r) for r in REQUESTS]  # type: ignore[arg-type]
    stream = b"".join(wire.encode_frame(body) for body in bodies)
    assert stream == b"".join(framing.encode_frame(body) for body in bodies)
    for chunk in (1, 3, 7, len(stream)):
        plugin_decoder = wire.FrameDecoder(messages.MGMT_REQUEST_MAX_BYTES)
        package_decoder = framing.FrameDecoder(messages.MGMT_REQUEST_MAX_BYTES)
        plugin_frames: list[bytes] = []
        package_frames: list[bytes] = []
        for start in range(0, len(stream), chunk):
            plugin_frames += plugin_decoder.feed(stream[start : start + chunk])
            package_frames += package_decoder.feed(stream[start : start + chunk])
        assert plugin_frames == package_frames == bodies


@pytest.mark.parametrize(
    ("header", "code"), [(b"\x00\x00\x00\x00", "bad_message"), (b"\x7f\x00\x00\x00", "too_large")]
)
def test_bad_frame_headers_are_refused_alike(wire: ModuleType, header: bytes, code: str) -> None:
    with pytest.raises(wire.WireError) as plugin_error:
        wire.FrameDecoder(1000).feed(header)
    with pytest.raises(RejectedMessage) as package_error:
        framing.FrameDecoder(1000).feed(header)
    assert plugin_error.value.code == package_error.value.code == code


# -- refusals ---------------------------------------------------------------------------------


def _controls_obj(**changes: object) -> bytes:
    obj: dict[str, object] = {
        "type": "controls",
        "seq": 1,
        "state_seq": 0,
        "steer": 0.0,
        "acc": 0.0,
        "brake": -1.0,
        "enable_gear_shift": 0,
        "shift_up": 0,
        "shift_down": 0,
    }
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()


BAD_CLIENT_DATAGRAMS = [
    b"\xff\xfe",
    b"connect",
    b"[1, 2]",
    b'{"type": "controls", "seq": NaN}',
    b"[" * 2000,
    b" " * 1025,
    b'{"type": "launch"}',
    b'{"type": 5}',
    b'{"seq": 1}',
    _controls_obj(steer=1.5),
    _controls_obj(steer="0.1"),
    _controls_obj(steer=0.5).replace(b"0.5", b"1e999"),
    _controls_obj(seq=0),
    _controls_obj(seq=True),
    _controls_obj(seq=2**60),
    _controls_obj(shift_up=2),
    _controls_obj(brake=...),
    _controls_obj(turbo=1),
    b'{"type": "connect", "version": 99, "token": null, "mode": "realtime", "nonce": 1}',
    b'{"type": "connect", "version": 1, "token": null, "mode": "warp", "nonce": 1}',
    b'{"type": "connect", "version": 1, "token": 5, "mode": "realtime", "nonce": 1}',
    b'{"type": "disconnect", "now": 1}',
]


@pytest.mark.parametrize("data", BAD_CLIENT_DATAGRAMS, ids=lambda d: d[:40].decode("latin-1"))
def test_bad_client_datagrams_are_refused_with_the_same_code(wire: ModuleType, data: bytes) -> None:
    with pytest.raises(RejectedMessage) as package_error:
        codec.decode_from_client(data)
    with pytest.raises(wire.WireError) as plugin_error:
        wire.decode_from_client(data)
    assert plugin_error.value.code == package_error.value.code


def _state(channels_obj: object, **extra: object) -> bytes:
    obj = {"type": "state", "seq": 1, "ack": 0, "channels": channels_obj}
    obj.update(extra)
    return json.dumps(obj).encode()


BAD_SERVER_DATAGRAMS = [
    _state({"speed": "fast"}),
    _state({"speed": True}),
    _state({"speed": {"x": 1}}),
    _state({"tyres_load": [1.0] * 17}),
    _state({"tyres_load": [1.0, "x"]}),
    _state({f"c{i}": 0 for i in range(300)}),
    _state({"x" * 100: 1.0}),
    _state([1, 2]),
    _state({}, seq=0),
    _state({}, extra=1),
    b'{"type":"state","seq":1,"ack":0,"channels":{"speed":1e999}}',
    b'{"type":"state","seq":1,"ack":0}',
    b'{"type":"disconnected","reason":"bored"}',
    b'{"type":"connected","version":1,"mode":"warp","control_rate_hz":25.0,"nonce":1}',
    b'{"type":"error","code":"x"}',
]


@pytest.mark.parametrize("data", BAD_SERVER_DATAGRAMS, ids=lambda d: d[:50].decode("latin-1"))
def test_bad_server_datagrams_are_refused_with_the_same_code(wire: ModuleType, data: bytes) -> None:
    with pytest.raises(RejectedMessage) as package_error:
        codec.decode_from_server(data)
    with pytest.raises(wire.WireError) as plugin_error:
        wire.decode_from_server(data)
    assert plugin_error.value.code == package_error.value.code


BAD_REQUESTS = [
    b'{"type":"hello","id":1,"version":2,"token":null,"client":"x"}',
    b'{"type":"hello","id":1,"version":1,"token":null}',
    b'{"type":"reset","id":2}',
    b'{"type":"reset","id":2,"options":{"warp":1}}',
    b'{"type":"reset","id":2,"options":{"speed_mps":-1}}',
    b'{"type":"reset","id":2,"options":[1]}',
    b'{"type":"get_config","id":-1}',
    b'{"type":"get_config","id":3,"verbose":1}',
    b'{"type":"shutdown","id":4}',
    b"not json",
]


@pytest.mark.parametrize("data", BAD_REQUESTS, ids=lambda d: d[:50].decode("latin-1"))
def test_bad_requests_are_refused_with_the_same_code_and_id(wire: ModuleType, data: bytes) -> None:
    with pytest.raises(RejectedMessage) as package_error:
        codec.decode_request(data)
    with pytest.raises(wire.WireError) as plugin_error:
        wire.decode_request(data)
    assert plugin_error.value.code == package_error.value.code
    assert plugin_error.value.request_id == getattr(package_error.value, "request_id", None)


# -- legacy -----------------------------------------------------------------------------------

LEGACY_STATE = {
    "steps": 4,
    "speed": 30.5,
    "yaw": float("nan"),
    "isInPit": True,
    "NdSlip": (0.1, None, 0.3, 0.4),
    "done": 0,
    "extra_channel": 1.5,
}


def test_legacy_state_is_byte_for_byte_the_packages(wire: ModuleType) -> None:
    plugin_data, plugin_replaced = wire.legacy_encode_state(LEGACY_STATE)
    package_data, package_replaced = legacy_wire.encode_state(LEGACY_STATE)
    assert plugin_data == package_data
    assert plugin_replaced == package_replaced == 2
    state = legacy_wire.parse_state(plugin_data)
    assert list(state)[: len(channels.LEGACY_STATE_CHANNELS)] == list(
        channels.LEGACY_STATE_CHANNELS
    )
    # The original client reads it with eval: no true/false/null/NaN.
    assert eval(plugin_data.decode(), {"__builtins__": {}}) == state


def test_legacy_replies_are_the_packages(wire: ModuleType) -> None:
    info = dict(STATIC_INFO, WorldPosition=(1.0, float("nan"), 2.0), isCarInPit=False)
    assert wire.legacy_encode_json(info) == legacy_wire.encode_eval_safe_json(info)
    config = {"ego_sampling_freq": 25.0, "version": "0.1.0", "sampling_freq": 50}
    plugin_config = wire.legacy_config_dict(config, ("127.0.0.1", 2345), ("127.0.0.1", 2347))
    package_config = legacy_wire.config_dict(config, ("127.0.0.1", 2345), ("127.0.0.1", 2347))
    assert plugin_config == package_config
    assert list(plugin_config) == list(package_config)
    encoded = wire.legacy_encode_config(plugin_config)
    assert encoded == legacy_wire.encode_config(package_config)
    assert legacy_wire.parse_config(encoded)["ego_sampling_freq"] == 25.0


@pytest.mark.parametrize(
    "controls",
    [Controls(0.25, 1.0, -1.0), Controls(-1.0, -1.0, 1.0, True, True, False)],
)
def test_legacy_controls_both_ways(wire: ModuleType, controls: Controls) -> None:
    package_data = legacy_wire.encode_controls(controls, 17)
    assert wire.legacy_decode_controls(package_data) == (_controls_dict(controls), 17)
    plugin_data = wire.legacy_encode_controls(_controls_dict(controls), 17)
    assert plugin_data == package_data
    assert legacy_wire.decode_controls(plugin_data) == (controls, 17)


@pytest.mark.parametrize(
    "data",
    [
        b"garbage",
        b"[1]",
        b'{"steer": 0.1}',
        b'{"steer": 0.1, "server_steps": "3"}',
        b'{"steer": "x", "server_steps": 3}',
        b'{"steer": true, "server_steps": 3}',
        b'{"shift_up": 2, "server_steps": 3}',
        b'{"server_steps": 3, "acc": NaN}',
    ],
)
def test_legacy_bad_controls_are_refused_alike(wire: ModuleType, data: bytes) -> None:
    with pytest.raises(RejectedMessage) as package_error:
        legacy_wire.decode_controls(data)
    with pytest.raises(wire.WireError) as plugin_error:
        wire.legacy_decode_controls(data)
    assert plugin_error.value.code == package_error.value.code


def test_legacy_controls_clip_and_accept_flags_as_bools(wire: ModuleType) -> None:
    data = b'{"steer": 3, "acc": -7.5, "brake": 0.5, "shift_up": true, "server_steps": 1}'
    controls, steps = wire.legacy_decode_controls(data)
    assert legacy_wire.decode_controls(data) == (Controls(**controls), steps)
    assert controls["steer"] == 1.0 and controls["acc"] == -1.0 and controls["shift_up"] is True


def test_legacy_controls_clip_integers_too_large_for_a_float_alike(wire: ModuleType) -> None:
    data = b'{"steer": 1%s, "acc": -1%s, "server_steps": 1}' % (b"0" * 400, b"0" * 400)
    controls, steps = wire.legacy_decode_controls(data)
    assert legacy_wire.decode_controls(data) == (Controls(**controls), steps)
    assert (controls["steer"], controls["acc"]) == (1.0, -1.0)


@pytest.mark.parametrize(
    "track",
    [
        TRACK_INFO,
        {},
        {"fast_lane": [[0.0, 1.0, 2.0]]},
        {"fast_lane": [[0.0, "x"]]},
        {"speed_arr": [1.0, None]},
        {"speed_arr": 3.0},
        {"racing_line": []},
        [1, 2],
    ],
)
def test_track_info_check_agrees(wire: ModuleType, track: object) -> None:
    try:
        expected = messages.check_track_info(track)
    except RejectedMessage as error:
        with pytest.raises(wire.WireError) as plugin_error:
            wire.check_track_info(track)
        assert plugin_error.value.code == error.code
    else:
        assert wire.check_track_info(track) == expected


@pytest.mark.parametrize(
    "config",
    [
        RESULTS["get_config"],
        {"legacy": False},
        {"ego_sampling_freq": "25"},
        {"ego_sampling_freq": 25.0, "nested": {"a": {"b": {"c": 1}}}},
        {"ego_sampling_freq": 25.0, "values": [1.0, 2.0]},
        "config",
    ],
)
def test_config_check_agrees(wire: ModuleType, config: object) -> None:
    try:
        expected = messages.check_config(config)
    except RejectedMessage as error:
        with pytest.raises(wire.WireError) as plugin_error:
            wire.check_config(config)
        assert plugin_error.value.code == error.code
    else:
        assert wire.check_config(config) == expected


def test_the_capture_trigger_is_the_same_bytes_on_both_sides(wire: ModuleType) -> None:
    from acgym.protocol.frames import decode_control, encode_capture

    for nonce, seq in ((0, 1), (12345, 2**40), (2**31 - 1, 7)):
        assert wire.encode_capture(nonce, seq) == encode_capture(nonce, seq)
        assert decode_control(wire.encode_capture(nonce, seq)) == {
            "type": "capture",
            "nonce": nonce,
            "seq": seq,
        }

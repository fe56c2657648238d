"""Codec: every message round-trips; every kind of bad input is refused with its code."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from acgym.errors import ProtocolError
from acgym.protocol import codec
from acgym.protocol.messages import (
    CLIENT_DATAGRAM_MAX_BYTES,
    PROTOCOL_VERSION,
    SERVER_DATAGRAM_MAX_BYTES,
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
    "TrackName": "ring",
    "TrackConfiguration": "",
    "TrackLength": 628.3,
    "CarName": "car",
    "WindSpeed": 0.0,
    "WindDirection": 0.0,
    "autoShifterOn": 1,
    "penaltiesEnabled": 0,
    "backend": "simulator",
    "backend_version": "0.1.0",
}


@pytest.mark.parametrize(
    "message",
    [
        Connect(token="secret", mode="lockstep", nonce=7),
        Connect(token=None, mode="realtime", nonce=0),
        ControlsMessage(3, 2, Controls(-0.5, 1.0, -1.0, True, False, True)),
        Disconnect(),
    ],
)
def test_client_messages_round_trip(message: object) -> None:
    data = codec.encode_ego(message)  # type: ignore[arg-type]
    assert len(data) <= CLIENT_DATAGRAM_MAX_BYTES
    assert codec.decode_from_client(data) == message


@pytest.mark.parametrize(
    "message",
    [
        Connected("lockstep", 25.0, 7),
        State(5, 4, {"steps": 5, "speed": 12.5, "tyres_load": [1.0, 2.0, 3.0, 4.0]}),
        Disconnected("replaced"),
        ErrorMessage("bad_token", "no"),
    ],
)
def test_server_messages_round_trip(message: object) -> None:
    assert codec.decode_from_server(codec.encode_ego(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "request_",
    [
        Hello(1, "tok", "acgym"),
        Reset(2, ResetOptions(distance_m=10.0, seed=3)),
        Reset(3),
        Query(4, "get_track_info"),
        Query(5, "get_counters"),
    ],
)
def test_requests_round_trip(request_: object) -> None:
    assert codec.decode_request(codec.encode_request(request_)) == request_  # type: ignore[arg-type]


def test_replies_round_trip_with_result_checks() -> None:
    body = codec.encode_reply(Ok(9, STATIC_INFO))
    assert codec.decode_reply(body, "get_static_info", 9) == Ok(9, STATIC_INFO)
    error = codec.encode_reply(ErrorMessage("busy", "later", 9))
    assert codec.decode_reply(error, "get_config", 9) == ErrorMessage("busy", "later", 9)


def test_wire_format_is_plain_compact_json() -> None:
    data = codec.encode_ego(ControlsMessage(1, 0, Controls(0.25, -1.0, -1.0)))
    assert json.loads(data) == {
        "type": "controls",
        "seq": 1,
        "state_seq": 0,
        "steer": 0.25,
        "acc": -1.0,
        "brake": -1.0,
        "enable_gear_shift": 0,
        "shift_up": 0,
        "shift_down": 0,
    }
    assert b" " not in data


def _controls(**changes: object) -> bytes:
    obj = {
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


@pytest.mark.parametrize(
    ("data", "code", "says"),
    [
        (b"\xff\xfe", "bad_json", "JSON"),
        (b"connect", "bad_json", "JSON"),
        (b'{"type": "controls", "seq": 1', "bad_json", "JSON"),
        (b"[1, 2]", "bad_json", "object"),
        (b'{"type": "controls", "seq": NaN}', "bad_json", "NaN"),
        (b"[" * 100_000, "too_large", "at most"),
        (b"[" * 1000, "bad_json", "JSON"),
        (b'{"type": "launch_missiles"}', "unknown_type", "launch_missiles"),
        (b'{"type": 5}', "unknown_type", "type"),
        (b'{"seq": 1}', "bad_message", "type"),
        (_controls(steer=1.5), "bad_message", "steer"),
        (_controls(steer="0.1"), "bad_message", "steer"),
        (_controls(steer=0.5).replace(b"0.5", b"1e999"), "bad_message", "steer"),
        (_controls(steer=0.5).replace(b"0.5", b"Infinity"), "bad_json", "Infinity"),
        (_controls(seq=0), "bad_message", "seq"),
        (_controls(seq=2**60), "bad_message", "seq"),
        (_controls(seq=True), "bad_message", "seq"),
        (_controls(shift_up=2), "bad_message", "shift_up"),
        (_controls(brake=...), "bad_message", "brake"),
        (_controls(turbo=1), "bad_message", "turbo"),
        (
            b'{"type": "connect", "version": 99, "token": null, "mode": "realtime", "nonce": 1}',
            "version_mismatch",
            "99",
        ),
        (
            b'{"type": "connect", "version": 1, "token": null, "mode": "warp", "nonce": 1}',
            "unsupported_mode",
            "warp",
        ),
    ],
)
def test_bad_client_datagrams_are_refused_with_a_code(data: bytes, code: str, says: str) -> None:
    with pytest.raises(RejectedMessage) as info:
        codec.decode_from_client(data)
    assert info.value.code == code
    assert says in str(info.value)


def test_oversized_datagram_is_refused_before_parsing() -> None:
    with pytest.raises(RejectedMessage) as info:
        codec.decode_from_client(b" " * (CLIENT_DATAGRAM_MAX_BYTES + 1))
    assert info.value.code == "too_large"


@pytest.mark.parametrize(
    ("channels", "says"),
    [
        ({"speed": "fast"}, "speed"),
        ({"speed": True}, "speed"),
        ({"speed": {"x": 1}}, "speed"),
        ({"tyres_load": [1.0] * 17}, "too long"),
        ({"tyres_load": [1.0, "x"]}, "tyres_load"),
        ({f"c{i}": 0 for i in range(300)}, "at most"),
        ({"x" * 100: 1.0}, "too long"),
    ],
)
def test_bad_states_are_refused(channels: dict[str, object], says: str) -> None:
    data = json.dumps({"type": "state", "seq": 1, "ack": 0, "channels": channels}).encode()
    with pytest.raises(RejectedMessage, match=says):
        codec.decode_from_server(data)


def test_state_huge_float_is_refused() -> None:
    data = b'{"type":"state","seq":1,"ack":0,"channels":{"speed":1e999}}'
    with pytest.raises(RejectedMessage, match="finite"):
        codec.decode_from_server(data)


def test_normalize_turns_numpy_bool_and_nan_into_plain_json() -> None:
    channels = {
        "a": np.float32(1.5),
        "b": np.int64(3),
        "c": True,
        "d": math.nan,
        "e": np.array([1.0, math.inf, 2.0, 3.0]),
        "f": (1, 2, 3, 4),
        "g": None,
    }
    normalized = codec.normalize_channels(channels)
    assert normalized == {
        "a": 1.5,
        "b": 3,
        "c": 1,
        "d": None,
        "e": [1.0, None, 2.0, 3.0],
        "f": [1, 2, 3, 4],
        "g": None,
    }
    decoded = codec.decode_from_server(codec.encode_state(1, 0, normalized))
    assert isinstance(decoded, State)
    assert math.isnan(decoded.channels["d"]) and math.isnan(decoded.channels["e"][1])


def test_normalize_refuses_strings() -> None:
    with pytest.raises(ProtocolError, match="'name'"):
        codec.normalize_channels({"name": "car"})


def test_encode_refuses_a_state_over_the_datagram_limit() -> None:
    channels = {f"channel_{i}": [1.0 / 3.0] * 16 for i in range(200)}
    with pytest.raises(ProtocolError, match=str(SERVER_DATAGRAM_MAX_BYTES)):
        codec.encode_state(1, 0, channels)


def test_encoders_never_write_nan() -> None:
    with pytest.raises(ValueError):
        codec.encode_reply(Ok(1, {"x": math.nan}))


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"type":"hello","id":1,"version":1,"token":null}', "bad_message"),
        (
            b'{"type":"hello","id":1,"version":2,"token":null,"client":"x","new":1}',
            "version_mismatch",
        ),
        (b'{"type":"reset","id":1,"options":{"distance_m":-1}}', "bad_message"),
        (b'{"type":"reset","id":1,"options":{"teleport":1}}', "bad_message"),
        (b'{"type":"reset","id":1,"options":[]}', "bad_message"),
        (b'{"type":"get_config","id":-1}', "bad_message"),
        (b'{"type":"get_config","id":1,"extra":0}', "bad_message"),
        (b'{"type":"shutdown","id":1}', "unknown_type"),
    ],
)
def test_bad_requests_are_refused(body: bytes, code: str) -> None:
    with pytest.raises(RejectedMessage) as info:
        codec.decode_request(body)
    assert info.value.code == code


def test_refused_request_keeps_its_id_for_the_error_reply() -> None:
    with pytest.raises(RejectedMessage) as info:
        codec.decode_request(b'{"type":"shutdown","id":42}')
    assert info.value.request_id == 42  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "result", "says"),
    [
        ("get_static_info", {**STATIC_INFO, "TrackLength": "long"}, "TrackLength"),
        ("get_static_info", {k: v for k, v in STATIC_INFO.items() if k != "CarName"}, "CarName"),
        ("get_config", {"sampling_freq": 50}, "ego_sampling_freq"),
        ("get_track_info", {"left_lane": [[0.0, 1.0], [2.0]]}, "left_lane"),
        ("get_track_info", {"secret": 1}, "secret"),
        ("get_counters", {"x": -1}, "counters.x"),
        ("reset", {"first_seq": "1"}, "first_seq"),
    ],
)
def test_bad_results_are_refused(kind: str, result: dict[str, object], says: str) -> None:
    body = codec.encode_reply(Ok(1, result))
    with pytest.raises(RejectedMessage, match=says):
        codec.decode_reply(body, kind, 1)


def test_reply_with_another_id_is_refused() -> None:
    with pytest.raises(RejectedMessage, match="expected 2"):
        codec.decode_reply(codec.encode_reply(Ok(1, {"first_seq": 1})), "reset", 2)


def test_protocol_version_is_one() -> None:
    assert PROTOCOL_VERSION == 1

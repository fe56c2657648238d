"""The original plugin's format: safe to send to it, safe to read from it, eval-safe out."""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time

import pytest
from proto_original_client import original_eval
from proto_original_plugin import ORIGINAL_CONFIG

from acgym.errors import BackendError, ProtocolError
from acgym.protocol import legacy
from acgym.protocol.channels import LEGACY_STATE_CHANNELS
from acgym.protocol.messages import Controls, RejectedMessage


def test_controls_for_the_original_are_always_well_formed() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        values = [rng.uniform(-3.0, 3.0) for _ in range(3)]
        flags = [rng.random() < 0.5 for _ in range(3)]
        steps = rng.randrange(0, 10**9)
        data = legacy.encode_controls(Controls(*values, *flags), steps)
        assert len(data) <= legacy.LEGACY_DATAGRAM_MAX_BYTES
        obj = json.loads(data.decode("utf-8"))
        assert set(obj) == set(legacy.CONTROL_KEYS)
        assert obj["server_steps"] == steps
        assert all(-1.0 <= obj[k] <= 1.0 for k in ("steer", "acc", "brake"))
        assert all(obj[k] in (0, 1) for k in ("enable_gear_shift", "shift_up", "shift_down"))


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.5", None])
def test_controls_that_could_kill_the_original_are_refused_before_sending(bad: object) -> None:
    with pytest.raises(ProtocolError):
        legacy.encode_controls(Controls(steer=bad), 3)  # type: ignore[arg-type]


def test_state_for_the_original_client_has_every_key_and_is_eval_safe() -> None:
    channels = {
        "speed": math.nan,
        "LapInvalidated": True,
        "tyres_load": [1.0, None, math.inf, 2.0],
        "extra": 5,
    }
    data, replaced = legacy.encode_state(channels)
    text = data.decode("ascii")
    for token in ("true", "false", "null", "NaN", "Infinity"):
        assert token not in text
    state = original_eval(text)
    assert set(LEGACY_STATE_CHANNELS) <= set(state)
    assert len(state) >= 90
    assert state["speed"] == 0 and state["LapInvalidated"] == 1
    assert state["tyres_load"] == [1.0, 0, 0, 2.0]
    assert state["extra"] == 5 and state["done"] == 0
    assert replaced == 3


def test_config_literal_has_the_originals_28_keys() -> None:
    config = legacy.config_dict(
        {"ego_sampling_freq": 25, "unrelated": 1}, ("127.0.0.1", 2345), ("127.0.0.1", 2347)
    )
    assert set(config) == set(ORIGINAL_CONFIG)
    assert len(config) == 28
    text = legacy.encode_config(config).decode()
    assert original_eval(text) == config
    assert legacy.parse_config(text.encode()) == config


def test_the_originals_config_reply_parses_without_eval() -> None:
    assert legacy.parse_config(str(ORIGINAL_CONFIG).encode()) == ORIGINAL_CONFIG


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo owned')",
        "{'a': open('/etc/passwd').read()}",
        "[1, 2]",
        "{'ego_sampling_freq': 25, 1: 2}",
        "{'sampling_freq': 50}",
        "{'a': " * 400 + "1" + "}" * 400,
        "{'ego_sampling_freq': [1, 2]}",
    ],
)
def test_config_parser_refuses_anything_but_a_flat_literal(text: str) -> None:
    with pytest.raises(ProtocolError):
        legacy.parse_config(text.encode())


def test_config_parser_has_a_size_limit() -> None:
    with pytest.raises(ProtocolError, match="bytes"):
        legacy.parse_config(b"{'x': '" + b"a" * 70_000 + b"'}")


def test_static_info_of_the_original_gets_the_v1_keys() -> None:
    reply = json.dumps(
        {"TrackName": "monza", "TrackConfiguration": -1, "TrackLength": 5793.0, "CarName": "c"}
    )
    info = legacy.parse_static_info(reply.encode(), 10_000)
    assert info["TrackConfiguration"] == "" and info["backend"] == "assetto_corsa"


def test_legacy_state_parser_accepts_the_originals_nan() -> None:
    state = legacy.parse_state(b'{"steps": 3, "speed": NaN, "tyres_load": [1, 2, 3, 4]}')
    assert state["steps"] == 3 and math.isnan(state["speed"])
    with pytest.raises(ProtocolError):
        legacy.parse_state(b'{"steps": {"nested": 1}}')


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"garbage", "bad_json"),
        (b'{"steer": 0.1}', "bad_message"),
        (b'{"steer": "left", "server_steps": 1}', "bad_message"),
        (b'{"steer": 0.1, "server_steps": 1.5}', "bad_message"),
        (b'{"shift_up": 2, "server_steps": 1}', "bad_message"),
    ],
)
def test_our_legacy_server_refuses_bad_controls(data: bytes, code: str) -> None:
    with pytest.raises(RejectedMessage) as info:
        legacy.decode_controls(data)
    assert info.value.code == code


def test_original_clients_controls_decode_and_clip() -> None:
    data = json.dumps(
        {
            "steer": 1.2,
            "acc": 0.5,
            "brake": -1,
            "enable_gear_shift": False,
            "shift_up": False,
            "shift_down": True,
            "server_steps": 7,
        }
    ).encode()
    controls, steps = legacy.decode_controls(data)
    assert controls == Controls(1.0, 0.5, -1.0, False, False, True) and steps == 7


_KEEP: list[socket.socket] = []


def _serve_in_pieces(
    pieces: list[bytes], pause_s: float, close: bool
) -> tuple[socket.socket, threading.Thread]:
    """A socket that receives ``pieces`` with pauses; the sender stays open unless ``close``."""
    left, right = socket.socketpair()
    if not close:
        _KEEP.append(left)  # closed by the test's ``finally`` through ``_close_all``

    def send() -> None:
        for piece in pieces:
            left.sendall(piece)
            time.sleep(pause_s)
        if close:
            left.close()

    thread = threading.Thread(target=send)
    thread.start()
    return right, thread


def test_reply_is_read_to_its_end_across_segments_without_close() -> None:
    body = json.dumps({"left_lane": [[float(i), 1.0] for i in range(20_000)]}).encode()
    pieces = [body[i : i + 30_000] for i in range(0, len(body), 30_000)]
    sock, thread = _serve_in_pieces(pieces, 0.02, close=False)
    try:
        reply = legacy.read_reply(
            sock,
            lambda data: legacy.parse_json_reply(data, 10**7, "t"),
            max_bytes=10**7,
            deadline_s=time.monotonic() + 5.0,
            where="t",
        )
        assert len(reply["left_lane"]) == 20_000
    finally:
        thread.join(timeout=5.0)
        sock.close()
        _close_all()


def test_reply_is_read_until_the_peer_closes() -> None:
    sock, thread = _serve_in_pieces([b'{"a": ', b"1}"], 0.0, close=True)
    try:
        reply = legacy.read_reply(
            sock,
            lambda data: legacy.parse_json_reply(data, 100, "t"),
            max_bytes=100,
            deadline_s=time.monotonic() + 5.0,
            where="t",
        )
        assert reply == {"a": 1}
    finally:
        thread.join(timeout=5.0)
        sock.close()
        _close_all()


def test_incomplete_reply_times_out_with_a_clear_error() -> None:
    sock, thread = _serve_in_pieces([b'{"a": [1, 2'], 0.0, close=False)
    try:
        with pytest.raises(BackendError, match="no complete reply"):
            legacy.read_reply(
                sock,
                lambda data: legacy.parse_json_reply(data, 100, "t"),
                max_bytes=100,
                deadline_s=time.monotonic() + 0.3,
                where="t",
            )
    finally:
        thread.join(timeout=5.0)
        sock.close()
        _close_all()


def test_oversized_reply_is_refused() -> None:
    sock, thread = _serve_in_pieces([b"[" + b"1," * 1000], 0.0, close=False)
    try:
        with pytest.raises(ProtocolError, match="over 100 bytes"):
            legacy.read_reply(
                sock, lambda data: data, max_bytes=100, deadline_s=time.monotonic() + 5.0, where="t"
            )
    finally:
        thread.join(timeout=5.0)
        sock.close()
        _close_all()


def _close_all() -> None:
    while _KEEP:
        _KEEP.pop().close()

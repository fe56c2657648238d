"""TCP framing: frames survive any split of the byte stream; oversize is refused early."""

from __future__ import annotations

import random
import socket
import threading
import time

import pytest

from acgym.errors import BackendError
from acgym.protocol.framing import FrameDecoder, encode_frame, recv_frame, send_frame
from acgym.protocol.messages import RejectedMessage


def test_frame_is_big_endian_length_then_body() -> None:
    assert (
        encode_frame(b'{"type":"get_config","id":2}')
        == b"\x00\x00\x00\x1c" + b'{"type":"get_config","id":2}'
    )


def test_decoder_reassembles_frames_from_any_split() -> None:
    rng = random.Random(3)
    bodies = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))) for _ in range(50)]
    stream = b"".join(encode_frame(body) for body in bodies)
    decoder = FrameDecoder(4096)
    out = []
    position = 0
    while position < len(stream):
        step = rng.choice((1, 2, 3, 7, 100, 5000))
        out += decoder.feed(stream[position : position + step])
        position += step
    assert out == bodies
    assert decoder.buffered_bytes == 0


def test_decoder_refuses_an_oversized_length_before_the_body() -> None:
    decoder = FrameDecoder(100)
    with pytest.raises(RejectedMessage) as info:
        decoder.feed(b"\x00\x00\x10\x00")  # 4096 announced, nothing of the body sent
    assert info.value.code == "too_large"


def test_decoder_refuses_an_empty_frame() -> None:
    with pytest.raises(RejectedMessage):
        FrameDecoder(100).feed(b"\x00\x00\x00\x00")


def test_recv_frame_reads_a_frame_sent_in_slow_pieces() -> None:
    left, right = socket.socketpair()
    body = b"x" * 50_000
    frame = encode_frame(body)

    def dribble() -> None:
        for start in range(0, len(frame), 9000):
            left.sendall(frame[start : start + 9000])
            time.sleep(0.005)

    sender = threading.Thread(target=dribble)
    sender.start()
    try:
        assert recv_frame(right, 100_000, time.monotonic() + 5.0, "test") == body
    finally:
        sender.join(timeout=5.0)
        left.close()
        right.close()


def test_recv_frame_says_when_the_peer_closes_mid_frame() -> None:
    left, right = socket.socketpair()
    try:
        left.sendall(encode_frame(b"abcdef")[:6])
        left.close()
        with pytest.raises(BackendError, match="closed"):
            recv_frame(right, 100, time.monotonic() + 5.0, "test")
    finally:
        right.close()


def test_recv_frame_times_out() -> None:
    left, right = socket.socketpair()
    try:
        send_frame(left, b"abc")
        right.recv(4)  # eat the header: the body never comes
        with pytest.raises(BackendError, match="timed out"):
            recv_frame(right, 100, time.monotonic() + 0.1, "test")
    finally:
        left.close()
        right.close()

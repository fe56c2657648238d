"""Seeded fuzzing: thousands of malformed datagrams and requests; the servers count them
and keep serving a well-behaved client."""

from __future__ import annotations

import json
import random
import socket
import struct
from collections.abc import Callable

import pytest
from fuzzing import VALID_SAMPLES, expected_ego_rejects, frames_from, fuzz_payloads
from proto_fake_car import FakeCar
from proto_helpers import client_of_a_hand_driven_server, make_client, wait_until

from acgym.errors import ProtocolError
from acgym.protocol import codec, legacy
from acgym.protocol.client import Client
from acgym.protocol.framing import encode_frame
from acgym.protocol.messages import (
    Hello,
    RejectedMessage,
)
from acgym.protocol.server import ProtocolServer


def _send_paced(
    payloads: list[bytes],
    target: tuple[str, int],
    received: Callable[[], int],
    between: Callable[[], None],
) -> None:
    """Send in small batches (by count and bytes) and wait for the server to read each
    batch, so no datagram is lost to a full socket buffer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fuzzer:
        start = received()
        sent = 0
        batch_bytes = 0
        for index, data in enumerate(payloads):
            fuzzer.sendto(data, target)
            sent += 1
            batch_bytes += len(data) + 512  # the kernel's bookkeeping per datagram
            if sent % 100 == 0 or batch_bytes > 64_000 or index == len(payloads) - 1:
                target_count = start + sent
                wait_until(lambda: received() >= target_count, what="the server reading a batch")  # noqa: B023
                batch_bytes = 0
                if sent % 100 == 0:
                    between()


def _fuzz_received(srv: ProtocolServer) -> int:
    """Datagrams the server read, less the well-behaved client's."""
    counters = srv.ego.counters
    return (
        counters["datagrams_received"]
        - counters["controls_applied"]
        - counters["controls_retransmitted"]
    )


def test_ego_server_survives_thousands_of_bad_datagrams() -> None:
    car = FakeCar()
    rng = random.Random(1234)
    payloads = (
        list(fuzz_payloads(rng, 3000, 1024)) + [VALID_SAMPLES[0]] * 5
    )  # a stranger's controls
    expected, payloads = expected_ego_rejects(payloads)
    assert expected >= 2500
    with ProtocolServer(car, ego_port=0, mgmt_port=0) as srv:
        with make_client(srv, mode="lockstep") as client:
            client.receive_state()
            steps = []
            _send_paced(
                payloads,
                srv.ego_address,
                lambda: _fuzz_received(srv),
                lambda: steps.append(client.step(0.0, 0.5, -1.0)["packetId"]),
            )
            for _ in range(20):
                steps.append(client.step(0.0, 0.5, -1.0)["packetId"])
            assert steps == list(range(1, len(steps) + 1))
            assert client.counters.get("server_errors", 0) == 0
        counters = srv.ego.counters
    assert counters["datagrams_rejected"] == expected
    assert counters["datagrams_rejected_bad_json"] > 500
    assert counters["datagrams_rejected_too_large"] > 200
    assert counters["datagrams_rejected_not_connected"] == 5
    assert counters.get("source_errors", 0) == 0


def test_legacy_ego_server_survives_thousands_of_bad_datagrams() -> None:
    car = FakeCar()
    rng = random.Random(99)
    payloads = [p for p in fuzz_payloads(rng, 3000, 1024) if p != b"connect"]
    expected = 0
    for data in payloads:
        if data in (b"disconnect", b"reset"):
            continue
        try:
            legacy.decode_controls(data)
        except RejectedMessage:
            pass
        expected += 1  # malformed, oversized, or controls from a stranger
    with ProtocolServer(car, ego_port=0, mgmt_port=0, legacy=True, control_rate_hz=100.0) as srv:
        client = Client(
            ego_port=srv.ego_address[1], mgmt_port=srv.mgmt_address[1], legacy=True, timeout_s=3.0
        )
        with client:
            _send_paced(
                payloads,
                srv.ego_address,
                lambda: srv.ego.counters["datagrams_received"],
                lambda: client.receive_state(),
            )
            client.send_controls(0.3, 0.5, -1.0)
            wait_until(
                lambda: bool(car.controls) and car.controls[-1].steer == 0.3,
                what="controls after fuzz",
            )
            assert client.receive_state()["done"] == 0
    assert srv.ego.counters["datagrams_rejected"] == expected


def test_management_server_survives_thousands_of_bad_requests() -> None:
    rng = random.Random(7)
    with ProtocolServer(FakeCar(), ego_port=0, mgmt_port=0, max_request_bytes=4096) as srv:
        bad = 0
        payloads = list(fuzz_payloads(rng, 2000, 4096))
        for offset in range(0, len(payloads), 250):
            with socket.create_connection(srv.mgmt_address, timeout=5.0) as sock:
                sock.sendall(encode_frame(codec.encode_request(Hello(0, None, "fuzzer"))))
                replies = frames_from(sock)
                assert next(replies)["type"] == "ok"
                for data in payloads[offset : offset + 250]:
                    if not data or len(data) > 4096:
                        continue  # framing errors end the connection: tested below
                    try:
                        codec.decode_request(data, 4096)
                    except RejectedMessage:
                        bad += 1
                    sock.sendall(encode_frame(data))
                    reply = next(replies)
                    assert reply["type"] in ("ok", "error")
        for garbage in (
            b"GET / HTTP/1.1\r\n\r\n",
            struct.pack(">I", 10**8),
            b"\x00\x00\x00\x00",
            b"\xff" * 64,
        ):
            with socket.create_connection(srv.mgmt_address, timeout=5.0) as sock:
                sock.sendall(garbage)
                replies = list(frames_from(sock))  # an error, then the server closes
                assert [r["type"] for r in replies] == ["error"]
        with make_client(srv) as client:
            assert client.static_info()["TrackName"] == "fake_ring"
        counters = srv.mgmt.counters
    assert counters["mgmt_rejected"] == bad + 4
    assert bad > 1000
    assert counters["mgmt_rejected_too_large"] >= 3


def test_legacy_management_server_survives_garbage_words() -> None:
    rng = random.Random(11)
    with ProtocolServer(FakeCar(), ego_port=0, mgmt_port=0, legacy=True) as srv:
        for data in fuzz_payloads(rng, 300, 1024):
            if not data or any(data.startswith(word.encode()) for word in legacy.MGMT_WORDS):
                continue
            with socket.create_connection(srv.mgmt_address, timeout=5.0) as sock:
                sock.sendall(data)
                sock.settimeout(5.0)
                try:
                    assert sock.recv(100) == b""  # unknown: the connection is broken off
                except ConnectionResetError:
                    pass
        client = Client(
            ego_port=srv.ego_address[1], mgmt_port=srv.mgmt_address[1], legacy=True, timeout_s=3.0
        )
        assert client.config()["ego_sampling_freq"] == 25
        assert srv.mgmt.counters["mgmt_rejected"] >= 250


def test_client_survives_a_hostile_ego_server() -> None:
    """A server answering garbage makes the client raise ProtocolError, never crash."""
    rng = random.Random(5)
    with client_of_a_hand_driven_server(legacy=True, timeout_s=1.0) as (client, fake_server):
        client.send_controls(0.0, 0.0, -1.0)
        data, addr = fake_server.recvfrom(2048)
        assert json.loads(data)["server_steps"] == 0
        survived = 0
        for payload in fuzz_payloads(rng, 400, 65536):
            if payload in (b"identified", b"disconnect", b""):
                continue
            fake_server.sendto(payload[:60000], addr)
            try:
                client.receive_state(timeout_s=1.0)
            except ProtocolError:
                survived += 1
        assert survived > 300


@pytest.mark.parametrize("seed", [0, 1])
def test_fuzz_is_reproducible(seed: int) -> None:
    first = list(fuzz_payloads(random.Random(seed), 50, 1024))
    assert first == list(fuzz_payloads(random.Random(seed), 50, 1024))

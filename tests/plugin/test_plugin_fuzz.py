"""Seeded fuzzing of the game plugin's own servers (its wire module mirrors the package's
codec, so the package predicts every rejection): thousands of malformed datagrams and
requests, counted, and a well-behaved client still drives the car afterwards."""

from __future__ import annotations

import random
import socket

from fuzzing import VALID_SAMPLES, expected_ego_rejects, frames_from, fuzz_payloads
from plugin_helpers import client_for, ports, receive_until, wait_until

from acgym.emulated_game import PluginRunner
from acgym.protocol import codec
from acgym.protocol.framing import encode_frame
from acgym.protocol.messages import (
    CLIENT_DATAGRAM_MAX_BYTES,
    MGMT_REQUEST_MAX_BYTES,
    Hello,
    RejectedMessage,
)

NUM_DATAGRAMS = 3000
NUM_REQUESTS = 1500


def test_the_plugins_ego_server_counts_thousands_of_bad_datagrams_and_keeps_serving(
    runner: PluginRunner,
) -> None:
    ego_port, _ = ports(runner)
    counters = runner.app.counters
    rng = random.Random(2024)
    payloads = list(fuzz_payloads(rng, NUM_DATAGRAMS, CLIENT_DATAGRAM_MAX_BYTES))
    expected, payloads = expected_ego_rejects(payloads + [VALID_SAMPLES[0]] * 5)
    assert expected >= 2500
    start = counters.get("datagrams_received")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fuzzer:
        batch_bytes = 0
        for index, data in enumerate(payloads):
            fuzzer.sendto(data, ("127.0.0.1", ego_port))
            batch_bytes += len(data) + 512  # the kernel's bookkeeping per datagram
            if (index + 1) % 100 == 0 or batch_bytes > 64_000 or index == len(payloads) - 1:
                target = start + index + 1
                wait_until(
                    lambda: counters.get("datagrams_received") >= target,  # noqa: B023
                    what="the plugin reading a batch",
                )
                batch_bytes = 0
    assert counters.get("datagrams_rejected") == expected
    assert counters.get("datagrams_rejected_bad_json") > 500
    assert counters.get("datagrams_rejected_too_large") > 200
    assert counters.get("datagrams_rejected_not_connected") >= 5
    with client_for(runner) as client:
        state = receive_until(client, lambda s: s["steerAngle"] > 20.0, controls=(0.5, -1, -1))
        assert state["done"] == 0
    assert counters.get("server_errors") == 0


def test_the_plugins_management_server_answers_thousands_of_bad_requests(
    runner: PluginRunner,
) -> None:
    _, mgmt_port = ports(runner)
    counters = runner.app.counters
    rng = random.Random(77)
    payloads = [
        data
        for data in fuzz_payloads(rng, NUM_REQUESTS, MGMT_REQUEST_MAX_BYTES)
        if data and len(data) <= MGMT_REQUEST_MAX_BYTES  # framing errors end a connection
    ]
    bad = 0
    for offset in range(0, len(payloads), 250):
        with socket.create_connection(("127.0.0.1", mgmt_port), timeout=5.0) as sock:
            sock.sendall(encode_frame(codec.encode_request(Hello(0, None, "fuzzer"))))
            replies = frames_from(sock)
            assert next(replies)["type"] == "ok"
            for data in payloads[offset : offset + 250]:
                try:
                    codec.decode_request(data, MGMT_REQUEST_MAX_BYTES)
                except RejectedMessage:
                    bad += 1
                sock.sendall(encode_frame(data))
                assert next(replies)["type"] in ("ok", "error")
    assert bad > 800
    assert counters.get("mgmt_rejected") == bad
    with client_for(runner) as client:
        assert client.static_info()["TrackName"]
        state = receive_until(client, lambda s: s["steerAngle"] < -20.0, controls=(-0.5, -1, -1))
        assert state["done"] == 0
    assert counters.get("mgmt_errors") == 0
    assert counters.get("server_errors") == 0

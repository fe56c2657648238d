"""Seeded fuzzing of both servers (the package's and the plugin's, test_server_mirror.py):
thousands of malformed datagrams and requests, among them tokens that are not text,
values nested about a thousand deep, requests sent before the replies are read,
connections that send nothing and a stranger's legacy words. The servers count every
one as the package's codec predicts, answer where the protocol says, log a few lines,
never a traceback, and go on serving a well-behaved client.

Bounded: loopback only, fixed seeds, a few thousand inputs per test.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable, Iterator

import pytest
from both_servers import (
    IMPLEMENTATIONS,
    Served,
    assert_closed_by_server,
    client_of,
    hello,
    serve,
)
from fuzzing import VALID_SAMPLES, fuzz_payloads, rejected_by_a_token_server
from plugin_helpers import wait_until

from acgym.protocol import codec, legacy
from acgym.protocol.framing import FrameDecoder, encode_frame
from acgym.protocol.messages import Controls, Hello, RejectedMessage, Reset

TOKEN = "fuzz-token"
MAX_REQUEST_BYTES = 4096
NUM_DATAGRAMS = 3000
NUM_REQUESTS = 2000


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _send_paced(payloads: list[bytes], served: Served, between: Callable[[], None]) -> None:
    """Send every payload to the ego server in small batches (by count and bytes); wait
    until the server has rejected each batch (every payload is rejected), so that no
    datagram is lost to a full socket buffer."""
    start = served.count("datagrams_rejected")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fuzzer:
        batch_bytes = 0
        for index, data in enumerate(payloads, start=1):
            fuzzer.sendto(data, served.ego_address)
            batch_bytes += len(data) + 512  # the kernel's bookkeeping per datagram
            if index % 100 == 0 or batch_bytes > 64_000 or index == len(payloads):
                wait_until(
                    lambda n=start + index: served.count("datagrams_rejected") >= n,
                    what="the server reading a batch",
                )
                batch_bytes = 0
                between()


def _assert_quiet_and_unhurt(served: Served) -> None:
    counters = served.counters()
    for name in ("source_errors", "server_errors", "mgmt_errors"):
        assert counters.get(name, 0) == 0, name
    assert served.tracebacks() == []
    assert len(served.log.records) <= served.log_lines_allowed()


def test_the_ego_server_rejects_thousands_of_bad_datagrams_and_keeps_serving(impl: str) -> None:
    fuzzed = list(fuzz_payloads(random.Random(1234), NUM_DATAGRAMS, 1024))
    strangers_controls = [VALID_SAMPLES[0]] * 5
    payloads = rejected_by_a_token_server(fuzzed + strangers_controls)
    assert len(payloads) >= 2900
    with serve(impl, token=TOKEN) as served, client_of(served, token=TOKEN) as client:
        client.receive_state()

        def drive() -> None:
            client.send_controls(0.1, 0.5, -1.0)
            client.receive_state()

        _send_paced(payloads, served, drive)
        client.send_controls(0.5, 0.5, -1.0)
        wait_until(lambda: Controls(0.5, 0.5, -1.0) in served.car.controls, what="controls")
        assert client.receive_state()["done"] == 0
        assert client.counters.get("server_errors", 0) == 0
        counters = served.counters()
        assert served.client_address is not None  # no fuzzed connect took the car
    assert counters["datagrams_rejected"] == len(payloads)
    assert counters["datagrams_rejected_bad_json"] > 500
    assert counters["datagrams_rejected_too_large"] > 200
    assert counters["datagrams_rejected_bad_token"] >= 20  # null and non-text tokens
    assert counters["datagrams_rejected_not_connected"] >= 5
    _assert_quiet_and_unhurt(served)


def test_the_legacy_ego_server_rejects_thousands_of_bad_datagrams(impl: str) -> None:
    payloads = [
        data
        for data in fuzz_payloads(random.Random(99), NUM_DATAGRAMS, 1024)
        if data not in (b"connect", b"disconnect")  # a stranger's reset is rejected too
    ]
    with serve(impl, legacy=True) as served, client_of(served, legacy=True) as client:
        _send_paced(payloads, served, lambda: client.receive_state())
        client.send_controls(0.3, 0.5, -1.0)
        wait_until(lambda: Controls(0.3, 0.5, -1.0) in served.car.controls, what="controls")
        assert client.receive_state()["done"] == 0
        counters = served.counters()
    assert counters["datagrams_rejected"] == len(payloads)
    assert counters["datagrams_rejected_not_connected"] >= 40  # stray resets and controls
    _assert_quiet_and_unhurt(served)


def _outcome(payload: bytes) -> str:
    """What a v1 management server with a token and no reset options answers to
    ``payload`` on a connection that said hello: ``ok``, ``error``, or ``close`` (an
    error, then the connection ends: a ``hello`` with the wrong token)."""
    try:
        request = codec.decode_request(payload, MAX_REQUEST_BYTES)
    except RejectedMessage:
        return "error"
    if isinstance(request, Hello):
        return "close"  # no fuzzed hello carries the server's token
    if isinstance(request, Reset) and request.options.to_dict():
        return "error"  # unsupported_option
    return "ok"


def _segments(payloads: list[bytes]) -> Iterator[list[bytes]]:
    """Runs of up to 40 payloads (32 KB) that end where the server closes: each is sent
    whole before its replies are read, so the server answers requests that pile up."""
    segment: list[bytes] = []
    for data in payloads:
        segment.append(data)
        size = sum(len(item) + 4 for item in segment)
        if _outcome(data) == "close" or len(segment) == 40 or size > 28_000:
            yield segment
            segment = []
    if segment:
        yield segment


def _replies(sock: socket.socket, count: int) -> list[dict[str, object]]:
    decoder = FrameDecoder(1 << 24)
    frames: list[bytes] = []
    while len(frames) < count:
        chunk = sock.recv(1 << 16)
        assert chunk, f"the server closed the connection after {len(frames)} of {count} replies"
        frames += decoder.feed(chunk)
    return [codec.loads_object(frame, 1 << 24, "reply") for frame in frames]


def test_the_management_server_answers_thousands_of_bad_requests(impl: str) -> None:
    payloads = [
        data
        for data in fuzz_payloads(random.Random(7), NUM_REQUESTS, MAX_REQUEST_BYTES)
        if 1 <= len(data) <= MAX_REQUEST_BYTES  # framing errors end a connection: see below
    ]
    outcomes = [_outcome(data) for data in payloads]
    assert outcomes.count("error") > 1000 and outcomes.count("close") >= 20
    with serve(
        impl,
        token=TOKEN,
        max_request_bytes=MAX_REQUEST_BYTES,
        first_request_timeout_s=0.5,
    ) as served:
        silent = [socket.create_connection(served.mgmt_address, timeout=5.0) for _ in range(3)]
        try:
            for sock in silent:
                sock.sendall(b"\x00")  # a frame that never completes
            for segment in _segments(payloads):
                with socket.create_connection(served.mgmt_address, timeout=5.0) as sock:
                    assert hello(sock, TOKEN)["type"] == "ok"
                    sock.sendall(b"".join(encode_frame(data) for data in segment))
                    replies = _replies(sock, len(segment))
                    expected = [_outcome(data) for data in segment]
                    got = [str(reply["type"]) for reply in replies]
                    assert got == [{"close": "error"}.get(e, e) for e in expected]
                    if expected[-1] == "close":
                        assert replies[-1]["code"] == "bad_token"
                        assert_closed_by_server(sock)
            wait_until(
                lambda: served.count("mgmt_first_request_timeouts") == 3,
                what="the silent connections closed",
            )
            for sock in silent:
                assert_closed_by_server(sock)
        finally:
            for sock in silent:
                sock.close()
        with client_of(served, token=TOKEN) as client:
            assert client.static_info()["TrackName"] == "fake_ring"
            assert client.receive_state()["done"] == 0
        counters = served.counters()
    rejected = len(payloads) - outcomes.count("ok")
    assert counters["mgmt_rejected"] == rejected
    assert counters["mgmt_rejected_bad_token"] == outcomes.count("close")
    _assert_quiet_and_unhurt(served)


def test_the_legacy_management_server_breaks_off_garbage_words(impl: str) -> None:
    with serve(impl, legacy=True) as served:
        garbage = [
            data
            for data in fuzz_payloads(random.Random(11), 300, 1024)
            if data
            and not any(
                data.startswith(word.encode()) or word.encode().startswith(data)
                for word in legacy.MGMT_WORDS
            )  # a word, or the start of one, is not garbage
        ]
        for data in garbage:
            with socket.create_connection(served.mgmt_address, timeout=5.0) as sock:
                sock.sendall(data)
                assert_closed_by_server(sock)  # an unknown word: the connection ends
        assert client_of(served, legacy=True).config()["ego_sampling_freq"] == 25
        rejected = served.count("mgmt_rejected")
    assert rejected >= 250
    _assert_quiet_and_unhurt(served)

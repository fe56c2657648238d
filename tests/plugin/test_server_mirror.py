"""The plugin's servers mirror the package's: one suite, every case run against both.

``both_servers.serve`` runs the package's servers (those of ``acgym sim serve``) or the
game plugin's (plugin/acgym/acgym_servers.py) over the same fake car, real time, no reset
options (the game has none); each test takes ``served`` for one and runs for both. The
cases: handshake and the state stream, controls and their counters, a second client, a
silent client, shutdown, tokens, management queries and reset, malformed requests and
their error replies, and the limits that keep a server up (deep nesting, tokens that are
not text, clients that never read, connections that send nothing, a stranger's legacy
words). docs/protocol.md, "Two implementations", describes the mirror.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from both_servers import (
    IMPLEMENTATIONS,
    Served,
    assert_closed_by_server,
    client_of,
    hello,
    request,
    serve,
)
from fuzzing import frames_from
from plugin_helpers import wait_until
from proto_fake_car import FakeCar
from proto_original_client import OriginalClientDouble

from acgym.errors import BackendError, ProtocolError
from acgym.protocol import codec
from acgym.protocol.frames import decode_control
from acgym.protocol.framing import encode_frame
from acgym.protocol.legacy import LEGACY_STATE_CHANNELS
from acgym.protocol.messages import SAFE_CONTROLS, Connect, Controls, ErrorMessage

LONE_SURROGATE = "\ud800"
"""A string JSON can carry (``"\\ud800"``) that is not text: it cannot be encoded."""


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def served(impl: str) -> Iterator[Served]:
    with serve(impl) as running:
        yield running


def connect_datagram(token: str | None = None, mode: str = "realtime", version: int = 1) -> bytes:
    message = {"type": "connect", "version": version, "token": token, "mode": mode, "nonce": 5}
    return json.dumps(message).encode()  # ensure_ascii: a lone surrogate as "\ud800"


# -- the ego stream ---------------------------------------------------------------------------


def test_connect_is_answered_and_states_stream_in_order(served: Served) -> None:
    with client_of(served, drain="every") as client:
        assert client.server_info["modes"] == ["realtime"]
        assert client.server_info["backend"] == "fake"
        seqs, packets = [], []
        for _ in range(20):
            state = client.receive_state()
            assert state["steps"] == client.last_seq
            seqs.append(client.last_seq)
            packets.append(state["packetId"])
        assert seqs == list(range(seqs[0], seqs[0] + 20))  # every state, in order
        assert packets == sorted(packets) and len(set(packets)) == 20  # the car moved
        assert client.last_ack == 0  # no controls yet
        assert served.car.controls == []
    assert served.count("connects") == 1


def test_each_state_is_followed_by_the_capture_trigger_of_its_tag(impl: str) -> None:
    helper = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stands in for acgym capture
    helper.bind(("127.0.0.1", 0))
    helper.settimeout(3.0)
    try:
        with serve(impl, capture_port=helper.getsockname()[1]) as served:
            with client_of(served, drain="every") as client:
                seqs = []
                for _ in range(5):
                    client.receive_state()
                    seqs.append(client.last_seq)
                nonce = client.session_nonce
            triggers = [decode_control(helper.recv(2048)) for _ in range(seqs[-1])]
        assert nonce > 0
        tagged = [(t["nonce"], t["seq"]) for t in triggers if t["type"] == "capture"]
        assert tagged == [(nonce, seq) for seq in range(1, seqs[-1] + 1)]  # each, in order
        assert served.count("capture_triggers") >= seqs[-1]
    finally:
        helper.close()


def test_controls_apply_on_arrival_and_states_acknowledge_them(served: Served) -> None:
    car = served.car
    with client_of(served) as client:
        client.receive_state()
        client.send_controls(0.5, 1.0, -1.0, enable_gear_shift=True, shift_up=True)
        wait_until(lambda: bool(car.controls), what="controls applied")
        assert car.controls[-1] == Controls(0.5, 1.0, -1.0, True, True, False)
        while client.last_ack != 1:
            state = client.receive_state()
        assert state["accStatus"] == 1.0 and state["steerAngle"] == 225.0
    counters = served.counters()
    assert counters["controls_applied"] == 1
    assert counters.get("controls_lost", 0) == 0


def test_the_server_counts_lost_late_and_out_of_sync_controls(served: Served) -> None:
    """Controls 1, 3, 2, 3 in real time: 2 is counted lost when 3 comes, then late (not
    applied) when it arrives, and so is the repeated 3; controls naming a state the server
    did not send last are out of sync."""

    def controls(seq: int, steer: float) -> bytes:
        return codec.encode_controls(seq, 10**6, Controls(steer, 0.0, -1.0))

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(5.0)
        raw.sendto(codec.encode_ego(Connect(None, "realtime", 1)), served.ego_address)
        assert codec.decode_from_server(raw.recvfrom(16384)[0]).mode == "realtime"
        for seq, steer in ((1, 0.1), (3, 0.3), (2, 0.2), (3, 0.4)):
            raw.sendto(controls(seq, steer), served.ego_address)
        wait_until(lambda: served.count("controls_late") == 2, what="the late controls")
    counters = served.counters()
    assert counters["controls_applied"] == 2
    assert counters["controls_lost"] == 1
    assert counters["controls_out_of_sync"] == 2  # state 10**6 was never sent
    assert [c.steer for c in served.car.controls] == [0.1, 0.3]


def test_controls_from_a_stranger_are_refused(served: Served) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(3.0)
        raw.sendto(codec.encode_controls(1, 0, Controls(1.0, 1.0, -1.0)), served.ego_address)
        reply = codec.decode_from_server(raw.recv(16384))
    assert isinstance(reply, ErrorMessage) and reply.code == "not_connected"
    assert served.car.controls == []
    assert served.count("datagrams_rejected_not_connected") == 1


@pytest.mark.parametrize(
    ("connect", "code"),
    [
        (connect_datagram(version=2), "version_mismatch"),
        (connect_datagram(mode="warp"), "unsupported_mode"),
        (connect_datagram(mode="lockstep"), "unsupported_mode"),  # real time only
    ],
    ids=["version", "unknown-mode", "lockstep"],
)
def test_a_refused_connect_is_told_why(served: Served, connect: bytes, code: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.settimeout(3.0)
        stranger.sendto(connect, served.ego_address)
        reply = codec.decode_from_server(stranger.recv(4096))
    assert isinstance(reply, ErrorMessage) and reply.code == code
    assert served.client_address is None
    assert served.count(f"datagrams_rejected_{code}") == 1


def test_a_lockstep_client_learns_from_hello_that_the_server_runs_in_real_time(
    served: Served,
) -> None:
    with pytest.raises(BackendError, match=r"offers \['realtime'\], not 'lockstep'"):
        client_of(served, mode="lockstep").connect()
    assert served.count("datagrams_received") == 0  # nothing sent on the ego stream


def test_a_second_client_takes_over_and_the_first_is_told(served: Served) -> None:
    with client_of(served) as first, client_of(served) as second:
        second.receive_state()
        with pytest.raises(BackendError, match="replaced"):
            for _ in range(50):
                first.receive_state()
        second.send_controls(0.5, -1.0, -1.0)
        wait_until(lambda: bool(served.car.controls), what="the second client's controls")
        assert second.receive_state()["done"] == 0
    assert served.count("clients_replaced") == 1


def test_a_silent_client_gets_safe_controls_then_is_dropped(impl: str) -> None:
    with serve(impl, client_timeout_s=0.2, client_drop_s=0.6) as served:
        ghost = client_of(served)
        ghost.connect()
        ghost.send_controls(0.2, 1.0, -1.0)
        wait_until(lambda: served.count("client_timeouts") == 1, what="safe controls")
        assert served.car.controls[-1] == SAFE_CONTROLS
        wait_until(lambda: served.client_address is None, what="the drop")
        assert served.count("clients_dropped") == 1
        with pytest.raises(BackendError, match="dropped"):
            for _ in range(200):
                ghost.receive_state()
        ghost.close()
        with client_of(served) as client:  # the server goes on
            client.receive_state()


def test_a_stopped_server_ends_the_episode_then_the_client_raises(served: Served) -> None:
    with client_of(served, drain="every") as client:
        client.receive_state()
        served.stop()
        states = []
        with pytest.raises(BackendError, match="closed the session"):
            for _ in range(200):
                states.append(client.receive_state())
        assert states[-1]["done"] == 1
        assert all(state["done"] == 0 for state in states[:-1])


# -- tokens -------------------------------------------------------------------------------------


def test_the_token_is_checked_on_both_channels(impl: str) -> None:
    with serve(impl, token="s3cret") as served:
        with pytest.raises(BackendError, match="bad_token"):
            client_of(served).connect()
        with pytest.raises(BackendError, match="bad_token"):
            client_of(served, token="wrong").connect()
        with client_of(served, token="s3cret") as client:
            assert client.config()["ego_sampling_freq"] == 25
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as intruder:
                intruder.settimeout(3.0)
                intruder.sendto(connect_datagram(token="guess"), served.ego_address)
                reply = codec.decode_from_server(intruder.recv(4096))
            assert isinstance(reply, ErrorMessage) and reply.code == "bad_token"
            client.receive_state()  # the intruder took nothing over
        assert served.count("datagrams_rejected_bad_token") == 1
        assert served.count("mgmt_rejected_bad_token") == 2


def test_a_token_that_is_not_text_is_a_bad_token_without_a_traceback(impl: str) -> None:
    """A lone surrogate cannot be encoded: the token check refuses it like any wrong
    token, on both channels, and a flood of them is logged a few times."""
    with serve(impl, token="s3cret") as served:
        with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
            reply = hello(sock, token=LONE_SURROGATE)
            assert (reply["type"], reply["code"], reply["id"]) == ("error", "bad_token", 1)
            assert_closed_by_server(sock)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.settimeout(3.0)
            for _ in range(30):
                stranger.sendto(connect_datagram(token=LONE_SURROGATE), served.ego_address)
            reply = codec.decode_from_server(stranger.recv(4096))
        assert isinstance(reply, ErrorMessage) and reply.code == "bad_token"
        wait_until(lambda: served.count("datagrams_rejected_bad_token") == 30, what="the connects")
        with client_of(served, token="s3cret") as client:
            client.receive_state()
        counters = served.counters()
    assert counters.get("source_errors", 0) == counters.get("server_errors", 0) == 0
    assert counters.get("mgmt_rejected_backend_error", 0) == 0
    assert served.tracebacks() == []
    assert len(served.log.records) <= served.log_lines_allowed()


# -- management -----------------------------------------------------------------------------


def test_management_answers_static_info_config_track_and_counters(served: Served) -> None:
    with client_of(served) as client:
        info = client.static_info()
        assert info["TrackName"] == "fake_ring" and info["backend"] == "fake"
        assert info["TyreContactPoint_FL"] == [1.0, 0.0, 0.8]  # a tuple becomes a list
        assert client.config()["ego_sampling_freq"] == 25
        track = client.track_info()
        assert len(track["left_lane"]) == 100 and track["fast_lane"][0] == [100.0, 0.0]
        counters = client.server_counters()
        assert counters["connects"] == 1 and counters["mgmt_requests"] == 5
        assert client.server_info["reset_options"] == []


def test_reset_starts_a_new_episode_and_options_are_refused(served: Served) -> None:
    with client_of(served) as client:
        client.receive_state()
        client.reset()
        assert served.car.resets == [{}]
        assert client.receive_state()["done"] == 0
        with pytest.raises(ProtocolError, match="unsupported_option"):
            client.reset({"seed": 1})
        assert client.config()["ego_sampling_freq"] == 25  # the connection goes on
    assert served.car.resets == [{}]


def test_requests_before_hello_are_refused_and_the_connection_closed(served: Served) -> None:
    with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
        reply = request(sock, {"type": "get_config", "id": 7})
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "hello_required", 7)
        assert_closed_by_server(sock)


MALFORMED_REQUESTS = [
    (b"not json", "bad_json", None),
    (b"[1, 2]", "bad_json", None),
    (b'{"type":"get_config","id":NaN}', "bad_json", None),
    (b'{"type":"warp","id":3}', "unknown_type", 3),
    (b'{"id":4}', "bad_message", 4),
    (b'{"type":"get_config","id":5,"extra":1}', "bad_message", 5),
    (b'{"type":"get_config"}', "bad_message", None),
    (b'{"type":"get_config","id":-1}', "bad_message", None),
    (b'{"type":"reset","id":6,"options":{"teleport":1}}', "bad_message", 6),
    (b'{"type":"reset","id":7,"options":{"seed":1}}', "unsupported_option", 7),
    (b'{"type":"hello","id":8,"version":2,"token":null,"client":"t"}', "version_mismatch", 8),
]


def test_malformed_requests_get_error_replies_and_the_connection_goes_on(served: Served) -> None:
    with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
        assert hello(sock)["type"] == "ok"
        for body, code, request_id in MALFORMED_REQUESTS:
            reply = request(sock, body)
            assert (reply["type"], reply["code"], reply["id"]) == ("error", code, request_id), body
        assert request(sock, {"type": "get_config", "id": 9})["type"] == "ok"
    counters = served.counters()
    assert counters["mgmt_rejected"] == len(MALFORMED_REQUESTS)
    assert counters.get("mgmt_errors", 0) == 0


@pytest.mark.parametrize(
    "header", [b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"get_"], ids=["empty", "huge", "word"]
)
def test_a_broken_frame_header_is_answered_then_the_connection_closed(
    served: Served, header: bytes
) -> None:
    with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
        sock.sendall(header + b"config")
        replies = list(frames_from(sock))  # an error, then the server closes
    assert [(r["type"], r["id"]) for r in replies] == [("error", None)]
    assert replies[0]["code"] in ("bad_message", "too_large")


DEPTHS = (900, 980, 990, 995, 1000, 1010, 1020)
"""Nesting depths around the parsers' limits (the package's orjson reads up to 1024)."""
DEEP_CODES = ("bad_message", "unknown_type", "bad_json")
"""What the field's check says (a wrong value, a wrong type), or the parser (too deep)."""


def _nested(template: str, depth: int) -> bytes:
    """``template`` with ``DEEP`` replaced by ``[[...[1]...]]``, ``depth`` deep."""
    return template.replace("DEEP", "[" * depth + "1" + "]" * depth).encode()


def test_a_request_nested_a_thousand_deep_gets_an_error_reply(served: Served) -> None:
    """A value nested about a thousand deep is refused as the field's check says (or as
    too deep for the parser); either way the client gets an error and, once it said
    hello, the connection goes on."""
    with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
        assert hello(sock)["type"] == "ok"
        for depth in DEPTHS:
            for template in ('{"type":"reset","id":2,"options":{"seed":DEEP}}', '{"type":DEEP}'):
                reply = request(sock, _nested(template, depth))
                assert reply["type"] == "error" and reply["code"] in DEEP_CODES
        assert request(sock, {"type": "get_config", "id": 4})["type"] == "ok"
    with socket.create_connection(served.mgmt_address, timeout=3.0) as sock:
        template = '{"type":"hello","id":1,"version":1,"token":DEEP,"client":"t"}'
        reply = request(sock, _nested(template, 1010))
        assert reply["type"] == "error" and reply["code"] in DEEP_CODES
        assert_closed_by_server(sock)  # not authenticated: the connection ends
    assert served.count("mgmt_rejected") == 2 * len(DEPTHS) + 1
    assert served.tracebacks() == []


def test_a_client_that_never_reads_holds_one_reply_then_is_closed(impl: str) -> None:
    """Requests pile up unanswered while a reply waits for the client: the server holds
    one reply, not one per request, and closes the connection when the client takes
    nothing for ``send_timeout_s``; other clients are served all along."""
    car = FakeCar(num_track_points=10_000, reset_options=())  # replies of about 1 MB
    num_requests = 40
    with serve(impl, car, send_timeout_s=0.5) as served:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5.0)
            sock.connect(served.mgmt_address)
            assert hello(sock)["type"] == "ok"
            frame = encode_frame(b'{"type":"get_track_info","id":2}')
            sock.sendall(frame * num_requests)  # 1.3 KB of requests; never read
            with client_of(served) as other:
                assert other.config()["ego_sampling_freq"] == 25
            wait_until(
                lambda: served.count("mgmt_send_timeouts") == 1,
                timeout_s=30.0,
                what="the connection closed for not reading",
            )
            answered = served.count("mgmt_requests") - 3  # less the hellos and the config
        assert answered < num_requests
        with client_of(served) as other:
            assert other.static_info()["TrackName"] == "fake_ring"
        assert served.count("mgmt_errors") == 0


def test_connections_without_a_first_request_are_closed_so_new_clients_get_in(
    impl: str,
) -> None:
    """Connections that send one byte would hold every slot: after the first-request
    deadline they are closed and a new client is served, while a connection that said
    hello and went quiet stays open."""
    with serve(impl, max_connections=4, first_request_timeout_s=0.3) as served:
        with socket.create_connection(served.mgmt_address, timeout=5.0) as quiet:
            assert hello(quiet)["type"] == "ok"
            stalled = [socket.create_connection(served.mgmt_address, timeout=5.0) for _ in range(3)]
            try:
                for sock in stalled:
                    sock.sendall(b"\x00")
                wait_until(lambda: served.count("mgmt_connections") == 4, what="4 connections")

                def served_a_new_client() -> bool:
                    try:
                        with client_of(served, timeout_s=1.0) as client:
                            return client.config()["ego_sampling_freq"] == 25
                    except BackendError:  # refused: every slot was taken
                        return False

                wait_until(served_a_new_client, timeout_s=20.0, what="a new client served")
                for sock in stalled:
                    assert_closed_by_server(sock)
            finally:
                for sock in stalled:
                    sock.close()
            assert request(quiet, {"type": "get_config", "id": 2})["type"] == "ok"
        assert served.count("mgmt_first_request_timeouts") == 3


def test_concurrent_management_connections_are_all_served(served: Served) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with socket.create_connection(served.mgmt_address, timeout=5.0) as sock:
                assert hello(sock)["type"] == "ok"
                for request_id in range(2, 22):
                    kind = "get_config" if request_id % 2 else "get_static_info"
                    reply = request(sock, {"type": kind, "id": request_id})
                    assert reply["type"] == "ok" and reply["id"] == request_id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20.0)
    assert not errors
    assert served.count("mgmt_connections") == 8
    assert served.count("mgmt_requests") == 8 * 21


# -- legacy -------------------------------------------------------------------------------------


LEGACY_TRACK_POINTS = 200
"""Points per lane of the legacy fixture's track: its track info (about 25 kB) fits one
loopback TCP segment, so the original client's single ``recv`` reads it whole (at 500
points, about 65 kB, a loaded machine could hand that ``recv`` the first part only)."""


@pytest.fixture
def served_legacy(impl: str) -> Iterator[Served]:
    with serve(impl, FakeCar(num_track_points=LEGACY_TRACK_POINTS), legacy=True) as running:
        yield running


def test_the_original_client_drives_the_legacy_server(served_legacy: Served) -> None:
    served, car = served_legacy, served_legacy.car
    original = OriginalClientDouble(
        served.ego_address[1], served.mgmt_address[1], reset_wait_s=0.05
    )
    info = original.get_static_info()
    assert info["TrackName"] == "fake_ring" and info["isCarInPit"] == 0
    config = original.get_config()
    assert len(config) == 28 and config["ego_sampling_freq"] == 25
    assert config["ego_server_port"] == served.ego_address[1]
    assert len(original.get_track_info()["fast_lane"]) == LEGACY_TRACK_POINTS
    original.setup_connection()
    assert original.state["steps"] >= 1
    for step in range(25):
        original.set_controls(0.2, step / 25.0, -1.0)
        original.respond_to_server()
        state = original.step_sim()
    assert set(LEGACY_STATE_CHANNELS) <= set(state)
    assert state["done"] == 0 and state["tyres_load"][0] >= 3000.0
    original.reset()
    assert car.resets == [{}]
    assert original.state["steps"] <= 5
    original.close()
    wait_until(lambda: served.client_address is None, what="the disconnect")
    counters = served.counters()
    assert counters.get("datagrams_rejected", 0) == 0
    assert counters["controls_applied"] == 25
    assert [c.steer for c in car.controls].count(0.2) == 25
    assert car.controls[-1] == SAFE_CONTROLS  # released on disconnect


def test_our_legacy_client_and_the_legacy_server_work_together(served_legacy: Served) -> None:
    with client_of(served_legacy, legacy=True, legacy_reset_wait_s=0.02) as client:
        assert client.static_info()["CarName"] == "fake_car"
        assert client.config()["sampling_freq"] == 50
        assert len(client.track_info()["left_lane"]) == LEGACY_TRACK_POINTS
        client.reset()
        for _ in range(10):
            client.send_controls(0.0, 0.5, -1.0)
            state = client.receive_state()
        assert set(LEGACY_STATE_CHANNELS) <= set(state)
    assert served_legacy.count("datagrams_rejected") == 0


def test_a_strangers_legacy_reset_is_counted_and_logged_a_few_times(
    served_legacy: Served,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        for _ in range(50):
            stranger.sendto(b"reset", served_legacy.ego_address)
    wait_until(
        lambda: served_legacy.count("datagrams_rejected_not_connected") == 50,
        what="the resets counted",
    )
    assert len(served_legacy.log.records) <= served_legacy.log_lines_allowed()
    assert served_legacy.car.resets == []


def test_legacy_management_answers_words_and_breaks_off_an_unknown_one(
    served_legacy: Served,
) -> None:
    with socket.create_connection(served_legacy.mgmt_address, timeout=3.0) as sock:
        sock.sendall(b"get_configget_static_info")  # two words, no terminator
        received = b""
        while received.count(b"}") < 2 or not received.endswith(b"}"):
            received += sock.recv(65536)
        assert received.startswith(b"{'version'") and b'"TrackName"' in received
        sock.sendall(b"get_everything")
        assert_closed_by_server(sock)
    counters = served_legacy.counters()
    assert counters["mgmt_requests"] == 3 and counters["mgmt_rejected_unknown_type"] == 1

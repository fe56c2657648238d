"""Protocol v1 end to end: client and servers on loopback, over the fake car."""

from __future__ import annotations

import json
import math
import socket
import threading
import time

import pytest
from proto_fake_car import FakeCar, expected_speed_mps
from proto_helpers import client_of_a_hand_driven_server, make_client, wait_until

from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol import codec
from acgym.protocol.bench import ServerProcess
from acgym.protocol.client import Client
from acgym.protocol.framing import FrameDecoder, encode_frame
from acgym.protocol.messages import SAFE_CONTROLS, Connect, Controls, ErrorMessage, Hello, Query
from acgym.protocol.server import EgoServer, ManagementServer, ProtocolServer


def test_lockstep_advances_exactly_one_period_per_controls(
    server: ProtocolServer, car: FakeCar
) -> None:
    with make_client(server, mode="lockstep") as client:
        client.reset()
        first = client.receive_state()
        assert first["packetId"] == 0 and first["steps"] == client.last_seq
        for step in range(1, 51):
            acc = -1.0 + step / 25.0
            state = client.step(0.1, acc, -1.0)
            assert state["packetId"] == step
            assert state["speed"] == expected_speed_mps(step)
            assert state["accStatus"] == pytest.approx((acc + 1.0) / 2.0)
            assert state["steps"] == client.last_seq and client.last_ack == step
            assert state["LapInvalidated"] == 0
        counters = client.counters
    assert car.advances == 50
    assert counters.get("states_lost", 0) == 0
    assert counters.get("states_late", 0) == 0
    assert counters.get("controls_out_of_sync", 0) == 0
    assert counters["controls_sent"] == 50


def test_reset_options_reach_the_source(server: ProtocolServer, car: FakeCar) -> None:
    with make_client(server, mode="lockstep") as client:
        client.reset({"distance_m": 120.5, "lateral_offset_m": -1.0, "seed": 3})
        client.receive_state()
        client.reset()
    assert car.resets == [{"distance_m": 120.5, "lateral_offset_m": -1.0, "seed": 3}, {}]


def test_reset_option_out_of_range_is_refused_before_sending(
    server: ProtocolServer, car: FakeCar
) -> None:
    with make_client(server) as client:
        with pytest.raises(ProtocolError, match="distance_m"):
            client.reset({"distance_m": -5.0})
        with pytest.raises(ProtocolError, match="teleport"):
            client.reset({"teleport": 1})
    assert car.resets == []


def test_option_the_server_does_not_honour_is_refused() -> None:
    with ProtocolServer(FakeCar(reset_options=("seed",)), ego_port=0, mgmt_port=0) as srv:
        with make_client(srv) as client:
            assert client.server_info["reset_options"] == ["seed"]
            client.reset({"seed": 1})
            with pytest.raises(ProtocolError, match="unsupported_option"):
                client.reset({"distance_m": 10.0})


def test_realtime_ticks_on_its_own_and_controls_apply_on_arrival(
    server: ProtocolServer, car: FakeCar
) -> None:
    with make_client(server, drain="every") as client:
        seqs = []
        for _ in range(20):
            client.receive_state()
            seqs.append(client.last_seq)
        assert seqs == list(range(seqs[0], seqs[0] + 20))  # every state, in order
        assert car.controls == []  # the world moved without any controls
        client.send_controls(0.5, 1.0, -1.0, enable_gear_shift=True, shift_up=True)
        wait_until(lambda: bool(car.controls), what="controls applied")
        assert car.controls[-1] == Controls(0.5, 1.0, -1.0, True, True, False)
        accs = [client.receive_state()["accStatus"] for _ in range(10)]
        assert accs[-1] == 1.0


def test_drain_newest_skips_to_the_newest_state(server: ProtocolServer) -> None:
    with make_client(server, drain="newest") as client:
        client.receive_state()
        before = client.last_seq
        time.sleep(0.15)  # about 15 states pile up at 100 Hz
        client.receive_state()
        skipped = client.counters.get("states_skipped", 0)
        assert client.last_seq - before == skipped + 1
        assert skipped >= 1
        newest = client.last_seq
        client.receive_state()
        assert client.last_seq > newest


def test_management_answers_static_info_config_track_and_counters(server: ProtocolServer) -> None:
    with make_client(server) as client:
        info = client.static_info()
        assert info["TrackName"] == "fake_ring" and info["backend"] == "fake"
        assert info["TyreContactPoint_FL"] == [1.0, 0.0, 0.8]  # a tuple becomes a list
        assert client.config()["ego_sampling_freq"] == 25
        track = client.track_info()
        assert len(track["left_lane"]) == 100 and track["fast_lane"][0] == [100.0, 0.0]
        counters = client.server_counters()
        assert counters["connects"] == 1 and counters["mgmt_requests"] >= 4
        assert client.server_info["backend"] == "fake"
        assert client.server_info["modes"] == ["realtime", "lockstep"]


def test_track_info_of_several_megabytes_arrives_whole() -> None:
    car = FakeCar(num_track_points=60_000)
    with ProtocolServer(car, ego_port=0, mgmt_port=0) as srv:
        with make_client(srv, timeout_s=20.0) as client:
            track = client.track_info()
            assert len(track["right_lane"]) == 60_000
            assert track["right_lane"][15_000] == pytest.approx([0.0, 95.0], abs=1e-9)
        small = make_client(srv, max_reply_bytes=1_000_000)
        with small, pytest.raises(ProtocolError, match=r"too_large|over the limit"):
            small.track_info()


def test_source_calls_all_happen_on_the_ego_thread(server: ProtocolServer, car: FakeCar) -> None:
    with make_client(server, mode="lockstep") as client:
        client.static_info()
        client.reset({"seed": 1})
        client.receive_state()
        client.step(0.0, 0.0, -1.0)
    assert car.threads == {"acgym-ego"}


def _raw_request(sock: socket.socket, body: dict[str, object]) -> dict[str, object]:
    sock.sendall(encode_frame(json.dumps(body).encode()))
    decoder = FrameDecoder(1 << 24)
    while True:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a reply"
        frames = decoder.feed(chunk)
        if frames:
            return json.loads(frames[0])


def test_requests_before_hello_are_refused_and_the_connection_closed(
    server: ProtocolServer,
) -> None:
    with socket.create_connection(server.mgmt_address, timeout=3.0) as sock:
        reply = _raw_request(sock, {"type": "get_config", "id": 7})
        assert reply["type"] == "error" and reply["code"] == "hello_required" and reply["id"] == 7
        assert sock.recv(10) == b""


def test_token_is_checked_on_both_channels() -> None:
    with ProtocolServer(FakeCar(), ego_port=0, mgmt_port=0, token="s3cret") as srv:
        with pytest.raises(BackendError, match="bad_token"):
            make_client(srv).connect()
        with pytest.raises(BackendError, match="bad_token"):
            make_client(srv, token="wrong").connect()
        with make_client(srv, token="s3cret") as client:
            assert client.config()["ego_sampling_freq"] == 25
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as intruder:
                intruder.settimeout(3.0)
                intruder.sendto(codec.encode_ego(Connect("guess", "realtime", 5)), srv.ego_address)
                reply = codec.decode_from_server(intruder.recv(4096))
            assert reply == ErrorMessage("bad_token", reply.message)  # type: ignore[union-attr]
            client.receive_state()  # the intruder took nothing over
        assert srv.mgmt.counters_snapshot()["datagrams_rejected_bad_token"] == 1


@pytest.mark.parametrize(
    ("connect", "code"),
    [
        (
            b'{"type":"connect","version":2,"token":null,"mode":"realtime","nonce":1}',
            "version_mismatch",
        ),
        (
            b'{"type":"connect","version":1,"token":null,"mode":"warp","nonce":1}',
            "unsupported_mode",
        ),
    ],
)
def test_a_refused_connect_is_told_why(server: ProtocolServer, connect: bytes, code: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.settimeout(3.0)
        stranger.sendto(connect, server.ego_address)
        reply = codec.decode_from_server(stranger.recv(4096))
    assert isinstance(reply, ErrorMessage) and reply.code == code
    assert server.ego.client_address is None


def test_servers_on_a_non_loopback_address_need_a_token() -> None:
    with pytest.raises(ConfigError, match="token"):
        EgoServer(FakeCar(), host="0.0.0.0", port=0)
    with pytest.raises(ConfigError, match="token"):
        ManagementServer(FakeCar(), host="0.0.0.0", port=0)
    with pytest.raises(ConfigError, match="legacy"):
        EgoServer(FakeCar(), host="0.0.0.0", port=0, token="t", legacy=True)


@pytest.mark.parametrize("priority", [0, 100])
def test_realtime_priority_out_of_range_is_refused(priority: int) -> None:
    with pytest.raises(ConfigError, match="realtime_priority"):
        EgoServer(FakeCar(), port=0, realtime_priority=priority)


def test_a_mode_the_server_does_not_offer_is_refused() -> None:
    with ProtocolServer(FakeCar(), ego_port=0, mgmt_port=0, modes=("realtime",)) as srv:
        with pytest.raises(BackendError, match="offers"):
            make_client(srv, mode="lockstep").connect()


def test_a_second_client_takes_over_and_the_first_is_told(server: ProtocolServer) -> None:
    first = make_client(server, mode="lockstep")
    second = make_client(server, mode="lockstep")
    try:
        first.connect()
        first.receive_state()
        first.step(0.0, 0.0, -1.0)
        second.connect()
        second.receive_state()
        with pytest.raises(BackendError, match="replaced"):
            first.step(0.0, 0.0, -1.0)
        for _ in range(5):
            second.step(0.0, 0.5, -1.0)
        with pytest.raises(BackendError, match="replaced"):
            first.receive_state()
    finally:
        first.close()
        second.close()
    assert server.ego.counters["clients_replaced"] == 1


def test_a_vanished_client_gets_safe_controls_then_is_dropped() -> None:
    car = FakeCar()
    with ProtocolServer(
        car, ego_port=0, mgmt_port=0, control_rate_hz=100.0, client_timeout_s=0.2, client_drop_s=0.6
    ) as srv:
        ghost = make_client(srv)
        ghost.connect()
        ghost.send_controls(0.2, 1.0, -1.0)
        wait_until(lambda: srv.ego.counters["client_timeouts"] == 1, what="safe controls")
        assert car.controls[-1] == SAFE_CONTROLS
        wait_until(lambda: srv.ego.client_address is None, what="the drop")
        assert srv.ego.counters["clients_dropped"] == 1
        with pytest.raises(BackendError, match="dropped"):
            while True:
                ghost.receive_state()
        ghost.close()
        with make_client(srv) as client:  # the server goes on
            client.receive_state()


def test_a_lockstep_client_may_pause_longer_than_the_timeouts() -> None:
    car = FakeCar()
    with ProtocolServer(
        car, ego_port=0, mgmt_port=0, client_timeout_s=0.05, client_drop_s=0.1
    ) as srv:
        with make_client(srv, mode="lockstep") as client:
            client.receive_state()
            client.step(0.3, 0.5, -1.0)
            time.sleep(0.3)  # a long training update between two steps
            assert client.step(0.3, 0.5, -1.0)["packetId"] == 2
        assert [c.steer for c in car.controls[:2]] == [0.3, 0.3]  # no safe controls between
        assert srv.ego.counters["client_timeouts"] == 0 and srv.ego.counters["clients_dropped"] == 0


def test_a_stopped_server_ends_the_episode_then_the_client_raises(car: FakeCar) -> None:
    srv = ProtocolServer(car, ego_port=0, mgmt_port=0, control_rate_hz=100.0).start()
    with make_client(srv, drain="every") as client:
        client.receive_state()
        srv.stop()
        while (state := client.receive_state())["done"] != 1:
            pass
        assert state["done"] == 1
        with pytest.raises(BackendError, match="closed the session"):
            client.receive_state()


@pytest.mark.parametrize("mode", ["lockstep", "realtime"])
def test_a_killed_server_makes_the_client_raise_within_its_timeout(mode: str) -> None:
    with ServerProcess("--mode", mode, "--rate-hz", "100") as process:
        client = Client(
            ego_port=process.ego_port, mgmt_port=process.mgmt_port, mode=mode, timeout_s=1.0
        )
        with client:
            client.reset()
            client.receive_state()
            client.step(0.0, 0.5, -1.0)
            process.kill()
            with pytest.raises(BackendError, match=r"not running|no state"):
                for _ in range(100):
                    call_start_s = time.monotonic()
                    client.step(0.0, 0.5, -1.0)
            # the failing call gave up after its timeout, not later (bounded by it + slack)
            assert time.monotonic() - call_start_s < client.timeout_s + 1.0
            with pytest.raises(BackendError, match="management server"):
                client.config()


def test_connecting_to_nothing_says_what_to_check() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BackendError, match="sim serve"):
        Client(ego_port=port, mgmt_port=port, timeout_s=1.0).connect()


def test_a_failing_source_is_reported_and_the_server_goes_on(
    server: ProtocolServer, car: FakeCar
) -> None:
    with make_client(server, mode="lockstep") as client:
        client.receive_state()
        car.fail_advance = True
        with pytest.raises(BackendError, match="advance failed on purpose"):
            client.step(0.0, 0.0, -1.0)
        car.fail_advance = False
        car.nan_speed = True
        state = client.step(0.0, 0.0, -1.0)
        assert math.isnan(state["speed"])  # sent as null, read as NaN
    assert server.ego.counters["source_errors"] == 1


def test_concurrent_management_connections_are_all_served(
    server: ProtocolServer, car: FakeCar
) -> None:
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with socket.create_connection(server.mgmt_address, timeout=5.0) as sock:
                hello = _raw_request(
                    sock, json.loads(codec.encode_request(Hello(1, None, f"w{index}")))
                )
                assert hello["type"] == "ok"
                for request_id in range(2, 22):
                    query = Query(request_id, "get_config" if request_id % 2 else "get_static_info")
                    reply = _raw_request(sock, json.loads(codec.encode_request(query)))
                    assert reply["type"] == "ok" and reply["id"] == request_id
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20.0)
    assert not errors
    assert server.mgmt.counters["mgmt_connections"] == 8
    assert server.mgmt.counters["mgmt_requests"] == 8 * 21


def test_close_is_safe_twice_and_the_client_can_reconnect(server: ProtocolServer) -> None:
    client = make_client(server, mode="lockstep")
    client.connect()
    client.close()
    client.close()
    with pytest.raises(BackendError, match="not connected"):
        client.receive_state()
    client.connect()
    client.step(0.0, 0.0, -1.0)
    client.close()


def test_controls_out_of_range_are_refused_before_sending(server: ProtocolServer) -> None:
    with make_client(server) as client:
        for bad in (1.5, math.nan, math.inf):
            with pytest.raises(ProtocolError, match="steer"):
                client.send_controls(bad, 0.0, -1.0)
        client.send_controls(1.0 + 1e-9, 0.0, -1.0)  # rounding is clipped
    assert server.ego.counters.get("datagrams_rejected", 0) == 0


def test_the_client_counts_lost_late_and_duplicate_states() -> None:
    """States 1, 2, 4, 3, 4, 5 from a hand-driven server: 3 is counted lost when 4 comes,
    then late when it arrives; the second 4 is late too; the client returns 1, 2, 4, 5
    and never an old state; a state acknowledging other controls is out of sync."""
    with client_of_a_hand_driven_server(timeout_s=2.0, drain="every") as (client, fake_server):
        client.send_controls(0.0, 0.0, -1.0)  # controls seq 1: tells the server where
        _, addr = fake_server.recvfrom(2048)
        for seq, ack in ((1, 1), (2, 1), (4, 1), (3, 1), (4, 1), (5, 0)):
            fake_server.sendto(codec.encode_state(seq, ack, {"steps": seq}), addr)
        received = [client.receive_state()["steps"] for _ in range(4)]
        counters = client.counters
    assert received == [1, 2, 4, 5]
    assert counters["states_received"] == 4
    assert counters["states_lost"] == 1
    assert counters["states_late"] == 2
    assert counters["controls_out_of_sync"] == 1  # state 5 acknowledged controls 0


def test_the_server_counts_lost_late_and_out_of_sync_controls(
    server: ProtocolServer, car: FakeCar
) -> None:
    """Controls 1, 3, 2, 3 in real time: 2 is counted lost when 3 comes, then late (not
    applied) when it arrives, and so is the repeated 3; controls naming a state the server
    did not send last are out of sync."""

    def controls(seq: int, state_seq: int, steer: float) -> bytes:
        return codec.encode_controls(seq, state_seq, Controls(steer, 0.0, -1.0))

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(5.0)
        raw.sendto(codec.encode_ego(Connect(None, "realtime", 1)), server.ego_address)
        assert codec.decode_from_server(raw.recvfrom(16384)[0]).mode == "realtime"
        for seq, steer in ((1, 0.1), (3, 0.3), (2, 0.2), (3, 0.4)):
            raw.sendto(controls(seq, 10**6, steer), server.ego_address)
        wait_until(lambda: server.ego.counters["controls_late"] == 2, what="the late controls")
    counters = server.ego.counters
    assert counters["controls_applied"] == 2
    assert counters["controls_lost"] == 1
    assert counters["controls_out_of_sync"] == 2  # state 10**6 was never sent
    assert [c.steer for c in car.controls][-2:] == [0.1, 0.3]

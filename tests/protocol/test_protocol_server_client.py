"""Protocol v1 end to end: the client and the package's servers on loopback, over the
fake car: lock-step, reset options, the client's own checks and counters, failures.

What the game plugin's servers do too (handshake, stream, controls, tokens, management,
malformed requests, the servers' limits) is tested once for both, in
tests/plugin/test_server_mirror.py."""

from __future__ import annotations

import math
import socket
import time

import pytest
from proto_fake_car import FakeCar, expected_speed_mps
from proto_helpers import client_of_a_hand_driven_server, make_client

from acgym import sim_server
from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol import codec
from acgym.protocol.bench import ServerProcess
from acgym.protocol.client import Client
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


def test_legacy_mode_with_a_token_is_refused_at_start() -> None:
    """The original client cannot send a token: ``acgym sim serve --legacy --token T``
    stops with a clear error instead of serving without the token it was given."""
    with pytest.raises(ConfigError, match="legacy mode has no token"):
        sim_server.main(
            ["--legacy", "--token", "T", "--ego-port", "0", "--mgmt-port", "0", "--duration-s", "1"]
        )
    for server in (EgoServer, ManagementServer):
        with pytest.raises(ConfigError, match="legacy mode has no token"):
            server(FakeCar(), port=0, token="T", legacy=True)


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


def test_a_second_lockstep_client_takes_over_and_the_first_is_told(
    server: ProtocolServer,
) -> None:
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


@pytest.mark.parametrize("mode", ["lockstep", "realtime"])
def test_a_killed_server_makes_the_client_raise_a_backend_error(mode: str) -> None:
    """After the server's process is killed, a step raises ``BackendError`` saying the
    server is not running or sent no state (never hangs: the short timeout bounds each
    call), and so does a management request."""
    with ServerProcess("--mode", mode, "--rate-hz", "100") as process:
        client = Client(
            ego_port=process.ego_port, mgmt_port=process.mgmt_port, mode=mode, timeout_s=0.5
        )
        with client:
            client.reset()
            client.receive_state()
            client.step(0.0, 0.5, -1.0)
            process.kill()
            with pytest.raises(BackendError, match=r"not running|no state"):
                for _ in range(100):  # states already on their way may still come
                    client.step(0.0, 0.5, -1.0)
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

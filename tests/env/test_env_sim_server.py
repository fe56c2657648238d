"""The simulator server: SimCarSource, one port pair per car, the serve command."""

from __future__ import annotations

import argparse

import pytest

from acgym.protocol import CarSource, Client, Controls
from acgym.sim.session import SimSession
from acgym.sim_server import SimCarSource, build_servers, main, register_serve, serve_command

TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def session():
    return SimSession("oval", "dallara_f317")


def test_the_source_places_the_car_and_advances_one_control_period(session):
    source = SimCarSource(session)
    assert isinstance(source, CarSource)
    assert set(source.reset_options) >= {"distance_m", "lateral_offset_m", "speed_mps", "seed"}
    source.reset({"distance_m": 100.0, "speed_mps": 20.0, "seed": 3})
    state = source.state()
    assert state["NormalizedSplinePosition"] * session.length_m == pytest.approx(100.0, abs=0.5)
    assert (state["accStatus"], state["brakeStatus"]) == (0.0, 0.0)  # released after a reset
    source.apply(Controls(0.0, 1.0, -1.0))
    source.advance()
    after = source.state()
    assert after["steps"] == state["steps"] + 1
    assert after["NormalizedSplinePosition"] * session.length_m == pytest.approx(100.8, abs=0.1)
    assert source.config()["ego_sampling_freq"] == 25


def test_a_shift_request_changes_one_gear(session):
    source = SimCarSource(session)
    source.reset({"speed_mps": 10.0})
    gear = source.state()["actualGear"]
    source.apply(Controls(0.0, 0.0, -1.0, enable_gear_shift=True, shift_up=True))
    source.advance()
    assert source.state()["actualGear"] == gear + 1


def test_each_car_has_its_own_ports_and_its_own_simulation():
    servers = build_servers("oval", num_cars=2, ego_port=0, mgmt_port=0, lockstep=True)
    for server in servers:
        server.start()
    try:
        ports = [(s.ego_address[1], s.mgmt_address[1]) for s in servers]
        assert len({p for pair in ports for p in pair}) == 4
        clients = [
            Client(ego_port=e, mgmt_port=m, mode="lockstep", timeout_s=TIMEOUT_S) for e, m in ports
        ]
        for client in clients:
            client.connect()
        clients[1].reset({"distance_m": 500.0})
        clients[0].reset({"distance_m": 10.0})
        positions = [c.receive_state()["NormalizedSplinePosition"] for c in clients]
        length_m = clients[0].static_info()["TrackLength"]
        assert [p * length_m for p in positions] == pytest.approx([10.0, 500.0], abs=0.5)
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.stop()


def test_serve_runs_for_its_duration_and_prints_the_addresses(capsys):
    code = main(["--ego-port", "0", "--mgmt-port", "0", "--lockstep", "--duration-s", "0.2"])
    assert code == 0
    assert "car 0: ego udp 127.0.0.1:" in capsys.readouterr().out


def test_serve_registers_as_a_sim_subcommand():
    parser = argparse.ArgumentParser()
    register_serve(parser.add_subparsers())
    args = parser.parse_args(["serve", "--cars", "2", "--lockstep", "--legacy"])
    assert (args.cars, args.lockstep, args.legacy, args.handler) == (2, True, True, serve_command)

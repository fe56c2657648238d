"""5% packet loss each way (a seeded lossy relay): the episode goes on, losses are counted."""

from __future__ import annotations

from proto_fake_car import FakeCar
from proto_lossy_relay import LossyRelay

from acgym.protocol.client import Client
from acgym.protocol.server import ProtocolServer


def _client_via(relay: LossyRelay, srv: ProtocolServer, **kwargs: object) -> Client:
    return Client(
        ego_port=relay.port,
        mgmt_port=srv.mgmt_address[1],
        timeout_s=5.0,
        **kwargs,  # type: ignore[arg-type]
    )


def test_realtime_episode_goes_on_at_5_percent_loss_and_counts_it() -> None:
    car = FakeCar()
    with ProtocolServer(car, ego_port=0, mgmt_port=0, control_rate_hz=200.0) as srv:
        with LossyRelay(srv.ego_address, loss=0.05, seed=4) as relay:
            with _client_via(relay, srv, drain="every") as client:
                client.receive_state()
                first_seq = client.last_seq
                for _ in range(400):
                    client.receive_state()
                    client.send_controls(0.0, 0.5, -1.0)
                last_seq = client.last_seq
                counters = client.counters
            server_counters = dict(srv.ego.counters)
            dropped = relay.dropped
    received = counters["states_received"]
    lost = counters.get("states_lost", 0)
    assert received + lost == last_seq  # every state up to the last is read or counted lost
    assert 0 < lost < 0.15 * last_seq
    assert received >= 401 and last_seq >= first_seq + 400
    assert dropped["down"] >= lost  # the relay dropped at least what the client counts
    assert server_counters.get("controls_lost", 0) > 0
    assert server_counters["controls_applied"] + server_counters["controls_lost"] <= 400


def test_lockstep_episode_at_5_percent_loss_steps_exactly_once_per_controls() -> None:
    car = FakeCar()
    with ProtocolServer(car, ego_port=0, mgmt_port=0) as srv:
        with LossyRelay(srv.ego_address, loss=0.05, seed=9) as relay:
            with _client_via(relay, srv, mode="lockstep", retry_s=0.02) as client:
                client.reset()
                assert client.receive_state()["packetId"] == 0
                packet_ids = [client.step(0.1, 0.5, -1.0)["packetId"] for _ in range(300)]
                counters = client.counters
            dropped = relay.dropped
    assert packet_ids == list(range(1, 301))  # no step lost, none doubled
    assert car.advances == 300
    assert counters["controls_retransmitted"] > 0
    assert dropped["up"] + dropped["down"] > 0
    assert srv.ego.counters["controls_retransmitted"] > 0  # lost states were sent again


def test_lossy_relay_drops_are_reproducible() -> None:
    first = LossyRelay(("127.0.0.1", 9), loss=0.5, seed=1)
    second = LossyRelay(("127.0.0.1", 9), loss=0.5, seed=1)
    try:
        for direction in ("up", "down"):
            draws = [first._rngs[direction].random() for _ in range(20)]
            assert draws == [second._rngs[direction].random() for _ in range(20)]
    finally:
        for relay in (first, second):
            relay.front.close()
            relay.back.close()


def test_an_env_episode_at_5_percent_loss_goes_on_and_its_stats_count_the_losses() -> None:
    """The environment over the simulator server in real time (100 Hz) behind the lossy
    relay: the episode runs its steps and ``packages_lost`` in the episode statistics is
    the backend's count of the states the env never read (lost on the way, which the relay
    caused, or superseded by a newer one)."""
    import numpy as np

    from acgym.env.factory import make_remote_env
    from acgym.sim.world import WorldConfig
    from acgym.sim_server import build_servers

    (server,) = build_servers(
        "oval", ego_port=0, mgmt_port=0, world_config=WorldConfig(control_hz=100.0)
    )
    with server, LossyRelay(server.ego_address, loss=0.05, seed=21) as relay:
        env = make_remote_env(
            "oval",
            ego_port=relay.port,
            mgmt_port=server.mgmt_address[1],
            timeout_s=10.0,
            overrides=["ego_sampling_freq=100"],
        )
        try:
            env.reset()
            lost_at_start = env.backend.states_lost
            network_at_start = env.backend.client.counters.get("states_lost", 0)
            steps = 0
            for _ in range(300):
                _, _, terminated, truncated, _ = env.step(np.array([0.0, 0.2, -1.0], np.float32))
                steps += 1
                assert not (terminated or truncated)
            lost = env.backend.states_lost - lost_at_start  # lost on the way, or skipped
            network = env.backend.client.counters.get("states_lost", 0) - network_at_start
            env.reset()  # ends the episode: its statistics are written
            stats = env.last_episode_stats
        finally:
            env.close()
        dropped = relay.dropped
    assert steps == 300
    assert stats["ep_steps"] == 300 + 1  # the original counts the reset's state too
    assert 0 < network <= lost < 0.3 * 300
    # counted when the episode ended, inside reset(), a few ticks later (the server ticks
    # on at 100 Hz meanwhile, and a state not read by then counts as skipped)
    assert lost <= stats["packages_lost"] <= lost + 10
    assert dropped["down"] >= network

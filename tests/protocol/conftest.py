"""Fixtures of the protocol tests: servers on ephemeral loopback ports, bounded waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from proto_fake_car import FakeCar

from acgym.protocol.server import ProtocolServer


@pytest.fixture
def car() -> FakeCar:
    return FakeCar()


@pytest.fixture
def server(car: FakeCar) -> Iterator[ProtocolServer]:
    """A v1 server (both modes, 100 Hz real time) over the fake car."""
    with ProtocolServer(car, ego_port=0, mgmt_port=0, control_rate_hz=100.0) as srv:
        yield srv

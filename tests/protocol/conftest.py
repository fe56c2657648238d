"""Fixtures of the protocol tests: servers on ephemeral loopback ports, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from proto_fake_car import FakeCar

from acgym.protocol.client import Client
from acgym.protocol.server import ProtocolServer


def wait_until(
    predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout_s``."""
    deadline_s = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline_s:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def car() -> FakeCar:
    return FakeCar()


@pytest.fixture
def server(car: FakeCar) -> Iterator[ProtocolServer]:
    """A v1 server (both modes, 100 Hz real time) over the fake car."""
    with ProtocolServer(car, ego_port=0, mgmt_port=0, control_rate_hz=100.0) as srv:
        yield srv


def make_client(srv: ProtocolServer, **kwargs: object) -> Client:
    """A client of ``srv`` (not connected yet)."""
    kwargs.setdefault("timeout_s", 3.0)
    return Client(ego_port=srv.ego_address[1], mgmt_port=srv.mgmt_address[1], **kwargs)  # type: ignore[arg-type]

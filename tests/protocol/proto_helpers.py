"""Helpers of the protocol tests (a module of its own: every folder has a ``conftest``)."""

from __future__ import annotations

import time
from collections.abc import Callable

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


def make_client(srv: ProtocolServer, **kwargs: object) -> Client:
    """A client of ``srv`` (not connected yet)."""
    kwargs.setdefault("timeout_s", 3.0)
    return Client(ego_port=srv.ego_address[1], mgmt_port=srv.mgmt_address[1], **kwargs)  # type: ignore[arg-type]

"""Helpers of the protocol tests (a module of its own: every folder has a ``conftest``)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

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


@contextlib.contextmanager
def client_of_a_hand_driven_server(**kwargs: object) -> Iterator[tuple[Client, socket.socket]]:
    """A client (``kwargs`` for :class:`Client`) whose ego stream faces a plain UDP socket
    on 127.0.0.1, as if already connected: the test sends it whatever states it likes.
    Its management port is a closed one. Yields ``(client, server socket)``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fake_server:
        fake_server.bind(("127.0.0.1", 0))
        fake_server.settimeout(5.0)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", 0))
            closed_port = listener.getsockname()[1]
        client = Client(ego_port=fake_server.getsockname()[1], mgmt_port=closed_port, **kwargs)  # type: ignore[arg-type]
        client._open_ego()
        client._connected = True  # as if connected: states come straight away
        try:
            yield client, fake_server
        finally:
            client.close()

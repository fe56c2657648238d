"""Serving a car: the ego stream and management servers over one ``CarSource``.

``ProtocolServer`` starts an ``EgoServer`` (UDP, ``acgym.protocol.ego_server``) and a
``ManagementServer`` (TCP, ``acgym.protocol.management``) over one source; the
simulator server (``acgym sim serve``) and the tests use it. The game plugin mirrors
both servers in Python 3.3. See docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from acgym.protocol.ego_server import CarSource, EgoServer, is_loopback
from acgym.protocol.management import ManagementServer
from acgym.protocol.messages import (
    DEFAULT_CONTROL_RATE_HZ,
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    MGMT_REQUEST_MAX_BYTES,
    MODES,
)

__all__ = ["CarSource", "EgoServer", "ManagementServer", "ProtocolServer", "is_loopback"]


class ProtocolServer:
    """An ``EgoServer`` and a ``ManagementServer`` over one source, started together.

    The arguments are those of the two servers. Ports 0 pick free ports; read them from
    ``ego_address`` / ``mgmt_address``.
    """

    def __init__(
        self,
        source: CarSource,
        host: str = DEFAULT_HOST,
        ego_port: int = DEFAULT_EGO_PORT,
        mgmt_port: int = DEFAULT_MGMT_PORT,
        *,
        token: str | None = None,
        legacy: bool = False,
        modes: Sequence[str] = MODES,
        control_rate_hz: float = DEFAULT_CONTROL_RATE_HZ,
        client_timeout_s: float | None = 1.0,
        client_drop_s: float = 30.0,
        reset_options: Iterable[str] | None = None,
        max_request_bytes: int = MGMT_REQUEST_MAX_BYTES,
        realtime_priority: int | None = None,
    ) -> None:
        self.ego = EgoServer(
            source,
            host,
            ego_port,
            token=token,
            modes=modes,
            control_rate_hz=control_rate_hz,
            legacy=legacy,
            client_timeout_s=client_timeout_s,
            client_drop_s=client_drop_s,
            realtime_priority=realtime_priority,
        )
        try:
            self.mgmt = ManagementServer(
                source,
                host,
                mgmt_port,
                token=token,
                ego=self.ego,
                legacy=legacy,
                reset_options=reset_options,
                max_request_bytes=max_request_bytes,
            )
        except Exception:
            self.ego.stop()
            raise

    @property
    def ego_address(self) -> tuple[str, int]:
        """The ego stream's (host, port)."""
        return self.ego.address

    @property
    def mgmt_address(self) -> tuple[str, int]:
        """The management channel's (host, port)."""
        return self.mgmt.address

    def start(self) -> ProtocolServer:
        """Serve both on daemon threads; returns ``self``."""
        self.ego.start()
        self.mgmt.start()
        return self

    def stop(self) -> None:
        """Stop both. Safe twice."""
        self.mgmt.stop()
        self.ego.stop()

    def __enter__(self) -> ProtocolServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

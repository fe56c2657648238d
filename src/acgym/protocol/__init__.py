"""The wire protocol between the environment and a car: UDP ego stream, TCP management.

See docs/protocol.md. Modules: ``channels`` (the channel table), ``messages`` (message
types and schemas), ``codec`` (bytes <-> messages), ``framing`` (TCP frames), ``legacy``
(the original plugin's format), ``client`` and ``server``.
"""

from __future__ import annotations

from acgym.protocol.client import Client
from acgym.protocol.messages import (
    DEFAULT_CONTROL_RATE_HZ,
    DEFAULT_EGO_PORT,
    DEFAULT_MGMT_PORT,
    PROTOCOL_VERSION,
    SAFE_CONTROLS,
    Controls,
    ResetOptions,
)
from acgym.protocol.server import CarSource, EgoServer, ManagementServer, ProtocolServer

__all__ = [
    "DEFAULT_CONTROL_RATE_HZ",
    "DEFAULT_EGO_PORT",
    "DEFAULT_MGMT_PORT",
    "PROTOCOL_VERSION",
    "SAFE_CONTROLS",
    "CarSource",
    "Client",
    "Controls",
    "EgoServer",
    "ManagementServer",
    "ProtocolServer",
    "ResetOptions",
]

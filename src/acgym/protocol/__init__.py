"""The wire protocol between the environment and a car: UDP ego stream, TCP management.

See docs/protocol.md. Modules: ``channels`` (the channel table), ``messages`` (message
types and schemas), ``codec`` (bytes <-> messages), ``framing`` (TCP frames), ``legacy``
(the original plugin's format), ``client``, ``ego_server``, ``management``, ``server``
and ``bench``. The names below are imported on first use, so that importing one module
(``python -m acgym.protocol.channels``) does not load the others.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Client": "acgym.protocol.client",
    "CarSource": "acgym.protocol.server",
    "EgoServer": "acgym.protocol.server",
    "ManagementServer": "acgym.protocol.server",
    "ProtocolServer": "acgym.protocol.server",
    "Controls": "acgym.protocol.messages",
    "ResetOptions": "acgym.protocol.messages",
    "SAFE_CONTROLS": "acgym.protocol.messages",
    "PROTOCOL_VERSION": "acgym.protocol.messages",
    "DEFAULT_CONTROL_RATE_HZ": "acgym.protocol.messages",
    "DEFAULT_EGO_PORT": "acgym.protocol.messages",
    "DEFAULT_MGMT_PORT": "acgym.protocol.messages",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use (PEP 562)."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'acgym.protocol' has no attribute {name!r}")

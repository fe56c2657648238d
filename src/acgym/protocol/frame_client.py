"""``FrameReceiver``: a client's end of the frame stream.

It hands out the frame tagged ``(nonce, seq)``, and only that one: from the helper's
shared-memory ring when the helper runs on this machine (``transport="shm"``), or from
the helper's UDP stream (``"udp"``: it subscribes, keeps the subscription alive and
reassembles the chunks with a :class:`~acgym.protocol.frames.FrameAssembler`).
``"auto"`` takes the ring when the host is this machine, else the stream.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol.frame_ring import FrameRing, ring_name
from acgym.protocol.frames import (
    CHUNK_HEADER,
    CHUNK_PAYLOAD_BYTES,
    SUBSCRIBE_EVERY_S,
    FrameAssembler,
    decode_control,
    encode_subscribe,
    encode_unsubscribe,
    is_chunk,
)

TRANSPORTS = ("auto", "shm", "udp")
SHM_POLL_S = 0.0005
"""Pause between two looks at the ring while a frame is due, s."""


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FrameReceiver:
    """Frames of the capture helper at ``host``:``port`` (see the module docstring).

    Args:
        host, port: The helper.
        token: The helper's token (the stream; the ring needs none).
        transport: ``"auto"``, ``"shm"`` or ``"udp"``.

    Counters (``counters``): ``frames_received`` (handed out), ``frames_missing`` (asked
    for and not there within the wait), plus the assembler's on the stream.
    """

    def __init__(
        self, host: str, port: int, token: str | None = None, transport: str = "auto"
    ) -> None:
        if transport not in TRANSPORTS:
            raise ConfigError(f"frame transport: expected one of {TRANSPORTS}, got {transport!r}")
        if transport == "auto":
            transport = "shm" if _is_local(host) else "udp"
        self.host, self.port, self.token, self.transport = host, port, token, transport
        self.counters: dict[str, int] = {"frames_received": 0, "frames_missing": 0}
        self.shape: tuple[int, int, int] | None = None
        self._ring: FrameRing | None = None
        self._sock: socket.socket | None = None
        self._assembler = FrameAssembler()
        self._subscribed_s = -float("inf")

    def open(self, timeout_s: float = 5.0) -> None:
        """Map the ring, or subscribe and wait for the helper's answer (idempotent).

        Raises:
            BackendError: no helper answered within ``timeout_s``.
        """
        if self.transport == "shm":
            if self._ring is None:
                self._ring = FrameRing.open(ring_name(self.port))
                ring = self._ring
                self.shape = (ring.height, ring.width, ring.channels)
            return
        if self._sock is not None:
            return
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        deadline = time.monotonic() + timeout_s
        while self.shape is None:
            if time.monotonic() > deadline:
                self.close()
                raise BackendError(
                    f"no capture helper answered at {self.host}:{self.port} within "
                    f"{timeout_s:g} s: is `acgym capture` running there (same port, token)?"
                )
            self._subscribe()
            self._receive(min(0.2, max(0.0, deadline - time.monotonic())))

    def _subscribe(self) -> None:
        assert self._sock is not None
        try:
            self._sock.sendto(encode_subscribe(self.token), (self.host, self.port))
        except OSError:
            pass  # nobody there yet: the next one may reach it
        self._subscribed_s = time.monotonic()

    def _receive(self, wait_s: float) -> None:
        """Read what arrives within ``wait_s`` (at least what is already waiting), until a
        frame completes."""
        assert self._sock is not None
        self._sock.settimeout(max(wait_s, 1e-4))
        end_s = time.monotonic() + wait_s
        while True:
            try:
                data = self._sock.recv(CHUNK_HEADER.size + CHUNK_PAYLOAD_BYTES + 1)
            except (TimeoutError, BlockingIOError):
                return
            except OSError:  # e.g. the helper's port is closed (ICMP): try again later
                return
            if is_chunk(data):
                if self._assembler.feed(data) is not None:
                    return
            else:
                try:
                    message = decode_control(data)
                except ProtocolError:
                    continue
                if message["type"] == "subscribed":
                    self.shape = (message["height"], message["width"], message["channels"])
            remaining = end_s - time.monotonic()
            if remaining <= 0:
                self._sock.settimeout(0.0)
            else:
                self._sock.settimeout(remaining)

    def get(self, nonce: int, seq: int, wait_s: float) -> NDArray[np.uint8] | None:
        """The frame of state ``seq`` of session ``nonce``, waiting at most ``wait_s``;
        None when it did not come (counted ``frames_missing``)."""
        self.open()
        deadline = time.monotonic() + wait_s
        image = None
        while True:
            if self._ring is not None:
                found = self._ring.read(nonce, seq)
                image = None if found is None else found[0]
            else:
                if time.monotonic() - self._subscribed_s > SUBSCRIBE_EVERY_S:
                    self._subscribe()
                image = self._assembler.take(nonce, seq)
            if image is not None:
                self.counters["frames_received"] += 1
                return image
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.counters["frames_missing"] += 1
                return None
            if self._ring is not None:
                time.sleep(min(SHM_POLL_S, remaining))
            else:
                self._receive(min(remaining, 0.01))

    def all_counters(self) -> dict[str, Any]:
        """This receiver's counters, and the stream's assembler's."""
        if self.transport == "udp":
            return {**self.counters, **self._assembler.counters}
        return dict(self.counters)

    def close(self) -> None:
        """Unsubscribe and release the socket or the ring (safe twice)."""
        if self._sock is not None:
            try:
                self._sock.sendto(encode_unsubscribe(), (self.host, self.port))
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        if self._ring is not None:
            self._ring.close()
            self._ring = None

"""TCP framing of the management channel: a 4-byte big-endian length, then the body.

A length over the receiver's limit is refused before the body is read; one ``recv`` is
never assumed to hold a whole frame.
"""

from __future__ import annotations

import socket
import struct
import time

from acgym.errors import BackendError
from acgym.protocol.messages import RejectedMessage

HEADER = struct.Struct(">I")
HEADER_BYTES = HEADER.size
MAX_FRAME_LIMIT = 2**30
"""Hard ceiling of any frame limit: a frame's first byte is then below 0x41, which tells
v1 from a legacy command word (a lowercase letter; docs/protocol.md)."""


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its length."""
    if not 1 <= len(payload) <= MAX_FRAME_LIMIT:
        raise ValueError(f"frame body of {len(payload)} bytes; expected 1 to {MAX_FRAME_LIMIT}")
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: ``feed`` bytes as they come, get whole frame bodies back."""

    def __init__(self, max_frame_bytes: int) -> None:
        if not 1 <= max_frame_bytes <= MAX_FRAME_LIMIT:
            raise ValueError(f"max_frame_bytes {max_frame_bytes}: expected 1 to {MAX_FRAME_LIMIT}")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._need: int | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the frame bodies it completes, in order.

        Raises:
            RejectedMessage: ``too_large`` (the length prefix is over the limit) or
                ``bad_message`` (a zero length). The stream cannot be resynchronized
                after either: close the connection.
        """
        self._buffer += data
        frames = []
        while True:
            if self._need is None:
                if len(self._buffer) < HEADER_BYTES:
                    return frames
                (length,) = HEADER.unpack_from(self._buffer)
                if length == 0:
                    raise RejectedMessage(
                        "bad_message", "frame of length 0: expected a JSON object"
                    )
                if length > self.max_frame_bytes:
                    raise RejectedMessage(
                        "too_large",
                        f"frame of {length} bytes, at most {self.max_frame_bytes}",
                    )
                del self._buffer[:HEADER_BYTES]
                self._need = length
            if len(self._buffer) < self._need:
                return frames
            frames.append(bytes(self._buffer[: self._need]))
            del self._buffer[: self._need]
            self._need = None


def send_frame(sock: socket.socket, payload: bytes) -> None:
    """Send one whole frame on a blocking socket."""
    sock.sendall(encode_frame(payload))


def recv_exact(sock: socket.socket, num_bytes: int, deadline_s: float, where: str) -> bytes:
    """Read exactly ``num_bytes`` before ``deadline_s`` (``time.monotonic``).

    Raises:
        BackendError: the peer closed the connection or the deadline passed.
    """
    chunks = []
    remaining = num_bytes
    while remaining:
        timeout_s = deadline_s - time.monotonic()
        if timeout_s <= 0:
            raise BackendError(f"{where}: timed out waiting for {remaining} more bytes")
        sock.settimeout(timeout_s)
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except TimeoutError:
            continue
        if not chunk:
            raise BackendError(f"{where}: the server closed the connection mid-message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_frame_bytes: int, deadline_s: float, where: str) -> bytes:
    """Read one frame body from a blocking socket.

    Raises:
        RejectedMessage: the announced length is over ``max_frame_bytes`` or zero.
        BackendError: the peer closed or the deadline passed.
    """
    (length,) = HEADER.unpack(recv_exact(sock, HEADER_BYTES, deadline_s, where))
    if length == 0:
        raise RejectedMessage("bad_message", f"{where}: frame of length 0")
    if length > max_frame_bytes:
        raise RejectedMessage(
            "too_large",
            f"{where}: frame of {length} bytes, over the limit of {max_frame_bytes}: "
            "raise max_frame_bytes if the server really sends that much",
        )
    return recv_exact(sock, length, deadline_s, where)

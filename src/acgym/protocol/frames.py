"""The frame stream: the game's captured frames, each tied to the state it belongs to.

Three kinds of datagram travel on the capture helper's UDP port (``DEFAULT_FRAME_PORT``,
docs/protocol.md "The frame stream"):

* **capture** (the game's ego server -> the helper, loopback only), JSON:
  ``{"type":"capture","nonce":N,"seq":K}`` right after the ego server sent state ``K``
  of the session whose ``connect`` carried nonce ``N`` (legacy sessions: nonce 0). The
  helper grabs the game's window at once and tags the frame ``(N, K)``.
* **subscribe** / **unsubscribe** (a client -> the helper), JSON:
  ``{"type":"subscribe","version":1,"token":null}`` (sent again every
  ``SUBSCRIBE_EVERY_S`` as a keep-alive; a subscriber silent for ``SUBSCRIBER_DROP_S``
  is forgotten), answered by ``{"type":"subscribed","width":W,"height":H,"channels":C}``.
* **frame chunks** (the helper -> its subscribers), binary: a frame compressed with zlib
  and cut into chunks of at most ``CHUNK_PAYLOAD_BYTES`` (under a 1500-byte Ethernet MTU,
  so no IP fragmentation), each with the header ``CHUNK_HEADER`` (big-endian): magic
  ``ACGF``, version, codec, channels, a reserved byte, nonce, seq, width, height, chunk
  index, chunk count, compressed size.

:class:`FrameAssembler` puts the chunks back together within fixed bounds (at most
``max_partial`` frames in assembly, ``max_ready`` complete ones kept; the oldest go
first and are counted), refuses inconsistent or oversized ones (counted, never raised),
and hands a frame out only under its own tag: a state is never paired with another
state's frame.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import ProtocolError

DEFAULT_FRAME_PORT = 2348
"""UDP port of the capture helper (triggers in, subscriptions in, frames out)."""
FRAME_STREAM_VERSION = 1
MAGIC = b"ACGF"
CHUNK_HEADER = struct.Struct(">4sBBBBQQHHHHI")
"""magic, version, codec, channels, reserved, nonce, seq, width, height, chunk, chunks,
compressed size."""
CHUNK_PAYLOAD_BYTES = 1400 - CHUNK_HEADER.size
"""Payload of one chunk: a whole datagram stays at 1400 bytes, under Ethernet's MTU."""
CODEC_RAW, CODEC_ZLIB = 0, 1
MAX_SIDE_PX = 4096
MAX_COMPRESSED_BYTES = 8 * 1024 * 1024
MAX_CHUNKS = math.ceil(MAX_COMPRESSED_BYTES / CHUNK_PAYLOAD_BYTES)
MAX_SEQ = 2**53
CONTROL_MAX_BYTES = 1024
"""Largest JSON datagram (capture, subscribe) the helper reads."""
DONE_TAGS = 64
"""Completed frames whose tags an assembler remembers (late duplicate chunks)."""
SUBSCRIBE_EVERY_S = 1.0
SUBSCRIBER_DROP_S = 5.0

UInt8Image = NDArray[np.uint8]


@dataclass(frozen=True)
class Frame:
    """A complete frame: its tag and its ``(H, W, C)`` uint8 pixels."""

    nonce: int
    seq: int
    image: UInt8Image


# --------------------------------------------------------------------- JSON messages


def encode_capture(nonce: int, seq: int) -> bytes:
    """The trigger an ego server sends after state ``seq`` of session ``nonce``."""
    return json.dumps(
        {"type": "capture", "nonce": nonce, "seq": seq}, separators=(",", ":")
    ).encode()


def encode_subscribe(token: str | None) -> bytes:
    """A client's subscription (and keep-alive)."""
    message = {"type": "subscribe", "version": FRAME_STREAM_VERSION, "token": token}
    return json.dumps(message, separators=(",", ":")).encode()


def encode_unsubscribe() -> bytes:
    return b'{"type":"unsubscribe"}'


def encode_subscribed(width: int, height: int, channels: int) -> bytes:
    message = {"type": "subscribed", "width": width, "height": height, "channels": channels}
    return json.dumps(message, separators=(",", ":")).encode()


def _int_field(message: dict[str, Any], name: str, low: int, high: int) -> int:
    value = message.get(name)
    if type(value) is not int or not low <= value <= high:
        raise ProtocolError(
            f"frame stream: {name} must be an integer {low} to {high}, got {value!r}"
        )
    return value


def decode_control(data: bytes) -> dict[str, Any]:
    """A JSON datagram of the frame stream, checked: ``capture``, ``subscribe``,
    ``unsubscribe`` or ``subscribed``.

    Raises:
        ProtocolError: too large, not JSON, an unknown type or a bad field.
    """
    if len(data) > CONTROL_MAX_BYTES:
        raise ProtocolError(
            f"frame stream: a control datagram of {len(data)} bytes (limit {CONTROL_MAX_BYTES})"
        )
    try:
        message = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"frame stream: not a JSON message ({exc})") from None
    if not isinstance(message, dict):
        raise ProtocolError("frame stream: expected a JSON object")
    kind = message.get("type")
    fields = (
        {
            "capture": ("nonce", "seq"),
            "subscribe": ("version", "token"),
            "unsubscribe": (),
            "subscribed": ("width", "height", "channels"),
        }.get(kind)
        if isinstance(kind, str)
        else None
    )
    if fields is None:
        raise ProtocolError(f"frame stream: unknown message type {kind!r}")
    extra = set(message) - {"type", *fields}
    if extra:
        raise ProtocolError(f"frame stream: unknown fields {sorted(extra)} in {kind}")
    if kind == "capture":
        _int_field(message, "nonce", 0, 2**31 - 1)
        _int_field(message, "seq", 1, MAX_SEQ)
    elif kind == "subscribe":
        _int_field(message, "version", FRAME_STREAM_VERSION, FRAME_STREAM_VERSION)
        token = message.get("token")
        if token is not None and not (isinstance(token, str) and len(token) <= 256):
            raise ProtocolError(
                "frame stream: token must be a string of at most 256 characters or null"
            )
    elif kind == "subscribed":
        for name in ("width", "height"):
            _int_field(message, name, 1, MAX_SIDE_PX)
        _int_field(message, "channels", 1, 4)
    return message


# --------------------------------------------------------------------- frame chunks


def encode_frame(nonce: int, seq: int, image: UInt8Image, *, level: int = 1) -> list[bytes]:
    """The chunk datagrams of one ``(H, W, C)`` uint8 frame (zlib at ``level``).

    Raises:
        ProtocolError: a frame larger than the stream's limits.
    """
    if image.ndim != 3 or image.dtype != np.uint8:
        raise ProtocolError(
            f"frame stream: expected an (H, W, C) uint8 image, got {image.shape} {image.dtype}"
        )
    height, width, channels = image.shape
    if not (1 <= width <= MAX_SIDE_PX and 1 <= height <= MAX_SIDE_PX and 1 <= channels <= 4):
        raise ProtocolError(
            f"frame stream: a {width} x {height} x {channels} frame exceeds the limits"
        )
    payload = zlib.compress(np.ascontiguousarray(image).tobytes(), level)
    if len(payload) > MAX_COMPRESSED_BYTES:
        raise ProtocolError(
            f"frame stream: {len(payload)} compressed bytes (limit {MAX_COMPRESSED_BYTES})"
        )
    count = max(1, math.ceil(len(payload) / CHUNK_PAYLOAD_BYTES))
    return [
        CHUNK_HEADER.pack(
            MAGIC,
            FRAME_STREAM_VERSION,
            CODEC_ZLIB,
            channels,
            0,
            nonce,
            seq,
            width,
            height,
            index,
            count,
            len(payload),
        )
        + payload[index * CHUNK_PAYLOAD_BYTES : (index + 1) * CHUNK_PAYLOAD_BYTES]
        for index in range(count)
    ]


def is_chunk(data: bytes) -> bool:
    """Whether a datagram is a frame chunk (not a JSON control message)."""
    return data[:4] == MAGIC


class _Partial:
    def __init__(self, header: tuple[Any, ...]) -> None:
        self.header = header
        self.parts: dict[int, bytes] = {}


class FrameAssembler:
    """Chunks in, complete frames out, within fixed bounds.

    Args:
        max_partial: Frames in assembly at once; a chunk of a new frame beyond it drops
            the oldest unfinished one (``frames_lost``).
        max_ready: Complete frames kept until taken; the oldest go first
            (``frames_unread``).

    Counters (``counters``): ``chunks``, ``chunks_bad`` (malformed or inconsistent),
    ``chunks_duplicate``, ``frames_complete``, ``frames_lost`` (never completed: a chunk
    lost on the way), ``frames_bad`` (did not decompress to their size),
    ``frames_unread`` (dropped complete before anyone asked for them).
    """

    def __init__(self, max_partial: int = 8, max_ready: int = 16) -> None:
        self.max_partial = max_partial
        self.max_ready = max_ready
        self._partial: OrderedDict[tuple[int, int], _Partial] = OrderedDict()
        self._ready: OrderedDict[tuple[int, int], UInt8Image] = OrderedDict()
        self._done: OrderedDict[tuple[int, int], None] = OrderedDict()
        """Tags of the last ``DONE_TAGS`` frames completed: their late chunks are
        duplicates, not the start of a new frame."""
        self.counters: dict[str, int] = {
            name: 0
            for name in (
                "chunks", "chunks_bad", "chunks_duplicate", "frames_complete",
                "frames_lost", "frames_bad", "frames_unread",
            )
        }  # fmt: skip

    def feed(self, data: bytes) -> Frame | None:
        """Take one chunk datagram; returns the frame it completes, if any (also kept
        for :meth:`take`)."""
        self.counters["chunks"] += 1
        if len(data) < CHUNK_HEADER.size or len(data) > CHUNK_HEADER.size + CHUNK_PAYLOAD_BYTES:
            self.counters["chunks_bad"] += 1
            return None
        magic, version, codec, channels, _, nonce, seq, width, height, index, count, size = (
            CHUNK_HEADER.unpack_from(data)
        )
        payload = data[CHUNK_HEADER.size :]
        header = (codec, channels, width, height, count, size)
        if (
            magic != MAGIC
            or version != FRAME_STREAM_VERSION
            or codec not in (CODEC_RAW, CODEC_ZLIB)
            or not (1 <= channels <= 4 and 1 <= width <= MAX_SIDE_PX and 1 <= height <= MAX_SIDE_PX)
            or not 1 <= count <= MAX_CHUNKS
            or not 0 <= index < count
            or not 0 < size <= MAX_COMPRESSED_BYTES
            or math.ceil(size / CHUNK_PAYLOAD_BYTES) != count
            or len(payload) != min(CHUNK_PAYLOAD_BYTES, size - index * CHUNK_PAYLOAD_BYTES)
        ):
            self.counters["chunks_bad"] += 1
            return None
        key = (nonce, seq)
        if key in self._done:
            self.counters["chunks_duplicate"] += 1
            return None
        partial = self._partial.get(key)
        if partial is None:
            while len(self._partial) >= self.max_partial:
                self._partial.popitem(last=False)
                self.counters["frames_lost"] += 1
            partial = self._partial[key] = _Partial(header)
        elif partial.header != header:
            self.counters["chunks_bad"] += 1
            return None
        if index in partial.parts:
            self.counters["chunks_duplicate"] += 1
            return None
        partial.parts[index] = payload
        if len(partial.parts) < count:
            return None
        del self._partial[key]
        self._done[key] = None
        while len(self._done) > DONE_TAGS:
            self._done.popitem(last=False)
        image = _decode(b"".join(partial.parts[i] for i in range(count)), header)
        if image is None:
            self.counters["frames_bad"] += 1
            return None
        self.counters["frames_complete"] += 1
        self._ready[key] = image
        while len(self._ready) > self.max_ready:
            self._ready.popitem(last=False)
            self.counters["frames_unread"] += 1
        return Frame(nonce, seq, image)

    def take(self, nonce: int, seq: int) -> UInt8Image | None:
        """The complete frame tagged ``(nonce, seq)``, removed; None when there is none.
        Frames of older seqs of the same session are dropped (they can no longer be
        asked for)."""
        image = self._ready.pop((nonce, seq), None)
        for key in [k for k in self._ready if k[0] != nonce or k[1] < seq]:
            del self._ready[key]
            self.counters["frames_unread"] += 1
        return image

    def pending(self) -> Iterator[tuple[int, int]]:
        """Tags of the complete frames not taken yet, oldest first."""
        return iter(list(self._ready))


def _decode(payload: bytes, header: tuple[Any, ...]) -> UInt8Image | None:
    """The pixels of a reassembled payload, or None when it is not a frame of its size."""
    codec, channels, width, height, _, _ = header
    expected = width * height * channels
    if codec == CODEC_ZLIB:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(payload, expected + 1)  # bounded: no zip bomb
        except zlib.error:
            return None
        if not inflater.eof or inflater.unconsumed_tail:
            return None
    else:
        raw = payload
    if len(raw) != expected:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, channels).copy()

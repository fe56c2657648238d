"""Frames in shared memory: the capture helper's ring, read by a client on the same machine.

The ring is a file of fixed layout, mapped by both sides: ``/dev/shm/<name>`` on Linux
(a temporary folder where there is no ``/dev/shm``), a named mapping on Windows. A
header (``RING_HEADER``: magic ``ACGR``, version, slots, width, height, channels, slot
size, frames written) is followed by ``slots`` slots; frame ``seq`` goes to slot
``seq % slots``. Each slot starts with ``SLOT_HEADER``: a sequence lock (odd while the
writer is in the slot), the frame's nonce and seq, its capture time (ns, the writer's
``time.monotonic_ns``) and its size, then the pixels.

A reader copies a slot and checks the lock before and after: a slot being written, or
rewritten during the copy, is never returned (a torn frame), and a slot holding another
tag is not the frame asked for. Python's stores reach the mapping in program order on
the machines the game runs on (x86-64's stores are not reordered with each other).
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acgym.errors import BackendError, ConfigError

RING_MAGIC = b"ACGR"
RING_VERSION = 1
RING_HEADER = struct.Struct("<4sIIIIIQQ")
"""magic, version, slots, width, height, channels, slot bytes, frames written."""
SLOT_HEADER = struct.Struct("<QQQQQ")
"""lock, nonce, seq, capture time (ns), pixel bytes."""
_LOCK = struct.Struct("<Q")
_WRITTEN_OFFSET = RING_HEADER.size - 8
DEFAULT_SLOTS = 8

UInt8Image = NDArray[np.uint8]


def ring_name(port: int) -> str:
    """The shared-memory name of the helper serving ``port``."""
    return f"acgym_frames_{port}"


def ring_path(name: str) -> Path:
    """The file of ring ``name`` (Linux and others; Windows maps it by name)."""
    shm = Path("/dev/shm")
    return (shm if shm.is_dir() else Path(tempfile.gettempdir())) / name


def _slot_bytes(width: int, height: int, channels: int) -> int:
    pixels = width * height * channels
    return SLOT_HEADER.size + (pixels + 7) // 8 * 8


class FrameRing:
    """A mapped frame ring (use :meth:`create` or :meth:`open`).

    Attributes:
        width, height, channels: The frames' shape.
        slots: Frames kept (the last ``slots`` seqs).
    """

    def __init__(self, buffer: mmap.mmap, path: Path | None, owner: bool) -> None:
        self._buffer = buffer
        self._path = path
        self._owner = owner
        magic, version, slots, width, height, channels, slot_bytes, _ = RING_HEADER.unpack_from(
            buffer
        )
        if magic != RING_MAGIC or version != RING_VERSION:
            raise BackendError(
                f"shared memory {path or 'mapping'} is not an acgym frame ring (version "
                f"{RING_VERSION}): is another program using its name?"
            )
        self.slots, self.width, self.height, self.channels = slots, width, height, channels
        self._slot_bytes = slot_bytes
        self._pixels = width * height * channels
        if len(buffer) < RING_HEADER.size + slots * slot_bytes:
            raise BackendError(f"shared memory {path}: shorter than its header says")

    @classmethod
    def create(
        cls, name: str, width: int, height: int, channels: int, slots: int = DEFAULT_SLOTS
    ) -> FrameRing:
        """Create (or replace) the ring ``name`` for frames of this shape (the helper)."""
        if not (1 <= width <= 4096 and 1 <= height <= 4096 and channels in (1, 3, 4)):
            raise ConfigError(
                f"frame ring: a {width} x {height} x {channels} frame is not supported"
            )
        if slots < 2:
            raise ConfigError(f"frame ring: expected at least 2 slots, got {slots}")
        slot_bytes = _slot_bytes(width, height, channels)
        size = RING_HEADER.size + slots * slot_bytes
        header = RING_HEADER.pack(
            RING_MAGIC, RING_VERSION, slots, width, height, channels, slot_bytes, 0
        )
        if sys.platform == "win32":
            buffer = mmap.mmap(-1, size, tagname=name)
            path = None
        else:
            path = ring_path(name)
            fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
            try:
                os.ftruncate(fd, size)
                buffer = mmap.mmap(fd, size)
            finally:
                os.close(fd)
        buffer[: RING_HEADER.size] = header
        return cls(buffer, path, owner=True)

    @classmethod
    def open(cls, name: str) -> FrameRing:
        """Map the existing ring ``name`` (a client on the helper's machine).

        Raises:
            BackendError: no such ring (the helper is not running here), or not a ring.
        """
        if sys.platform == "win32":
            probe = mmap.mmap(-1, RING_HEADER.size, tagname=name)
            try:
                _, _, slots, *_rest, slot_bytes, _ = RING_HEADER.unpack_from(probe)
            finally:
                probe.close()
            return cls(
                mmap.mmap(-1, RING_HEADER.size + slots * slot_bytes, tagname=name), None, False
            )
        path = ring_path(name)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            raise BackendError(
                f"no frame ring {path}: start the capture helper on this machine "
                "(acgym capture), or read the frames over the network"
            ) from None
        try:
            size = os.fstat(fd).st_size
            if size < RING_HEADER.size:
                raise BackendError(f"{path} is too short to be a frame ring")
            buffer = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        return cls(buffer, path, owner=False)

    def slot_offset(self, seq: int) -> int:
        """Byte offset in the ring of the slot of frame ``seq`` (its lock comes first)."""
        return RING_HEADER.size + (seq % self.slots) * self._slot_bytes

    @property
    def frames_written(self) -> int:
        """Frames the writer has put in the ring since it was created."""
        return int(_LOCK.unpack_from(self._buffer, _WRITTEN_OFFSET)[0])

    def write(self, nonce: int, seq: int, image: UInt8Image) -> None:
        """Put frame ``(nonce, seq)`` in its slot (the one writer: the helper)."""
        if image.shape != (self.height, self.width, self.channels) or image.dtype != np.uint8:
            raise ConfigError(
                f"frame ring: expected a {(self.height, self.width, self.channels)} uint8 "
                f"frame, got {image.shape} {image.dtype}"
            )
        base = self.slot_offset(seq)
        buffer = self._buffer
        lock = _LOCK.unpack_from(buffer, base)[0]
        _LOCK.pack_into(buffer, base, lock + 1 | 1)  # odd: being written
        SLOT_HEADER.pack_into(
            buffer, base, lock + 1 | 1, nonce, seq, time.monotonic_ns(), self._pixels
        )
        start = base + SLOT_HEADER.size
        buffer[start : start + self._pixels] = np.ascontiguousarray(image).tobytes()
        _LOCK.pack_into(buffer, base, (lock | 1) + 1)  # even again: complete
        _LOCK.pack_into(buffer, _WRITTEN_OFFSET, self.frames_written + 1)

    def read(self, nonce: int, seq: int) -> tuple[UInt8Image, int] | None:
        """Frame ``(nonce, seq)`` and its capture time (ns), or None when its slot holds
        another frame or is being written (ask again later)."""
        base = self.slot_offset(seq)
        buffer = self._buffer
        before, slot_nonce, slot_seq, time_ns, size = SLOT_HEADER.unpack_from(buffer, base)
        if before & 1 or slot_nonce != nonce or slot_seq != seq or size != self._pixels:
            return None
        start = base + SLOT_HEADER.size
        pixels = np.frombuffer(buffer, np.uint8, self._pixels, start).copy()
        if _LOCK.unpack_from(buffer, base)[0] != before:
            return None  # rewritten while copied
        return pixels.reshape(self.height, self.width, self.channels), int(time_ns)

    def close(self) -> None:
        """Unmap; the helper (the owner) also removes the ring. Safe twice."""
        if self._buffer.closed:
            return
        self._buffer.close()
        if self._owner and self._path is not None:
            self._path.unlink(missing_ok=True)

"""MoTeC ``.ld`` logs and their ``.ldx`` lap markers, read from the format's public
description (the layout worked out by the community readers of MoTeC i2 files; MoTeC
publishes no specification).

An ``.ld`` file is little-endian. Its header (at 0) holds, among others::

    0x00  u32  marker (0x40)
    0x08  u32  offset of the first channel's metadata
    0x0c  u32  offset of the channel data
    0x24  u32  offset of the event block (name 64 s, session 64 s, comment 1024 s,
               u16 offset of the venue block)
    0x46  u32  device serial, 0x4a 8 s device type, 0x52 u16 device version
    0x56  u32  number of channels
    0x5e  16 s date (dd/mm/yyyy), 0x7e 16 s time (hh:mm[:ss])
    0x9e  64 s driver, 0xde 64 s vehicle, 0x15e 64 s venue

The channels' metadata form a doubly linked list, each block (:data:`CHANNEL_META_SIZE`
bytes)::

    0x00  u32 previous block, u32 next block (0: the last), u32 data offset,
          u32 sample count
    0x10  u16 counter, u16 data kind (0x07: float; 0, 0x03, 0x05: integer),
          u16 sample size in bytes (2 or 4), u16 sample rate (Hz)
    0x18  i16 shift, i16 multiplier, i16 scale, i16 decimal places
    0x20  32 s name, 8 s short name, 12 s unit, then padding

A channel's value is ``(raw / scale * 10 ** -decimal_places + shift) * multiplier``.
Strings are ASCII, padded with NUL bytes.

The ``.ldx`` file beside an ``.ld`` (same name) is XML; its ``Marker`` elements (in the
``Beacons`` marker group) carry ``Time`` in microseconds from the start of the log: the
start/finish line crossings.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acgym.errors import DataFileError

FloatArray = NDArray[np.float64]

LD_MARKER = 0x40
"""The first word of an ``.ld`` file."""

HEADER_LAYOUT = struct.Struct("<I4xII20xI24x6xI8sH2xI4x16s16x16s16x64s64s64x64s")
"""The header's fields read (see the module docstring), from offset 0."""

EVENT_LAYOUT = struct.Struct("<64s64s1024sH")
"""The event block: name, session, comment, offset of the venue block."""

CHANNEL_LAYOUT = struct.Struct("<IIIIHHHHhhhh32s8s12s")
"""The start of a channel's metadata block."""

CHANNEL_META_SIZE = CHANNEL_LAYOUT.size + 40
"""Bytes of one channel metadata block (its fields and 40 bytes of padding)."""

FLOAT_KIND = 0x07
INTEGER_KINDS = (0x00, 0x03, 0x05)
SAMPLE_TYPES = {
    (FLOAT_KIND, 2): np.dtype("<f2"),
    (FLOAT_KIND, 4): np.dtype("<f4"),
    **{(kind, 2): np.dtype("<i2") for kind in INTEGER_KINDS},
    **{(kind, 4): np.dtype("<i4") for kind in INTEGER_KINDS},
}
"""(data kind, sample size) -> the samples' type."""

MAX_CHANNELS = 4096
"""More channels than this in the linked list means a loop or a corrupt file."""


@dataclass(frozen=True)
class LdChannel:
    """One channel: its samples in physical units and what they are."""

    name: str
    short_name: str
    unit: str
    rate_hz: float
    values: FloatArray
    """``(n,)`` samples, scaled to the unit."""

    @property
    def duration_s(self) -> float:
        """Time covered by the samples, s."""
        return len(self.values) / self.rate_hz

    def times_s(self) -> FloatArray:
        """Sample times from the start of the log, ``(n,)`` s."""
        return np.arange(len(self.values)) / self.rate_hz


@dataclass(frozen=True)
class LdHeader:
    """Who, what, where and when of a log."""

    driver: str
    vehicle: str
    venue: str
    event: str
    session: str
    device: str
    recorded: datetime | None
    num_channels: int


@dataclass(frozen=True)
class LdFile:
    """An ``.ld`` log: its header, channels and, from the ``.ldx`` beside it, lap markers."""

    path: Path
    header: LdHeader
    channels: dict[str, LdChannel]
    lap_markers_s: tuple[float, ...]
    """Start/finish crossings, s from the start of the log (empty: no ``.ldx``)."""

    def channel(self, *names: str) -> LdChannel:
        """The first channel of ``names`` present (aliases of one quantity).

        Raises:
            DataFileError: None of them is in the log, naming the first and listing the
                log's channels.
        """
        for name in names:
            if name in self.channels:
                return self.channels[name]
        raise DataFileError(
            f"{self.path}: the log has no channel {names[0]!r}"
            + (f" (nor {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else "")
            + f"; its channels are: {', '.join(sorted(self.channels))}"
        )


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()


def _recorded(date: str, time: str) -> datetime | None:
    for layout in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(f"{date} {time}", layout)
        except ValueError:
            continue
    return None


def read_ld(path: Path | str) -> LdFile:
    """Read an ``.ld`` log (and the lap markers of the ``.ldx`` of the same name, if any).

    Raises:
        DataFileError: Not an ``.ld`` file, truncated, a channel of an unknown sample type
            or with samples beyond the end of the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read the MoTeC log ({exc})") from exc
    if len(data) < HEADER_LAYOUT.size:
        raise DataFileError(f"{path}: {len(data)} bytes is too short for a MoTeC .ld header")
    (
        marker,
        meta_offset,
        _data_offset,
        event_offset,
        _serial,
        device,
        _version,
        num_channels,
        date,
        time,
        driver,
        vehicle,
        venue,
    ) = HEADER_LAYOUT.unpack_from(data, 0)
    if marker != LD_MARKER:
        raise DataFileError(
            f"{path}: not a MoTeC .ld file (first word {marker:#x}, expected {LD_MARKER:#x})"
        )
    event = session = ""
    if 0 < event_offset <= len(data) - EVENT_LAYOUT.size:
        name, session_raw, _comment, _venue_offset = EVENT_LAYOUT.unpack_from(data, event_offset)
        event, session = _text(name), _text(session_raw)
    header = LdHeader(
        driver=_text(driver),
        vehicle=_text(vehicle),
        venue=_text(venue),
        event=event,
        session=session,
        device=_text(device),
        recorded=_recorded(_text(date), _text(time)),
        num_channels=int(num_channels),
    )
    channels = _read_channels(path, data, meta_offset)
    return LdFile(path, header, channels, read_ldx(path.with_suffix(".ldx")))


def _read_channels(path: Path, data: bytes, offset: int) -> dict[str, LdChannel]:
    channels: dict[str, LdChannel] = {}
    seen: set[int] = set()
    while offset:
        if offset in seen or len(seen) >= MAX_CHANNELS:
            raise DataFileError(f"{path}: the channel list loops back on itself at {offset:#x}")
        seen.add(offset)
        if offset + CHANNEL_LAYOUT.size > len(data):
            raise DataFileError(f"{path}: channel metadata at {offset:#x} is past the file's end")
        (
            _previous,
            following,
            data_offset,
            count,
            _counter,
            kind,
            size,
            rate_hz,
            shift,
            multiplier,
            scale,
            decimals,
            name_raw,
            short_raw,
            unit_raw,
        ) = CHANNEL_LAYOUT.unpack_from(data, offset)
        name = _text(name_raw)
        dtype = SAMPLE_TYPES.get((kind, size))
        if dtype is None:
            raise DataFileError(
                f"{path}: channel {name!r} has samples of kind {kind:#x} and size {size} "
                "bytes, which this reader does not know"
            )
        end = data_offset + count * dtype.itemsize
        if end > len(data):
            raise DataFileError(
                f"{path}: channel {name!r}: {count} samples from {data_offset:#x} run past the "
                f"file's end ({len(data)} bytes): the file is truncated"
            )
        if rate_hz <= 0 or scale == 0:
            raise DataFileError(
                f"{path}: channel {name!r}: rate {rate_hz} Hz and scale {scale} must not be 0"
            )
        raw = np.frombuffer(data, dtype=dtype, count=count, offset=data_offset)
        values = (raw.astype(np.float64) / scale * 10.0 ** (-decimals) + shift) * multiplier
        channels[name] = LdChannel(name, _text(short_raw), _text(unit_raw), float(rate_hz), values)
        offset = following
    return channels


def read_ldx(path: Path | str) -> tuple[float, ...]:
    """The lap markers of an ``.ldx`` file, s from the start of the log, sorted (empty when
    the file does not exist).

    Raises:
        DataFileError: The file is not XML, or a marker's time is not a number.
    """
    path = Path(path)
    if not path.exists():
        return ()
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise DataFileError(f"{path}: cannot read the lap markers ({exc})") from exc
    times = []
    for marker in root.iter("Marker"):
        value = marker.get("Time")
        if value is None:
            continue
        try:
            times.append(float(value) / 1e6)
        except ValueError:
            raise DataFileError(f"{path}: marker time {value!r} is not a number") from None
    return tuple(sorted(times))


__all__ = ["LdChannel", "LdFile", "LdHeader", "read_ld", "read_ldx"]

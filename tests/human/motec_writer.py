"""A MoTeC ``.ld`` / ``.ldx`` writer for the tests only: files laid out as the reader's
module docstring describes (acgym.human.motec), from channels the tests choose."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from acgym.human.motec import CHANNEL_LAYOUT, CHANNEL_META_SIZE, EVENT_LAYOUT, HEADER_LAYOUT

EVENT_OFFSET = 0x800
META_OFFSET = 0xD00


@dataclass(frozen=True)
class Channel:
    """A channel to write: physical values, or raw samples with their scaling."""

    name: str
    unit: str
    rate_hz: int
    values: np.ndarray
    dtype: str = "<f4"
    shift: int = 0
    multiplier: int = 1
    scale: int = 1
    decimals: int = 0
    raw: bool = False
    """``values`` are the raw samples (else they are converted with the scaling)."""

    def samples(self) -> bytes:
        if self.raw:
            return np.asarray(self.values).astype(self.dtype).tobytes()
        raw = (
            (np.asarray(self.values) / self.multiplier - self.shift)
            * self.scale
            * 10.0**self.decimals
        )
        if np.dtype(self.dtype).kind == "i":
            raw = np.round(raw)
        return raw.astype(self.dtype).tobytes()


def write_ld(
    path: Path,
    channels: list[Channel],
    *,
    driver: str = "Test Driver",
    vehicle: str = "dallara_f317",
    venue: str = "oval",
    event: str = "AC_LIVE",
    session: str = "Hotlap",
    when: datetime = datetime(2026, 12, 7, 14, 30, 5),
    marker: int = 0x40,
) -> Path:
    """Write an ``.ld`` file."""
    metas, data = [], []
    data_offset = META_OFFSET + CHANNEL_META_SIZE * len(channels)
    offset = data_offset
    for k, c in enumerate(channels):
        samples = c.samples()
        kind = 0x07 if np.dtype(c.dtype).kind == "f" else 0x03
        meta_at = META_OFFSET + CHANNEL_META_SIZE * k
        following = meta_at + CHANNEL_META_SIZE if k + 1 < len(channels) else 0
        previous = meta_at - CHANNEL_META_SIZE if k else 0
        meta = CHANNEL_LAYOUT.pack(
            previous,
            following,
            offset,
            len(c.values),
            0x2EE1 + k,
            kind,
            np.dtype(c.dtype).itemsize,
            c.rate_hz,
            c.shift,
            c.multiplier,
            c.scale,
            c.decimals,
            c.name.encode(),
            c.name[:8].encode(),
            c.unit.encode(),
        )
        metas.append(meta + bytes(CHANNEL_META_SIZE - len(meta)))
        data.append(samples)
        offset += len(samples)
    header = HEADER_LAYOUT.pack(
        marker,
        META_OFFSET,
        data_offset,
        EVENT_OFFSET,
        12345,
        b"ADL",
        420,
        len(channels),
        when.strftime("%d/%m/%Y").encode(),
        when.strftime("%H:%M:%S").encode(),
        driver.encode(),
        vehicle.encode(),
        venue.encode(),
    )
    event_block = EVENT_LAYOUT.pack(event.encode(), session.encode(), b"", 0)
    blob = bytearray(data_offset)
    blob[: len(header)] = header
    blob[EVENT_OFFSET : EVENT_OFFSET + len(event_block)] = event_block
    for k, meta in enumerate(metas):
        blob[META_OFFSET + CHANNEL_META_SIZE * k : META_OFFSET + CHANNEL_META_SIZE * (k + 1)] = meta
    path.write_bytes(bytes(blob) + b"".join(data))
    return path


def write_ldx(path: Path, markers_s: list[float]) -> Path:
    """Write an ``.ldx`` with lap markers (microseconds, as the logger writes them)."""
    markers = "\n".join(
        f'     <Marker Version="100" ClassName="BCN" Name="Manual.{k}" Flags="77" '
        f'Time="{t * 1e6:.6e}"/>'
        for k, t in enumerate(markers_s)
    )
    path.write_text(
        '<?xml version="1.0"?>\n<LDXFile Locale="C" DefaultLocale="C" Version="1.6">\n'
        ' <Layers>\n  <Layer>\n   <MarkerBlock>\n    <MarkerGroup Name="Beacons" Index="3">\n'
        f"{markers}\n    </MarkerGroup>\n   </MarkerBlock>\n  </Layer>\n"
        f' <Details><String Id="Total Laps" Value="{max(len(markers_s) - 1, 0)}"/></Details>\n'
        " </Layers>\n</LDXFile>\n"
    )
    return path

"""The frame stream's chunks and the shared-memory ring: frames come back whole and only
under their own tag; loss, duplicates, floods and malformed input are counted within
fixed bounds, never raised."""

from __future__ import annotations

import mmap
import zlib

import numpy as np
import pytest

from acgym.errors import BackendError, ProtocolError
from acgym.protocol.frame_ring import FrameRing, ring_path
from acgym.protocol.frames import (
    CHUNK_HEADER,
    CHUNK_PAYLOAD_BYTES,
    MAGIC,
    FrameAssembler,
    decode_control,
    encode_capture,
    encode_frame,
    encode_subscribe,
    is_chunk,
)


def noise(seed: int, shape: tuple[int, int, int] = (60, 80, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_a_frame_cut_into_chunks_comes_back_whole_in_any_order():
    image = noise(0)  # noise does not compress: many chunks
    chunks = encode_frame(7, 42, image)
    assert len(chunks) > 3 and all(
        len(c) <= CHUNK_HEADER.size + CHUNK_PAYLOAD_BYTES for c in chunks
    )
    assert all(is_chunk(c) for c in chunks)
    assembler = FrameAssembler()
    order = np.random.default_rng(1).permutation(len(chunks))
    results = [assembler.feed(chunks[i]) for i in order]
    assert all(r is None for r in results[:-1])
    frame = results[-1]
    assert (frame.nonce, frame.seq) == (7, 42)
    np.testing.assert_array_equal(frame.image, image)
    np.testing.assert_array_equal(assembler.take(7, 42), image)
    assert assembler.take(7, 42) is None  # taken once


def test_a_lost_chunk_loses_its_frame_and_never_gives_another_tags_frame():
    assembler = FrameAssembler(max_partial=2)
    first = encode_frame(1, 10, noise(2))
    for chunk in first[:-1]:  # the last chunk is lost
        assembler.feed(chunk)
    for seq in (11, 12):
        for chunk in encode_frame(1, seq, noise(seq)):
            assembler.feed(chunk)
    assert assembler.take(1, 10) is None
    np.testing.assert_array_equal(assembler.take(1, 12), noise(12))
    assert assembler.take(1, 11) is None  # older than the one taken: dropped
    assert assembler.take(2, 12) is None  # another session's tag
    assert assembler.counters["frames_complete"] == 2
    assert assembler.counters["frames_unread"] == 1
    for seq in range(20, 30):  # a flood of unfinished frames stays within max_partial
        assembler.feed(encode_frame(1, seq, noise(seq))[0])
    assert assembler.counters["frames_lost"] >= 9


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda c: c[:10],  # shorter than the header
        lambda c: b"XXXX" + c[4:],  # not our magic
        lambda c: c[:4] + bytes([9]) + c[5:],  # another version
        lambda c: c + b"extra",  # longer than the header says
    ],
)
def test_malformed_chunks_are_counted_not_raised(corrupt):
    assembler = FrameAssembler()
    chunks = encode_frame(1, 1, noise(3))
    assert assembler.feed(corrupt(chunks[0])) is None
    assert assembler.counters["chunks_bad"] == 1
    for chunk in chunks:  # the stream goes on
        assembler.feed(chunk)
    assert assembler.take(1, 1) is not None
    assembler.feed(chunks[0])  # a duplicate of a complete frame
    assert assembler.counters["chunks_duplicate"] == 1


def test_a_payload_that_inflates_past_its_frame_is_refused():
    bomb = zlib.compress(bytes(10_000_000))  # 10 MB of zeros claimed as a 4 x 4 frame
    count = -(-len(bomb) // CHUNK_PAYLOAD_BYTES)
    assembler = FrameAssembler()
    for index in range(count):
        header = CHUNK_HEADER.pack(MAGIC, 1, 1, 1, 0, 1, 1, 4, 4, index, count, len(bomb))
        part = bomb[index * CHUNK_PAYLOAD_BYTES : (index + 1) * CHUNK_PAYLOAD_BYTES]
        assert assembler.feed(header + part) is None
    assert assembler.counters["frames_bad"] == 1
    assert assembler.take(1, 1) is None


def test_control_messages_are_checked():
    assert decode_control(encode_capture(3, 9)) == {"type": "capture", "nonce": 3, "seq": 9}
    assert decode_control(encode_subscribe("t"))["token"] == "t"
    for bad in (
        b"not json",
        b"[1]",
        b'{"type":"capture","nonce":1,"seq":0}',
        b'{"type":"capture","nonce":1,"seq":2,"x":1}',
        b'{"type":"shutdown"}',
        b'{"type":"subscribe","version":2,"token":null}',
        b"{" + b" " * 2000 + b"}",
    ):
        with pytest.raises(ProtocolError):
            decode_control(bad)


def test_the_ring_returns_a_frame_only_under_its_tag(tmp_path):
    ring = FrameRing.create(f"acgym_test_ring_{tmp_path.name}", 8, 6, 3, slots=4)
    reader = FrameRing.open(f"acgym_test_ring_{tmp_path.name}")
    try:
        for seq in range(1, 7):
            ring.write(5, seq, noise(seq, (6, 8, 3)))
        image, time_ns = reader.read(5, 6)
        np.testing.assert_array_equal(image, noise(6, (6, 8, 3)))
        assert time_ns > 0 and reader.frames_written == 6
        assert reader.read(5, 2) is None  # overwritten by seq 6 (slot 2 of 4)
        assert reader.read(4, 6) is None  # another session
        assert reader.read(5, 7) is None  # not written yet
        with pytest.raises(Exception, match="expected a"):
            ring.write(5, 8, noise(8, (6, 8, 1)))
    finally:
        reader.close()
        ring.close()
    with pytest.raises(BackendError, match="acgym capture"):
        FrameRing.open(f"acgym_test_ring_{tmp_path.name}")  # the owner removed it


def test_a_slot_being_written_is_not_read(tmp_path):
    name = f"acgym_test_ring_w_{tmp_path.name}"
    ring = FrameRing.create(name, 4, 4, 1, slots=2)
    try:
        ring.write(1, 3, noise(0, (4, 4, 1)))
        assert ring.read(1, 3) is not None
        with open(ring_path(name), "r+b") as file, mmap.mmap(file.fileno(), 0) as mapped:
            slot = ring.slot_offset(3)
            lock = int.from_bytes(mapped[slot : slot + 8], "little")
            mapped[slot : slot + 8] = (lock + 1).to_bytes(8, "little")  # a writer inside
            assert ring.read(1, 3) is None
            mapped[slot : slot + 8] = (lock + 2).to_bytes(8, "little")  # it is done
            assert ring.read(1, 3) is not None
    finally:
        ring.close()

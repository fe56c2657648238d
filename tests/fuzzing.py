"""Seeded fuzz inputs for the servers' tests (package and plugin): random bytes, truncated
and mutated messages, NaN and huge literals, depth bombs (some just under the parsers'
limits), odd unicode, strings that are not text (lone surrogates), oversized payloads,
stray words."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator

from acgym.protocol import codec
from acgym.protocol.framing import FrameDecoder
from acgym.protocol.messages import Controls, ControlsMessage, Disconnect, RejectedMessage

VALID_SAMPLES = [
    codec.encode_ego(ControlsMessage(5, 4, Controls(0.1, 0.2, -1.0))),
    codec.encode_ego(Disconnect()),
    b'{"type":"connect","version":1,"token":null,"mode":"realtime","nonce":3}',
    b'{"steer":0.1,"acc":0.5,"brake":-1,"enable_gear_shift":0,"shift_up":0,"shift_down":0,"server_steps":3}',
    b'{"type":"hello","id":1,"version":1,"token":null,"client":"x"}',
    b'{"type":"reset","id":2,"options":{"distance_m":5.0,"seed":1}}',
    b'{"type":"get_track_info","id":3}',
]
WEIRD_VALUES = [
    None,
    True,
    "",
    "\u202e\ud7ff\U0001f3ce",
    -1,
    2**63,
    10**400,
    1e308,
    -0.0,
    [],
    {},
    [[[[[[[[[[1]]]]]]]]]],
    "x" * 300,
    "\ud800",  # a lone surrogate: JSON carries it ("\ud800"), it cannot be encoded
    "ok\udfff",
]
DEEP_DEPTHS = (900, 990, 1000, 1010, 1020)
"""Nesting that some parsers read and ``repr`` cannot (orjson reads up to 1024 deep)."""


def fuzz_payloads(rng: random.Random, count: int, max_bytes: int) -> Iterator[bytes]:
    """Random bytes, truncated JSON, wrong types, huge numbers, NaN, depth bombs, unicode,
    oversized payloads (each at most 60,000 bytes: it must fit a datagram)."""
    for payload in _fuzz_payloads(rng, count, max_bytes):
        yield payload[:60_000]


def _fuzz_payloads(rng: random.Random, count: int, max_bytes: int) -> Iterator[bytes]:
    kinds = (
        "random",
        "truncated",
        "mutated",
        "literal",
        "bomb",
        "unicode",
        "oversized",
        "words",
        "surrogate",
        "deep",
    )
    for index in range(count):
        kind = kinds[index % len(kinds)]
        sample = rng.choice(VALID_SAMPLES)
        if kind == "random":
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        elif kind == "truncated":
            yield sample[: rng.randrange(0, len(sample))]
        elif kind == "mutated":
            obj = json.loads(sample)
            key = rng.choice([*obj, "type", "surprise"])
            obj[key] = rng.choice(WEIRD_VALUES)
            yield json.dumps(obj).encode()
        elif kind == "literal":
            literal = rng.choice(
                (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 5000)
            )
            yield sample.replace(b"5", literal, 1).replace(b"0.1", literal, 1)
        elif kind == "bomb":
            depth = rng.choice((50, 500, 2000, 20_000))
            opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
            yield opener * depth + b"1" + closer * depth
        elif kind == "unicode":
            text = "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(rng.randrange(1, 60)))
            yield text.encode("utf-8", "surrogatepass") + rng.choice(
                (b"", b"\xed\xa0\x80", b"\xff")
            )
        elif kind == "oversized":
            yield sample[:-1] + b" " * (max_bytes + rng.randrange(1, 3000)) + b"}"
        elif kind == "surrogate":
            obj = json.loads(sample)
            key = "token" if "token" in obj else rng.choice(list(obj))
            obj[key] = rng.choice(("\ud800", "\udfff", "token\ud83d"))
            yield json.dumps(obj).encode()  # ensure_ascii: written as "\ud800"
        elif kind == "deep":
            obj = json.loads(sample)
            obj[rng.choice([*obj, "type"])] = "DEEP"
            depth = rng.choice(DEEP_DEPTHS)
            yield json.dumps(obj).replace('"DEEP"', "[" * depth + "1" + "]" * depth).encode()
        else:
            yield rng.choice(
                (b"connect ", b"disconnect\n", b"reset", b"identified", b"get_config", b"")
            )


def rejected_by_a_token_server(payloads: list[bytes]) -> list[bytes]:
    """The payloads a v1 ego server with a token rejects from a stranger: all but a valid
    ``disconnect`` (ignored). Malformed ones are refused, controls are not the client's
    (``not_connected``), and no fuzzed ``connect`` carries the server's token."""
    kept = []
    for data in payloads:
        try:
            message = codec.decode_from_client(data)
        except RejectedMessage:
            message = None
        if not isinstance(message, Disconnect):
            kept.append(data)
    return kept


def frames_from(sock: socket.socket) -> Iterator[dict[str, object]]:
    """The JSON frames a management server sends on ``sock``, until it closes."""
    decoder = FrameDecoder(1 << 24)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        for frame in decoder.feed(chunk):
            yield json.loads(frame)

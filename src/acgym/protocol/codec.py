"""Bytes <-> protocol v1 messages: JSON with size limits and schema checks.

Decoders never trust their input: the size is checked before parsing, ``NaN`` /
``Infinity`` literals and non-finite numbers are refused, a nesting bomb is caught, and
every field is checked for type and range (``acgym.protocol.messages``). Each failure is
a ``RejectedMessage`` with an error code and a sentence saying what was wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from acgym.errors import ProtocolError
from acgym.protocol.messages import (
    CLIENT_DATAGRAM_MAX_BYTES,
    DISCONNECT_REASONS,
    MAX_CHANNEL_NAME_CHARS,
    MAX_CHANNELS,
    MAX_ID,
    MAX_INT,
    MAX_LIST_CHANNEL_SIZE,
    MGMT_REPLY_MAX_BYTES,
    MGMT_REQUEST_MAX_BYTES,
    MODES,
    PROTOCOL_VERSION,
    QUERY_TYPES,
    RESULT_CHECKS,
    SERVER_DATAGRAM_MAX_BYTES,
    TOKEN_MAX_CHARS,
    Connect,
    Connected,
    Controls,
    ControlsMessage,
    Disconnect,
    Disconnected,
    EgoFromClient,
    EgoFromServer,
    ErrorMessage,
    Hello,
    Ok,
    Query,
    RejectedMessage,
    Request,
    Reset,
    ResetOptions,
    State,
    check_fields,
    check_value,
    show_value,
)

_NAN = math.nan
_NUMBER_TYPES = (float, int)
_FLAG_TYPES = (int, bool)

_CONNECT_SPEC = {
    "version": ("int", 0, MAX_ID, False),
    "token": ("str", None, TOKEN_MAX_CHARS, True),
    "mode": ("str", None, 16, False),
    "nonce": ("int", 0, MAX_ID, False),
}
_CONTROLS_SPEC = {
    "seq": ("int", 1, MAX_INT, False),
    "state_seq": ("int", 0, MAX_INT, False),
    "steer": ("num", -1.0, 1.0, False),
    "acc": ("num", -1.0, 1.0, False),
    "brake": ("num", -1.0, 1.0, False),
    "enable_gear_shift": ("flag", None, None, False),
    "shift_up": ("flag", None, None, False),
    "shift_down": ("flag", None, None, False),
}
_CONNECTED_SPEC = {
    "version": ("int", 0, MAX_ID, False),
    "mode": ("str", None, 16, False),
    "control_rate_hz": ("num", 1e-3, 1e4, False),
    "nonce": ("int", 0, MAX_ID, False),
}
_HELLO_SPEC = {
    "id": ("int", 0, MAX_ID, False),
    "version": ("int", 0, MAX_ID, False),
    "token": ("str", None, TOKEN_MAX_CHARS, True),
    "client": ("str", None, 64, False),
}
_ID_SPEC = {"id": ("int", 0, MAX_ID, False)}
_ERROR_SPEC = {
    "code": ("str", None, 64, False),
    "message": ("str", None, 1024, False),
}


# ---------------------------------------------------------------------------------------
# JSON


def dumps(obj: Any) -> bytes:
    """Compact ASCII JSON; refuses NaN and infinities (``ValueError``)."""
    return _ENCODER.encode(obj).encode("ascii")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (send null for a missing value)")


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
"""Built once: ``json.dumps`` / ``json.loads`` with options build a new one per call."""


def loads_object(data: bytes, max_bytes: int, where: str) -> dict[str, Any]:
    """Parse one JSON object from ``data`` after a size check.

    Raises:
        RejectedMessage: ``too_large`` over ``max_bytes``; ``bad_json`` for anything that
            is not a UTF-8 JSON object without NaN/Infinity, or nests too deep for the
            parser.
    """
    if len(data) > max_bytes:
        raise RejectedMessage("too_large", f"{where}: {len(data)} bytes, at most {max_bytes}")
    try:
        # orjson (~6x faster than the standard library on a state) parses what is valid
        # RFC 8259; the rest goes to the standard library's parser, as the game plugin's
        # does, so both sides refuse bad input with the same code (1e999 is an infinite
        # number, not bad JSON; NaN is named). orjson reads integers beyond 64 bits as
        # floats: every integer field's check refuses them as it refuses the integers.
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        obj = _slow_loads(data, where)
    if type(obj) is not dict:
        raise RejectedMessage(
            "bad_json", f"{where}: expected a JSON object, got {type(obj).__name__}"
        )
    return obj


def _slow_loads(data: bytes, where: str) -> Any:
    """The standard library's parse of what orjson refused (NaN and Infinity refused)."""
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RejectedMessage("bad_json", f"{where}: not valid JSON ({str(exc)[:120]})") from None


def _message_type(obj: dict[str, Any], allowed: tuple[str, ...], where: str) -> str:
    kind = obj.get("type")
    if kind is None:
        raise RejectedMessage("bad_message", f"{where}: missing field 'type'")
    if type(kind) is not str or kind not in allowed:
        raise RejectedMessage(
            "unknown_type",
            f"{where}: unknown message type {show_value(kind)}; expected one of {', '.join(allowed)}",
        )
    return kind


def _check_version(obj: dict[str, Any], where: str) -> None:
    version = obj.get("version")
    if type(version) is int and version != PROTOCOL_VERSION:
        raise RejectedMessage(
            "version_mismatch",
            f"{where}: protocol version {version}, this side speaks {PROTOCOL_VERSION}: "
            "update the older of client and server",
        )


# ---------------------------------------------------------------------------------------
# Channels


def normalize_channels(channels: Mapping[str, Any]) -> dict[str, Any]:
    """Make a source's channels wire-ready: plain ints/floats/lists, NaN -> ``None``.

    Booleans become 0/1, numpy scalars and arrays become Python numbers and lists,
    non-finite floats become ``None``.

    Raises:
        ProtocolError: a value that is not a number, a flag or a short list of numbers.
    """
    out = dict(channels)  # one C copy; the loop below only stores what it changes
    for key, value in out.items():
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # NaN or infinity
                out[key] = None
        elif kind is list:
            out[key] = _normalize_list(key, value)
        elif kind is not int and value is not None:
            out[key] = _normalize_other(key, value)
    return out


def _finite_floats(values: list[Any]) -> bool:
    """Whether every item is a finite ``float`` (the fast path of the list channels)."""
    for item in values:  # a plain loop: a generator costs more than the check
        if type(item) is not float or item - item != 0.0:
            return False
    return True


def _normalize_list(key: str, values: list[Any]) -> list[Any]:
    if len(values) > MAX_LIST_CHANNEL_SIZE:
        raise ProtocolError(
            f"channel {key!r}: list of {len(values)}, at most {MAX_LIST_CHANNEL_SIZE}"
        )
    if _finite_floats(values):  # the usual case: a plain copy
        return values[:]
    out = []
    for item in values:
        if type(item) is float:
            out.append(item if item - item == 0.0 else None)
        else:
            out.append(_normalize_scalar(key, item))
    return out


def _normalize_scalar(key: str, value: Any) -> int | float | None:
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        value = value.item()  # numpy scalar or 0-d array
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    raise ProtocolError(f"channel {key!r}: expected a number, got {type(value).__name__}")


def _normalize_other(key: str, value: Any) -> Any:
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return _normalize_list(key, list(value))
    return _normalize_scalar(key, value)


def normalize_plain(value: Any) -> Any:
    """Tuples, numpy arrays and numpy scalars to lists and Python values, recursively."""
    kind = type(value)
    if kind in (int, float, str, bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): normalize_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize_plain(item) for item in value]
    if hasattr(value, "tolist"):
        return normalize_plain(value.tolist())
    return value


def check_channels(channels: Any) -> dict[str, Any]:
    """Check a decoded ``channels`` object in place; ``null`` becomes NaN."""
    if type(channels) is not dict:
        raise RejectedMessage("bad_message", "state.channels: expected an object")
    if len(channels) > MAX_CHANNELS:
        raise RejectedMessage(
            "bad_message", f"state.channels: {len(channels)} channels, at most {MAX_CHANNELS}"
        )
    if channels and max(map(len, channels)) > MAX_CHANNEL_NAME_CHARS:
        name = max(channels, key=len)
        raise RejectedMessage("bad_message", f"state.channels: name {name[:64]!r}... too long")
    for key, value in channels.items():
        kind = type(value)
        if kind is float:
            if value - value != 0.0:  # inf from "1e999"
                raise RejectedMessage("bad_message", f"state.channels.{key[:64]}: not finite")
        elif kind is int:
            if not -MAX_INT <= value <= MAX_INT:
                raise RejectedMessage(
                    "bad_message", f"state.channels.{key[:64]}: integer out of range"
                )
        elif value is None:
            channels[key] = _NAN
        elif kind is list:
            channels[key] = _check_channel_list(key, value)
        else:
            raise RejectedMessage(
                "bad_message",
                f"state.channels.{key[:64]}: expected a number, null or a list, got {kind.__name__}",
            )
    return channels


def _check_channel_list(key: str, values: list[Any]) -> list[float | int]:
    if len(values) > MAX_LIST_CHANNEL_SIZE:
        raise RejectedMessage("bad_message", f"state.channels.{key[:64]}: list too long")
    if _finite_floats(values):  # the usual case: nothing to replace
        return values
    out: list[float | int] = []
    for item in values:
        kind = type(item)
        if item is None:
            out.append(_NAN)
        elif (kind is float and item - item == 0.0) or (
            kind is int and -MAX_INT <= item <= MAX_INT
        ):
            out.append(item)
        else:
            raise RejectedMessage(
                "bad_message",
                f"state.channels.{key[:64]}: list items must be finite numbers or null",
            )
    return out


# ---------------------------------------------------------------------------------------
# Ego stream


def encode_ego(msg: EgoFromClient | EgoFromServer) -> bytes:
    """Encode an ego-stream message as one datagram."""
    if isinstance(msg, State):
        return encode_state(msg.seq, msg.ack, msg.channels)
    if isinstance(msg, ControlsMessage):
        return encode_controls(msg.seq, msg.state_seq, msg.controls)
    if isinstance(msg, Connect):
        return dumps(
            {
                "type": "connect",
                "version": msg.version,
                "token": msg.token,
                "mode": msg.mode,
                "nonce": msg.nonce,
            }
        )
    if isinstance(msg, Connected):
        return dumps(
            {
                "type": "connected",
                "version": msg.version,
                "mode": msg.mode,
                "control_rate_hz": float(msg.control_rate_hz),
                "nonce": msg.nonce,
            }
        )
    if isinstance(msg, Disconnect):
        return b'{"type":"disconnect"}'
    if isinstance(msg, Disconnected):
        return dumps({"type": "disconnected", "reason": msg.reason})
    if isinstance(msg, ErrorMessage):
        return dumps({"type": "error", "code": msg.code, "message": msg.message[:1024]})
    raise TypeError(f"not an ego-stream message: {type(msg).__name__}")


_CONTROLS_FORMAT = (
    '{"type":"controls","seq":%d,"state_seq":%d,"steer":%r,"acc":%r,"brake":%r,'
    '"enable_gear_shift":%d,"shift_up":%d,"shift_down":%d}'
)


def encode_controls(seq: int, state_seq: int, controls: Controls) -> bytes:
    """Encode a controls datagram (the hot path: formatted directly, same JSON as ``dumps``).

    Raises:
        ValueError: a control that is not a finite number.
    """
    steer, acc, brake = float(controls.steer), float(controls.acc), float(controls.brake)
    if not (math.isfinite(steer) and math.isfinite(acc) and math.isfinite(brake)):
        raise ValueError(f"controls must be finite, got {steer}, {acc}, {brake}")
    return (
        _CONTROLS_FORMAT
        % (
            seq,
            state_seq,
            steer,
            acc,
            brake,
            bool(controls.enable_gear_shift),
            bool(controls.shift_up),
            bool(controls.shift_down),
        )
    ).encode("ascii")


def encode_state(seq: int, ack: int, channels: Mapping[str, Any]) -> bytes:
    """Encode a state datagram from already normalized channels (``normalize_channels``).

    Raises:
        ProtocolError: the encoded state is over ``SERVER_DATAGRAM_MAX_BYTES``.
    """
    # the hot path of the server: orjson (same shortest round-trip floats as ``repr``, in
    # another exponent notation: 1e-05 is written 0.00001), ~20x faster than ``dumps``
    data = orjson.dumps({"type": "state", "seq": seq, "ack": ack, "channels": channels})
    if len(data) > SERVER_DATAGRAM_MAX_BYTES:
        raise ProtocolError(
            f"state of {len(data)} bytes is over the datagram limit of "
            f"{SERVER_DATAGRAM_MAX_BYTES}: send fewer channels"
        )
    return data


def decode_from_client(data: bytes) -> EgoFromClient:
    """Decode a datagram a client sent on the ego stream."""
    obj = loads_object(data, CLIENT_DATAGRAM_MAX_BYTES, "ego datagram")
    kind = _message_type(obj, ("controls", "connect", "disconnect"), "ego datagram")
    if kind == "controls":
        fast = _controls_fast(obj)
        if fast is not None:
            return fast
        f = check_fields(obj, _CONTROLS_SPEC, "controls")  # the slow path names the fault
        return ControlsMessage(
            f["seq"],
            f["state_seq"],
            Controls(
                float(f["steer"]),
                float(f["acc"]),
                float(f["brake"]),
                f["enable_gear_shift"],
                f["shift_up"],
                f["shift_down"],
            ),
        )
    if kind == "connect":
        _check_version(obj, "connect")
        f = check_fields(obj, _CONNECT_SPEC, "connect")
        if f["mode"] not in MODES:
            raise RejectedMessage(
                "unsupported_mode", f"connect: unknown mode {f['mode']!r}; expected one of {MODES}"
            )
        return Connect(f["token"], f["mode"], f["nonce"], f["version"])
    check_fields(obj, {}, "disconnect")
    return Disconnect()


def _controls_fast(obj: dict[str, Any]) -> ControlsMessage | None:
    """The controls message when every field is right, else ``None`` (checked slowly)."""
    if len(obj) != 9:
        return None
    seq = obj.get("seq")
    state_seq = obj.get("state_seq")
    steer = obj.get("steer")
    acc = obj.get("acc")
    brake = obj.get("brake")
    gear = obj.get("enable_gear_shift")
    up = obj.get("shift_up")
    down = obj.get("shift_down")
    if (
        type(seq) is int
        and type(state_seq) is int
        and 1 <= seq <= MAX_INT
        and 0 <= state_seq <= MAX_INT
        and type(steer) in _NUMBER_TYPES
        and type(acc) in _NUMBER_TYPES
        and type(brake) in _NUMBER_TYPES
        and -1.0 <= steer <= 1.0  # NaN fails every comparison
        and -1.0 <= acc <= 1.0
        and -1.0 <= brake <= 1.0
        and type(gear) in _FLAG_TYPES
        and type(up) in _FLAG_TYPES
        and type(down) in _FLAG_TYPES
        and gear in (0, 1)
        and up in (0, 1)
        and down in (0, 1)
    ):
        return ControlsMessage(
            seq,
            state_seq,
            Controls(float(steer), float(acc), float(brake), bool(gear), bool(up), bool(down)),
        )
    return None


def decode_from_server(data: bytes) -> EgoFromServer:
    """Decode a datagram a server sent on the ego stream."""
    obj = loads_object(data, SERVER_DATAGRAM_MAX_BYTES, "ego datagram")
    kind = _message_type(obj, ("state", "connected", "disconnected", "error"), "ego datagram")
    if kind == "state":
        seq = obj.get("seq")
        ack = obj.get("ack")
        if len(obj) != 4 or type(seq) is not int or type(ack) is not int:
            check_fields(
                {k: v for k, v in obj.items() if k != "channels"},
                {"seq": ("int", 1, MAX_INT, False), "ack": ("int", 0, MAX_INT, False)},
                "state",
            )
            if "channels" not in obj:
                raise RejectedMessage("bad_message", "state: missing field 'channels'")
        if not (1 <= seq <= MAX_INT and 0 <= ack <= MAX_INT):
            raise RejectedMessage("bad_message", f"state: seq {seq} or ack {ack} out of range")
        return State(seq, ack, check_channels(obj["channels"]))
    if kind == "connected":
        f = check_fields(obj, _CONNECTED_SPEC, "connected")
        if f["mode"] not in MODES:
            raise RejectedMessage("bad_message", f"connected: unknown mode {f['mode']!r}")
        return Connected(f["mode"], float(f["control_rate_hz"]), f["nonce"], f["version"])
    if kind == "disconnected":
        f = check_fields(obj, {"reason": ("str", None, 64, False)}, "disconnected")
        if f["reason"] not in DISCONNECT_REASONS:
            raise RejectedMessage("bad_message", f"disconnected: unknown reason {f['reason']!r}")
        return Disconnected(f["reason"])
    f = check_fields(obj, _ERROR_SPEC, "error")
    return ErrorMessage(f["code"], f["message"])


# ---------------------------------------------------------------------------------------
# Management


def encode_request(msg: Request) -> bytes:
    """Encode a management request (the frame body)."""
    if isinstance(msg, Hello):
        return dumps(
            {
                "type": "hello",
                "id": msg.id,
                "version": msg.version,
                "token": msg.token,
                "client": msg.client,
            }
        )
    if isinstance(msg, Reset):
        return dumps({"type": "reset", "id": msg.id, "options": msg.options.to_dict()})
    if isinstance(msg, Query):
        return dumps({"type": msg.type, "id": msg.id})
    raise TypeError(f"not a management request: {type(msg).__name__}")


def decode_request(payload: bytes, max_bytes: int = MGMT_REQUEST_MAX_BYTES) -> Request:
    """Decode a management request frame body.

    Raises:
        RejectedMessage: with ``request_id`` set when the request's id could be read.
    """
    obj = loads_object(payload, max_bytes, "request")
    request_id = obj.get("id")
    try:
        kind = _message_type(obj, ("hello", "reset", *QUERY_TYPES), "request")
        if kind == "hello":
            _check_version(obj, "hello")
            f = check_fields(obj, _HELLO_SPEC, "hello")
            return Hello(f["id"], f["token"], f["client"], f["version"])
        if kind == "reset":
            rest = {k: v for k, v in obj.items() if k != "options"}
            f = check_fields(rest, _ID_SPEC, "reset")
            if "options" not in obj:
                raise RejectedMessage("bad_message", "reset: missing field 'options'")
            if type(obj["options"]) is not dict:  # on the wire an object, maybe empty
                raise RejectedMessage(
                    "bad_message",
                    f"reset options must be an object, got {type(obj['options']).__name__}",
                )
            return Reset(f["id"], ResetOptions.from_mapping(obj["options"]))
        f = check_fields(obj, _ID_SPEC, kind)
        return Query(f["id"], kind)
    except RejectedMessage as exc:
        exc.request_id = (
            request_id if type(request_id) is int and 0 <= request_id <= MAX_ID else None
        )  # type: ignore[attr-defined]
        raise


def encode_reply(msg: Ok | ErrorMessage) -> bytes:
    """Encode a management reply (the frame body).

    Raises:
        ValueError: the result holds NaN or infinity (a source bug).
    """
    if isinstance(msg, Ok):
        return dumps({"type": "ok", "id": msg.id, "result": msg.result})
    return dumps({"type": "error", "id": msg.id, "code": msg.code, "message": msg.message[:1024]})


def decode_reply(
    payload: bytes, request_type: str, request_id: int, max_bytes: int = MGMT_REPLY_MAX_BYTES
) -> Ok | ErrorMessage:
    """Decode the reply to a request of ``request_type`` and check its result."""
    obj = loads_object(payload, max_bytes, f"reply to {request_type}")
    kind = _message_type(obj, ("ok", "error"), f"reply to {request_type}")
    reply_id = obj.get("id")
    if kind == "error":
        rest = {k: v for k, v in obj.items() if k != "id"}
        f = check_fields(rest, _ERROR_SPEC, "error")
        if reply_id is not None and reply_id != request_id:
            raise RejectedMessage(
                "bad_message", f"error reply id {reply_id!r}, expected {request_id}"
            )
        return ErrorMessage(f["code"], f["message"], reply_id)
    check_value(reply_id, "int", 0, MAX_ID, "ok.id")
    if reply_id != request_id:
        raise RejectedMessage("bad_message", f"reply id {reply_id}, expected {request_id}")
    if set(obj) != {"type", "id", "result"}:
        raise RejectedMessage(
            "bad_message", f"ok: expected fields type, id, result, got {sorted(obj)}"
        )
    result = RESULT_CHECKS[request_type](obj["result"])
    return Ok(reply_id, result)

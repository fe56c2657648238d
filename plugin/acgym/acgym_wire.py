"""The acgym wire protocol, version 1, and the original plugin's legacy format.

This module MIRRORS ``acgym.protocol`` (``messages``, ``codec``, ``framing``,
``legacy``) on purpose: the game's Python 3.3 cannot import the package. It is the only
sanctioned duplicate in the project, and tests/plugin/test_wire_mirror.py encodes every
message type with each side and decodes it with the other. docs/protocol.md is the
specification; where this file and the package disagree, one of them is a bug.

Messages are plain dicts here (the package uses dataclasses): ``{"type": "controls",
"seq": 3, ...}``. Decoders never trust their input: the size is checked before parsing,
NaN/Infinity are refused, every field is checked for type and range, and each failure
raises ``WireError`` with the protocol's error code.

Python 3.3, standard library only: no f-strings, no annotations.
"""

import json
import math
import reprlib
import struct

PROTOCOL_VERSION = 1
DEFAULT_HOST = "127.0.0.1"
DEFAULT_EGO_PORT = 2345
DEFAULT_MGMT_PORT = 2347
DEFAULT_CONTROL_RATE_HZ = 25.0

CLIENT_DATAGRAM_MAX_BYTES = 1024
SERVER_DATAGRAM_MAX_BYTES = 16384
MGMT_REQUEST_MAX_BYTES = 65536
MGMT_REPLY_MAX_BYTES = 16 * 1024 * 1024
MAX_CHANNELS = 256
MAX_CHANNEL_NAME_CHARS = 64
MAX_LIST_CHANNEL_SIZE = 16
MAX_TRACK_POINTS = 1000000
MAX_STRING_CHARS = 256
TOKEN_MAX_CHARS = 256
MAX_INT = 2**53
MAX_ID = 2**31 - 1
MAX_FRAME_LIMIT = 2**30

MODES = ("realtime", "lockstep")
ERROR_CODES = (
    "bad_json",
    "too_large",
    "unknown_type",
    "bad_message",
    "version_mismatch",
    "bad_token",
    "hello_required",
    "unsupported_mode",
    "unsupported_option",
    "not_connected",
    "backend_error",
    "busy",
)
DISCONNECT_REASONS = ("replaced", "server_closing", "client_timeout")
QUERY_TYPES = ("get_static_info", "get_config", "get_track_info", "get_counters")
RESET_OPTION_RANGES = {
    "distance_m": ("num", 0.0, 1e7),
    "lateral_offset_m": ("num", -100.0, 100.0),
    "heading_offset_rad": ("num", -math.pi, math.pi),
    "speed_mps": ("num", 0.0, 150.0),
    "seed": ("int", 0, MAX_ID),
}
SAFE_CONTROLS = {
    "steer": 0.0,
    "acc": -1.0,
    "brake": -1.0,
    "enable_gear_shift": False,
    "shift_up": False,
    "shift_down": False,
}
"""Steer centred, pedals released, no gear shift."""

STATIC_INFO_REQUIRED = (
    ("TrackName", "str"),
    ("TrackConfiguration", "str"),
    ("TrackLength", "num"),
    ("CarName", "str"),
    ("WindSpeed", "num"),
    ("WindDirection", "num"),
    ("autoShifterOn", "flag"),
    ("penaltiesEnabled", "flag"),
    ("backend", "str"),
    ("backend_version", "str"),
)


class WireError(Exception):
    """A message broke the protocol; ``code`` is its error code (docs/protocol.md)."""

    def __init__(self, code, message, request_id=None):
        Exception.__init__(self, message)
        self.code = code
        self.request_id = request_id


# ---------------------------------------------------------------------------------------
# JSON


def dumps(obj):
    """Compact ASCII JSON bytes; NaN and infinities raise ``ValueError``."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")


def _refuse_constant(name):
    raise ValueError("{0} is not allowed (send null for a missing value)".format(name))


def loads_object(data, max_bytes, where):
    """Parse one JSON object from bytes after a size check (``WireError`` otherwise)."""
    if len(data) > max_bytes:
        raise WireError(
            "too_large", "{0}: {1} bytes, at most {2}".format(where, len(data), max_bytes)
        )
    try:
        obj = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RuntimeError) as exc:  # RuntimeError: too deep
        raise WireError(
            "bad_json", "{0}: not valid JSON ({1})".format(where, str(exc)[:120])
        ) from None
    if type(obj) is not dict:
        raise WireError(
            "bad_json", "{0}: expected a JSON object, got {1}".format(where, type(obj).__name__)
        )
    return obj


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3  # a value nested a thousand deep is described, not recursed into
_SHORT_REPR.maxstring = 40
_SHORT_REPR.maxother = 40


def show_value(value):
    """A short description of a received value for an error message (at most 40
    characters, at most 3 levels deep: ``repr`` of a deeply nested value would recurse)."""
    text = _SHORT_REPR.repr(value)
    if len(text) <= 40:
        return text
    return text[:37] + "..."


def _is_int(value):
    """An int that is not a bool (``type(value) is int``, as the package checks)."""
    return type(value) is int


def _is_finite_float(value):
    return type(value) is float and not (math.isnan(value) or math.isinf(value))


def check_value(value, kind, low, high, where, nullable=False):
    """Check one field's type and range; returns it (flags as bool).

    ``kind``: ``int``, ``num`` (finite int or float), ``flag`` (0/1 or bool), ``str``
    (``high`` = most characters).
    """
    if value is None:
        if nullable:
            return None
        raise WireError("bad_message", "{0}: expected a value, got null".format(where))
    if kind == "flag":
        if value is True or value is False:
            return value
        if _is_int(value) and value in (0, 1):
            return bool(value)
        raise WireError(
            "bad_message", "{0}: expected 0 or 1, got {1}".format(where, show_value(value))
        )
    if kind == "str":
        if not isinstance(value, str):
            raise WireError(
                "bad_message", "{0}: expected a string, got {1}".format(where, show_value(value))
            )
        limit = MAX_STRING_CHARS if high is None else int(high)
        if len(value) > limit:
            raise WireError(
                "bad_message",
                "{0}: string of {1} characters, at most {2}".format(where, len(value), limit),
            )
        return value
    if kind == "int":
        if not _is_int(value):
            raise WireError(
                "bad_message", "{0}: expected an integer, got {1}".format(where, show_value(value))
            )
    elif kind == "num":
        if type(value) is float:
            if not _is_finite_float(value):
                raise WireError(
                    "bad_message", "{0}: expected a finite number, got {1}".format(where, value)
                )
        elif not _is_int(value):
            raise WireError(
                "bad_message", "{0}: expected a number, got {1}".format(where, show_value(value))
            )
    else:  # pragma: no cover - internal table error
        raise AssertionError(kind)
    if (low is not None and value < low) or (high is not None and value > high):
        raise WireError(
            "bad_message",
            "{0}: {1} is out of range [{2}, {3}]".format(where, show_value(value), low, high),
        )
    return value


def check_fields(obj, spec, where):
    """Check an object against ``spec`` (name -> (kind, min, max, nullable)).

    Every field of ``spec`` is required; no other field may appear besides ``type``.
    """
    for name in obj:
        if name != "type" and name not in spec:
            raise WireError("bad_message", "{0}: unknown field {1!r}".format(where, str(name)[:40]))
    out = {}
    for name in sorted(spec):
        kind, low, high, nullable = spec[name]
        if name not in obj:
            raise WireError("bad_message", "{0}: missing field {1!r}".format(where, name))
        out[name] = check_value(obj[name], kind, low, high, "{0}.{1}".format(where, name), nullable)
    return out


def check_plain(value, where, depth=4):
    """Check a free-form value: numbers, strings, bools, null, arrays/objects to ``depth``."""
    if value is None or value is True or value is False or isinstance(value, str):
        return
    if _is_int(value):
        if abs(value) > MAX_INT:
            raise WireError("bad_message", "{0}: integer out of range".format(where))
        return
    if type(value) is float:
        if not _is_finite_float(value):
            raise WireError("bad_message", "{0}: expected a finite number".format(where))
        return
    if depth <= 0:
        raise WireError("bad_message", "{0}: nested too deep".format(where))
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, "{0}[{1}]".format(where, index), depth - 1)
        return
    if isinstance(value, dict):
        for key in value:
            check_plain(value[key], "{0}.{1}".format(where, key), depth - 1)
        return
    raise WireError("bad_message", "{0}: unexpected {1}".format(where, type(value).__name__))


def _message_type(obj, allowed, where):
    kind = obj.get("type")
    if kind is None:
        raise WireError("bad_message", "{0}: missing field 'type'".format(where))
    if not isinstance(kind, str) or kind not in allowed:
        raise WireError(
            "unknown_type",
            "{0}: unknown message type {1}; expected one of {2}".format(
                where, show_value(kind), ", ".join(allowed)
            ),
        )
    return kind


def _check_version(obj, where):
    version = obj.get("version")
    if _is_int(version) and version != PROTOCOL_VERSION:
        raise WireError(
            "version_mismatch",
            "{0}: protocol version {1}, this side speaks {2}: update the older of client "
            "and server".format(where, version, PROTOCOL_VERSION),
        )


# ---------------------------------------------------------------------------------------
# Channels


def _plain_number(value):
    """A channel value as an int, a finite float or None."""
    if value is None:
        return None
    if value is True or value is False:
        return int(value)
    if _is_int(value):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number, got {0}".format(type(value).__name__)) from None
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def normalize_channels(channels):
    """Make channels wire-ready: ints, finite floats, lists of them; NaN -> None.

    Raises:
        ValueError: a value that is not a number or a short sequence of numbers.
    """
    out = {}
    for key in channels:
        value = channels[key]
        if isinstance(value, (list, tuple)):
            if len(value) > MAX_LIST_CHANNEL_SIZE:
                raise ValueError(
                    "channel {0!r}: list of {1}, at most {2}".format(
                        key, len(value), MAX_LIST_CHANNEL_SIZE
                    )
                )
            out[key] = [_plain_number(item) for item in value]
        else:
            try:
                out[key] = _plain_number(value)
            except ValueError as exc:
                raise ValueError("channel {0!r}: {1}".format(key, exc)) from None
    return out


def check_channels(channels):
    """Check a decoded ``channels`` object; ``null`` becomes NaN."""
    if type(channels) is not dict:
        raise WireError("bad_message", "state.channels: expected an object")
    if len(channels) > MAX_CHANNELS:
        raise WireError(
            "bad_message",
            "state.channels: {0} channels, at most {1}".format(len(channels), MAX_CHANNELS),
        )
    out = {}
    for key in channels:
        value = channels[key]
        if len(key) > MAX_CHANNEL_NAME_CHARS:
            raise WireError(
                "bad_message", "state.channels: name {0!r}... too long".format(key[:64])
            )
        if value is None:
            out[key] = float("nan")
        elif type(value) is float:
            if not _is_finite_float(value):
                raise WireError("bad_message", "state.channels.{0}: not finite".format(key[:64]))
            out[key] = value
        elif _is_int(value) and value is not True and value is not False:
            if not -MAX_INT <= value <= MAX_INT:
                raise WireError(
                    "bad_message", "state.channels.{0}: integer out of range".format(key[:64])
                )
            out[key] = value
        elif type(value) is list:
            if len(value) > MAX_LIST_CHANNEL_SIZE:
                raise WireError("bad_message", "state.channels.{0}: list too long".format(key[:64]))
            items = []
            for item in value:
                if item is None:
                    items.append(float("nan"))
                elif _is_finite_float(item) or (
                    _is_int(item) and item is not True and item is not False
                ):
                    items.append(item)
                else:
                    raise WireError(
                        "bad_message",
                        "state.channels.{0}: list items must be finite numbers or null".format(
                            key[:64]
                        ),
                    )
            out[key] = items
        else:
            raise WireError(
                "bad_message",
                "state.channels.{0}: expected a number, null or a list, got {1}".format(
                    key[:64], type(value).__name__
                ),
            )
    return out


# ---------------------------------------------------------------------------------------
# Ego stream

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
_ERROR_SPEC = {
    "code": ("str", None, 64, False),
    "message": ("str", None, 1024, False),
}
_HELLO_SPEC = {
    "id": ("int", 0, MAX_ID, False),
    "version": ("int", 0, MAX_ID, False),
    "token": ("str", None, TOKEN_MAX_CHARS, True),
    "client": ("str", None, 64, False),
}
_ID_SPEC = {"id": ("int", 0, MAX_ID, False)}


def encode_connect(token, mode, nonce, version=PROTOCOL_VERSION):
    """``connect`` (client to server)."""
    return dumps(
        {"type": "connect", "version": version, "token": token, "mode": mode, "nonce": nonce}
    )


def encode_controls(seq, state_seq, controls):
    """``controls`` (client to server); ``controls`` is a dict like ``SAFE_CONTROLS``."""
    return dumps(
        {
            "type": "controls",
            "seq": seq,
            "state_seq": state_seq,
            "steer": float(controls["steer"]),
            "acc": float(controls["acc"]),
            "brake": float(controls["brake"]),
            "enable_gear_shift": int(bool(controls.get("enable_gear_shift"))),
            "shift_up": int(bool(controls.get("shift_up"))),
            "shift_down": int(bool(controls.get("shift_down"))),
        }
    )


def encode_capture(nonce, seq):
    """The capture helper's trigger after state ``seq`` of session ``nonce`` (mirrors
    ``acgym.protocol.frames.encode_capture``)."""
    return dumps({"type": "capture", "nonce": nonce, "seq": seq})


def encode_disconnect():
    """``disconnect`` (client to server)."""
    return b'{"type":"disconnect"}'


def encode_connected(mode, control_rate_hz, nonce, version=PROTOCOL_VERSION):
    """``connected`` (server to client)."""
    return dumps(
        {
            "type": "connected",
            "version": version,
            "mode": mode,
            "control_rate_hz": float(control_rate_hz),
            "nonce": nonce,
        }
    )


def encode_state(seq, ack, channels):
    """``state`` from already normalized channels (``normalize_channels``).

    Raises:
        ValueError: the datagram would be over ``SERVER_DATAGRAM_MAX_BYTES``.
    """
    data = dumps({"type": "state", "seq": seq, "ack": ack, "channels": channels})
    if len(data) > SERVER_DATAGRAM_MAX_BYTES:
        raise ValueError(
            "state of {0} bytes is over the datagram limit of {1}: send fewer channels".format(
                len(data), SERVER_DATAGRAM_MAX_BYTES
            )
        )
    return data


def encode_disconnected(reason):
    """``disconnected`` (server to client)."""
    return dumps({"type": "disconnected", "reason": reason})


def encode_ego_error(code, message):
    """``error`` on the ego stream (no id)."""
    return dumps({"type": "error", "code": code, "message": message[:1024]})


def decode_from_client(data):
    """Decode a datagram a client sent: a ``connect``, ``controls`` or ``disconnect`` dict.

    ``controls`` come back as ``{"type", "seq", "state_seq", "controls": {...}}``.
    """
    obj = loads_object(data, CLIENT_DATAGRAM_MAX_BYTES, "ego datagram")
    kind = _message_type(obj, ("controls", "connect", "disconnect"), "ego datagram")
    if kind == "controls":
        f = check_fields(obj, _CONTROLS_SPEC, "controls")
        return {
            "type": "controls",
            "seq": f["seq"],
            "state_seq": f["state_seq"],
            "controls": {
                "steer": float(f["steer"]),
                "acc": float(f["acc"]),
                "brake": float(f["brake"]),
                "enable_gear_shift": f["enable_gear_shift"],
                "shift_up": f["shift_up"],
                "shift_down": f["shift_down"],
            },
        }
    if kind == "connect":
        _check_version(obj, "connect")
        f = check_fields(obj, _CONNECT_SPEC, "connect")
        if f["mode"] not in MODES:
            raise WireError(
                "unsupported_mode",
                "connect: unknown mode {0!r}; expected one of {1}".format(f["mode"], MODES),
            )
        f["type"] = "connect"
        return f
    check_fields(obj, {}, "disconnect")
    return {"type": "disconnect"}


def decode_from_server(data):
    """Decode a datagram a server sent: ``state``, ``connected``, ``disconnected``, ``error``."""
    obj = loads_object(data, SERVER_DATAGRAM_MAX_BYTES, "ego datagram")
    kind = _message_type(obj, ("state", "connected", "disconnected", "error"), "ego datagram")
    if kind == "state":
        rest = dict((k, v) for k, v in obj.items() if k != "channels")
        f = check_fields(
            rest, {"seq": ("int", 1, MAX_INT, False), "ack": ("int", 0, MAX_INT, False)}, "state"
        )
        if "channels" not in obj:
            raise WireError("bad_message", "state: missing field 'channels'")
        return {
            "type": "state",
            "seq": f["seq"],
            "ack": f["ack"],
            "channels": check_channels(obj["channels"]),
        }
    if kind == "connected":
        f = check_fields(obj, _CONNECTED_SPEC, "connected")
        if f["mode"] not in MODES:
            raise WireError("bad_message", "connected: unknown mode {0!r}".format(f["mode"]))
        f["type"] = "connected"
        f["control_rate_hz"] = float(f["control_rate_hz"])
        return f
    if kind == "disconnected":
        f = check_fields(obj, {"reason": ("str", None, 64, False)}, "disconnected")
        if f["reason"] not in DISCONNECT_REASONS:
            raise WireError("bad_message", "disconnected: unknown reason {0!r}".format(f["reason"]))
        return {"type": "disconnected", "reason": f["reason"]}
    f = check_fields(obj, _ERROR_SPEC, "error")
    return {"type": "error", "code": f["code"], "message": f["message"]}


# ---------------------------------------------------------------------------------------
# Management: framing

_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size


def encode_frame(payload):
    """Prefix a frame body with its 4-byte big-endian length."""
    if not 1 <= len(payload) <= MAX_FRAME_LIMIT:
        raise ValueError(
            "frame body of {0} bytes; expected 1 to {1}".format(len(payload), MAX_FRAME_LIMIT)
        )
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder(object):
    """Incremental frame decoder: ``feed`` bytes, get whole frame bodies back."""

    def __init__(self, max_frame_bytes):
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._need = None

    def feed(self, data):
        """Add bytes; return the frame bodies they complete, in order.

        Raises:
            WireError: ``too_large`` (length over the limit) or ``bad_message`` (zero
                length); the stream cannot be resynchronized after either.
        """
        self._buffer += data
        frames = []
        while True:
            if self._need is None:
                if len(self._buffer) < HEADER_BYTES:
                    return frames
                length = _HEADER.unpack(bytes(self._buffer[:HEADER_BYTES]))[0]
                if length == 0:
                    raise WireError("bad_message", "frame of length 0: expected a JSON object")
                if length > self.max_frame_bytes:
                    raise WireError(
                        "too_large",
                        "frame of {0} bytes, at most {1}".format(length, self.max_frame_bytes),
                    )
                del self._buffer[:HEADER_BYTES]
                self._need = length
            if len(self._buffer) < self._need:
                return frames
            frames.append(bytes(self._buffer[: self._need]))
            del self._buffer[: self._need]
            self._need = None


# ---------------------------------------------------------------------------------------
# Management: requests and replies


def encode_hello(request_id, token, client="acgym", version=PROTOCOL_VERSION):
    """``hello`` request body."""
    return dumps(
        {"type": "hello", "id": request_id, "version": version, "token": token, "client": client}
    )


def encode_reset(request_id, options=None):
    """``reset`` request body."""
    return dumps({"type": "reset", "id": request_id, "options": dict(options or {})})


def encode_query(request_id, kind):
    """A request without fields: one of ``QUERY_TYPES``."""
    return dumps({"type": kind, "id": request_id})


def check_reset_options(options):
    """Check reset options (type and range of each); returns those that are set."""
    if not isinstance(options, dict):
        raise WireError(
            "bad_message",
            "reset options must be an object, got {0}".format(type(options).__name__),
        )
    out = {}
    for name in options:
        if name not in RESET_OPTION_RANGES:
            raise WireError(
                "bad_message",
                "unknown reset option {0!r}; known: {1}".format(
                    str(name)[:40], ", ".join(sorted(RESET_OPTION_RANGES))
                ),
            )
        kind, low, high = RESET_OPTION_RANGES[name]
        value = check_value(options[name], kind, low, high, "options." + name, nullable=True)
        if value is not None:
            out[name] = value
    return out


def decode_request(payload, max_bytes=MGMT_REQUEST_MAX_BYTES):
    """Decode a management request body to a dict with ``type`` and ``id``.

    Raises:
        WireError: with ``request_id`` set when the request's id could be read.
    """
    obj = loads_object(payload, max_bytes, "request")
    request_id = obj.get("id")
    try:
        kind = _message_type(obj, ("hello", "reset") + QUERY_TYPES, "request")
        if kind == "hello":
            _check_version(obj, "hello")
            f = check_fields(obj, _HELLO_SPEC, "hello")
            f["type"] = "hello"
            return f
        if kind == "reset":
            rest = dict((k, v) for k, v in obj.items() if k != "options")
            f = check_fields(rest, _ID_SPEC, "reset")
            if "options" not in obj:
                raise WireError("bad_message", "reset: missing field 'options'")
            return {"type": "reset", "id": f["id"], "options": check_reset_options(obj["options"])}
        f = check_fields(obj, _ID_SPEC, kind)
        return {"type": kind, "id": f["id"]}
    except WireError as exc:
        if _is_int(request_id) and 0 <= request_id <= MAX_ID:
            exc.request_id = request_id
        raise


def encode_ok(request_id, result):
    """Success reply body (``ValueError`` when the result holds NaN or infinity)."""
    return dumps({"type": "ok", "id": request_id, "result": result})


def encode_error_reply(request_id, code, message):
    """Failure reply body."""
    return dumps({"type": "error", "id": request_id, "code": code, "message": message[:1024]})


def decode_reply(payload, request_type, request_id, max_bytes=MGMT_REPLY_MAX_BYTES):
    """Decode a reply body: ``{"type": "ok", "id", "result"}`` or an ``error`` dict."""
    obj = loads_object(payload, max_bytes, "reply to " + request_type)
    kind = _message_type(obj, ("ok", "error"), "reply to " + request_type)
    reply_id = obj.get("id")
    if kind == "error":
        rest = dict((k, v) for k, v in obj.items() if k != "id")
        f = check_fields(rest, _ERROR_SPEC, "error")
        if reply_id is not None and reply_id != request_id:
            raise WireError(
                "bad_message", "error reply id {0!r}, expected {1}".format(reply_id, request_id)
            )
        return {"type": "error", "id": reply_id, "code": f["code"], "message": f["message"]}
    check_value(reply_id, "int", 0, MAX_ID, "ok.id")
    if reply_id != request_id:
        raise WireError("bad_message", "reply id {0}, expected {1}".format(reply_id, request_id))
    if sorted(obj) != ["id", "result", "type"]:
        raise WireError(
            "bad_message", "ok: expected fields type, id, result, got {0}".format(sorted(obj))
        )
    if type(obj["result"]) is not dict:
        raise WireError("bad_message", "ok.result: expected an object")
    check_plain(obj["result"], "result", depth=6)
    return {"type": "ok", "id": reply_id, "result": obj["result"]}


def check_static_info(info):
    """Check a static-info object: the required keys and plain values."""
    if type(info) is not dict:
        raise WireError("bad_message", "static info: expected an object")
    for key, kind in STATIC_INFO_REQUIRED:
        if key not in info:
            raise WireError("bad_message", "static info: missing {0!r}".format(key))
        check_value(info[key], kind, None, None, "static info." + key)
    check_plain(info, "static info", depth=5)
    return info


def check_config(config):
    """Check a config object: flat, with ``ego_sampling_freq`` (Hz)."""
    if type(config) is not dict:
        raise WireError("bad_message", "config: expected an object")
    if "ego_sampling_freq" not in config:
        raise WireError("bad_message", "config: missing 'ego_sampling_freq' (Hz)")
    check_value(config["ego_sampling_freq"], "num", 1e-3, 1e4, "config.ego_sampling_freq")
    check_plain(config, "config", depth=3)
    return config


TRACK_LINE_KEYS = ("left_lane", "right_lane", "fast_lane")
TRACK_ARRAY_KEYS = ("throttle_arr", "brake_arr", "speed_arr", "angle_array")


def _is_number(value):
    return _is_int(value) or _is_finite_float(value)


def check_track_info(track):
    """Check a track-info object: ``{}`` or borders, AI line and per-point arrays."""
    if type(track) is not dict:
        raise WireError("bad_message", "track info: expected an object")
    for key in track:
        value = track[key]
        where = "track info." + str(key)
        if key in TRACK_LINE_KEYS:
            if type(value) is not list or len(value) > MAX_TRACK_POINTS:
                raise WireError("bad_message", where + ": expected a list of [x, y] points")
            for point in value:
                if (
                    type(point) is not list
                    or len(point) != 2
                    or not _is_number(point[0])
                    or not _is_number(point[1])
                ):
                    raise WireError(
                        "bad_message",
                        "{0}: expected [x, y] numbers, got {1}".format(where, show_value(point)),
                    )
        elif key in TRACK_ARRAY_KEYS:
            if type(value) is not list or len(value) > MAX_TRACK_POINTS:
                raise WireError("bad_message", where + ": expected a list of numbers")
            for item in value:
                if not _is_number(item):
                    raise WireError(
                        "bad_message",
                        "{0}: expected numbers, got {1}".format(where, show_value(item)),
                    )
        else:
            raise WireError("bad_message", "track info: unknown key {0!r}".format(str(key)[:40]))
    return track


def plain(value):
    """Tuples to lists, recursively; NaN and infinities to None (for replies)."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return value
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------
# Legacy: the original sensors_par plugin's format (docs/protocol.md, "Legacy mode")

LEGACY_DATAGRAM_MAX_BYTES = 1024
LEGACY_CONTROL_RATE_HZ = 25.0
WORD_CONNECT = "connect"
WORD_IDENTIFIED = "identified"
WORD_DISCONNECT = "disconnect"
WORD_RESET = "reset"
MGMT_WORDS = ("reset", "get_static_info", "get_config", "get_track_info")

TYRES = ("fl", "fr", "rl", "rr")

LEGACY_LIST_CHANNELS = (
    "Mz",
    "dynamic_pressure",
    "tyre_loaded_radius",
    "tyres_load",
    "NdSlip",
    "SuspensionTravel",
    "CamberRad",
)
"""Channels whose value is a 4-element list (fl, fr, rl, rr)."""

LEGACY_INT_CHANNELS = (
    "steps",
    "total_errors_out_of_sync",
    "packetId",
    "currentTime",
    "actualGear",
    "LapInvalidated",
    "LapCount",
    "BestLap",
    "iLastTime",
    "completedLaps",
    "numberOfTyresOut",
    "isInPit",
)
"""Channels whose zero value is the integer 0 (the others are 0.0)."""


def _legacy_state_channels():
    names = [
        "steps",
        "timestamp_ac",
        "total_errors_out_of_sync",
        "packetId",
        "currentTime",
        "world_position_x",
        "world_position_y",
        "world_position_z",
        "speed",
        "local_velocity_x",
        "local_velocity_y",
        "local_velocity_z",
        "accelX",
        "accelY",
        "accStatus",
        "brakeStatus",
        "actualGear",
        "RPM",
        "steerAngle",
        "yaw",
        "pitch",
        "roll",
        "LastFF",
        "LapInvalidated",
        "NormalizedSplinePosition",
        "LapCount",
        "BestLap",
        "iLastTime",
        "completedLaps",
        "numberOfTyresOut",
        "isInPit",
        "penaltyTime",
        "angular_velocity_x",
        "angular_velocity_y",
        "angular_velocity_z",
        "velocity_x",
        "velocity_y",
        "velocity_z",
        "cgHeight",
    ]
    names += ["SlipAngle_" + t for t in TYRES]
    names += ["tyreContactHeading_{0}_{1}".format(t.upper(), a) for t in TYRES for a in "xyz"]
    names += ["tyre_slip_ratio_" + t for t in TYRES]
    names += ["Mz"]
    names += ["Dy_" + t for t in TYRES]
    names += ["dynamic_pressure", "tyre_loaded_radius", "tyres_load", "NdSlip"]
    names += ["SuspensionTravel", "CamberRad"]
    names += ["wheel_speed_" + t for t in TYRES]
    names += [t + "_tire_temperature_core" for t in TYRES]
    names += [t + "_damper_linear_potentiometer" for t in TYRES]
    names += [t + "_wheel_load" for t in TYRES]
    names += [t + "_tire_pressure" for t in TYRES]
    return tuple(names)


LEGACY_STATE_CHANNELS = _legacy_state_channels()
"""Every key of the original plugin's state (90), in its order; ``done`` is added."""

LEGACY_CONFIG_KEYS = (
    ("version", "0.0.1"),
    ("sampling_freq", 50),
    ("sampling_time", 0.02),
    ("ego_server_host_name", "0.0.0.0"),
    ("ego_server_port", 2345),
    ("ego_sampling_freq", 25),
    ("telemetry_sampling_freq", 0),
    ("opponents_server_host_name", "0.0.0.0"),
    ("opponents_server_port", 2346),
    ("simulation_management_server_host_name", "0.0.0.0"),
    ("simulation_management_server_port", 2347),
    ("enable_profiler", False),
    ("vjoy_executed_by_server", False),
    ("enable_alternative_python_interpreter", False),
    ("config_python_env_name", "p309"),
    ("config_python_executable", None),
    ("screen_capture_worker", "screen_capture_worker.py"),
    ("ego_sampling_freq_event_name", "Local\\EgoSamplingFreqEvent"),
    ("screen_capture_enable", False),
    ("final_image_width", 320),
    ("final_image_height", 240),
    ("screen_capture_freq", 25),
    ("screen_capture_save_to_disk", False),
    ("screen_capture_save_path", "captures"),
    ("screen_capture_verbose", False),
    ("relocate_screen", True),
    ("trigger_image_capture_event_name", "Local\\TriggerImageCapture"),
    ("color_mode", "gray"),
)
"""The 28 keys of the original plugin's ``config.py`` and their defaults, in order."""


def legacy_default_value(name):
    """The zero value of a legacy channel: 0, 0.0 or [0.0] * 4."""
    if name in LEGACY_LIST_CHANNELS:
        return [0.0, 0.0, 0.0, 0.0]
    if name in LEGACY_INT_CHANNELS:
        return 0
    return 0.0


def eval_safe(value):
    """Make a value readable by Python's ``eval``: None/NaN/inf -> 0, bools -> 0/1.

    Returns:
        The value and how many values were replaced by 0.
    """
    if value is None:
        return 0, 1
    if value is True or value is False:
        return int(value), 0
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return 0, 1
        return value, 0
    if isinstance(value, (list, tuple)):
        replaced = 0
        items = []
        for item in value:
            item, count = eval_safe(item)
            items.append(item)
            replaced += count
        return items, replaced
    if isinstance(value, dict):
        replaced = 0
        out = {}
        for key in value:
            out[key], count = eval_safe(value[key])
            replaced += count
        return out, replaced
    return value, 0


def legacy_encode_state(channels):
    """A state for the original client: every original key, eval-safe, plus ``done``.

    Returns:
        The datagram and how many values were replaced by 0.
    """
    normalized = normalize_channels(channels)
    state = {}
    for name in LEGACY_STATE_CHANNELS:
        if name in normalized:
            state[name] = normalized.pop(name)
        else:
            state[name] = legacy_default_value(name)
    state.update(normalized)
    state.setdefault("done", 0)
    safe, replaced = eval_safe(state)
    return json.dumps(safe, allow_nan=False).encode("ascii"), replaced


def legacy_encode_json(obj):
    """A reply (static info, track info) that the original client can ``eval``."""
    safe, replaced = eval_safe(plain(obj))
    return json.dumps(safe, allow_nan=False).encode("ascii"), replaced


def legacy_config_dict(config, ego_address, mgmt_address):
    """The original's 28-key config with the plugin's values and the bound addresses."""
    out = {}
    for key, default in LEGACY_CONFIG_KEYS:
        out[key] = config.get(key, default)
    out["ego_server_host_name"] = ego_address[0]
    out["ego_server_port"] = ego_address[1]
    out["simulation_management_server_host_name"] = mgmt_address[0]
    out["simulation_management_server_port"] = mgmt_address[1]
    for key in out:
        value = out[key]
        if value is not None and not isinstance(value, (bool, int, float, str)):
            out[key] = str(value)
        elif isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            out[key] = None
    return out


def legacy_encode_config(config):
    """``str(dict)``, as the original sends it: a Python literal, not JSON."""
    return repr(config).encode("utf-8")


def legacy_encode_controls(controls, server_steps):
    """Controls as the original client sends them (values clipped to [-1, 1])."""
    values = {}
    for name in ("steer", "acc", "brake"):
        value = float(controls[name])
        if math.isnan(value) or math.isinf(value):
            raise ValueError("controls.{0}: {1} is not finite".format(name, value))
        values[name] = min(1.0, max(-1.0, value))
    for name in ("enable_gear_shift", "shift_up", "shift_down"):
        values[name] = 1 if controls.get(name) else 0
    values["server_steps"] = int(server_steps)
    return json.dumps(values, separators=(",", ":"), allow_nan=False).encode("ascii")


def legacy_decode_controls(data):
    """Decode the original client's controls: ``(controls dict, server_steps)``.

    Values are clipped to [-1, 1]; extra keys are ignored.

    Raises:
        WireError: not a JSON object (``bad_json``), no integer ``server_steps`` or a
            value that is not a finite number / flag (``bad_message``).
    """
    if len(data) > LEGACY_DATAGRAM_MAX_BYTES:
        raise WireError("too_large", "legacy datagram of {0} bytes or more".format(len(data)))
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RuntimeError) as exc:
        raise WireError(
            "bad_json", "legacy controls: not valid JSON ({0})".format(str(exc)[:120])
        ) from None
    if type(obj) is not dict:
        raise WireError("bad_json", "legacy controls: expected a JSON object")
    if "server_steps" not in obj:
        raise WireError("bad_message", "legacy controls: missing 'server_steps'")
    server_steps = obj["server_steps"]
    if not _is_int(server_steps) or server_steps is True or server_steps is False:
        raise WireError(
            "bad_message",
            "legacy controls: server_steps {0!r} is not an int".format(str(server_steps)[:40]),
        )
    controls = {}
    for name, default in (("steer", 0.0), ("acc", -1.0), ("brake", -1.0)):
        value = obj.get(name, default)
        if value is True or value is False or not (_is_int(value) or _is_finite_float(value)):
            raise WireError(
                "bad_message",
                "legacy controls: {0} {1!r} is not a finite number".format(name, str(value)[:40]),
            )
        if _is_int(value):
            value = max(-2, min(2, value))  # clipped below anyway; float(10**400) overflows
        controls[name] = min(1.0, max(-1.0, float(value)))
    for name in ("enable_gear_shift", "shift_up", "shift_down"):
        value = obj.get(name, 0)
        if not ((_is_int(value) or value is True or value is False) and value in (0, 1)):
            raise WireError(
                "bad_message", "legacy controls: {0} {1!r} is not 0/1".format(name, str(value)[:40])
            )
        controls[name] = bool(value)
    return controls, server_steps

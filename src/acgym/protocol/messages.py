"""Protocol v1 messages: constants, typed message values and their schemas.

Every message is a flat JSON object with a ``type``. This module says which types exist,
which fields each has, and the type and range of every field (docs/protocol.md is the
prose version). ``acgym.protocol.codec`` turns bytes into these values and back.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from acgym.errors import ProtocolError

PROTOCOL_VERSION = 1
"""Carried by ``hello`` and ``connect``; another version is refused."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_EGO_PORT = 2345
DEFAULT_MGMT_PORT = 2347
DEFAULT_CONTROL_RATE_HZ = 25.0

CLIENT_DATAGRAM_MAX_BYTES = 1024
"""Largest datagram a client sends (connect, controls, disconnect)."""
SERVER_DATAGRAM_MAX_BYTES = 16384
"""Largest datagram a server sends (states)."""
MGMT_REQUEST_MAX_BYTES = 65536
"""Largest management request frame body a server accepts."""
MGMT_REPLY_MAX_BYTES = 16 * 1024 * 1024
"""Largest management reply frame body a client accepts by default (tracks are MBs)."""

MAX_CHANNELS = 256
MAX_CHANNEL_NAME_CHARS = 64
MAX_LIST_CHANNEL_SIZE = 16
MAX_TRACK_POINTS = 1_000_000
MAX_STRING_CHARS = 256
TOKEN_MAX_CHARS = 256
MAX_INT = 2**53
"""Largest integer magnitude on the wire (exact in a double)."""
MAX_ID = 2**31 - 1

Mode = Literal["realtime", "lockstep"]
MODES: tuple[str, ...] = ("realtime", "lockstep")

ERROR_CODES: tuple[str, ...] = (
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
DISCONNECT_REASONS: tuple[str, ...] = ("replaced", "server_closing", "client_timeout")
QUERY_TYPES: tuple[str, ...] = (
    "get_static_info",
    "get_config",
    "get_track_info",
    "get_counters",
)


class RejectedMessage(ProtocolError):
    """A message broke the protocol; ``code`` is its error code (docs/protocol.md)."""

    def __init__(self, code: str, message: str) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class Controls:
    """The car's inputs: steer, acc, brake in [-1, 1] (-1 = full left / released)."""

    steer: float = 0.0
    acc: float = -1.0
    brake: float = -1.0
    enable_gear_shift: bool = False
    shift_up: bool = False
    shift_down: bool = False


SAFE_CONTROLS = Controls()
"""Steer centred, pedals released, no gear shift."""

RESET_OPTION_RANGES: dict[str, tuple[str, float, float]] = {
    "distance_m": ("num", 0.0, 1e7),
    "lateral_offset_m": ("num", -100.0, 100.0),
    "heading_offset_rad": ("num", -math.pi, math.pi),
    "speed_mps": ("num", 0.0, 150.0),
    "seed": ("int", 0, MAX_ID),
}
"""Reset option name -> (kind, min, max)."""


@dataclass(frozen=True, slots=True)
class ResetOptions:
    """Where and how an episode starts; ``None`` = the backend's default."""

    distance_m: float | None = None
    lateral_offset_m: float | None = None
    heading_offset_rad: float | None = None
    speed_mps: float | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, float | int]:
        """The options that are set, by name."""
        return {
            name: getattr(self, name)
            for name in RESET_OPTION_RANGES
            if getattr(self, name) is not None
        }

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> ResetOptions:
        """Check a mapping of options (type and range of each) and build the value."""
        if options is None:
            return cls()
        if not isinstance(options, Mapping):
            raise RejectedMessage(
                "bad_message", f"reset options must be an object, got {type(options).__name__}"
            )
        values: dict[str, Any] = {}
        for name, value in options.items():
            if name not in RESET_OPTION_RANGES:
                raise RejectedMessage(
                    "bad_message",
                    f"unknown reset option {str(name)[:40]!r}; known: {', '.join(RESET_OPTION_RANGES)}",
                )
            kind, low, high = RESET_OPTION_RANGES[name]
            values[name] = check_value(value, kind, low, high, f"options.{name}", nullable=True)
        return cls(**values)


# Ego stream, client -> server


@dataclass(frozen=True, slots=True)
class Connect:
    """Ask to become the ego stream's client."""

    token: str | None
    mode: str
    nonce: int
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class ControlsMessage:
    """Controls for the car, with sequence numbers both ways."""

    seq: int
    state_seq: int
    controls: Controls


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Stop streaming to this client."""


# Ego stream, server -> client


@dataclass(frozen=True, slots=True)
class Connected:
    """Accepted ``connect``."""

    mode: str
    control_rate_hz: float
    nonce: int
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class State:
    """One state of the car: channels by wire name."""

    seq: int
    ack: int
    channels: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The server stopped streaming to this client, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class ErrorMessage:
    """A refusal: ``code`` from ``ERROR_CODES``; ``id`` of the request (management)."""

    code: str
    message: str
    id: int | None = None


# Management requests and replies


@dataclass(frozen=True, slots=True)
class Hello:
    """First request of every management connection."""

    id: int
    token: str | None
    client: str = "acgym"
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class Reset:
    """Start a new episode."""

    id: int
    options: ResetOptions = field(default_factory=ResetOptions)


@dataclass(frozen=True, slots=True)
class Query:
    """A request without fields: one of ``QUERY_TYPES``."""

    id: int
    type: str


@dataclass(frozen=True, slots=True)
class Ok:
    """Success reply to request ``id``."""

    id: int
    result: dict[str, Any]


Request = Hello | Reset | Query
EgoFromClient = Connect | ControlsMessage | Disconnect
EgoFromServer = Connected | State | Disconnected | ErrorMessage


# ---------------------------------------------------------------------------------------
# Field checks


def check_value(
    value: Any, kind: str, low: float | None, high: float | None, where: str, nullable: bool = False
) -> Any:
    """Check one field's type and range; returns it normalized (flags as bool).

    ``kind``: ``int``, ``num`` (int or float, finite), ``flag`` (0/1 or bool), ``str``
    (``high`` = max chars).
    """
    if value is None:
        if nullable:
            return None
        raise RejectedMessage("bad_message", f"{where}: expected a value, got null")
    if kind == "flag":
        if value is True or value is False:
            return value
        if type(value) is int and value in (0, 1):
            return bool(value)
        raise RejectedMessage("bad_message", f"{where}: expected 0 or 1, got {show_value(value)}")
    if kind == "str":
        if type(value) is not str:
            raise RejectedMessage(
                "bad_message", f"{where}: expected a string, got {show_value(value)}"
            )
        limit = MAX_STRING_CHARS if high is None else int(high)
        if len(value) > limit:
            raise RejectedMessage(
                "bad_message", f"{where}: string of {len(value)} characters, at most {limit}"
            )
        return value
    if kind == "int":
        if type(value) is not int:
            raise RejectedMessage(
                "bad_message", f"{where}: expected an integer, got {show_value(value)}"
            )
    elif kind == "num":
        if type(value) is float:
            if not math.isfinite(value):
                raise RejectedMessage(
                    "bad_message", f"{where}: expected a finite number, got {value}"
                )
        elif type(value) is not int:
            raise RejectedMessage(
                "bad_message", f"{where}: expected a number, got {show_value(value)}"
            )
    else:  # pragma: no cover - internal table error
        raise AssertionError(kind)
    if (low is not None and value < low) or (high is not None and value > high):
        raise RejectedMessage(
            "bad_message", f"{where}: {show_value(value)} is out of range [{low}, {high}]"
        )
    return value


def check_fields(
    obj: dict[str, Any],
    spec: Mapping[str, tuple[str, float | None, float | None, bool]],
    where: str,
) -> dict[str, Any]:
    """Check an object against ``spec`` (name -> (kind, min, max, nullable)).

    Every field is required, and no other field may appear besides ``type``.
    """
    for name in obj:
        if name != "type" and name not in spec:
            raise RejectedMessage("bad_message", f"{where}: unknown field {str(name)[:40]!r}")
    out = {}
    for name, (kind, low, high, nullable) in spec.items():
        if name not in obj:
            raise RejectedMessage("bad_message", f"{where}: missing field {name!r}")
        out[name] = check_value(obj[name], kind, low, high, f"{where}.{name}", nullable)
    return out


def check_plain(value: Any, where: str, depth: int = 4) -> None:
    """Check a free-form value: numbers, strings, bools, null, arrays/objects to ``depth``."""
    if value is None or type(value) in (bool, int, str):
        if type(value) is int and abs(value) > MAX_INT:
            raise RejectedMessage("bad_message", f"{where}: integer out of range")
        return
    if type(value) is float:
        if not math.isfinite(value):  # JSON "1e999" parses to inf
            raise RejectedMessage("bad_message", f"{where}: expected a finite number")
        return
    if depth <= 0:
        raise RejectedMessage("bad_message", f"{where}: nested too deep")
    if type(value) is list:
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]", depth - 1)
        return
    if type(value) is dict:
        for key, item in value.items():
            check_plain(item, f"{where}.{key}", depth - 1)
        return
    raise RejectedMessage("bad_message", f"{where}: unexpected {type(value).__name__}")


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3  # a value nested a thousand deep is described, not recursed into
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 40


def show_value(value: Any) -> str:
    """A short description of a received value for an error message (at most 40
    characters, at most 3 levels deep: ``repr`` of a deeply nested value would recurse)."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------------------
# Result schemas (management replies)

STATIC_INFO_REQUIRED: dict[str, str] = {
    "TrackName": "str",
    "TrackConfiguration": "str",
    "TrackLength": "num",
    "CarName": "str",
    "WindSpeed": "num",
    "WindDirection": "num",
    "autoShifterOn": "flag",
    "penaltiesEnabled": "flag",
    "backend": "str",
    "backend_version": "str",
}
"""Keys every static-info reply has, and their kinds."""

TRACK_LINE_KEYS = ("left_lane", "right_lane", "fast_lane")
TRACK_ARRAY_KEYS = ("throttle_arr", "brake_arr", "speed_arr", "angle_array")


def check_hello_result(result: dict[str, Any]) -> dict[str, Any]:
    """Check the ``hello`` reply's result."""
    spec = {
        "version": ("int", 0, MAX_ID, False),
        "server": ("str", None, MAX_STRING_CHARS, False),
        "backend": ("str", None, 64, False),
        "control_rate_hz": ("num", 1e-3, 1e4, False),
        "ego_port": ("int", 0, 65535, False),
        "max_request_bytes": ("int", 1, MAX_INT, False),
    }
    rest = {k: v for k, v in result.items() if k not in ("modes", "reset_options")}
    out = check_fields(rest, spec, "hello result")
    for key, allowed in (("modes", MODES), ("reset_options", tuple(RESET_OPTION_RANGES))):
        values = result.get(key)
        if type(values) is not list or not all(v in allowed for v in values):
            raise RejectedMessage(
                "bad_message",
                f"hello result.{key}: expected a list of {allowed}, got {show_value(values)}",
            )
        out[key] = list(values)
    return out


def check_static_info(info: Any) -> dict[str, Any]:
    """Check a static-info object: the required keys and plain values."""
    if type(info) is not dict:
        raise RejectedMessage(
            "bad_message", f"static info: expected an object, got {show_value(info)}"
        )
    for key, kind in STATIC_INFO_REQUIRED.items():
        if key not in info:
            raise RejectedMessage("bad_message", f"static info: missing {key!r}")
        check_value(info[key], kind, None, None, f"static info.{key}")
    check_plain(info, "static info", depth=5)
    return info


def check_config(config: Any) -> dict[str, Any]:
    """Check a config object: flat, with ``ego_sampling_freq``."""
    if type(config) is not dict:
        raise RejectedMessage(
            "bad_message", f"config: expected an object, got {show_value(config)}"
        )
    if "ego_sampling_freq" not in config:
        raise RejectedMessage("bad_message", "config: missing 'ego_sampling_freq' (Hz)")
    check_value(config["ego_sampling_freq"], "num", 1e-3, 1e4, "config.ego_sampling_freq")
    check_plain(config, "config", depth=3)
    return config


def check_track_info(track: Any) -> dict[str, Any]:
    """Check a track-info object: ``{}`` or borders, AI line and per-point arrays."""
    if type(track) is not dict:
        raise RejectedMessage(
            "bad_message", f"track info: expected an object, got {show_value(track)}"
        )
    for key, value in track.items():
        if key in TRACK_LINE_KEYS:
            _check_points(value, f"track info.{key}")
        elif key in TRACK_ARRAY_KEYS:
            _check_numbers(value, f"track info.{key}")
        else:
            raise RejectedMessage("bad_message", f"track info: unknown key {str(key)[:40]!r}")
    return track


def _check_points(value: Any, where: str) -> None:
    if type(value) is not list or len(value) > MAX_TRACK_POINTS:
        raise RejectedMessage("bad_message", f"{where}: expected a list of [x, y] points")
    for point in value:
        if (
            type(point) is not list
            or len(point) != 2
            or not _is_number(point[0])
            or not _is_number(point[1])
        ):
            raise RejectedMessage(
                "bad_message", f"{where}: expected [x, y] numbers, got {show_value(point)}"
            )


def _check_numbers(value: Any, where: str) -> None:
    if type(value) is not list or len(value) > MAX_TRACK_POINTS:
        raise RejectedMessage("bad_message", f"{where}: expected a list of numbers")
    for item in value:
        if not _is_number(item):
            raise RejectedMessage(
                "bad_message", f"{where}: expected numbers, got {show_value(item)}"
            )


def _is_number(value: Any) -> bool:
    kind = type(value)
    return (kind is float and math.isfinite(value)) or kind is int


def check_counters(counters: Any) -> dict[str, int]:
    """Check a counters object: names to non-negative integers."""
    if type(counters) is not dict:
        raise RejectedMessage(
            "bad_message", f"counters: expected an object, got {show_value(counters)}"
        )
    for key, value in counters.items():
        check_value(value, "int", 0, MAX_INT, f"counters.{key}")
    return counters


def check_reset_result(result: Any) -> dict[str, Any]:
    """Check the ``reset`` reply's result."""
    if type(result) is not dict:
        raise RejectedMessage(
            "bad_message", f"reset result: expected an object, got {show_value(result)}"
        )
    return check_fields(result, {"first_seq": ("int", 0, MAX_INT, False)}, "reset result")


RESULT_CHECKS = {
    "hello": check_hello_result,
    "reset": check_reset_result,
    "get_static_info": check_static_info,
    "get_config": check_config,
    "get_track_info": check_track_info,
    "get_counters": check_counters,
}
"""Request type -> the check of its reply's result."""

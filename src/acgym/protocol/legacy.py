"""The original sensors_par plugin's wire format, read and written safely.

Both directions (docs/protocol.md, "Legacy mode"):

- talking to the original plugin: encode controls it cannot choke on (it dies on any
  malformed datagram), read its states, JSON replies and ``str(dict)`` config without
  ``eval``, and read a reply to its end even when it arrives in several TCP segments;
- serving the original ``ac_client.py``: states, static info and track info as JSON that
  its ``eval`` reads (no ``true``/``false``/``null``/``NaN``), and its 28-key config as a
  Python literal.
"""

from __future__ import annotations

import ast
import json
import math
import numbers
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from acgym.errors import BackendError, ProtocolError
from acgym.protocol import channels as ch
from acgym.protocol.channels import LEGACY_STATE_CHANNELS, default_value
from acgym.protocol.codec import normalize_channels, normalize_plain
from acgym.protocol.messages import Controls, RejectedMessage, check_track_info

LEGACY_DATAGRAM_MAX_BYTES = 1024
"""The original ego server reads at most this much of a datagram."""
LEGACY_STATE_MAX_BYTES = 65536
"""Largest legacy state a legacy client accepts (the original's are ~2.5 KB)."""
LEGACY_CONFIG_MAX_BYTES = 65536
"""Largest ``get_config`` literal a legacy client parses."""
LEGACY_QUIET_S = 0.1
"""A reply is complete when it parses after this long without new bytes."""
LEGACY_CONTROL_RATE_HZ = 25.0
LEGACY_RESET_WAIT_S = 1.0
"""The original client waits this long after ``reset`` (no reply comes)."""

WORD_CONNECT = "connect"
WORD_IDENTIFIED = "identified"
WORD_DISCONNECT = "disconnect"
WORD_RESET = "reset"
MGMT_WORDS: tuple[str, ...] = ("reset", "get_static_info", "get_config", "get_track_info")

CONTROL_KEYS: tuple[str, ...] = (
    "steer",
    "acc",
    "brake",
    "enable_gear_shift",
    "shift_up",
    "shift_down",
    "server_steps",
)

LEGACY_CONFIG_DEFAULTS: dict[str, Any] = {
    "version": "0.0.1",
    "sampling_freq": 50,
    "sampling_time": 0.02,
    "ego_server_host_name": "0.0.0.0",
    "ego_server_port": 2345,
    "ego_sampling_freq": 25,
    "telemetry_sampling_freq": 0,
    "opponents_server_host_name": "0.0.0.0",
    "opponents_server_port": 2346,
    "simulation_management_server_host_name": "0.0.0.0",
    "simulation_management_server_port": 2347,
    "enable_profiler": False,
    "vjoy_executed_by_server": False,
    "enable_alternative_python_interpreter": False,
    "config_python_env_name": "p309",
    "config_python_executable": None,
    "screen_capture_worker": "screen_capture_worker.py",
    "ego_sampling_freq_event_name": "Local\\EgoSamplingFreqEvent",
    "screen_capture_enable": False,
    "final_image_width": 320,
    "final_image_height": 240,
    "screen_capture_freq": 25,
    "screen_capture_save_to_disk": False,
    "screen_capture_save_path": "captures",
    "screen_capture_verbose": False,
    "relocate_screen": True,
    "trigger_image_capture_event_name": "Local\\TriggerImageCapture",
    "color_mode": "gray",
}
"""The 28 keys of the original plugin's ``config.py`` and their default values."""

T = TypeVar("T")


# ---------------------------------------------------------------------------------------
# Talking to the original plugin


def encode_controls(controls: Controls, server_steps: int) -> bytes:
    """Encode controls the original ego server accepts, or raise before anything is sent.

    Values are checked finite and clipped to [-1, 1]; flags become 0/1; ``server_steps``
    is always present.

    Raises:
        ProtocolError: a non-finite or non-numeric value, or a datagram over 1024 bytes.
    """
    values: dict[str, Any] = {}
    for name in ("steer", "acc", "brake"):
        value = getattr(controls, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ProtocolError(f"controls.{name}: expected a number, got {value!r}")
        value = (
            float(max(-2, min(2, value))) if isinstance(value, numbers.Integral) else float(value)
        )
        if not math.isfinite(value):
            raise ProtocolError(f"controls.{name}: {value} is not finite; nothing was sent")
        values[name] = min(1.0, max(-1.0, value))
    for name in ("enable_gear_shift", "shift_up", "shift_down"):
        values[name] = 1 if getattr(controls, name) else 0
    if type(server_steps) is not int or server_steps < 0:
        raise ProtocolError(f"server_steps: expected a non-negative int, got {server_steps!r}")
    values["server_steps"] = server_steps
    data = json.dumps(values, separators=(",", ":"), allow_nan=False).encode("ascii")
    if len(data) > LEGACY_DATAGRAM_MAX_BYTES:  # pragma: no cover - 7 short fields
        raise ProtocolError(f"legacy controls of {len(data)} bytes; the plugin reads 1024")
    return data


def parse_state(data: bytes) -> dict[str, Any]:
    """Parse an original plugin's state datagram: a flat JSON object (``NaN`` allowed).

    Raises:
        ProtocolError: too large, not JSON, not a flat object of numbers, strings and
            lists of numbers.
    """
    obj = _loads_legacy_json(data, LEGACY_STATE_MAX_BYTES, "legacy state")
    for key, value in obj.items():
        kind = type(value)
        if kind in (int, float, str, bool) or value is None:
            continue
        if kind is list and all(type(item) in (int, float) for item in value):
            continue
        raise ProtocolError(f"legacy state.{key[:64]}: unexpected {kind.__name__}")
    return obj


def parse_json_reply(data: bytes, max_bytes: int, where: str) -> dict[str, Any]:
    """Parse a JSON object reply of the original plugin (``NaN`` allowed)."""
    return _loads_legacy_json(data, max_bytes, where)


def parse_static_info(data: bytes, max_bytes: int) -> dict[str, Any]:
    """Parse the original's ``get_static_info`` reply and add the v1 keys it lacks."""
    info = _loads_legacy_json(data, max_bytes, "legacy static info")
    for key in ("TrackName", "TrackLength", "CarName"):
        if key not in info:
            raise ProtocolError(
                f"legacy static info: missing {key!r}; is this the sensors_par plugin?"
            )
    if not isinstance(info.get("TrackConfiguration"), str):
        info["TrackConfiguration"] = ""  # the game gives -1 when there is none
    info.setdefault("backend", "assetto_corsa")
    info.setdefault("backend_version", "sensors_par")
    return info


def parse_track_info(data: bytes, max_bytes: int) -> dict[str, Any]:
    """Parse the original's ``get_track_info`` reply and check its arrays."""
    track = _loads_legacy_json(data, max_bytes, "legacy track info")
    try:
        return check_track_info(track)
    except ProtocolError as exc:
        raise ProtocolError(f"legacy {exc}") from None


def parse_config(data: bytes, max_bytes: int = LEGACY_CONFIG_MAX_BYTES) -> dict[str, Any]:
    """Parse the original's ``get_config`` reply, ``str(dict)``, with ``ast.literal_eval``.

    Raises:
        ProtocolError: too large, not a literal dict of string keys to plain values, or
            without ``ego_sampling_freq``.
    """
    if len(data) > max_bytes:
        raise ProtocolError(f"legacy config: {len(data)} bytes, at most {max_bytes}")
    try:
        value = ast.literal_eval(data.decode("utf-8"))
    except (
        UnicodeDecodeError,
        ValueError,
        SyntaxError,
        TypeError,
        MemoryError,
        RecursionError,
    ) as exc:
        raise ProtocolError(f"legacy config: not a Python literal ({str(exc)[:120]})") from None
    if type(value) is not dict:
        raise ProtocolError(f"legacy config: expected a dict, got {type(value).__name__}")
    for key, item in value.items():
        if type(key) is not str or not (item is None or type(item) in (bool, int, float, str)):
            raise ProtocolError(f"legacy config: unexpected entry {str(key)[:40]!r}")
    if "ego_sampling_freq" not in value:
        raise ProtocolError(
            "legacy config: missing 'ego_sampling_freq'; is this the sensors_par plugin?"
        )
    return value


def _loads_legacy_json(data: bytes, max_bytes: int, where: str) -> dict[str, Any]:
    if len(data) > max_bytes:
        raise ProtocolError(f"{where}: {len(data)} bytes, at most {max_bytes}")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"{where}: not valid JSON ({str(exc)[:120]})") from None
    if type(obj) is not dict:
        raise ProtocolError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return obj


def read_reply(
    sock: socket.socket,
    parse: Callable[[bytes], T],
    *,
    max_bytes: int,
    deadline_s: float,
    quiet_s: float = LEGACY_QUIET_S,
    where: str,
) -> T:
    """Read a reply to its end, whatever the server: until the peer closes, or until it
    parses after ``quiet_s`` without new bytes (a prefix of an object never parses).

    Raises:
        BackendError: no complete reply before ``deadline_s`` (``time.monotonic``).
        ProtocolError: over ``max_bytes``, or the peer closed after an unparsable reply.
    """
    buffer = bytearray()
    last_error = "no bytes"
    parsed_size = -1
    while True:
        remaining_s = deadline_s - time.monotonic()
        if remaining_s <= 0:
            raise BackendError(
                f"{where}: no complete reply in time ({len(buffer)} bytes read; last parse "
                f"error: {last_error}); check the server and raise the timeout for big tracks"
            )
        sock.settimeout(min(quiet_s, remaining_s))
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            if buffer and parsed_size != len(buffer):
                parsed_size = len(buffer)
                try:
                    return parse(bytes(buffer))
                except ProtocolError as exc:
                    last_error = str(exc)
            continue
        if not chunk:
            if not buffer:
                raise BackendError(f"{where}: the server closed the connection without a reply")
            return parse(bytes(buffer))
        buffer += chunk
        if len(buffer) > max_bytes:
            raise ProtocolError(f"{where}: reply over {max_bytes} bytes; raise the size limit")


# ---------------------------------------------------------------------------------------
# Serving the original client


def decode_controls(data: bytes) -> tuple[Controls, int]:
    """Decode a controls datagram of the original client: ``(controls, server_steps)``.

    Values are clipped to [-1, 1] (the original plugin clamps); extra keys are ignored.

    Raises:
        RejectedMessage: not a JSON object (``bad_json``), no ``server_steps`` or a
            non-numeric value (``bad_message``).
    """
    try:
        obj = _loads_legacy_json(data, LEGACY_DATAGRAM_MAX_BYTES, "legacy controls")
    except ProtocolError as exc:
        raise RejectedMessage("bad_json", str(exc)) from None
    if "server_steps" not in obj:
        raise RejectedMessage("bad_message", "legacy controls: missing 'server_steps'")
    server_steps = obj["server_steps"]
    if type(server_steps) is not int:
        raise RejectedMessage(
            "bad_message", f"legacy controls: server_steps {str(server_steps)[:40]!r} is not an int"
        )
    values = {}
    for name, default in (("steer", 0.0), ("acc", -1.0), ("brake", -1.0)):
        value = obj.get(name, default)
        if type(value) is int:
            value = float(max(-2, min(2, value)))  # clipped below anyway; no overflow
        if type(value) is not float or not math.isfinite(value):
            raise RejectedMessage(
                "bad_message", f"legacy controls: {name} {str(value)[:40]!r} is not a finite number"
            )
        values[name] = min(1.0, max(-1.0, float(value)))
    for name in ("enable_gear_shift", "shift_up", "shift_down"):
        value = obj.get(name, 0)
        if type(value) not in (int, bool) or value not in (0, 1):
            raise RejectedMessage(
                "bad_message", f"legacy controls: {name} {str(value)[:40]!r} is not 0/1"
            )
        values[name] = bool(value)
    return Controls(**values), server_steps


def eval_safe(value: Any) -> tuple[Any, int]:
    """Make a normalized value readable by Python's ``eval``: ``None`` -> 0.

    Returns:
        The value and how many ``None`` were replaced.
    """
    if value is None:
        return 0, 1
    if type(value) is list:
        replaced = 0
        out = []
        for item in value:
            item, count = eval_safe(item)
            out.append(item)
            replaced += count
        return out, replaced
    if type(value) is dict:
        replaced = 0
        out_dict = {}
        for key, item in value.items():
            out_dict[key], count = eval_safe(item)
            replaced += count
        return out_dict, replaced
    if value is True or value is False:
        return int(value), 0
    if type(value) is float and not math.isfinite(value):
        return 0, 1
    return value, 0


def encode_state(channels: Mapping[str, Any]) -> tuple[bytes, int]:
    """Encode a state for the original client: every original key, eval-safe.

    A channel of ``LEGACY_STATE_CHANNELS`` the source lacks is sent as its zero value;
    booleans become 0/1 and ``None``/NaN/infinity become 0.

    Returns:
        The datagram and how many values were replaced by 0.
    """
    normalized = normalize_channels(channels)
    state: dict[str, Any] = {}
    for wire in LEGACY_STATE_CHANNELS:
        state[wire] = normalized.pop(wire) if wire in normalized else default_value(wire)
    state.update(normalized)  # done, and any extra channels of the source
    state.setdefault(ch.DONE, 0)
    safe, replaced = eval_safe(state)
    data = json.dumps(safe, allow_nan=False).encode("ascii")
    return data, replaced


def encode_eval_safe_json(obj: Mapping[str, Any]) -> tuple[bytes, int]:
    """JSON of a reply (static info, track info) that the original client can ``eval``."""
    safe, replaced = eval_safe(normalize_plain(obj))
    return json.dumps(safe, allow_nan=False).encode("ascii"), replaced


def config_dict(
    config: Mapping[str, Any],
    ego_address: tuple[str, int],
    mgmt_address: tuple[str, int],
) -> dict[str, Any]:
    """The original's 28-key config, with the source's values and the bound addresses."""
    out = dict(LEGACY_CONFIG_DEFAULTS)
    for key in out:
        if key in config:
            out[key] = config[key]
    out["ego_server_host_name"], out["ego_server_port"] = ego_address
    mgmt_host, mgmt_port = mgmt_address
    out["simulation_management_server_host_name"] = mgmt_host
    out["simulation_management_server_port"] = mgmt_port
    for key, value in out.items():
        if value is not None and type(value) not in (bool, int, float, str):
            out[key] = str(value)
        elif type(value) is float and not math.isfinite(value):
            out[key] = None
    return out


def encode_config(config: dict[str, Any]) -> bytes:
    """``str(dict)``, as the original sends it: a Python literal."""
    return repr(config).encode("utf-8")

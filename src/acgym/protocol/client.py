"""The protocol client: one car over the ego stream (UDP) and management (TCP).

Speaks protocol v1 to acgym servers (the game plugin, ``acgym sim serve``) or, with
``legacy=True``, the original sensors_par plugin's format (docs/protocol.md).

Typical use::

    with Client(mode="lockstep") as client:
        client.reset({"distance_m": 100.0})
        state = client.receive_state()
        while not state["done"]:
            state = client.step(steer=0.0, acc=0.5, brake=-1.0)

Real time: ``send_controls`` now, ``receive_state`` later (the next state).
"""

from __future__ import annotations

import collections
import logging
import math
import secrets
import selectors
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol import channels as ch
from acgym.protocol import codec
from acgym.protocol import legacy as legacy_wire
from acgym.protocol.framing import recv_frame, send_frame
from acgym.protocol.messages import (
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    MGMT_REPLY_MAX_BYTES,
    MODES,
    SERVER_DATAGRAM_MAX_BYTES,
    Connect,
    Connected,
    Controls,
    Disconnect,
    Disconnected,
    ErrorMessage,
    Hello,
    Query,
    Request,
    Reset,
    ResetOptions,
    State,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

DRAIN_POLICIES = ("newest", "every")
_PROTOCOL_CODES = frozenset(
    {
        "bad_json",
        "too_large",
        "unknown_type",
        "bad_message",
        "version_mismatch",
        "hello_required",
        "unsupported_option",
    }
)
_END = object()
"""Returned by ``_ingest`` when the server ended the session."""
_LEGACY_CONNECT_RETRY_S = 0.5
_CONTROL_TOLERANCE = 1e-6
"""Controls this far outside [-1, 1] are clipped (rounding); further is an error."""


class Client:
    """A client of one car (see the module docstring).

    Args:
        host: the server's address.
        ego_port: UDP ego stream port; ``None`` takes it from the ``hello`` reply.
        mgmt_port: TCP management port.
        token: the server's shared token (``None`` on an open loopback server).
        legacy: speak the original sensors_par plugin's format (real time only).
        timeout_s: how long any call waits before raising ``BackendError``.
        mode: ``realtime`` or ``lockstep`` (the server must offer it).
        drain: ``newest`` (skip to the newest waiting state) or ``every`` (every state,
            oldest first, like the original client).
        retry_s: lock-step: resend controls (or connect) when no answer came this long.
        max_reply_bytes: largest management reply accepted (tracks are several MB).
        legacy_reset_wait_s: legacy ``reset``: the wait after the reset word (no reply).
        name: this client's name, sent in ``hello``.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        ego_port: int | None = DEFAULT_EGO_PORT,
        mgmt_port: int = DEFAULT_MGMT_PORT,
        token: str | None = None,
        legacy: bool = False,
        timeout_s: float = 5.0,
        *,
        mode: str = "realtime",
        drain: str = "newest",
        retry_s: float = 0.1,
        max_reply_bytes: int = MGMT_REPLY_MAX_BYTES,
        legacy_reset_wait_s: float = legacy_wire.LEGACY_RESET_WAIT_S,
        name: str = "acgym",
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"client: mode {mode!r}; expected one of {MODES}")
        if legacy and mode != "realtime":
            raise ConfigError(
                "client: the original plugin runs in real time only: use mode='realtime'"
            )
        if legacy and ego_port is None:
            raise ConfigError("client: legacy mode needs an explicit ego_port (no hello)")
        if drain not in DRAIN_POLICIES:
            raise ConfigError(f"client: drain {drain!r}; expected one of {DRAIN_POLICIES}")
        if not (timeout_s > 0 and retry_s > 0):
            raise ConfigError("client: timeout_s and retry_s must be positive")
        self.host = host
        self.ego_port = ego_port
        self.mgmt_port = mgmt_port
        self.token = token
        self.legacy = legacy
        self.timeout_s = float(timeout_s)
        self.mode = mode
        self.drain = drain
        self.retry_s = float(retry_s)
        self.max_reply_bytes = max_reply_bytes
        self.legacy_reset_wait_s = legacy_reset_wait_s
        self.name = name
        self.server_info: dict[str, Any] = {}
        """The ``hello`` reply (v1): server, backend, modes, control rate, ports."""
        self.last_seq = 0
        """``seq`` (v1) or ``steps`` (legacy) of the last state returned."""
        self.last_ack = 0
        """``ack`` of the last state returned (v1)."""
        self._counters: collections.Counter[str] = collections.Counter()
        self._ego: socket.socket | None = None
        self._ego_selector: selectors.BaseSelector | None = None
        self._mgmt: socket.socket | None = None
        self._connected = False
        self._nonce = 0
        self._request_id = 0
        self._controls_seq = 0
        self._controls_datagram: bytes | None = None
        self._highest_seq = 0
        self._min_seq = 1
        self._last_state: dict[str, Any] | None = None
        self._ended: str | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether ``connect`` succeeded and ``close`` was not called since."""
        return self._connected

    @property
    def session_nonce(self) -> int:
        """The ego session's nonce (0 in legacy mode): with ``last_seq``, the tag of the
        last state's frame on the frame stream (``acgym.protocol.frames``)."""
        return 0 if self.legacy else self._nonce

    @property
    def counters(self) -> dict[str, int]:
        """Client-side counts: states received / lost / late / skipped / stale, controls
        sent / retransmitted / out of sync (docs/protocol.md)."""
        return dict(self._counters)

    def connect(self) -> None:
        """Handshake on both channels; the stream starts. No-op when connected.

        Raises:
            BackendError: no server answered within ``timeout_s``, or it refused us.
        """
        if self._connected:
            return
        try:
            if self.legacy:
                self._open_ego()
                self._legacy_handshake()
            else:
                self._hello()
                self._open_ego()
                self._ego_handshake()
        except BaseException:
            self._close_sockets()
            raise
        self._connected = True

    def close(self) -> None:
        """Tell the server we leave and close the sockets. Safe twice."""
        if self._ego is not None and self._connected:
            farewell = (
                legacy_wire.WORD_DISCONNECT.encode()
                if self.legacy
                else codec.encode_ego(Disconnect())
            )
            try:
                self._ego.send(farewell)
            except OSError:
                pass
        self._connected = False
        self._close_sockets()

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- episode --------------------------------------------------------------------------

    def reset(self, options: ResetOptions | Mapping[str, Any] | None = None) -> None:
        """Start a new episode; the next ``receive_state`` returns its first state.

        Args:
            options: reset options (docs/protocol.md): distance_m, lateral_offset_m,
                heading_offset_rad, speed_mps, seed. Legacy mode takes none.

        Raises:
            ProtocolError: an invalid option, or one the server does not honour.
            BackendError: the server did not answer.
        """
        self._require_connected()
        if not isinstance(options, ResetOptions):
            options = ResetOptions.from_mapping(options)
        if self.legacy:
            if options.to_dict():
                raise ProtocolError(
                    f"reset options {sorted(options.to_dict())}: the original plugin resets to the "
                    "start only; pass no options in legacy mode"
                )
            self._legacy_reset()
            return
        result = self._request(Reset(self._next_id(), options), "reset")
        self._min_seq = result["first_seq"]
        self._last_state = None

    def send_controls(
        self,
        steer: float,
        acc: float,
        brake: float,
        enable_gear_shift: bool = False,
        shift_up: bool = False,
        shift_down: bool = False,
    ) -> None:
        """Send controls (steer, acc, brake in [-1, 1]; -1 = full left / released).

        Raises:
            ProtocolError: a value that is not finite or is outside [-1, 1].
            BackendError: not connected, or the server is gone.
        """
        self._require_connected()
        controls = Controls(
            _check_control("steer", steer),
            _check_control("acc", acc),
            _check_control("brake", brake),
            bool(enable_gear_shift),
            bool(shift_up),
            bool(shift_down),
        )
        if self.legacy:
            data = legacy_wire.encode_controls(controls, max(self.last_seq, 0))
        else:
            self._controls_seq += 1
            data = codec.encode_controls(self._controls_seq, self.last_seq, controls)
            self._controls_datagram = data
        self._send_ego(data)
        self._counters["controls_sent"] += 1

    def receive_state(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next state (channels by wire name), by the drain policy.

        ``newest``: every datagram already waiting is read and the newest new state is
        returned; if none is waiting, the next one is awaited. ``every``: the oldest
        unread state. Lock-step: the state answering the last controls (retransmitting
        them every ``retry_s`` if needed).

        Raises:
            BackendError: no state within the timeout, the server is not running, it
                replaced or dropped this client, or it closed (after one last state with
                ``done = 1``).
            ProtocolError: the server sent something malformed.
        """
        self._require_connected()
        if self._ended is not None:
            raise BackendError(self._ended)
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        deadline_s = time.monotonic() + wait_s
        next_retry_s = time.monotonic() + self.retry_s
        chosen: dict[str, Any] | None = None
        while True:
            if chosen is not None and self.drain == "every":
                break
            if chosen is not None:
                data = self._recv_ego(None)
            elif self.mode == "lockstep":
                data = self._recv_ego(min(deadline_s, next_retry_s))
            else:
                data = self._recv_ego(deadline_s)
            if data is None:
                if chosen is not None:
                    break
                now_s = time.monotonic()
                if now_s >= deadline_s:
                    raise BackendError(
                        f"no state from the ego server at {self.host}:{self.ego_port} in "
                        f"{wait_s:.1f} s: check that the server (game plugin or `acgym sim serve`) "
                        "is still running, the ports, and the firewall"
                    )
                if self.mode == "lockstep" and now_s >= next_retry_s:
                    self._retransmit()
                    next_retry_s = now_s + self.retry_s
                continue
            state = self._ingest(data)
            if state is _END:  # the session is over: the newest state, marked done
                chosen = dict(chosen if chosen is not None else self._last_state or {})
                chosen[ch.DONE] = 1
                break
            if state is None:
                continue
            if chosen is not None:
                self._counters["states_skipped"] += 1
            chosen = state
        self._last_state = chosen
        return chosen

    def step(
        self,
        steer: float,
        acc: float,
        brake: float,
        enable_gear_shift: bool = False,
        shift_up: bool = False,
        shift_down: bool = False,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """``send_controls`` then ``receive_state``: one lock-step step."""
        self.send_controls(steer, acc, brake, enable_gear_shift, shift_up, shift_down)
        return self.receive_state(timeout_s)

    # -- management -----------------------------------------------------------------------

    def static_info(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Static info: TrackName, TrackConfiguration, TrackLength, CarName, backend, ..."""
        if self.legacy:
            return self._legacy_word(
                "get_static_info",
                lambda data: legacy_wire.parse_static_info(data, self.max_reply_bytes),
                self.max_reply_bytes,
                timeout_s,
            )
        return self._request(
            Query(self._next_id(), "get_static_info"), "get_static_info", timeout_s
        )

    def config(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The backend's config (``ego_sampling_freq`` at least)."""
        if self.legacy:
            return self._legacy_word(
                "get_config",
                legacy_wire.parse_config,
                legacy_wire.LEGACY_CONFIG_MAX_BYTES,
                timeout_s,
            )
        return self._request(Query(self._next_id(), "get_config"), "get_config", timeout_s)

    def track_info(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Borders, AI line and per-point arrays (``{}`` when the backend has none)."""
        if self.legacy:
            return self._legacy_word(
                "get_track_info",
                lambda data: legacy_wire.parse_track_info(data, self.max_reply_bytes),
                self.max_reply_bytes,
                timeout_s,
            )
        return self._request(Query(self._next_id(), "get_track_info"), "get_track_info", timeout_s)

    def server_counters(self, timeout_s: float | None = None) -> dict[str, int]:
        """The server's counters (v1 only)."""
        if self.legacy:
            raise ProtocolError("the original plugin has no counters request; use Client.counters")
        return self._request(Query(self._next_id(), "get_counters"), "get_counters", timeout_s)

    # -- ego stream internals -----------------------------------------------------------

    def _require_connected(self) -> None:
        if not self._connected or self._ego is None:
            raise BackendError("the client is not connected: call connect() first")

    def _open_ego(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.connect((self.host, self.ego_port))
        except OSError as exc:
            sock.close()
            raise BackendError(
                f"cannot address the ego server at {self.host}:{self.ego_port}: {exc}"
            ) from None
        sock.setblocking(False)  # waits go through the selector: no timeout switching
        self._ego_selector = selectors.DefaultSelector()
        self._ego_selector.register(sock, selectors.EVENT_READ)
        self._ego = sock

    def _close_sockets(self) -> None:
        if self._ego_selector is not None:
            self._ego_selector.close()
        for sock in (self._ego, self._mgmt):
            if sock is not None:
                sock.close()
        self._ego = None
        self._ego_selector = None
        self._mgmt = None

    def _refused(self) -> BackendError:
        return BackendError(
            f"the ego server at {self.host}:{self.ego_port} is not running (connection refused): "
            "start the game with the plugin or `acgym sim serve`, and check the port"
        )

    def _send_ego(self, data: bytes) -> None:
        assert self._ego is not None
        try:
            self._ego.send(data)
        except BlockingIOError:  # the socket's send buffer is full: lost, as UDP may lose it
            self._counters["datagrams_not_sent"] += 1
        except (ConnectionRefusedError, ConnectionResetError):  # Windows says "reset"
            raise self._refused() from None
        except OSError as exc:
            raise BackendError(
                f"cannot send to the ego server at {self.host}:{self.ego_port}: {exc}"
            ) from None

    def _recv_ego(self, deadline_s: float | None) -> bytes | None:
        """One datagram, waiting until ``deadline_s`` (``None``: do not wait)."""
        assert self._ego is not None and self._ego_selector is not None
        if deadline_s is not None:
            timeout_s = deadline_s - time.monotonic()
            if timeout_s <= 0 or not self._ego_selector.select(timeout_s):
                return None
        try:
            return self._ego.recv(SERVER_DATAGRAM_MAX_BYTES + 1)
        except BlockingIOError:
            return None
        except (ConnectionRefusedError, ConnectionResetError):  # Windows says "reset"
            raise self._refused() from None

    def _reset_stream(self) -> None:
        self._highest_seq = 0
        self._min_seq = 1
        self._controls_seq = 0
        self._controls_datagram = None
        self.last_seq = 0
        self.last_ack = 0
        self._last_state = None
        self._ended = None

    def _ego_handshake(self) -> None:
        self._nonce = 1 + secrets.randbelow(2**31 - 2)
        hello = codec.encode_ego(Connect(self.token, self.mode, self._nonce))
        deadline_s = time.monotonic() + self.timeout_s
        while True:
            self._send_ego(hello)
            retry_s = time.monotonic() + max(self.retry_s, 0.2)
            while True:
                data = self._recv_ego(min(retry_s, deadline_s))
                if data is None:
                    break
                try:
                    msg = codec.decode_from_server(data)
                except ProtocolError:
                    continue  # a stray datagram of an earlier session
                if isinstance(msg, ErrorMessage):
                    raise self._server_error(msg, "connect")
                if isinstance(msg, Connected) and msg.nonce == self._nonce:
                    self._reset_stream()
                    return
            if time.monotonic() >= deadline_s:
                raise BackendError(
                    f"no answer to connect from the ego server at {self.host}:{self.ego_port} in "
                    f"{self.timeout_s:.1f} s: check the server is running and the ego port"
                )

    def _retransmit(self) -> None:
        if self._controls_datagram is not None:
            self._send_ego(self._controls_datagram)
            self._counters["controls_retransmitted"] += 1
        else:  # the first state of the session was lost: ask again
            self._send_ego(codec.encode_ego(Connect(self.token, self.mode, self._nonce)))
            self._counters["connects_retransmitted"] += 1

    def _count_seq(self, seq: int) -> bool:
        """Count a state's sequence number; False when it is late (not newer)."""
        if seq <= self._highest_seq:
            self._counters["states_late"] += 1
            return False
        if seq > self._highest_seq + 1:
            self._counters["states_lost"] += seq - self._highest_seq - 1
        self._highest_seq = seq
        self._counters["states_received"] += 1
        return True

    def _ingest(self, data: bytes) -> Any:
        """Handle one datagram: a new state (dict), ``None`` (nothing to return), ``_END``."""
        if self.legacy:
            return self._ingest_legacy(data)
        msg = codec.decode_from_server(data)
        if isinstance(msg, State):
            if not self._count_seq(msg.seq):
                return None
            if msg.seq < self._min_seq or (
                self.mode == "lockstep" and msg.ack < self._controls_seq
            ):
                self._counters["states_stale"] += 1
                return None
            if msg.ack != self._controls_seq:
                self._counters["controls_out_of_sync"] += 1
            self.last_seq = msg.seq
            self.last_ack = msg.ack
            return msg.channels
        if isinstance(msg, Disconnected):
            where = f"the ego server at {self.host}:{self.ego_port}"
            if msg.reason == "replaced":
                self._ended = (
                    f"{where} replaced this client by another one (only one client drives a car)"
                )
                raise BackendError(self._ended)
            if msg.reason == "client_timeout":
                self._ended = f"{where} dropped this client after a silence: reconnect"
                raise BackendError(self._ended)
            self._ended = f"{where} closed the session (server_closing)"
            return _END
        if isinstance(msg, ErrorMessage):
            if msg.code in ("not_connected", "backend_error", "busy"):
                raise self._server_error(msg, "the ego stream")
            # The server refused one of our datagrams (a bug or a corrupted packet): the
            # stream goes on; count it and say it once in a while.
            self._counters["server_errors"] += 1
            logger.warning("the ego server refused a datagram: %s: %s", msg.code, msg.message)
            return None
        return None  # a repeated ``connected``

    def _ingest_legacy(self, data: bytes) -> Any:
        if data == legacy_wire.WORD_IDENTIFIED.encode():
            self._highest_seq = 0  # the original restarts ``steps`` on each connect
            return None
        if data == legacy_wire.WORD_DISCONNECT.encode():
            self._ended = (
                f"the original plugin at {self.host}:{self.ego_port} stopped its ego server"
            )
            return _END
        state = legacy_wire.parse_state(data)
        steps = state.get(ch.STEPS)
        if type(steps) is int and not self._count_seq(steps):
            return None
        state.setdefault(ch.DONE, 0)
        out_of_sync = state.get(ch.TOTAL_ERRORS_OUT_OF_SYNC)
        if type(out_of_sync) is int:
            self._counters["server_out_of_sync"] = out_of_sync
        if type(steps) is int:
            self.last_seq = steps
        return state

    # -- management internals -----------------------------------------------------------

    def _next_id(self) -> int:
        self._request_id = (self._request_id + 1) % (2**31 - 1)
        return self._request_id

    def _hello(self) -> None:
        self._open_mgmt()
        info = self._request(Hello(self._next_id(), self.token, self.name[:64]), "hello")
        if self.mode not in info["modes"]:
            raise BackendError(
                f"the server at {self.host}:{self.mgmt_port} offers {info['modes']}, not "
                f"{self.mode!r}: pick one of those modes"
            )
        self.server_info = info
        if self.ego_port is None:
            self.ego_port = info["ego_port"]

    def _open_mgmt(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.mgmt_port), timeout=self.timeout_s)
        except (ConnectionRefusedError, ConnectionResetError):  # Windows says "reset"
            raise BackendError(
                f"cannot reach the management server at {self.host}:{self.mgmt_port} (connection "
                "refused): is the game running with the acgym plugin, or `acgym sim serve`? "
                "check mgmt_port"
            ) from None
        except OSError as exc:
            raise BackendError(
                f"cannot reach the management server at {self.host}:{self.mgmt_port}: {exc}"
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._mgmt = sock
        return sock

    def _request(self, request: Request, kind: str, timeout_s: float | None = None) -> Any:
        if self._mgmt is None:
            if kind == "hello":
                raise BackendError("internal: hello without a connection")  # pragma: no cover
            self._hello()  # the connection was lost: a new one starts with hello
        sock = self._mgmt
        assert sock is not None
        deadline_s = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        where = f"{kind} from the management server at {self.host}:{self.mgmt_port}"
        try:
            send_frame(sock, codec.encode_request(request))
            payload = recv_frame(sock, self.max_reply_bytes, deadline_s, where)
            reply = codec.decode_reply(payload, kind, request.id, self.max_reply_bytes)
        except ProtocolError:
            self._drop_mgmt()
            raise
        except BackendError:
            self._drop_mgmt()
            raise
        except OSError as exc:
            self._drop_mgmt()
            raise BackendError(f"{where}: {exc}; check the server is running") from None
        if isinstance(reply, ErrorMessage):
            if reply.code in ("hello_required", "bad_token"):
                self._drop_mgmt()  # the server closes the connection after these
            raise self._server_error(reply, kind)
        return reply.result

    def _drop_mgmt(self) -> None:
        if self._mgmt is not None:
            self._mgmt.close()
            self._mgmt = None

    def _server_error(self, msg: ErrorMessage, what: str) -> ProtocolError | BackendError:
        text = f"the server refused {what}: {msg.code}: {msg.message}"
        if msg.code in _PROTOCOL_CODES:
            return ProtocolError(text)
        if msg.code == "not_connected":
            self._ended = (
                f"the ego server at {self.host}:{self.ego_port} does not know this client (it "
                "restarted, or dropped us after a silence): reconnect"
            )
            return BackendError(self._ended)
        return BackendError(text)

    # -- legacy internals ---------------------------------------------------------------

    def _legacy_handshake(self) -> None:
        deadline_s = time.monotonic() + self.timeout_s
        while True:
            self._send_ego(legacy_wire.WORD_CONNECT.encode())
            retry_s = time.monotonic() + _LEGACY_CONNECT_RETRY_S
            while True:
                data = self._recv_ego(min(retry_s, deadline_s))
                if data is None:
                    break
                if data == legacy_wire.WORD_IDENTIFIED.encode():
                    self._reset_stream()
                    return
            if time.monotonic() >= deadline_s:
                raise BackendError(
                    f"no 'identified' from the original plugin's ego server at {self.host}:"
                    f"{self.ego_port} in {self.timeout_s:.1f} s: check the game is running with the "
                    "sensors_par app enabled, the port, and the firewall"
                )

    def _legacy_reset(self) -> None:
        self._send_ego(legacy_wire.WORD_DISCONNECT.encode())
        self._legacy_word("reset", None, 0, None)
        time.sleep(self.legacy_reset_wait_s)
        self._legacy_handshake()

    def _legacy_word(
        self,
        word: str,
        parse: Callable[[bytes], T] | None,
        max_bytes: int,
        timeout_s: float | None,
    ) -> T:
        deadline_s = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        where = f"legacy {word} from {self.host}:{self.mgmt_port}"
        try:
            sock = socket.create_connection((self.host, self.mgmt_port), timeout=self.timeout_s)
        except OSError as exc:
            raise BackendError(
                f"cannot reach the original plugin's management server at {self.host}:"
                f"{self.mgmt_port} ({exc}): is the game running with the sensors_par app?"
            ) from None
        with sock:
            try:
                sock.sendall(word.encode("ascii"))
                if parse is None:
                    return None  # type: ignore[return-value]
                return legacy_wire.read_reply(
                    sock, parse, max_bytes=max_bytes, deadline_s=deadline_s, where=where
                )
            except OSError as exc:
                raise BackendError(f"{where}: {exc}") from None


def _check_control(name: str, value: float) -> float:
    if type(value) is float and -1.0 <= value <= 1.0:
        return value  # the common case, checked fast
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ProtocolError(f"controls.{name}: expected a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ProtocolError(f"controls.{name}: {value} is not finite; nothing was sent")
    if abs(value) > 1.0 + _CONTROL_TOLERANCE:
        raise ProtocolError(f"controls.{name}: {value} is outside [-1, 1]; clip it before sending")
    return min(1.0, max(-1.0, value))

"""Servers of the protocol over any ``CarSource``: the UDP ego stream and TCP management.

``EgoServer`` streams a source's state (real time on its own clock, or lock-step: one
control period per controls message) and applies controls; ``ManagementServer`` answers
hello / reset / static info / config / track info / counters on many concurrent TCP
connections. Both speak protocol v1, or the original plugin's format with
``legacy=True`` (docs/protocol.md). The simulator server (``acgym sim serve``) runs them
over the built-in simulator; the game plugin mirrors them in Python 3.3.

Every call into the source happens on the ego server's thread (management requests are
handed to it), so a source never sees two calls at once. A bad datagram or request never
stops a server: it is counted, logged (rate limited) and answered where the protocol
says so.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import math
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from acgym import __version__
from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol import codec
from acgym.protocol import legacy as legacy_wire
from acgym.protocol.framing import FrameDecoder, encode_frame
from acgym.protocol.messages import (
    CLIENT_DATAGRAM_MAX_BYTES,
    DEFAULT_CONTROL_RATE_HZ,
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    MGMT_REQUEST_MAX_BYTES,
    MODES,
    PROTOCOL_VERSION,
    RESET_OPTION_RANGES,
    RESULT_CHECKS,
    SAFE_CONTROLS,
    TOKEN_MAX_CHARS,
    Connect,
    Connected,
    Controls,
    ControlsMessage,
    Disconnect,
    Disconnected,
    ErrorMessage,
    Hello,
    Ok,
    Query,
    RejectedMessage,
    Reset,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

JOB_TIMEOUT_S = 10.0
"""How long a management request waits for the ego thread before ``busy``."""
_POLL_S = 0.25
"""Longest the server loops sleep before looking at their stop flag and timeouts."""


@runtime_checkable
class CarSource(Protocol):
    """What a server serves: one car in one world (the game, the simulator, a test double).

    All methods are called from one thread. ``state``, ``static_info``, ``config`` and
    ``track_info`` return new dicts (the server may encode them on another thread).
    Optional attribute ``reset_options``: the option names ``reset`` honours (default
    all of them).
    """

    def static_info(self) -> dict[str, Any]:
        """Static info (docs/protocol.md): TrackName, TrackLength, CarName, backend, ..."""
        ...

    def config(self) -> dict[str, Any]:
        """The backend's config, flat; must hold ``ego_sampling_freq`` (Hz)."""
        ...

    def track_info(self) -> dict[str, Any]:
        """Borders, AI line and per-point arrays, or ``{}``."""
        ...

    def reset(self, options: dict[str, Any]) -> None:
        """Start a new episode; ``options`` holds only the reset options that are set."""
        ...

    def apply(self, controls: Controls) -> None:
        """Apply controls (they hold until the next call)."""
        ...

    def advance(self) -> None:
        """Advance the world one control period (real-time tick or lock-step step)."""
        ...

    def state(self) -> dict[str, Any]:
        """The current state, by wire channel name (``acgym.protocol.channels``)."""
        ...


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_bind(host: str, token: str | None, legacy_mode: bool, what: str) -> None:
    if token is not None:
        if not 1 <= len(token) <= TOKEN_MAX_CHARS or not token.isprintable() or not token.isascii():
            raise ConfigError(
                f"{what}: the token must be 1 to {TOKEN_MAX_CHARS} printable ASCII characters"
            )
    if is_loopback(host):
        return
    if legacy_mode:
        raise ConfigError(
            f"{what}: legacy mode has no token, so it binds loopback only, not {host!r}; "
            "bind 127.0.0.1 or use protocol v1 with a token"
        )
    if token is None:
        raise ConfigError(
            f"{what}: binding {host!r} (not loopback) needs a token: pass token=... and give "
            "the same token to the client"
        )


def _token_ok(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class _Counters(collections.Counter):
    """Named event counts, with rate-limited logging of rejects."""

    def reject(self, prefix: str, code: str, detail: str) -> None:
        self[f"{prefix}rejected"] += 1
        self[f"{prefix}rejected_{code}"] += 1
        count = self[f"{prefix}rejected_{code}"]
        if count <= 3 or count in (10, 100, 1000) or count % 10000 == 0:
            logger.warning("rejected (%s, #%d): %s", code, count, detail[:200])


@dataclass
class _Session:
    """The ego stream's current client."""

    addr: Any
    mode: str
    nonce: int
    legacy: bool = False
    seq: int = 0
    """``seq`` of the last state sent."""
    controls_seq: int = 0
    """``seq`` of the last controls applied."""
    last_state: bytes | None = None
    last_controls_s: float = 0.0
    last_heard_s: float = 0.0
    released: bool = False


@dataclass
class _Job:
    fn: Callable[[], Any]
    future: Future = field(default_factory=Future)


class EgoServer:
    """The ego stream over UDP: states out, controls in, for one client at a time.

    Args:
        source: the car to serve.
        host, port: where to bind (port 0 = any free port; see ``address``).
        token: shared token; required when ``host`` is not loopback.
        modes: stepping modes offered to clients (``realtime``, ``lockstep``).
        control_rate_hz: states per second in real time.
        legacy: speak the original plugin's format instead of v1 (real time only).
        client_timeout_s: real time: release to safe controls after this long without
            controls (``None``: keep the last controls, like the original plugin).
        client_drop_s: real time: forget a client silent for this long.
        spin_s: real time: sleep until this long before a tick, then spin.
    """

    def __init__(
        self,
        source: CarSource,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_EGO_PORT,
        *,
        token: str | None = None,
        modes: Sequence[str] = MODES,
        control_rate_hz: float = DEFAULT_CONTROL_RATE_HZ,
        legacy: bool = False,
        client_timeout_s: float | None = 1.0,
        client_drop_s: float = 30.0,
        spin_s: float = 0.001,
    ) -> None:
        _check_bind(host, token, legacy, "ego server")
        modes = tuple(modes)
        if legacy:
            modes = ("realtime",)
        if not modes or any(mode not in MODES for mode in modes):
            raise ConfigError(f"ego server: modes {modes!r}; expected a subset of {MODES}")
        if not (math.isfinite(control_rate_hz) and 0.1 <= control_rate_hz <= 10000.0):
            raise ConfigError(
                f"ego server: control_rate_hz {control_rate_hz}; expected 0.1 to 10000"
            )
        self.source = source
        self.token = token
        self.modes = modes
        self.control_rate_hz = float(control_rate_hz)
        self.period_s = 1.0 / self.control_rate_hz
        self.legacy = legacy
        self.client_timeout_s = client_timeout_s
        self.client_drop_s = client_drop_s
        self.spin_s = spin_s
        self.counters = _Counters()
        self.tick_lateness_s: collections.deque[float] = collections.deque(maxlen=100_000)
        """Real time: how late each tick started after its schedule, s (recent ticks)."""

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise BackendError(
                f"ego server: cannot bind UDP {host}:{port} ({exc}); is another server running? "
                "pick another port"
            ) from None
        self._sock.setblocking(False)
        self._recv_bytes = (
            legacy_wire.LEGACY_DATAGRAM_MAX_BYTES if legacy else CLIENT_DATAGRAM_MAX_BYTES
        ) + 1
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._jobs: collections.deque[_Job] = collections.deque()
        self._session: _Session | None = None
        self._next_tick_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread_id: int | None = None
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._direct_lock = threading.Lock()
        self._last_error_reply_s: dict[str, float] = {}
        self._closed = False

    # -- public -------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        host, port = self._sock.getsockname()[:2]
        return host, port

    @property
    def client_address(self) -> Any:
        """The current client's address, or ``None``."""
        session = self._session
        return None if session is None else session.addr

    def start(self) -> EgoServer:
        """Serve on a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("ego server already started")
        self._thread = threading.Thread(target=self.serve_forever, name="acgym-ego", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until ``stop``."""
        self._loop_done.clear()
        self._loop_thread_id = threading.get_ident()
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ, "ego")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        logger.info(
            "ego server on udp %s:%d (%s, modes %s, %.1f Hz)",
            *self.address,
            "legacy" if self.legacy else f"v{PROTOCOL_VERSION}",
            ",".join(self.modes),
            self.control_rate_hz,
        )
        try:
            while not self._stop.is_set():
                timeout_s = _POLL_S
                session = self._session
                if session is not None and session.mode == "realtime":
                    now_s = time.perf_counter()
                    wait_s = self._next_tick_s - now_s
                    if wait_s <= 0.0:
                        self._tick(now_s)
                        continue
                    if wait_s <= self.spin_s:
                        self._spin_until(self._next_tick_s)
                        continue
                    timeout_s = min(timeout_s, wait_s - self.spin_s)
                for key, _ in selector.select(timeout_s):
                    if key.data == "ego":
                        self._drain_socket()
                    else:
                        self._drain_wakeup()
                self._run_jobs()
                self._check_client_silence()
        finally:
            selector.close()
            self._run_jobs(cancel=True)
            self._loop_thread_id = None
            self._loop_done.set()

    def stop(self) -> None:
        """Stop serving (tell the client), join the thread, close the sockets. Safe twice."""
        if self._closed:
            return
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if threading.get_ident() != self._loop_thread_id:
            self._loop_done.wait(timeout=5.0)  # the loop leaves before its sockets close
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        session = self._session
        if session is not None:
            farewell = (
                legacy_wire.WORD_DISCONNECT.encode()
                if session.legacy
                else codec.encode_ego(Disconnected("server_closing"))
            )
            self._sendto(farewell, session.addr)
            self._session = None
        self._closed = True
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> EgoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run_in_loop(self, fn: Callable[[], T], timeout_s: float = JOB_TIMEOUT_S) -> T:
        """Run ``fn`` on the server's thread (where the source lives); return its result.

        Raises:
            BackendError: the thread did not run it within ``timeout_s`` (``busy``).
            Exception: whatever ``fn`` raised.
        """
        loop_thread_id = self._loop_thread_id
        running = loop_thread_id is not None and not self._stop.is_set()
        if not running or threading.get_ident() == loop_thread_id:
            with self._direct_lock:
                return fn()
        job = _Job(fn)
        self._jobs.append(job)
        try:
            self._wake_w.send(b"j")
        except OSError:
            pass
        try:
            return job.future.result(timeout=timeout_s)
        except FutureTimeoutError:
            job.future.cancel()
            raise BackendError(
                f"the server's loop did not run the request within {timeout_s} s"
            ) from None

    def reset_episode(self, options: dict[str, Any]) -> int:
        """Reset the source (on the loop); returns the first state's ``seq``."""
        return self.run_in_loop(lambda: self._reset_in_loop(options))

    # -- loop ---------------------------------------------------------------------------

    def _spin_until(self, deadline_s: float) -> None:
        while time.perf_counter() < deadline_s:
            pass

    def _drain_wakeup(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _run_jobs(self, cancel: bool = False) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            if not job.future.set_running_or_notify_cancel():
                continue
            if cancel:
                job.future.set_exception(BackendError("the server is stopping"))
                continue
            try:
                job.future.set_result(job.fn())
            except Exception as exc:  # the caller gets it
                job.future.set_exception(exc)

    def _drain_socket(self) -> None:
        for _ in range(256):  # then let a due tick run
            try:
                data, addr = self._sock.recvfrom(self._recv_bytes)
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket
                self.counters["recv_errors"] += 1
                logger.debug("ego recv error: %s", exc)
                continue
            self.counters["datagrams_received"] += 1
            try:
                if self.legacy:
                    self._handle_legacy(data, addr)
                else:
                    self._handle(data, addr)
            except RejectedMessage as exc:
                self.counters.reject("datagrams_", exc.code, str(exc))
                if self.legacy:
                    continue  # the original client would eval an error
                session = self._session
                if exc.code in ("version_mismatch", "unsupported_mode"):  # a refused connect
                    self._reply_error(exc.code, str(exc), addr, per_s=10.0)
                elif session is not None and addr == session.addr:
                    self._reply_error(exc.code, str(exc), addr)
            except Exception as exc:
                self.counters["source_errors"] += 1
                logger.exception("ego server: error while handling a datagram from %s", addr)
                session = self._session
                if session is not None and addr == session.addr and not self.legacy:
                    message = f"the source failed: {type(exc).__name__}: {exc}"
                    self._reply_error("backend_error", message[:1000], addr, per_s=10.0)

    def _check_client_silence(self) -> None:
        session = self._session
        if session is None:
            return
        now_s = time.perf_counter()
        if session.mode == "realtime" and now_s - session.last_heard_s > self.client_drop_s:
            logger.warning("ego server: dropping silent client %s", session.addr)
            if not session.legacy:
                self._sendto(codec.encode_ego(Disconnected("client_timeout")), session.addr)
            self._session = None
            self.counters["clients_dropped"] += 1
            self._apply(SAFE_CONTROLS)
            return
        if (
            session.mode == "realtime"
            and self.client_timeout_s is not None
            and not session.released
            and now_s - session.last_controls_s > self.client_timeout_s
        ):
            session.released = True
            self.counters["client_timeouts"] += 1
            logger.info("ego server: no controls for %.1f s: safe controls", self.client_timeout_s)
            self._apply(SAFE_CONTROLS)

    def _tick(self, now_s: float) -> None:
        lateness_s = now_s - self._next_tick_s
        self.tick_lateness_s.append(lateness_s)
        self.counters["ticks"] += 1
        if lateness_s >= self.period_s:
            missed = int(lateness_s // self.period_s)
            self.counters["ticks_missed"] += missed
            self._next_tick_s += missed * self.period_s
        self._next_tick_s += self.period_s
        try:
            self.source.advance()
            self._send_state()
        except Exception as exc:
            self.counters["source_errors"] += 1
            logger.exception("ego server: the source failed during a tick")
            session = self._session
            if session is not None and not session.legacy:
                message = f"the source failed: {type(exc).__name__}: {exc}"
                self._reply_error("backend_error", message[:1000], session.addr)
        self._check_client_silence()

    def _send_state(self) -> None:
        session = self._session
        if session is None:
            return
        session.seq += 1
        channels = self.source.state()
        if session.legacy:
            channels = dict(channels)
            channels["steps"] = session.seq
            channels["timestamp_ac"] = time.perf_counter()
            channels["total_errors_out_of_sync"] = self.counters["controls_out_of_sync"]
            data, replaced = legacy_wire.encode_state(channels)
            if replaced:
                self.counters["legacy_values_replaced"] += replaced
        else:
            channels = codec.normalize_channels(channels)
            channels["steps"] = session.seq
            data = codec.encode_state(session.seq, session.controls_seq, channels)
        session.last_state = data
        self._sendto(data, session.addr)
        self.counters["states_sent"] += 1

    def _sendto(self, data: bytes, addr: Any) -> None:
        try:
            self._sock.sendto(data, addr)
        except OSError as exc:
            self.counters["send_errors"] += 1
            logger.debug("ego send to %s failed: %s", addr, exc)

    def _reply_error(self, code: str, message: str, addr: Any, per_s: float = 1.0) -> None:
        now_s = time.monotonic()
        if now_s - self._last_error_reply_s.get(code, -math.inf) < 1.0 / per_s:
            return
        self._last_error_reply_s[code] = now_s
        self._sendto(codec.encode_ego(ErrorMessage(code, message)), addr)

    def _apply(self, controls: Controls) -> None:
        try:
            self.source.apply(controls)
        except Exception:
            self.counters["source_errors"] += 1
            logger.exception("ego server: the source failed to apply controls")

    def _new_session(self, addr: Any, mode: str, nonce: int, legacy_mode: bool) -> _Session:
        old = self._session
        if old is not None and old.addr != addr:
            self.counters["clients_replaced"] += 1
            logger.warning("ego server: client %s replaces %s", addr, old.addr)
            if not old.legacy:
                self._sendto(codec.encode_ego(Disconnected("replaced")), old.addr)
        now_s = time.perf_counter()
        session = _Session(
            addr, mode, nonce, legacy_mode, last_controls_s=now_s, last_heard_s=now_s
        )
        self._session = session
        self.counters["connects"] += 1
        self._next_tick_s = now_s + self.period_s
        return session

    def _reset_in_loop(self, options: dict[str, Any]) -> int:
        self.source.reset(options)
        session = self._session
        if session is None:
            return 1
        if session.mode == "lockstep":
            self._send_state()
            return session.seq
        return session.seq + 1

    # -- v1 -------------------------------------------------------------------------------

    def _handle(self, data: bytes, addr: Any) -> None:
        msg = codec.decode_from_client(data)
        session = self._session
        if isinstance(msg, ControlsMessage):
            if session is None or addr != session.addr:
                self.counters.reject("datagrams_", "not_connected", f"controls from {addr}")
                self._reply_error(
                    "not_connected",
                    "this address is not the ego stream's client: send connect first",
                    addr,
                )
                return
            self._on_controls(session, msg)
        elif isinstance(msg, Connect):
            self._on_connect(msg, addr)
        elif isinstance(msg, Disconnect):
            if session is not None and addr == session.addr:
                self._session = None
                self.counters["disconnects"] += 1
                self._apply(SAFE_CONTROLS)

    def _on_connect(self, msg: Connect, addr: Any) -> None:
        if not _token_ok(self.token, msg.token):
            self.counters.reject("datagrams_", "bad_token", f"connect from {addr}")
            self._reply_error(
                "bad_token",
                "the token does not match the server's: pass the token the server was started with",
                addr,
                per_s=10.0,
            )
            return
        if msg.mode not in self.modes:
            self.counters.reject("datagrams_", "unsupported_mode", f"{msg.mode} from {addr}")
            self._reply_error(
                "unsupported_mode",
                f"this server offers {', '.join(self.modes)}, not {msg.mode}",
                addr,
                per_s=10.0,
            )
            return
        session = self._session
        connected = codec.encode_ego(Connected(msg.mode, self.control_rate_hz, msg.nonce))
        if session is not None and session.addr == addr and session.nonce == msg.nonce:
            session.last_heard_s = time.perf_counter()
            self._sendto(connected, addr)  # a repeated connect: answer again, same session
            if session.mode == "lockstep" and session.last_state is not None:
                self._sendto(session.last_state, addr)
            return
        session = self._new_session(addr, msg.mode, msg.nonce, legacy_mode=False)
        self._sendto(connected, addr)
        if session.mode == "lockstep":
            self._send_state()

    def _on_controls(self, session: _Session, msg: ControlsMessage) -> None:
        now_s = time.perf_counter()
        session.last_heard_s = now_s
        if msg.seq <= session.controls_seq:
            if msg.seq == session.controls_seq and session.mode == "lockstep":
                self.counters["controls_retransmitted"] += 1
                if session.last_state is not None:
                    self._sendto(session.last_state, session.addr)
            else:
                self.counters["controls_late"] += 1
            return
        if msg.seq > session.controls_seq + 1:
            self.counters["controls_lost"] += msg.seq - session.controls_seq - 1
        if msg.state_seq != session.seq:
            self.counters["controls_out_of_sync"] += 1
        session.controls_seq = msg.seq
        session.last_controls_s = now_s
        session.released = False
        self.source.apply(msg.controls)
        self.counters["controls_applied"] += 1
        if session.mode == "lockstep":
            self.source.advance()
            self._send_state()

    # -- legacy -----------------------------------------------------------------------------

    def _handle_legacy(self, data: bytes, addr: Any) -> None:
        if len(data) > legacy_wire.LEGACY_DATAGRAM_MAX_BYTES:
            raise RejectedMessage("too_large", f"legacy datagram of {len(data)} bytes or more")
        if data == b"connect":
            self._new_session(addr, "realtime", 0, legacy_mode=True)
            self._sendto(legacy_wire.WORD_IDENTIFIED.encode(), addr)
            return
        session = self._session
        if data == b"disconnect":
            if session is not None and addr == session.addr:
                self._session = None
                self.counters["disconnects"] += 1
                self._apply(SAFE_CONTROLS)
            return
        if data == b"reset":
            logger.info("ego server: 'reset' on the ego stream (the original only logs it)")
            return
        controls, server_steps = legacy_wire.decode_controls(data)
        if session is None or addr != session.addr:
            self.counters.reject("datagrams_", "not_connected", f"legacy controls from {addr}")
            return
        now_s = time.perf_counter()
        session.last_heard_s = session.last_controls_s = now_s
        session.released = False
        if server_steps != session.seq:
            self.counters["controls_out_of_sync"] += 1
        self.source.apply(controls)
        self.counters["controls_applied"] += 1


@dataclass
class _Connection:
    sock: socket.socket
    addr: Any
    decoder: FrameDecoder | None
    out: bytearray = field(default_factory=bytearray)
    text: bytearray = field(default_factory=bytearray)
    authenticated: bool = False
    close_after_flush: bool = False
    last_active_s: float = field(default_factory=time.monotonic)


class ManagementServer:
    """The management channel over TCP: many connections, one request at a time each.

    Args:
        source: the car to serve.
        host, port: where to bind (port 0 = any free port; see ``address``).
        token: shared token; required when ``host`` is not loopback.
        ego: the ego server of the same source: requests run on its thread and
            ``reset`` restarts its episode. Without one, the source is called here.
        legacy: speak the original plugin's command words instead of v1.
        max_request_bytes: largest request frame accepted.
        max_connections: more concurrent connections are closed at once.
        idle_timeout_s: close a connection idle this long.
        reset_options: option names ``reset`` honours (default: the source's
            ``reset_options`` attribute, else all).
    """

    def __init__(
        self,
        source: CarSource,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_MGMT_PORT,
        *,
        token: str | None = None,
        ego: EgoServer | None = None,
        legacy: bool = False,
        max_request_bytes: int = MGMT_REQUEST_MAX_BYTES,
        max_connections: int = 32,
        idle_timeout_s: float = 300.0,
        reset_options: Iterable[str] | None = None,
    ) -> None:
        _check_bind(host, token, legacy, "management server")
        if reset_options is None:
            reset_options = getattr(source, "reset_options", tuple(RESET_OPTION_RANGES))
        self.reset_options = tuple(reset_options)
        unknown = set(self.reset_options) - set(RESET_OPTION_RANGES)
        if unknown:
            raise ConfigError(f"management server: unknown reset options {sorted(unknown)}")
        self.source = source
        self.token = token
        self.ego = ego
        self.legacy = legacy
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.counters = _Counters()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            raise BackendError(
                f"management server: cannot bind TCP {host}:{port} ({exc}); is another server "
                "running? pick another port"
            ) from None
        self._listener.listen(64)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._connections: dict[int, _Connection] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_done = threading.Event()
        self._loop_done.set()
        self._loop_thread_id: int | None = None
        self._direct_lock = threading.Lock()
        self._closed = False

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self) -> ManagementServer:
        """Serve on a daemon thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("management server already started")
        self._thread = threading.Thread(target=self.serve_forever, name="acgym-mgmt", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, join the thread, close every socket. Safe twice."""
        if self._closed:
            return
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if threading.get_ident() != self._loop_thread_id:
            self._loop_done.wait(timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._closed = True
        for conn in list(self._connections.values()):
            conn.sock.close()
        self._connections.clear()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        self._selector.close()

    def __enter__(self) -> ManagementServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve until ``stop``."""
        self._loop_done.clear()
        self._loop_thread_id = threading.get_ident()
        try:
            self._serve()
        finally:
            self._loop_thread_id = None
            self._loop_done.set()

    def _serve(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        logger.info(
            "management server on tcp %s:%d (%s)",
            *self.address,
            "legacy" if self.legacy else f"v{PROTOCOL_VERSION}",
        )
        while not self._stop.is_set():
            for key, events in self._selector.select(_POLL_S):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except BlockingIOError:
                        pass
                else:
                    conn = self._connections.get(key.fd)
                    if conn is None:
                        continue
                    try:
                        if events & selectors.EVENT_READ:
                            self._on_readable(conn)
                        if events & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                            self._flush(conn)
                    except Exception:
                        self.counters["mgmt_errors"] += 1
                        logger.exception("management server: error on connection %s", conn.addr)
                        self._close(conn)
            self._close_idle()

    # -- connections --------------------------------------------------------------------

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.counters["mgmt_accept_errors"] += 1
                logger.warning("management server: accept failed: %s", exc)
                return
            if len(self._connections) >= self.max_connections:
                self.counters["mgmt_connections_refused"] += 1
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            decoder = None if self.legacy else FrameDecoder(self.max_request_bytes)
            conn = _Connection(sock, addr, decoder)
            self._connections[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, None)
            self.counters["mgmt_connections"] += 1

    def _close(self, conn: _Connection) -> None:
        fd = conn.sock.fileno()
        if fd >= 0:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            self._connections.pop(fd, None)
        conn.sock.close()

    def _close_idle(self) -> None:
        now_s = time.monotonic()
        for conn in list(self._connections.values()):
            if now_s - conn.last_active_s > self.idle_timeout_s:
                self.counters["mgmt_idle_closed"] += 1
                self._close(conn)

    def _on_readable(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:
            if conn.out:
                conn.close_after_flush = True  # finish the last reply, then close
                self._selector.modify(conn.sock, selectors.EVENT_WRITE, None)
            else:
                self._close(conn)
            return
        conn.last_active_s = time.monotonic()
        if conn.close_after_flush:
            return
        if self.legacy:
            self._on_legacy_bytes(conn, data)
        else:
            assert conn.decoder is not None
            try:
                frames = conn.decoder.feed(data)
            except RejectedMessage as exc:
                self.counters.reject("mgmt_", exc.code, str(exc))
                self._send(
                    conn, codec.encode_reply(ErrorMessage(exc.code, str(exc), None)), close=True
                )
                return
            for payload in frames:
                self._on_frame(conn, payload)
                if conn.close_after_flush:
                    return

    def _send(
        self, conn: _Connection, body: bytes, *, close: bool = False, framed: bool = True
    ) -> None:
        conn.out += encode_frame(body) if framed else body
        conn.close_after_flush = conn.close_after_flush or close
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out[: 1 << 20])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._close(conn)
                return
            del conn.out[:sent]
        if conn.out:
            events = selectors.EVENT_WRITE | (0 if conn.close_after_flush else selectors.EVENT_READ)
            self._selector.modify(conn.sock, events, None)
        elif conn.close_after_flush:
            self._close(conn)
        else:
            self._selector.modify(conn.sock, selectors.EVENT_READ, None)

    # -- source calls -------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        if self.ego is not None:
            return self.ego.run_in_loop(fn)
        with self._direct_lock:
            return fn()

    def _reset(self, options: dict[str, Any]) -> int:
        if self.ego is not None:
            return self.ego.reset_episode(options)
        self._call(lambda: self.source.reset(options))
        return 1

    def counters_snapshot(self) -> dict[str, int]:
        """The ego server's and this server's counters together."""
        merged: dict[str, int] = {}
        if self.ego is not None:
            merged.update(self.ego.counters)
        merged.update(self.counters)
        return merged

    # -- v1 -------------------------------------------------------------------------------

    def _on_frame(self, conn: _Connection, payload: bytes) -> None:
        self.counters["mgmt_requests"] += 1
        try:
            request = codec.decode_request(payload, self.max_request_bytes)
        except RejectedMessage as exc:
            self.counters.reject("mgmt_", exc.code, str(exc))
            close = not conn.authenticated
            request_id = getattr(exc, "request_id", None)
            self._send(
                conn, codec.encode_reply(ErrorMessage(exc.code, str(exc), request_id)), close=close
            )
            return
        if not conn.authenticated and not isinstance(request, Hello):
            self.counters.reject(
                "mgmt_", "hello_required", f"{type(request).__name__} from {conn.addr}"
            )
            message = "send hello (version and token) first on each management connection"
            self._send(
                conn,
                codec.encode_reply(ErrorMessage("hello_required", message, request.id)),
                close=True,
            )
            return
        try:
            result = self._answer(conn, request)
            body = codec.encode_reply(Ok(request.id, result))
        except RejectedMessage as exc:
            self.counters.reject("mgmt_", exc.code, str(exc))
            close = exc.code == "bad_token"
            self._send(
                conn, codec.encode_reply(ErrorMessage(exc.code, str(exc), request.id)), close=close
            )
            return
        except (BackendError, ProtocolError, ValueError, TypeError) as exc:
            self._backend_error(conn, request.id, exc)
            return
        except Exception as exc:
            logger.exception("management server: the source failed")
            self._backend_error(conn, request.id, exc)
            return
        self._send(conn, body)

    def _backend_error(self, conn: _Connection, request_id: int, exc: Exception) -> None:
        code = "busy" if "did not run the request" in str(exc) else "backend_error"
        self.counters.reject("mgmt_", code, str(exc))
        message = f"{type(exc).__name__}: {exc}"
        self._send(conn, codec.encode_reply(ErrorMessage(code, message, request_id)))

    def _answer(self, conn: _Connection, request: Hello | Reset | Query) -> dict[str, Any]:
        if isinstance(request, Hello):
            if not _token_ok(self.token, request.token):
                raise RejectedMessage(
                    "bad_token",
                    "the token does not match the server's: pass the token the server was started with",
                )
            conn.authenticated = True
            info = self._call(self.source.static_info)
            ego = self.ego
            return {
                "version": PROTOCOL_VERSION,
                "server": f"acgym {__version__}",
                "backend": str(info.get("backend", "unknown"))[:64],
                "modes": list(ego.modes if ego is not None else ()),
                "control_rate_hz": ego.control_rate_hz
                if ego is not None
                else DEFAULT_CONTROL_RATE_HZ,
                "ego_port": ego.address[1] if ego is not None else 0,
                "reset_options": list(self.reset_options),
                "max_request_bytes": self.max_request_bytes,
            }
        if isinstance(request, Reset):
            options = request.options.to_dict()
            unsupported = sorted(set(options) - set(self.reset_options))
            if unsupported:
                raise RejectedMessage(
                    "unsupported_option",
                    f"this server does not honour reset options {unsupported}; it offers "
                    f"{list(self.reset_options) or 'none'}",
                )
            return {"first_seq": self._reset(options)}
        if request.type == "get_counters":
            return self.counters_snapshot()
        getter = {
            "get_static_info": self.source.static_info,
            "get_config": self.source.config,
            "get_track_info": self.source.track_info,
        }[request.type]
        result = codec.normalize_plain(self._call(getter))
        return RESULT_CHECKS[request.type](result)  # a source bug is reported, not sent

    # -- legacy -----------------------------------------------------------------------------

    def _on_legacy_bytes(self, conn: _Connection, data: bytes) -> None:
        conn.text += data
        while conn.text:
            word = next(
                (w for w in legacy_wire.MGMT_WORDS if conn.text.startswith(w.encode())), None
            )
            if word is None:
                if len(conn.text) < 1024 and any(
                    w.encode().startswith(conn.text) for w in legacy_wire.MGMT_WORDS
                ):
                    return  # the rest of a word is on its way
                self.counters["mgmt_requests"] += 1
                self.counters.reject(
                    "mgmt_", "unknown_type", f"legacy word {bytes(conn.text[:40])!r}"
                )
                conn.text.clear()
                self._close(conn)  # the original breaks off the connection too
                return
            del conn.text[: len(word)]
            self.counters["mgmt_requests"] += 1
            try:
                reply = self._answer_legacy(word)
            except Exception:
                self.counters["source_errors"] += 1
                logger.exception("management server: the source failed on %r", word)
                self._close(conn)
                return
            if reply is not None:
                self._send(conn, reply, framed=False)

    def _answer_legacy(self, word: str) -> bytes | None:
        if word == "reset":
            self._reset({})
            return None
        if word == "get_config":
            config = self._call(self.source.config)
            ego_address = (
                self.ego.address if self.ego is not None else ("0.0.0.0", DEFAULT_EGO_PORT)
            )
            return legacy_wire.encode_config(
                legacy_wire.config_dict(config, ego_address, self.address)
            )
        getter = self.source.static_info if word == "get_static_info" else self.source.track_info
        body, replaced = legacy_wire.encode_eval_safe_json(self._call(getter))
        self.counters["legacy_values_replaced"] += replaced
        return body


class ProtocolServer:
    """An ``EgoServer`` and a ``ManagementServer`` over one source, started together.

    Ports 0 pick free ports; read them from ``ego_address`` / ``mgmt_address``.
    """

    def __init__(
        self,
        source: CarSource,
        host: str = DEFAULT_HOST,
        ego_port: int = DEFAULT_EGO_PORT,
        mgmt_port: int = DEFAULT_MGMT_PORT,
        *,
        token: str | None = None,
        legacy: bool = False,
        modes: Sequence[str] = MODES,
        control_rate_hz: float = DEFAULT_CONTROL_RATE_HZ,
        client_timeout_s: float | None = 1.0,
        client_drop_s: float = 30.0,
        reset_options: Iterable[str] | None = None,
        max_request_bytes: int = MGMT_REQUEST_MAX_BYTES,
    ) -> None:
        self.ego = EgoServer(
            source,
            host,
            ego_port,
            token=token,
            modes=modes,
            control_rate_hz=control_rate_hz,
            legacy=legacy,
            client_timeout_s=client_timeout_s,
            client_drop_s=client_drop_s,
        )
        try:
            self.mgmt = ManagementServer(
                source,
                host,
                mgmt_port,
                token=token,
                ego=self.ego,
                legacy=legacy,
                reset_options=reset_options,
                max_request_bytes=max_request_bytes,
            )
        except Exception:
            self.ego.stop()
            raise

    @property
    def ego_address(self) -> tuple[str, int]:
        """The ego stream's (host, port)."""
        return self.ego.address

    @property
    def mgmt_address(self) -> tuple[str, int]:
        """The management channel's (host, port)."""
        return self.mgmt.address

    def start(self) -> ProtocolServer:
        """Serve both on daemon threads; returns ``self``."""
        self.ego.start()
        self.mgmt.start()
        return self

    def stop(self) -> None:
        """Stop both. Safe twice."""
        self.mgmt.stop()
        self.ego.stop()

    def __enter__(self) -> ProtocolServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""The ego stream's server (UDP) over any ``CarSource``, and what servers share.

``EgoServer`` streams a source's state (real time on its own clock, or lock-step: one
control period per controls message) and applies controls, for one client at a time, in
protocol v1 or, with ``legacy=True``, the original plugin's format (docs/protocol.md).

Every call into the source happens on the ego server's thread (``run_in_loop`` hands
other threads' calls to it), so a source never sees two calls at once. A bad datagram
never stops the server: it is counted, logged (rate limited) and answered where the
protocol says so.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import logging
import math
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from acgym.errors import BackendError, ConfigError
from acgym.protocol import channels as ch
from acgym.protocol import codec
from acgym.protocol import legacy as legacy_wire
from acgym.protocol.frames import encode_capture
from acgym.protocol.messages import (
    CLIENT_DATAGRAM_MAX_BYTES,
    DEFAULT_CONTROL_RATE_HZ,
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    MODES,
    PROTOCOL_VERSION,
    SAFE_CONTROLS,
    TOKEN_MAX_CHARS,
    Connect,
    Connected,
    Controls,
    ControlsMessage,
    Disconnect,
    Disconnected,
    ErrorMessage,
    RejectedMessage,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

JOB_TIMEOUT_S = 10.0
"""How long a management request waits for the ego thread before ``busy``."""
POLL_S = 0.25
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


def check_bind_address(host: str, token: str | None, legacy_mode: bool, what: str) -> None:
    """Refuse a bad token, a token in legacy mode, and a non-loopback bind without a token
    (or in legacy mode).

    Raises:
        ConfigError: saying what to change.
    """
    if token is not None:
        if legacy_mode:
            raise ConfigError(
                f"{what}: legacy mode has no token (the original client cannot send one), "
                "so a token would keep no one off: drop the token, or use protocol v1"
            )
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


def token_matches(expected: str | None, given: str | None) -> bool:
    """Whether ``given`` is the server's token (constant-time); no token accepts all."""
    if expected is None:
        return True
    if given is None or not given.isascii():  # a server's token is ASCII (a lone
        return False  # surrogate, which JSON can carry, cannot even be encoded)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))


def worth_logging(count: int) -> bool:
    """Whether the ``count``-th event of a kind is logged: the first 3, the 10th, 100th,
    1000th, then every 10000th (a flood of bad packets must not flood the log)."""
    return count <= 3 or count in (10, 100, 1000) or count % 10000 == 0


class EventCounters(collections.Counter):
    """Named event counts, with rate-limited logging of rejects and failures."""

    def reject(self, prefix: str, code: str, detail: str) -> None:
        """Count a rejected message under ``<prefix>rejected`` and per code; log a few."""
        self[f"{prefix}rejected"] += 1
        self[f"{prefix}rejected_{code}"] += 1
        count = self[f"{prefix}rejected_{code}"]
        if worth_logging(count):
            logger.warning("rejected (%s, #%d): %s", code, count, detail[:200])

    def failure(self, name: str, detail: str) -> None:
        """Count an unexpected exception under ``name``; log a few with their traceback.

        Call it from an ``except`` block.
        """
        self[name] += 1
        count = self[name]
        if worth_logging(count):
            logger.exception("%s (%s #%d)", detail, name, count)


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
        spin_s: real time: sleep until this long before a tick, then spin (epoll sleeps in
            whole milliseconds, rounded up: 2 ms leaves a margin).
        realtime_priority: run the server's thread under the OS real-time scheduler
            (Linux ``SCHED_FIFO``) at this priority, 1 to 99, so that ticks stay on time on
            a busy machine; needs ``CAP_SYS_NICE`` or an ``rtprio`` limit, else a warning
            and normal priority. ``None``: normal priority.
        capture_port: after each state sent, trigger the capture helper on this UDP port
            of 127.0.0.1 with the state's tag (``acgym.protocol.frames.encode_capture``:
            the session's nonce, 0 in legacy mode, and the state's seq); None: no capture.
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
        spin_s: float = 0.002,
        realtime_priority: int | None = None,
        capture_port: int | None = None,
    ) -> None:
        check_bind_address(host, token, legacy, "ego server")
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
        if realtime_priority is not None and not 1 <= realtime_priority <= 99:
            raise ConfigError(
                f"ego server: realtime_priority {realtime_priority}; expected 1 to 99"
            )
        self.realtime_priority = realtime_priority
        self.capture_address = None if capture_port is None else ("127.0.0.1", capture_port)
        """Where each state's capture trigger goes (the capture helper), or None."""
        self.priority_raised = False
        """Whether the thread got ``realtime_priority``."""
        self.counters = EventCounters()
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
        if self.realtime_priority is not None:
            self._raise_priority(self.realtime_priority)
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
                timeout_s = POLL_S
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

    def _raise_priority(self, priority: int) -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))  # this thread
        except (AttributeError, OSError) as exc:
            logger.warning(
                "ego server: cannot run its thread at real-time priority %d (%s): ticks may "
                "be late on a busy machine; grant CAP_SYS_NICE or an rtprio limit",
                priority,
                exc,
            )
            return
        self.priority_raised = True

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
                self.counters.failure(
                    "source_errors", f"ego server: error while handling a datagram from {addr}"
                )
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
            self.counters.failure("source_errors", "ego server: the source failed during a tick")
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
            channels[ch.STEPS] = session.seq
            channels[ch.TIMESTAMP_AC] = time.perf_counter()
            channels[ch.TOTAL_ERRORS_OUT_OF_SYNC] = self.counters["controls_out_of_sync"]
            data, replaced = legacy_wire.encode_state(channels)
            if replaced:
                self.counters["legacy_values_replaced"] += replaced
        else:
            channels = codec.normalize_channels(channels)
            channels[ch.STEPS] = session.seq
            data = codec.encode_state(session.seq, session.controls_seq, channels)
        session.last_state = data
        self._sendto(data, session.addr)
        self.counters["states_sent"] += 1
        if self.capture_address is not None:
            self._sendto(encode_capture(session.nonce or 0, session.seq), self.capture_address)
            self.counters["capture_triggers"] += 1

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
            self.counters.failure(
                "source_errors", "ego server: the source failed to apply controls"
            )

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
        if not token_matches(self.token, msg.token):
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
        if data == b"reset":  # the original only logs it
            if session is None or addr != session.addr:
                self.counters.reject("datagrams_", "not_connected", f"legacy reset from {addr}")
            else:
                self.counters["legacy_ego_resets"] += 1
                logger.debug("ego server: 'reset' on the ego stream: nothing to do")
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

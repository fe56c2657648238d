"""The management channel's server (TCP) over any ``CarSource``.

``ManagementServer`` answers hello / reset / static info / config / track info /
counters on many concurrent connections (one ``selectors`` loop), in protocol v1 (framed
JSON) or, with ``legacy=True``, the original plugin's bare command words. With an
``EgoServer`` beside it, every call into the source runs on the ego server's thread.
"""

from __future__ import annotations

import collections
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from acgym import __version__
from acgym.errors import BackendError, ConfigError, ProtocolError
from acgym.protocol import codec
from acgym.protocol import legacy as legacy_wire
from acgym.protocol.ego_server import (
    POLL_S,
    CarSource,
    EgoServer,
    EventCounters,
    check_bind_address,
    token_matches,
    worth_logging,
)
from acgym.protocol.framing import FrameDecoder, encode_frame
from acgym.protocol.messages import (
    DEFAULT_CONTROL_RATE_HZ,
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    MGMT_REQUEST_MAX_BYTES,
    PROTOCOL_VERSION,
    RESET_OPTION_RANGES,
    RESULT_CHECKS,
    ErrorMessage,
    Hello,
    Ok,
    Query,
    RejectedMessage,
    Reset,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class _FramingError:
    """In a connection's queue of requests: the framing broke here (answer, then close)."""

    error: RejectedMessage


@dataclass
class _Connection:
    sock: socket.socket
    addr: Any
    decoder: FrameDecoder | None
    out: bytearray = field(default_factory=bytearray)
    """The reply being sent (at most one: see ``_answer_pending``)."""
    pending: collections.deque[bytes | _FramingError] = field(default_factory=collections.deque)
    """v1: request frames received but not answered yet."""
    text: bytearray = field(default_factory=bytearray)
    """Legacy: bytes received but not answered yet."""
    requests: int = 0
    authenticated: bool = False
    close_after_flush: bool = False
    opened_s: float = field(default_factory=time.monotonic)
    last_active_s: float = field(default_factory=time.monotonic)
    last_sent_s: float = field(default_factory=time.monotonic)
    """When the client last took bytes of a reply (or the reply was queued)."""


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
        first_request_timeout_s: close a connection whose first request is not complete
            this long after it opened (idle connections cannot hold every slot).
        send_timeout_s: close a connection whose client takes no byte of a reply for
            this long. A connection's next request is read only once its last reply is
            handed to the network, so a client that never reads holds one reply here.
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
        first_request_timeout_s: float = 10.0,
        send_timeout_s: float = 10.0,
        reset_options: Iterable[str] | None = None,
    ) -> None:
        check_bind_address(host, token, legacy, "management server")
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
        self.first_request_timeout_s = first_request_timeout_s
        self.send_timeout_s = send_timeout_s
        self.counters = EventCounters()
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
            for key, events in self._selector.select(POLL_S):
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
                            self._answer_pending(conn)
                    except Exception:
                        self.counters.failure(
                            "mgmt_errors", f"management server: error on connection {conn.addr}"
                        )
                        self._close(conn)
            self._close_stale()

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

    def _close_stale(self) -> None:
        """Close connections past a deadline: first request, reply taken, idle."""
        now_s = time.monotonic()
        for conn in list(self._connections.values()):
            if not conn.requests and now_s - conn.opened_s > self.first_request_timeout_s:
                reason = "mgmt_first_request_timeouts"
            elif conn.out and now_s - conn.last_sent_s > self.send_timeout_s:
                reason = "mgmt_send_timeouts"
            elif now_s - conn.last_active_s > self.idle_timeout_s:
                reason = "mgmt_idle_closed"
            else:
                continue
            self.counters[reason] += 1
            if worth_logging(self.counters[reason]):
                logger.warning("management server: closed %s (%s)", conn.addr, reason)
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
            conn.text += data
        else:
            assert conn.decoder is not None
            try:
                conn.pending.extend(conn.decoder.feed(data))
            except RejectedMessage as exc:  # the framing is lost: answer it, then close
                conn.pending.append(_FramingError(exc))
        self._answer_pending(conn)

    def _answer_pending(self, conn: _Connection) -> None:
        """Answer the requests received, one at a time, while the last reply is sent.

        A reply the client does not take stops the answering and the reading (the
        client's further requests wait in the network buffers), so a client that sends
        and never reads holds one reply here, not one per request.
        """
        while not conn.out and not conn.close_after_flush and conn.sock.fileno() >= 0:
            if self.legacy:
                if not self._next_legacy_word(conn):
                    break
            elif conn.pending:
                self._on_frame(conn, conn.pending.popleft())
            else:
                break
        if conn.sock.fileno() >= 0:
            events = selectors.EVENT_WRITE if conn.out else selectors.EVENT_READ
            self._selector.modify(conn.sock, events, None)

    def _send(
        self, conn: _Connection, body: bytes, *, close: bool = False, framed: bool = True
    ) -> None:
        if not conn.out:
            conn.last_sent_s = time.monotonic()
        conn.out += encode_frame(body) if framed else body
        conn.close_after_flush = conn.close_after_flush or close
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out[: 1 << 20])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._close(conn)
                return
            del conn.out[:sent]
            conn.last_sent_s = time.monotonic()
        if conn.close_after_flush:
            self._close(conn)

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

    def _on_frame(self, conn: _Connection, payload: bytes | _FramingError) -> None:
        if isinstance(payload, _FramingError):
            exc = payload.error
            self.counters.reject("mgmt_", exc.code, str(exc))
            self._send(conn, codec.encode_reply(ErrorMessage(exc.code, str(exc), None)), close=True)
            return
        conn.requests += 1
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
        except Exception as exc:  # a bug of ours: the client still gets its error reply
            self.counters.failure("mgmt_errors", "management server: a request broke the decoder")
            self.counters.reject("mgmt_", "bad_message", repr(exc))
            message = f"the request could not be read ({type(exc).__name__})"
            self._send(
                conn,
                codec.encode_reply(ErrorMessage("bad_message", message, None)),
                close=not conn.authenticated,
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
            self.counters.failure("source_errors", "management server: the source failed")
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
            if not token_matches(self.token, request.token):
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
            return self._call(self.counters_snapshot)  # the ego counters move on its thread
        getter = {
            "get_static_info": self.source.static_info,
            "get_config": self.source.config,
            "get_track_info": self.source.track_info,
        }[request.type]
        result = codec.normalize_plain(self._call(getter))
        return RESULT_CHECKS[request.type](result)  # a source bug is reported, not sent

    # -- legacy -----------------------------------------------------------------------------

    def _next_legacy_word(self, conn: _Connection) -> bool:
        """Answer the next word of ``conn.text``; False when none is complete (or closed)."""
        if not conn.text:
            return False
        word = next((w for w in legacy_wire.MGMT_WORDS if conn.text.startswith(w.encode())), None)
        if word is None:
            if len(conn.text) < 1024 and any(
                w.encode().startswith(conn.text) for w in legacy_wire.MGMT_WORDS
            ):
                return False  # the rest of a word is on its way
            conn.requests += 1
            self.counters["mgmt_requests"] += 1
            self.counters.reject("mgmt_", "unknown_type", f"legacy word {bytes(conn.text[:40])!r}")
            conn.text.clear()
            self._close(conn)  # the original breaks off the connection too
            return False
        del conn.text[: len(word)]
        conn.requests += 1
        self.counters["mgmt_requests"] += 1
        try:
            reply = self._answer_legacy(word)
        except Exception:
            self.counters.failure(
                "source_errors", f"management server: the source failed on {word!r}"
            )
            self._close(conn)
            return False
        if reply is not None:
            self._send(conn, reply, framed=False)
        return True

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

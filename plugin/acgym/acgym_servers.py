"""The plugin's servers: the UDP ego stream and the TCP management channel.

They mirror ``acgym.protocol.server`` (docs/protocol.md) in Python 3.3 with threads:

- ``EgoServer``: one thread. It ticks on its own drift-free clock (tick k is due at
  ``t0 + k / rate``; it sleeps until about 2 ms before, then spins; a tick more than a
  period late skips the missed ones and counts them) and sends the latest snapshot of
  the car to the one client. Controls are applied on arrival. ``legacy`` speaks the
  original sensors_par format instead.
- ``ManagementServer``: a listening thread and one thread per connection (at most 32).

Neither calls the game: the game thread publishes snapshots and runs the requests that
need the game (``Source`` below). A bad datagram or request never stops a server: it is
counted, logged (rate limited) and answered where the protocol says so.

Python 3.3, standard library only.
"""

import hmac
import select
import socket
import threading
import time

import acgym_wire as wire

POLL_S = 0.25
"""Longest a server thread blocks before looking at its stop flag."""


class BusyError(Exception):
    """The game thread did not run a request in time."""


REQUEST_ERRORS = ("bad_token", "unsupported_option")
"""Refusals while answering that are the request's fault; any other is the source's."""


class Source(object):
    """What the servers need from the plugin (the app implements it).

    ``snapshot()`` returns the latest state dict or None (not ready: nothing is sent),
    ``apply(controls)`` applies a controls dict, and the management calls return plain
    dicts: ``hello_info()``, ``reset(options)`` (returns nothing; may raise
    ``BusyError``), ``static_info()``, ``config()``, ``legacy_config()``,
    ``track_info()``.
    """


def worth_logging(count):
    """Whether the ``count``-th event of a kind is logged: the first 3, the 10th, 100th,
    1000th, then every 10000th (a flood of bad packets must not flood the log)."""
    return count <= 3 or count in (10, 100, 1000) or count % 10000 == 0


class Counters(object):
    """Named event counts shared by threads, with rate-limited logging of rejects and
    failures."""

    def __init__(self, logger):
        self.logger = logger
        self._lock = threading.Lock()
        self._counts = {}

    def add(self, name, count=1):
        """Add ``count`` to ``name``; returns the new value."""
        with self._lock:
            value = self._counts.get(name, 0) + count
            self._counts[name] = value
        return value

    def get(self, name):
        with self._lock:
            return self._counts.get(name, 0)

    def reject(self, prefix, code, detail):
        with self._lock:
            total = prefix + "rejected"
            key = prefix + "rejected_" + code
            self._counts[total] = self._counts.get(total, 0) + 1
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        if worth_logging(count):
            self.logger.warning("rejected (%s, #%d): %s", code, count, detail[:200])

    def failure(self, name, detail):
        """Count an unexpected exception under ``name``; log a few with their traceback.

        Call it from an ``except`` block.
        """
        count = self.add(name)
        if worth_logging(count):
            self.logger.exception("%s (%s #%d)", detail, name, count)

    def snapshot(self):
        with self._lock:
            return dict(self._counts)


def token_ok(expected, given):
    """Whether ``given`` matches the server's token (any when it has none)."""
    if not expected:
        return True
    if given is None:
        return False
    try:  # a server's token is ASCII (a lone surrogate, which JSON can carry, cannot
        given_bytes = given.encode("ascii")  # even be encoded)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given_bytes)


class _Session(object):
    """The ego stream's current client."""

    def __init__(self, addr, nonce, legacy, now_s):
        self.addr = addr
        self.nonce = nonce
        self.legacy = legacy
        self.seq = 0
        self.controls_seq = 0
        self.last_controls_s = now_s
        self.last_heard_s = now_s
        self.released = False


class EgoServer(object):
    """The ego stream over UDP: states out at ``rate_hz``, controls in, one client.

    Args:
        source: the app (``snapshot``, ``apply``).
        host, port: where to bind (port 0 = a free port; see ``address``).
        token: shared token ("" = none).
        rate_hz: states per second.
        legacy: speak the original plugin's format.
        logger: a ``logging.Logger``.
        counters: the shared ``Counters``.
        client_timeout_s: release to the safe controls after this long without controls.
        client_drop_s: forget a client silent for this long.
        capture_port: after each state sent, trigger the capture helper on this UDP port
            of 127.0.0.1 with the state's tag (the session's nonce, 0 in legacy mode, and
            its seq); None: no capture.
    """

    def __init__(
        self,
        source,
        host,
        port,
        token,
        rate_hz,
        legacy,
        logger,
        counters,
        client_timeout_s=1.0,
        client_drop_s=30.0,
        spin_s=0.002,
        capture_port=None,
    ):
        self.source = source
        self.capture_address = None if capture_port is None else ("127.0.0.1", capture_port)
        self.token = token
        self.rate_hz = float(rate_hz)
        self.period_s = 1.0 / self.rate_hz
        self.legacy = legacy
        self.logger = logger
        self.counters = counters
        self.client_timeout_s = client_timeout_s
        self.client_drop_s = client_drop_s
        self.spin_s = spin_s
        self._recv_bytes = (
            wire.LEGACY_DATAGRAM_MAX_BYTES if legacy else wire.CLIENT_DATAGRAM_MAX_BYTES
        ) + 1
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise OSError(
                "cannot bind UDP {0}:{1} ({2}); is another acgym (or the original "
                "sensors_par app) running? set ego_port".format(host, port, exc)
            ) from None
        self._sock.setblocking(False)
        self._lock = threading.RLock()
        self._session = None
        self._next_tick_s = 0.0
        self._stop = threading.Event()
        self._thread = None
        self._last_error_reply_s = {}

    @property
    def address(self):
        """The bound (host, port)."""
        return self._sock.getsockname()[:2]

    @property
    def client_address(self):
        """The current client's address, or None."""
        session = self._session
        return None if session is None else session.addr

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="acgym-ego")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        """Tell the client, stop the thread, close the socket. Safe twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            session = self._session
            self._session = None
        if session is not None:
            if session.legacy:
                self._sendto(wire.WORD_DISCONNECT.encode("ascii"), session.addr)
            else:
                self._sendto(wire.encode_disconnected("server_closing"), session.addr)
        self._sock.close()

    def first_seq(self):
        """The ``seq`` the next state will carry (1 when no client is connected)."""
        with self._lock:
            session = self._session
            return 1 if session is None else session.seq + 1

    # -- loop ---------------------------------------------------------------------------

    def _serve(self):
        self.logger.info(
            "ego server on udp %s:%d (%s, %.1f Hz)",
            self.address[0],
            self.address[1],
            "legacy" if self.legacy else "v1",
            self.rate_hz,
        )
        while not self._stop.is_set():
            try:
                self._loop_once()
            except Exception:
                self.counters.failure("server_errors", "ego server: unexpected error (going on)")
                time.sleep(0.01)

    def _loop_once(self):
        timeout_s = POLL_S
        if self._session is not None:
            now_s = time.perf_counter()
            wait_s = self._next_tick_s - now_s
            if wait_s <= 0.0:
                self._tick(now_s)
                return
            if wait_s <= self.spin_s:
                while time.perf_counter() < self._next_tick_s:
                    pass
                return
            timeout_s = min(timeout_s, wait_s - self.spin_s)
        readable = select.select([self._sock], [], [], timeout_s)[0]
        if readable:
            self._drain()
        self._check_silence()

    def _drain(self):
        for _ in range(256):  # then let a due tick run
            try:
                data, addr = self._sock.recvfrom(self._recv_bytes)
            except (BlockingIOError, socket.timeout):
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket
                self.counters.add("recv_errors")
                self.logger.debug("ego recv error: %s", exc)
                continue
            self.counters.add("datagrams_received")
            try:
                with self._lock:
                    if self.legacy:
                        self._handle_legacy(data, addr)
                    else:
                        self._handle(data, addr)
            except wire.WireError as exc:
                self.counters.reject("datagrams_", exc.code, str(exc))
                if self.legacy:
                    continue  # the original client would eval an error
                session = self._session
                if exc.code in ("version_mismatch", "unsupported_mode"):  # a refused connect
                    self._reply_error(exc.code, str(exc), addr, per_s=10.0)
                elif session is not None and addr == session.addr:
                    self._reply_error(exc.code, str(exc), addr)
            except Exception:
                self.counters.failure(
                    "server_errors",
                    "ego server: error while handling a datagram from {0}".format(addr),
                )

    def _tick(self, now_s):
        lateness_s = now_s - self._next_tick_s
        self.counters.add("ticks")
        if lateness_s >= self.period_s:
            missed = int(lateness_s // self.period_s)
            self.counters.add("ticks_missed", missed)
            self._next_tick_s += missed * self.period_s
        self._next_tick_s += self.period_s
        with self._lock:
            self._send_state()
        self._check_silence()

    def _send_state(self):
        session = self._session
        if session is None:
            return
        snapshot = self.source.snapshot()
        if snapshot is None:
            return  # the static info is not complete yet: no state (as the original)
        session.seq += 1
        channels = dict(snapshot)
        channels["steps"] = session.seq
        if session.legacy:
            channels["total_errors_out_of_sync"] = self.counters.get("controls_out_of_sync")
            data, replaced = wire.legacy_encode_state(channels)
            if replaced:
                self.counters.add("legacy_values_replaced", replaced)
        else:
            data = wire.encode_state(
                session.seq, session.controls_seq, wire.normalize_channels(channels)
            )
        self._sendto(data, session.addr)
        self.counters.add("states_sent")
        if self.capture_address is not None:
            self._sendto(wire.encode_capture(session.nonce or 0, session.seq), self.capture_address)
            self.counters.add("capture_triggers")

    def _sendto(self, data, addr):
        try:
            self._sock.sendto(data, addr)
        except OSError as exc:
            self.counters.add("send_errors")
            self.logger.debug("ego send to %s failed: %s", addr, exc)

    def _reply_error(self, code, message, addr, per_s=1.0):
        now_s = time.monotonic()
        last_s = self._last_error_reply_s.get(code)
        if last_s is not None and now_s - last_s < 1.0 / per_s:
            return
        self._last_error_reply_s[code] = now_s
        self._sendto(wire.encode_ego_error(code, message), addr)

    def _apply(self, controls):
        try:
            self.source.apply(controls)
        except Exception as exc:
            self.counters.failure("source_errors", "ego server: applying controls failed")
            session = self._session
            if session is not None and not session.legacy:
                message = "the game could not apply the controls: {0}".format(exc)
                self._reply_error("backend_error", message[:1024], session.addr)

    def _check_silence(self):
        with self._lock:
            session = self._session
            if session is None:
                return
            now_s = time.perf_counter()
            if now_s - session.last_heard_s > self.client_drop_s:
                self.logger.warning("ego server: dropping silent client %s", session.addr)
                if not session.legacy:
                    self._sendto(wire.encode_disconnected("client_timeout"), session.addr)
                self._session = None
                self.counters.add("clients_dropped")
                self._apply(wire.SAFE_CONTROLS)
                return
            if (
                self.client_timeout_s
                and not session.released
                and now_s - session.last_controls_s > self.client_timeout_s
            ):
                session.released = True
                self.counters.add("client_timeouts")
                self.logger.info(
                    "ego server: no controls for %.1f s: pedals released", self.client_timeout_s
                )
                self._apply(wire.SAFE_CONTROLS)

    def _new_session(self, addr, nonce, legacy):
        old = self._session
        if old is not None and old.addr != addr:
            self.counters.add("clients_replaced")
            self.logger.warning("ego server: client %s replaces %s", addr, old.addr)
            if not old.legacy:
                self._sendto(wire.encode_disconnected("replaced"), old.addr)
        now_s = time.perf_counter()
        session = _Session(addr, nonce, legacy, now_s)
        self._session = session
        self.counters.add("connects")
        self._next_tick_s = now_s + self.period_s
        self.logger.info("ego server: client %s connected", addr)
        return session

    # -- v1 -------------------------------------------------------------------------------

    def _handle(self, data, addr):
        if len(data) > wire.CLIENT_DATAGRAM_MAX_BYTES:
            raise wire.WireError("too_large", "ego datagram of {0} bytes or more".format(len(data)))
        msg = wire.decode_from_client(data)
        session = self._session
        kind = msg["type"]
        if kind == "controls":
            if session is None or addr != session.addr:
                self.counters.reject(
                    "datagrams_", "not_connected", "controls from {0}".format(addr)
                )
                self._reply_error(
                    "not_connected",
                    "this address is not the ego stream's client: send connect first",
                    addr,
                )
                return
            self._on_controls(session, msg)
        elif kind == "connect":
            self._on_connect(msg, addr)
        elif session is not None and addr == session.addr:  # disconnect
            self._session = None
            self.counters.add("disconnects")
            self.logger.info("ego server: client %s disconnected", addr)
            self._apply(wire.SAFE_CONTROLS)

    def _on_connect(self, msg, addr):
        if not token_ok(self.token, msg["token"]):
            self.counters.reject("datagrams_", "bad_token", "connect from {0}".format(addr))
            self._reply_error(
                "bad_token",
                "the token does not match the server's: pass the token the server was started with",
                addr,
                per_s=10.0,
            )
            return
        if msg["mode"] != "realtime":
            self.counters.reject(
                "datagrams_", "unsupported_mode", "{0} from {1}".format(msg["mode"], addr)
            )
            self._reply_error(
                "unsupported_mode",
                "this server offers realtime, not {0} (the game runs in real time)".format(
                    msg["mode"]
                ),
                addr,
                per_s=10.0,
            )
            return
        connected = wire.encode_connected("realtime", self.rate_hz, msg["nonce"])
        session = self._session
        if session is not None and session.addr == addr and session.nonce == msg["nonce"]:
            session.last_heard_s = time.perf_counter()
            self._sendto(connected, addr)  # a repeated connect: same session
            return
        self._new_session(addr, msg["nonce"], False)
        self._sendto(connected, addr)

    def _on_controls(self, session, msg):
        now_s = time.perf_counter()
        session.last_heard_s = now_s
        seq = msg["seq"]
        if seq <= session.controls_seq:
            self.counters.add("controls_late")
            return
        if seq > session.controls_seq + 1:
            self.counters.add("controls_lost", seq - session.controls_seq - 1)
        if msg["state_seq"] != session.seq:
            self.counters.add("controls_out_of_sync")
        session.controls_seq = seq
        session.last_controls_s = now_s
        session.released = False
        self._apply(msg["controls"])
        self.counters.add("controls_applied")

    # -- legacy ---------------------------------------------------------------------------

    def _handle_legacy(self, data, addr):
        if len(data) > wire.LEGACY_DATAGRAM_MAX_BYTES:
            raise wire.WireError(
                "too_large", "legacy datagram of {0} bytes or more".format(len(data))
            )
        session = self._session
        if data == b"connect":
            self._new_session(addr, 0, True)
            self._sendto(wire.WORD_IDENTIFIED.encode("ascii"), addr)
            return
        if data == b"disconnect":
            if session is not None and addr == session.addr:
                self._session = None
                self.counters.add("disconnects")
                self._apply(wire.SAFE_CONTROLS)
            return
        if data == b"reset":  # the original only logs it
            if session is None or addr != session.addr:
                self.counters.reject(
                    "datagrams_", "not_connected", "legacy reset from {0}".format(addr)
                )
            else:
                self.counters.add("legacy_ego_resets")
                self.logger.debug("ego server: 'reset' on the ego stream: nothing to do")
            return
        controls, server_steps = wire.legacy_decode_controls(data)
        if session is None or addr != session.addr:
            self.counters.reject(
                "datagrams_", "not_connected", "legacy controls from {0}".format(addr)
            )
            return
        now_s = time.perf_counter()
        session.last_heard_s = now_s
        session.last_controls_s = now_s
        session.released = False
        if server_steps != session.seq:
            self.counters.add("controls_out_of_sync")
        self._apply(controls)
        self.counters.add("controls_applied")


class ManagementServer(object):
    """The management channel over TCP (v1 frames, or the original's bare words).

    Args:
        source: the app (``hello_info``, ``reset``, ``static_info``, ``config``,
            ``legacy_config``, ``track_info``).
        host, port: where to bind (port 0 = a free port).
        token: shared token ("" = none).
        legacy: speak the original plugin's command words.
        logger, counters: as for ``EgoServer``.
        ego: the ego server (its counters and ``first_seq``).
        max_connections: more concurrent connections are closed at once.
        idle_timeout_s: close a connection idle this long.
        first_request_timeout_s: close a connection whose first request is not complete
            this long after it opened (idle connections cannot hold every slot).
        send_timeout_s: close a connection whose client does not take a reply within
            this long (a connection's next request is read once its reply is sent).
        max_request_bytes: largest request frame accepted.
    """

    def __init__(
        self,
        source,
        host,
        port,
        token,
        legacy,
        logger,
        counters,
        ego=None,
        max_connections=32,
        idle_timeout_s=300.0,
        first_request_timeout_s=10.0,
        send_timeout_s=10.0,
        max_request_bytes=wire.MGMT_REQUEST_MAX_BYTES,
    ):
        self.source = source
        self.token = token
        self.legacy = legacy
        self.logger = logger
        self.counters = counters
        self.ego = ego
        self.max_connections = max_connections
        self.idle_timeout_s = idle_timeout_s
        self.first_request_timeout_s = first_request_timeout_s
        self.send_timeout_s = send_timeout_s
        self.max_request_bytes = max_request_bytes
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no port stealing
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind((host, port))
        except OSError as exc:
            self._listener.close()
            raise OSError(
                "cannot bind TCP {0}:{1} ({2}); is another acgym (or the original "
                "sensors_par app) running? set mgmt_port".format(host, port, exc)
            ) from None
        self._listener.listen(16)
        self._listener.settimeout(POLL_S)
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()
        self._connections = set()

    @property
    def address(self):
        return self._listener.getsockname()[:2]

    def start(self):
        self._thread = threading.Thread(target=self._accept_loop, name="acgym-mgmt")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, close every connection. Safe twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:
            try:
                sock.close()
            except OSError:
                pass

    def _accept_loop(self):
        self.logger.info(
            "management server on tcp %s:%d (%s)",
            self.address[0],
            self.address[1],
            "legacy" if self.legacy else "v1",
        )
        while not self._stop.is_set():
            try:
                sock, addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                self.counters.add("mgmt_accept_errors")
                self.logger.warning("management server: accept failed: %s", exc)
                time.sleep(0.05)
                continue
            with self._lock:
                full = len(self._connections) >= self.max_connections
                if not full:
                    self._connections.add(sock)
            if full:
                self.counters.add("mgmt_connections_refused")
                sock.close()
                continue
            self.counters.add("mgmt_connections")
            thread = threading.Thread(
                target=self._serve_connection, args=(sock, addr), name="acgym-mgmt-conn"
            )
            thread.daemon = True
            thread.start()

    def _serve_connection(self, sock, addr):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(POLL_S)
            if self.legacy:
                self._serve_legacy(sock, addr)
            else:
                self._serve_v1(sock, addr)
        except Exception:
            self.counters.failure(
                "mgmt_errors", "management server: error on connection {0}".format(addr)
            )
        finally:
            with self._lock:
                self._connections.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _recv(self, sock, addr, state):
        """Bytes from the peer; b"" when it closed, None when past a deadline or stopping."""
        while not self._stop.is_set():
            try:
                data = sock.recv(65536)
            except socket.timeout:
                now_s = time.monotonic()
                if not state["requests"] and now_s - state["opened_s"] > (
                    self.first_request_timeout_s
                ):
                    self._closing(addr, "mgmt_first_request_timeouts")
                    return None
                if now_s - state["last_s"] > self.idle_timeout_s:
                    self._closing(addr, "mgmt_idle_closed")
                    return None
                continue
            except OSError:
                return b""
            state["last_s"] = time.monotonic()
            return data
        return None

    def _closing(self, addr, reason):
        """Count (and log a few of) the connections closed for ``reason``."""
        if worth_logging(self.counters.add(reason)):
            self.logger.warning("management server: closed %s (%s)", addr, reason)

    def _send(self, sock, addr, data):
        """Send all of ``data``; False (counted) when the client did not take it in time."""
        sock.settimeout(self.send_timeout_s)
        try:
            sock.sendall(data)
        except socket.timeout:
            self._closing(addr, "mgmt_send_timeouts")
            return False
        finally:
            sock.settimeout(POLL_S)
        return True

    def _new_state(self):
        now_s = time.monotonic()
        return {"opened_s": now_s, "last_s": now_s, "requests": 0, "authenticated": False}

    # -- v1 -------------------------------------------------------------------------------

    def _serve_v1(self, sock, addr):
        decoder = wire.FrameDecoder(self.max_request_bytes)
        state = self._new_state()
        while True:
            data = self._recv(sock, addr, state)
            if not data:
                return
            try:
                frames = decoder.feed(data)
            except wire.WireError as exc:
                self.counters.reject("mgmt_", exc.code, str(exc))
                self._reply(sock, addr, None, exc.code, str(exc))
                return  # the framing is lost
            for payload in frames:
                if not self._on_frame(sock, addr, payload, state):
                    return

    def _reply(self, sock, addr, request_id, code, message, keep_open=True):
        """Send an error reply; whether the connection stays open."""
        sent = self._send(
            sock, addr, wire.encode_frame(wire.encode_error_reply(request_id, code, message))
        )
        return sent and keep_open

    def _on_frame(self, sock, addr, payload, state):
        """Answer one request; returns False when the connection must close."""
        state["requests"] += 1
        self.counters.add("mgmt_requests")
        try:
            request = wire.decode_request(payload, self.max_request_bytes)
        except wire.WireError as exc:
            self.counters.reject("mgmt_", exc.code, str(exc))
            return self._reply(
                sock, addr, exc.request_id, exc.code, str(exc), state["authenticated"]
            )
        except Exception as exc:  # a bug of ours: the client still gets its error reply
            self.counters.failure("mgmt_errors", "management server: a request broke the decoder")
            self.counters.reject("mgmt_", "bad_message", repr(exc))
            message = "the request could not be read ({0})".format(type(exc).__name__)
            return self._reply(sock, addr, None, "bad_message", message, state["authenticated"])
        request_id = request["id"]
        if not state["authenticated"] and request["type"] != "hello":
            message = "send hello (version and token) first on each management connection"
            self.counters.reject(
                "mgmt_", "hello_required", "{0} from {1}".format(request["type"], addr)
            )
            return self._reply(sock, addr, request_id, "hello_required", message, False)
        try:
            result = self._answer(request, state)
            body = wire.encode_ok(request_id, wire.plain(result))
        except wire.WireError as exc:
            code = exc.code
            if code not in REQUEST_ERRORS:  # the source's reply broke the schema
                message = "the {0} reply is malformed: {1}".format(request["type"], exc)
                self.logger.error("management server: %s", message)
                self.counters.reject("mgmt_", "backend_error", message)
                return self._reply(sock, addr, request_id, "backend_error", message)
            self.counters.reject("mgmt_", code, str(exc))
            return self._reply(sock, addr, request_id, code, str(exc), code != "bad_token")
        except BusyError as exc:
            self.counters.reject("mgmt_", "busy", str(exc))
            return self._reply(sock, addr, request_id, "busy", str(exc))
        except Exception as exc:
            self.counters.failure(
                "source_errors", "management server: {0} failed".format(request["type"])
            )
            self.counters.reject("mgmt_", "backend_error", str(exc))
            message = "{0}: {1}".format(type(exc).__name__, exc)
            return self._reply(sock, addr, request_id, "backend_error", message)
        return self._send(sock, addr, wire.encode_frame(body))

    def _answer(self, request, state):
        kind = request["type"]
        if kind == "hello":
            if not token_ok(self.token, request["token"]):
                raise wire.WireError(
                    "bad_token",
                    "the token does not match the server's: pass the token the server was "
                    "started with",
                )
            state["authenticated"] = True
            return self.source.hello_info()
        if kind == "reset":
            if request["options"]:
                raise wire.WireError(
                    "unsupported_option",
                    "this server does not honour reset options {0}; the game resets the car "
                    "to the pits only (it offers none)".format(sorted(request["options"])),
                )
            self.source.reset()
            return {"first_seq": self.ego.first_seq() if self.ego is not None else 1}
        if kind == "get_counters":
            return self.counters.snapshot()
        if kind == "get_static_info":
            return wire.check_static_info(wire.plain(self.source.static_info()))
        # A reply the client would refuse is a source bug: say so instead of sending it.
        if kind == "get_config":
            return wire.check_config(wire.plain(self.source.config()))
        return wire.check_track_info(wire.plain(self.source.track_info()))

    # -- legacy ---------------------------------------------------------------------------

    def _serve_legacy(self, sock, addr):
        state = self._new_state()
        text = b""
        while True:
            data = self._recv(sock, addr, state)
            if not data:
                return
            text += data
            while text:
                word = None
                for candidate in wire.MGMT_WORDS:
                    if text.startswith(candidate.encode("ascii")):
                        word = candidate
                        break
                if word is None:
                    if len(text) < 1024 and any(
                        w.encode("ascii").startswith(text) for w in wire.MGMT_WORDS
                    ):
                        break  # the rest of the word is on its way
                    state["requests"] += 1
                    self.counters.add("mgmt_requests")
                    self.counters.reject(
                        "mgmt_", "unknown_type", "legacy word {0!r}".format(text[:40])
                    )
                    return  # the original breaks off the connection too
                text = text[len(word) :]
                state["requests"] += 1
                self.counters.add("mgmt_requests")
                try:
                    reply = self._answer_legacy(word)
                except Exception:  # the original client gets no reply either way
                    self.counters.failure("source_errors", "legacy {0} failed".format(word))
                    return
                if reply is not None and not self._send(sock, addr, reply):
                    return

    def _answer_legacy(self, word):
        if word == "reset":
            try:
                self.source.reset()
            except Exception as exc:
                self.logger.warning("legacy reset failed: %s", exc)
            return None
        if word == "get_config":
            ego_address = self.ego.address if self.ego is not None else ("0.0.0.0", 0)
            config = wire.legacy_config_dict(self.source.legacy_config(), ego_address, self.address)
            return wire.legacy_encode_config(config)
        getter = self.source.static_info if word == "get_static_info" else self.source.track_info
        body, replaced = wire.legacy_encode_json(getter())
        if replaced:
            self.counters.add("legacy_values_replaced", replaced)
        return body

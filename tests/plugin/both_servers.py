"""The two implementations of the protocol's servers behind one test interface.

The game plugin cannot import the package, so ``plugin/acgym/acgym_servers.py`` mirrors
``acgym.protocol.ego_server`` and ``acgym.protocol.management`` on purpose.
``serve(impl, car, ...)`` runs either over the same :class:`FakeCar`: ``"package"`` (the
servers of ``acgym sim serve``) or ``"plugin"`` (the plugin's servers, with a stand-in
for the plugin's app over the car), on 127.0.0.1 and free ports. The shared suite
(test_server_mirror.py, test_server_fuzz.py) runs every case against both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from plugin_helpers import plugin_modules
from proto_fake_car import FakeCar

from acgym.protocol.client import Client
from acgym.protocol.ego_server import EgoServer, worth_logging
from acgym.protocol.framing import FrameDecoder, encode_frame
from acgym.protocol.management import ManagementServer
from acgym.protocol.messages import MGMT_REQUEST_MAX_BYTES, Controls

IMPLEMENTATIONS = ("package", "plugin")
PACKAGE_LOGGERS = ("acgym.protocol.ego_server", "acgym.protocol.management")
RATE_HZ = 100.0
"""States per second of the servers under test (quick tests, every wait bounded)."""


class _Records(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Served:
    """A running pair of servers over ``car``."""

    impl: str
    car: FakeCar
    ego: Any
    mgmt: Any
    log: _Records
    """What the servers logged (INFO and above)."""
    _counters: Any = field(repr=False)

    @property
    def ego_address(self) -> tuple[str, int]:
        return self.ego.address[0], self.ego.address[1]

    @property
    def mgmt_address(self) -> tuple[str, int]:
        return self.mgmt.address[0], self.mgmt.address[1]

    @property
    def client_address(self) -> Any:
        return self.ego.client_address

    def counters(self) -> dict[str, int]:
        """Both servers' counters (``get_counters``)."""
        if self.impl == "package":
            return dict(self.mgmt.counters_snapshot())
        return dict(self._counters.snapshot())

    def count(self, name: str) -> int:
        return self.counters().get(name, 0)

    def stop(self) -> None:
        """Stop both (the ego server tells its client). Safe twice."""
        self.mgmt.stop()
        self.ego.stop()

    def tracebacks(self) -> list[logging.LogRecord]:
        """The records logged with a traceback."""
        return [r for r in self.log.records if r.exc_info]

    def log_lines_allowed(self, lifecycle_lines: int = 10) -> int:
        """The most lines the rate-limited logging may have written, given the counters:
        a few per reject code and failure kind, plus ``lifecycle_lines`` (start, clients)."""
        allowed = lifecycle_lines
        for name, count in self.counters().items():
            if "rejected_" in name or name.endswith(("_errors", "_timeouts", "_closed")):
                allowed += sum(worth_logging(k) for k in range(1, count + 1))
        return allowed


class GameStandIn:
    """What the plugin's app gives its servers (``acgym_servers.Source``), over a car.

    The car moves on by itself, one control period per snapshot, as the game's world
    does; controls go to the car; the management calls return the car's dicts.
    """

    def __init__(self, car: FakeCar, rate_hz: float) -> None:
        self.car = car
        self.rate_hz = rate_hz
        self.ego: Any = None
        self._lock = threading.Lock()  # the app serializes the game's calls too

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self.car.advance()
            return self.car.state()

    def apply(self, controls: dict[str, Any]) -> None:
        with self._lock:
            self.car.apply(Controls(**controls))

    def hello_info(self) -> dict[str, Any]:
        return {
            "version": 1,
            "server": "acgym-plugin (test)",
            "backend": self.car.static_info()["backend"],
            "modes": ["realtime"],
            "control_rate_hz": self.rate_hz,
            "ego_port": self.ego.address[1],
            "reset_options": [],
            "max_request_bytes": MGMT_REQUEST_MAX_BYTES,
        }

    def reset(self) -> None:
        with self._lock:
            self.car.reset({})

    def static_info(self) -> dict[str, Any]:
        return self.car.static_info()

    def config(self) -> dict[str, Any]:
        return self.car.config()

    def legacy_config(self) -> dict[str, Any]:
        return self.car.config()

    def track_info(self) -> dict[str, Any]:
        return self.car.track_info()


@contextlib.contextmanager
def _captured(loggers: list[logging.Logger]) -> Iterator[_Records]:
    handler = _Records()
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


@contextlib.contextmanager
def serve(
    impl: str,
    car: FakeCar | None = None,
    *,
    token: str | None = None,
    legacy: bool = False,
    client_timeout_s: float = 5.0,
    client_drop_s: float = 30.0,
    max_connections: int = 32,
    first_request_timeout_s: float = 10.0,
    send_timeout_s: float = 10.0,
    max_request_bytes: int = MGMT_REQUEST_MAX_BYTES,
    capture_port: int | None = None,
) -> Iterator[Served]:
    """Run ``impl``'s servers (real time at ``RATE_HZ``, no reset options) over ``car``
    (``capture_port``: trigger a capture helper there after each state)."""
    car = car if car is not None else FakeCar(reset_options=())
    mgmt_options = {
        "max_connections": max_connections,
        "first_request_timeout_s": first_request_timeout_s,
        "send_timeout_s": send_timeout_s,
        "max_request_bytes": max_request_bytes,
    }
    if impl == "package":
        with _captured([logging.getLogger(name) for name in PACKAGE_LOGGERS]) as log:
            ego = EgoServer(
                car,
                port=0,
                token=token,
                modes=("realtime",),
                control_rate_hz=RATE_HZ,
                legacy=legacy,
                client_timeout_s=client_timeout_s,
                client_drop_s=client_drop_s,
                capture_port=capture_port,
            )
            mgmt = ManagementServer(
                car, port=0, token=token, ego=ego, legacy=legacy, reset_options=(), **mgmt_options
            )
            served = Served(impl, car, ego, mgmt, log, mgmt.counters)
            with _running(served):
                yield served
        return
    assert impl == "plugin", impl
    logger = logging.getLogger(f"acgym_plugin_under_test.{id(car)}")
    logger.propagate = False
    with _captured([logger]) as log, plugin_modules("acgym_servers") as (servers,):
        counters = servers.Counters(logger)
        game = GameStandIn(car, RATE_HZ)
        ego = servers.EgoServer(
            game,
            "127.0.0.1",
            0,
            token or "",
            RATE_HZ,
            legacy,
            logger,
            counters,
            client_timeout_s=client_timeout_s,
            client_drop_s=client_drop_s,
            capture_port=capture_port,
        )
        game.ego = ego
        mgmt = servers.ManagementServer(
            game, "127.0.0.1", 0, token or "", legacy, logger, counters, ego=ego, **mgmt_options
        )
        served = Served(impl, car, ego, mgmt, log, counters)
        with _running(served):
            yield served


# -- talking to them ------------------------------------------------------------------------


def client_of(served: Served, **kwargs: Any) -> Client:
    """A client of ``served`` (not connected yet)."""
    kwargs.setdefault("timeout_s", 3.0)
    return Client(ego_port=served.ego_address[1], mgmt_port=served.mgmt_address[1], **kwargs)


def request(sock: socket.socket, body: dict[str, Any] | bytes) -> dict[str, Any]:
    """Send one request frame, read one reply frame."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    sock.sendall(encode_frame(payload))
    decoder = FrameDecoder(1 << 24)
    while True:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before replying"
        frames = decoder.feed(chunk)
        if frames:
            return json.loads(frames[0])


def assert_closed_by_server(sock: socket.socket) -> None:
    """Read (and drop) what the server sends until it closes ``sock``; fail when it keeps
    the connection open past the socket's timeout."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError("the server kept the connection open") from None


def hello(sock: socket.socket, token: str | None = None) -> dict[str, Any]:
    """Say hello (id 1) on a management connection; the reply."""
    return request(sock, {"type": "hello", "id": 1, "version": 1, "token": token, "client": "t"})


@contextlib.contextmanager
def _running(served: Served) -> Iterator[None]:
    served.ego.start()
    served.mgmt.start()
    try:
        yield
    finally:
        served.stop()

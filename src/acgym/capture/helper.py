"""``CaptureHelper``: the side process that turns the game's window into tagged frames.

One UDP socket (``CaptureConfig.port``). Per datagram:

* ``capture`` (from this machine only: the game's ego server, after each state): grab
  the window, crop, convert, resize, write the frame into the shared-memory ring under
  its tag ``(nonce, seq)`` and send it, compressed and chunked, to every subscriber.
  When triggers queue up behind a slow grab, only the newest is captured (the others are
  counted ``triggers_skipped``: those states get no frame, and a client never waits for
  one past its timeout);
* ``subscribe`` (token checked), ``unsubscribe``: the subscribers (at most
  ``MAX_SUBSCRIBERS``; one silent for ``SUBSCRIBER_DROP_S`` is forgotten).

Anything else is counted and dropped; nothing a datagram holds stops the helper.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from acgym.capture.config import CaptureConfig
from acgym.capture.image_ops import channels_of, process
from acgym.errors import AcgymError, ConfigError, ProtocolError
from acgym.fileio import write_bytes_atomic
from acgym.protocol.frame_ring import FrameRing, ring_name
from acgym.protocol.frames import (
    CONTROL_MAX_BYTES,
    SUBSCRIBER_DROP_S,
    decode_control,
    encode_frame,
    encode_subscribed,
)

logger = logging.getLogger(__name__)

MAX_SUBSCRIBERS = 4
POLL_S = 0.25


class Grabber(Protocol):
    """A window's pixels: :class:`acgym.capture.x11.X11Grabber`, ``DxcamGrabber``."""

    source_order: str

    def grab(self) -> NDArray[np.uint8]: ...

    def close(self) -> None: ...


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CaptureHelper:
    """The capture helper (see the module docstring).

    Args:
        grabber: What grabs the game's window.
        config: Settings.

    Raises:
        ConfigError: a routable address without a token, or a port in use.
    """

    def __init__(self, grabber: Grabber, config: CaptureConfig) -> None:
        if not is_loopback(config.host) and not config.token:
            raise ConfigError(
                f"capture helper: host {config.host} is reachable from other machines: set a "
                "token (and give the clients the same one)"
            )
        self.grabber = grabber
        self.config = config
        self.channels = channels_of(config.color_mode)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((config.host, config.port))
        except OSError as exc:
            self._sock.close()
            raise ConfigError(
                f"capture helper: cannot bind UDP {config.host}:{config.port} ({exc}); is "
                "another helper running? set port"
            ) from None
        self._sock.setblocking(False)
        self.ring = FrameRing.create(
            ring_name(self.address[1]),
            config.final_image_width,
            config.final_image_height,
            self.channels,
            config.slots,
        )
        self.subscribers: dict[Any, float] = {}
        self.counters: dict[str, int] = {}
        self.last_capture_s = 0.0
        """Seconds the last trigger took from receipt to the frame in the ring."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        host, port = self._sock.getsockname()[:2]
        return host, port

    def _count(self, name: str, count: int = 1) -> int:
        self.counters[name] = self.counters.get(name, 0) + count
        return self.counters[name]

    # -- running ---------------------------------------------------------------------

    def start(self) -> CaptureHelper:
        """Serve on a daemon thread (tests, the bench); :meth:`stop` ends it."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="acgym-capture", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self, duration_s: float = 0.0) -> None:
        """Serve until :meth:`stop` (or ``duration_s`` when > 0)."""
        end_s = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        while not self._stop.is_set() and time.monotonic() < end_s:
            readable, _, _ = select.select([self._sock], [], [], POLL_S)
            if readable:
                self._serve_waiting()
            self._drop_silent()

    def stop(self) -> None:
        """Stop serving, free the ring and the socket (safe twice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.ring.close()
        self._sock.close()
        self.grabber.close()

    def __enter__(self) -> CaptureHelper:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- datagrams -------------------------------------------------------------------

    def _serve_waiting(self) -> None:
        """Read every waiting datagram; capture once, for the newest trigger."""
        newest: tuple[int, int] | None = None
        while True:
            try:
                data, addr = self._sock.recvfrom(CONTROL_MAX_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._count("recv_errors")
                break
            received_s = time.perf_counter()
            try:
                message = decode_control(data)
            except ProtocolError as exc:
                if self._count("datagrams_rejected") <= 3:
                    logger.warning("capture helper: rejected a datagram from %s: %s", addr, exc)
                continue
            kind = message["type"]
            if kind == "capture":
                if not is_loopback(addr[0]):
                    self._count("triggers_refused")
                    continue
                self._count("triggers")
                if newest is not None:
                    self._count("triggers_skipped")
                newest = (message["nonce"], message["seq"])
                trigger_s = received_s
            elif kind == "subscribe":
                self._subscribe(message, addr)
            elif kind == "unsubscribe":
                self.subscribers.pop(addr, None)
            else:
                self._count("datagrams_rejected")
        if newest is not None:
            self._capture(*newest, trigger_s)

    def _subscribe(self, message: dict[str, Any], addr: Any) -> None:
        token = self.config.token
        given = message.get("token")
        if token and not (
            isinstance(given, str)
            and given.isascii()
            and hmac.compare_digest(token.encode("ascii"), given.encode("ascii"))
        ):
            self._count("subscribes_refused")
            return
        if addr not in self.subscribers and len(self.subscribers) >= MAX_SUBSCRIBERS:
            self._count("subscribes_refused")
            return
        if addr not in self.subscribers:
            logger.info("capture helper: %s subscribed", addr)
        self.subscribers[addr] = time.monotonic()
        config = self.config
        reply = encode_subscribed(
            config.final_image_width, config.final_image_height, self.channels
        )
        self._send(reply, addr)

    def _drop_silent(self) -> None:
        now_s = time.monotonic()
        for addr, heard_s in list(self.subscribers.items()):
            if now_s - heard_s > SUBSCRIBER_DROP_S:
                del self.subscribers[addr]
                self._count("subscribers_dropped")

    def _send(self, data: bytes, addr: Any) -> None:
        try:
            self._sock.sendto(data, addr)
        except OSError:
            self._count("send_errors")

    # -- frames ----------------------------------------------------------------------

    def _capture(self, nonce: int, seq: int, trigger_s: float) -> None:
        config = self.config
        try:
            raw = self.grabber.grab()
            frame = process(
                raw,
                self.grabber.source_order,
                config.crop_px,
                config.final_image_width,
                config.final_image_height,
                config.color_mode,
            )
        except AcgymError as exc:
            if self._count("capture_errors") in (1, 2, 3, 10, 100, 1000):
                logger.warning("capture helper: no frame for state %d: %s", seq, exc)
            return
        self.ring.write(nonce, seq, frame)
        self.last_capture_s = time.perf_counter() - trigger_s
        self._count("frames_captured")
        if self.subscribers:
            chunks = encode_frame(nonce, seq, frame)
            for addr in list(self.subscribers):
                for chunk in chunks:
                    self._send(chunk, addr)
            self._count("frames_sent", len(self.subscribers))
        if config.save_to_disk:
            self._save(nonce, seq, frame)
        if config.verbose:
            logger.info(
                "capture helper: frame %d of session %d in %.1f ms",
                seq,
                nonce,
                1e3 * self.last_capture_s,
            )

    def _save(self, nonce: int, seq: int, frame: NDArray[np.uint8]) -> None:
        import io

        from PIL import Image

        if self.config.color_mode == "bgr":
            frame = np.ascontiguousarray(frame[..., ::-1])
        image = Image.fromarray(frame[..., 0] if frame.shape[2] == 1 else frame)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        folder = Path(self.config.save_path)
        folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(folder / f"{nonce}_{seq:08d}.png", buffer.getvalue())

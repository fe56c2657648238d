"""A lossy UDP relay on loopback: drops a seeded fraction of datagrams each way.

The client talks to the relay; the relay talks to the server from its own socket. The
drop decisions come from ``random.Random(seed)``, so a run is reproducible.
"""

from __future__ import annotations

import random
import selectors
import socket
import threading
from typing import Any


class LossyRelay:
    """Forward datagrams between one client and ``server_addr``, dropping ``loss``.

    Each direction has its own seeded generator: the n-th datagram up (or down) is
    dropped or not whatever the timing.
    """

    def __init__(self, server_addr: tuple[str, int], loss: float, seed: int = 0) -> None:
        self.server_addr = server_addr
        self.loss = loss
        self._rngs = {"up": random.Random(seed), "down": random.Random(seed + 1)}
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.client_addr: Any = None
        self.forwarded = {"up": 0, "down": 0}
        self.dropped = {"up": 0, "down": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def port(self) -> int:
        return self.front.getsockname()[1]

    def start(self) -> LossyRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.front.close()
        self.back.close()

    def __enter__(self) -> LossyRelay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.front, selectors.EVENT_READ, "up")
            selector.register(self.back, selectors.EVENT_READ, "down")
            while not self._stop.is_set():
                for key, _ in selector.select(0.05):
                    try:
                        data, addr = key.fileobj.recvfrom(65536)  # type: ignore[union-attr]
                    except OSError:
                        continue
                    direction = key.data
                    if direction == "up":
                        self.client_addr = addr
                    if self._rngs[direction].random() < self.loss:
                        self.dropped[direction] += 1
                        continue
                    self.forwarded[direction] += 1
                    if direction == "up":
                        self.back.sendto(data, self.server_addr)
                    elif self.client_addr is not None:
                        self.front.sendto(data, self.client_addr)

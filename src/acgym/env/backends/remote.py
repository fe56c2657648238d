"""``Remote``: a car over the protocol (the game plugin, or ``acgym sim serve``).

Wraps :class:`acgym.protocol.Client` (v1 or the original's legacy format; lock-step or
real time). In real time, ``apply`` sends the controls at once and ``observe`` reads the
next state (the client's drain policy decides which one when several wait), so the
environment's ``set_actions(a)`` / ``step(None)`` pair maps onto the wire directly: the
controls are in force from their arrival until the next ones, as in the game.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.env.backend import RESET_OPTION_SEED, RESET_OPTION_SEND_RESET, BackendKind, Controls
from acgym.env.starts import FAILURE_ENDS_OPTION
from acgym.errors import BackendError, ConfigError
from acgym.protocol.client import Client
from acgym.protocol.frame_client import FrameReceiver
from acgym.protocol.messages import RESET_OPTION_RANGES, ResetOptions

SIMULATOR_BACKEND = "simulator"
"""The ``backend`` a simulator server reports in ``hello`` and the static info."""

LOST_COUNTERS = ("states_lost", "states_skipped")
"""Client counters of states the environment never read: lost on the network, or
superseded by a newer one before they were read (real time, ``drain="newest"``)."""


class Remote:
    """A car behind a protocol server.

    Args:
        host, ego_port, mgmt_port: The server.
        token: The server's shared token (v1).
        legacy: Speak the original sensors_par plugin's format (real time, no options).
        mode: ``"realtime"`` or ``"lockstep"`` (only a simulator server offers it).
        drain: The client's drain policy in real time (``"newest"`` or ``"every"``).
        timeout_s: How long a call waits before ``BackendError``.
        retry_s: Lock-step retransmission interval.
        frames: The capture helper's frames (``screen_capture_enable``): every state is
            returned with its own frame (``current_frame``); a state whose frame does not
            come within ``frame_wait_s`` is skipped (``frames_missing``) for the next one.
        frame_wait_s: How long a state waits for its frame, s.

    Reset options: ``send_reset`` (False: go on from where the car is), ``seed`` and the
    protocol's ``distance_m``, ``lateral_offset_m``, ``heading_offset_rad``, ``speed_mps``
    (the server must list them; the game lists none).
    """

    num_cars = 1

    def __init__(
        self,
        host: str = "127.0.0.1",
        ego_port: int | None = 2345,
        mgmt_port: int = 2347,
        *,
        token: str | None = None,
        legacy: bool = False,
        mode: str = "realtime",
        drain: str = "newest",
        timeout_s: float = 5.0,
        retry_s: float = 0.1,
        frames: FrameReceiver | None = None,
        frame_wait_s: float = 0.1,
    ) -> None:
        self.client = Client(
            host,
            ego_port,
            mgmt_port,
            token,
            legacy,
            timeout_s,
            mode=mode,
            drain=drain,
            retry_s=retry_s,
        )
        self.mode = mode
        self.supports_lock_step = mode == "lockstep"
        self.kind: BackendKind = "ac"
        self.control_rate_hz = 25.0
        self._static: dict[str, Any] | None = None
        self._state: dict[str, Any] | None = None
        self.frames = frames
        self.frame_wait_s = frame_wait_s
        self.timeout_s = timeout_s
        self._frame: NDArray[np.uint8] | None = None
        self.frames_missing = 0
        """States read but skipped because their frame did not come."""

    @property
    def exact_reset(self) -> bool:
        """A lock-step simulator sends the placed state itself as the episode's first."""
        return self.supports_lock_step and self.kind == "sim"

    @property
    def states_lost(self) -> int:
        counters = self.client.counters
        return sum(int(counters.get(name, 0)) for name in LOST_COUNTERS) + self.frames_missing

    def current_frame(self) -> NDArray[np.uint8] | None:
        """The frame of the last state returned (with ``frames``), else None."""
        return self._frame

    @property
    def frame_source(self) -> Callable[[], NDArray[np.uint8] | None] | None:
        """``current_frame`` when the backend has a capture helper's frames, else None
        (the environment's image term reads it)."""
        return self.current_frame if self.frames is not None else None

    def connect(self) -> None:
        """Connect (idempotent); learns the server's kind and rate."""
        if self.client.connected:
            return
        self.client.connect()
        if self.frames is not None:
            self.frames.open(self.timeout_s)
        info = self.client.server_info
        backend = info.get("backend") or self.static_info().get("backend")
        self.kind = "sim" if backend == SIMULATOR_BACKEND else "ac"
        self.control_rate_hz = float(
            info.get("control_rate_hz") or self.config().get("ego_sampling_freq", 25.0)
        )

    def close(self) -> None:
        self.client.close()
        if self.frames is not None:
            self.frames.close()

    def _receive(self) -> dict[str, Any]:
        """The next state; with ``frames``, the next one whose frame comes."""
        state = self.client.receive_state()
        if self.frames is None:
            return state
        deadline = time.monotonic() + self.timeout_s
        while True:
            nonce, seq = self.client.session_nonce, self.client.last_seq
            frame = self.frames.get(nonce, seq, self.frame_wait_s)
            if frame is not None:
                self._frame = frame
                return state
            self.frames_missing += 1
            if time.monotonic() > deadline:
                raise BackendError(
                    f"no game frame came for {self.frames_missing} states within "
                    f"{self.timeout_s:g} s: is `acgym capture` running on the game's machine, "
                    "with screen_capture_enable = true in the plugin's config.ini and the same "
                    "port?"
                )
            state = self.client.receive_state()

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Reset the car (unless ``send_reset`` is False) and return the first state."""
        options = dict(options or {})
        send_reset = bool(options.pop(RESET_OPTION_SEND_RESET, True))
        seed = options.pop(RESET_OPTION_SEED, None)
        options.pop(FAILURE_ENDS_OPTION, None)  # the server places the car itself
        unknown = sorted(set(options) - set(RESET_OPTION_RANGES))
        if unknown:
            raise ConfigError(
                f"reset options {unknown}: a remote car takes only {sorted(RESET_OPTION_RANGES)}"
            )
        if not send_reset:
            if self._state is not None and self.supports_lock_step:
                return self._state  # lock-step: nothing moves until the next controls
            self._state = self._receive()
            return self._state
        # Only a server that lists "seed" takes it (the game lists no reset option).
        if seed is not None and "seed" in self.client.server_info.get("reset_options", ()):
            options["seed"] = int(seed)
        self.client.reset(ResetOptions.from_mapping(options))
        self._state = self._receive()
        return self._state

    def apply(self, controls: Controls) -> None:
        """Send the controls now (they apply on arrival)."""
        self.client.send_controls(
            float(controls.steer),
            float(controls.acc),
            float(controls.brake),
            bool(controls.enable_gear_shift),
            bool(controls.shift_up),
            bool(controls.shift_down),
        )

    def observe(self) -> dict[str, Any]:
        """The next state (lock-step: the one answering the last controls)."""
        self._state = self._receive()
        return self._state

    def static_info(self) -> dict[str, Any]:
        if self._static is None:
            self._static = self.client.static_info()
        return dict(self._static)

    def config(self) -> dict[str, Any]:
        return self.client.config()

    def track_info(self) -> dict[str, Any]:
        return self.client.track_info()

"""The drive session: a person drives an environment at the control rate, in real time.

On the simulator (``acgym/Race-v0``) the session keeps the clock: one ``env.step`` every
control period, the device read just before it (so an input reaches the physics at the
next step: at most one control period later), and frames drawn in between. Physics comes
first: a frame that would not end before the next step is due waits until after that
step, so drawing does not delay the physics (unless no frame fitted for two control
periods: then one is drawn anyway, so that the window never freezes). Between steps the view moves the car smoothly
from the previous step's pose to the last one.

In the game (``acgym/AssettoCorsa-v0``, real time) the game keeps the clock: each
``env.step`` returns with the next state, and one frame is drawn per state.

Commands (the window's keys, the device's buttons): ``pause`` (resume), ``restart`` (a new
episode where ``env.start`` says), ``reset`` (a new episode at the car's lap distance, on
the line, at rest: back on the track), ``view``, ``quit``. A device that disconnects pauses
the car on the simulator (physics stops) and brakes it in the game (which cannot pause):
its last input is never left applied. The session resumes on the person's command once
the device is back. An episode ended by the environment's rules starts a new one.

The environment writes every episode in the episode log when it was made with an output
folder: a person's session is a dataset run, read for training like the expert's.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from acgym.human.devices import DeviceInput, InputDevice
from acgym.human.laps import (
    STATUS_CHANNELS,
    CarStatus,
    LapBook,
    RecordedLap,
    status_from_values,
)
from acgym.human.person import Person

logger = logging.getLogger(__name__)

MAX_LAG_S = 0.25
"""A step later than this (the machine stalled) restarts the schedule from now instead of
running the missed steps back to back."""

BRAKE_INPUT = DeviceInput(steer=0.0, throttle=0.0, brake=1.0)
"""What the game gets while the session is paused (the game cannot pause): brakes on."""


class Clock(Protocol):
    """The session's time source."""

    def now(self) -> float:
        """Seconds, monotonic."""
        ...

    def sleep_until(self, t_s: float) -> None:
        """Return at ``t_s`` (at once when it is past)."""
        ...


class RealClock:
    """Wall-clock time (``time.perf_counter``)."""

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, t_s: float) -> None:
        remaining = t_s - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)


class VirtualClock:
    """Time that passes only when slept through: the real-time schedule, as fast as the
    machine goes (tests)."""

    def __init__(self) -> None:
        self.t_s = 0.0

    def now(self) -> float:
        return self.t_s

    def sleep_until(self, t_s: float) -> None:
        self.t_s = max(self.t_s, t_s)


class StatusTap(Protocol):
    """Reads the car's status after a step."""

    def read(self, info: dict[str, Any]) -> CarStatus:
        """The status after the step that returned ``info``."""
        ...


class SimulatorTap:
    """The status from the simulator's telemetry rows (the simulator extension)."""

    def __init__(self, env: Any, track_length_m: float) -> None:
        self._base = env.unwrapped
        self._columns = [self._base.telemetry_columns[c] for c in STATUS_CHANNELS]
        self._length_m = track_length_m

    def read(self, info: dict[str, Any]) -> CarStatus:
        return status_from_values(self._base.telemetry_rows()[0, self._columns], self._length_m)


class ExtraChannelsTap:
    """The status from ``info["obs_extra"]`` (an env with ``use_obs_extra`` and
    ``observation.extra_channels`` = :data:`STATUS_CHANNELS`: the game's path)."""

    def __init__(self, track_length_m: float) -> None:
        self._length_m = track_length_m

    def read(self, info: dict[str, Any]) -> CarStatus:
        return status_from_values(info["obs_extra"], self._length_m)


@dataclass
class Snapshot:
    """What one frame shows."""

    status: CarStatus
    previous: CarStatus
    """The step before (the view moves the car between the two)."""
    blend: float
    """0 at the previous step's pose, 1 at the last one's."""
    device_input: DeviceInput
    device_name: str
    best: RecordedLap | None
    delta_best_s: float | None
    delta_reference_s: float | None
    reference_label: str | None
    ghost: tuple[float, float, float] | None
    ghost_label: str | None
    paused: str | None
    """Why the car is paused (None: driving)."""
    message: str | None
    recording: str | None
    """Where the episodes are written."""


class View(Protocol):
    """The window (or nothing, headless)."""

    def events(self) -> tuple[list[Any], list[str]]:
        """The pending window events, and the commands among them."""
        ...

    def draw(self, snapshot: Snapshot) -> None:
        """Draw one frame."""
        ...

    def switch_view(self) -> None:
        """The next view (chase, map)."""
        ...


@dataclass
class SessionStats:
    """What a session did."""

    steps: int = 0
    """Environment steps."""
    episodes: int = 0
    """Episodes started."""
    frames: int = 0
    """Frames drawn."""
    late_restarts: int = 0
    """Times the schedule restarted after a stall (more than ``MAX_LAG_S`` late)."""
    paused_steps: int = 0
    """Steps the game got brakes on while paused (game only)."""
    step_start_s: list[float] = field(default_factory=list)
    """Clock time at which each step started (benchmarks)."""


class DriveSession:
    """A person drives ``env`` with ``device``.

    Args:
        env: A single ``acgym/Race-v0`` (``realtime=False``: the session paces it) or
            ``acgym/AssettoCorsa-v0`` env (``realtime=True``: the game paces it).
        device: The person's input device.
        tap: How to read the car's status (:class:`SimulatorTap`, :class:`ExtraChannelsTap`).
        track_length_m: The lap's length.
        view: The window (None: headless, nothing drawn).
        clock: Time (default :class:`RealClock`).
        realtime: The backend paces itself (the game).
        fps: Frames per second at most (0: as many as fit between steps).
        reference: A lap to show the delta against (the expert's).
        ghost: The ghost's lap (None: none); ``"best"`` follows the person's best lap.
        best: The person's best lap so far (an earlier session's).
        recording: Where the episodes are written (shown on the HUD).
        on_step: Called after each step with the session (tests, benchmarks).
    """

    def __init__(
        self,
        env: Any,
        device: InputDevice,
        tap: StatusTap,
        *,
        view: View | None = None,
        clock: Clock | None = None,
        realtime: bool = False,
        fps: float = 60.0,
        reference: RecordedLap | None = None,
        ghost: RecordedLap | str | None = None,
        best: RecordedLap | None = None,
        recording: str | None = None,
        on_step: Callable[[DriveSession], None] | None = None,
    ) -> None:
        self.env = env
        self.device = device
        self.tap = tap
        self.view = view
        self.clock = clock or RealClock()
        self.realtime = realtime
        self.frame_period_s = 1.0 / fps if fps > 0 else 0.0
        self.period_s = float(env.unwrapped.config.control_period_s)
        self.person = Person(env.unwrapped.action_mapper)
        self.book = LapBook(best=best)
        self.reference = reference
        self.ghost = ghost
        self.recording = recording
        self.on_step = on_step
        self.stats = SessionStats()
        self.paused: str | None = None
        self.message: str | None = None
        self.quit = False
        self.last_input = DeviceInput()
        self.status: CarStatus | None = None
        self.previous: CarStatus | None = None
        self.last_step_s = 0.0
        self.last_info: dict[str, Any] = {}
        self._frame_cost_s = 0.0
        self._last_frame_s = -math.inf

    # ------------------------------------------------------------------ episodes

    def start(self, options: dict[str, Any] | None = None) -> None:
        """A new episode (the environment writes the one before)."""
        _, info = self.env.reset(options=options)
        self.person.reset()
        self.book.new_episode()
        self.stats.episodes += 1
        self.status = self.previous = self.tap.read(info)
        self.book.update(self.status)
        self.last_step_s = self.clock.now()

    def command(self, name: str) -> None:
        """Carry out a command (pause, restart, reset, view, quit)."""
        if name == "quit":
            self.quit = True
        elif name == "pause":
            if self.paused is None:
                self.paused = "paused: press pause again to drive on"
            elif self.device.connected:
                self.paused = None
                self.last_step_s = self.clock.now()
            else:
                self.message = f"{self.device.name} is still unplugged: plug it back in"
        elif name == "restart":
            self.start()
            self.message = "restarted"
        elif name == "reset":
            assert self.status is not None
            if self.env.unwrapped.has_simulator:  # the simulator places the car exactly
                self.start({"distance_m": self.status.lap_dist_m})
                self.message = "back on the track"
            else:
                self.start()
                self.message = "the game resets the car to the start"
        elif name == "view" and self.view is not None:
            self.view.switch_view()

    # ------------------------------------------------------------------ loop

    def run(self, *, max_steps: int | None = None, max_time_s: float | None = None) -> SessionStats:
        """Drive until ``quit`` (the window's close button, Esc), ``max_steps`` steps or
        ``max_time_s`` of clock time; then close the environment (which writes the last
        episode)."""
        try:
            self.start()
            began = next_step = next_frame = self.clock.now()
            while not self.quit:
                self._handle_events()
                now = self.clock.now()
                if max_time_s is not None and now - began >= max_time_s:
                    break
                if max_steps is not None and self.stats.steps >= max_steps:
                    break
                if self.realtime:
                    self._step(now)
                    if self.view is not None:
                        self._draw(self.clock.now())
                    continue
                if self.paused is not None:
                    next_step = now + self.period_s
                elif now >= next_step:
                    self._step(now)
                    next_step += self.period_s
                    if self.clock.now() - next_step > MAX_LAG_S:
                        self.stats.late_restarts += 1
                        next_step = self.clock.now() + self.period_s
                    continue  # physics first: look again before drawing
                if self.view is None:
                    wake = next_step
                elif now >= next_frame:
                    # Draw only if the frame ends before the next step is due (or none was
                    # drawn for two periods: the estimate may be stale, the window frozen).
                    stale = now - self._last_frame_s > 2.0 * self.period_s
                    if self.paused is not None or now + self._frame_cost_s < next_step or stale:
                        self._draw(now)
                        next_frame = max(next_frame + self.frame_period_s, now)
                        continue
                    wake = next_step  # the frame waits for the step
                else:
                    wake = min(next_step, next_frame)
                self.clock.sleep_until(wake)
        finally:
            self.env.close()
        return self.stats

    def _handle_events(self) -> None:
        events, commands = self.view.events() if self.view is not None else ([], [])
        commands = commands + self.device.handle_events(events)
        for name in commands:
            self.command(name)
        if not self.device.connected and (self.paused is None or "unplugged" not in self.paused):
            self.paused = (
                f"{self.device.name} unplugged: the car is paused; plug it back in and press "
                "pause (P) to drive on"
            )
            logger.warning("%s unplugged: paused", self.device.name)

    def _step(self, now: float) -> None:
        if self.paused is not None:  # only in the game, which cannot pause: brakes on
            device_input = BRAKE_INPUT
            self.stats.paused_steps += 1
        else:
            device_input = self.device.read(now)
        self.last_input = device_input
        self.stats.step_start_s.append(now)
        _, _, terminated, truncated, info = self.env.step(self.person.action(device_input))
        self.stats.steps += 1
        self.last_step_s = now
        self.last_info = info
        self.previous, self.status = self.status, self.tap.read(info)
        completed = self.book.update(self.status)
        if completed is not None:
            self.message = f"lap {completed.time_s:.3f} s{'' if completed.clean else ' (invalid)'}"
            logger.info("%s", self.message)
        if self.on_step is not None:
            self.on_step(self)
        if terminated or truncated:
            reasons = "/".join(info.get("termination_reasons", ())) or "end"
            self.start()
            self.message = f"episode ended ({reasons}): a new one started"

    def _draw(self, now: float) -> None:
        assert self.view is not None
        began = time.perf_counter()
        self.view.draw(self.snapshot(now))
        cost = time.perf_counter() - began
        if self.stats.frames:  # the first frame draws the fonts and the maps: not typical
            self._frame_cost_s = 0.8 * self._frame_cost_s + 0.2 * cost
        self._last_frame_s = now
        self.stats.frames += 1

    def snapshot(self, now: float) -> Snapshot:
        """What a frame drawn at ``now`` shows."""
        assert self.status is not None and self.previous is not None
        status, book = self.status, self.book
        blend = (
            1.0 if self.realtime else float(np.clip((now - self.last_step_s) / self.period_s, 0, 1))
        )
        ghost_lap = book.best if self.ghost == "best" else self.ghost
        ghost = None
        if isinstance(ghost_lap, RecordedLap):
            ghost = ghost_lap.pose_at(status.lap_time_s + blend * self.period_s)
        return Snapshot(
            status=status,
            previous=self.previous,
            blend=blend,
            device_input=self.last_input,
            device_name=self.device.name,
            best=book.best,
            delta_best_s=book.delta_s(book.best, status),
            delta_reference_s=book.delta_s(self.reference, status),
            reference_label=None if self.reference is None else self.reference.label,
            ghost=ghost,
            ghost_label=ghost_lap.label if isinstance(ghost_lap, RecordedLap) else None,
            paused=self.paused,
            message=self.message,
            recording=self.recording,
        )


__all__ = [
    "BRAKE_INPUT",
    "Clock",
    "DriveSession",
    "ExtraChannelsTap",
    "RealClock",
    "SessionStats",
    "SimulatorTap",
    "Snapshot",
    "StatusTap",
    "View",
    "VirtualClock",
]

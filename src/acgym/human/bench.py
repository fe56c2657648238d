"""``acgym bench human``: the drive window's frames per second while the physics runs in
real time, and the input-to-physics latency.

A scripted device changes its input at random moments (about seven times a second, like
a busy pair of hands) and the session drives the default track and car at the control
rate, drawing as many frames as fit between the steps (no frame cap). Figures:

* ``frames_per_s``: frames drawn per second of the run (target >= 60), with the time one
  frame takes to draw (median, p99);
* ``physics_steps_per_s`` and the steps' lateness against the schedule (median, p99, max): the
  physics in real time (target: the control rate, lateness well under a period);
* ``latency_ms``: from an input change to the start of the first step that applies it
  (the device read that sees it: the controls go to the physics there; median, p99,
  max; target <= one control period, 40 ms at 25 Hz).

SDL draws on the display when there is one (``DISPLAY``), else with its ``dummy`` driver
(drawing without showing: the figures then leave out the copy to the screen); the JSON
says which (``video_driver``).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from acgym.human.devices import DeviceInput, ScriptedDevice

TARGET_FRAMES_PER_S = 60.0
CHANGES_PER_S = 7.0
"""How often the scripted hands change the input."""
DURATION_S = 20.0
QUICK_DURATION_S = 3.0


class ChangingHands:
    """Input changes at random wall-clock moments; remembers when each read happened and
    which change it saw."""

    def __init__(self, duration_s: float, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        gaps = rng.exponential(1.0 / CHANGES_PER_S, int(duration_s * CHANGES_PER_S * 2) + 10)
        self.offsets_s = np.cumsum(gaps)
        self.start_s = 0.0
        self.reads: list[tuple[float, int]] = []

    def input_at(self, now_s: float) -> DeviceInput:
        change = int(np.searchsorted(self.offsets_s, now_s - self.start_s, side="right"))
        self.reads.append((now_s, change))
        phase = 0.7 * change
        return DeviceInput(0.3 * float(np.sin(phase)), 0.6 + 0.3 * float(np.cos(phase)), 0.0)


def _percentiles_ms(values_s: list[float]) -> dict[str, float]:
    if not values_s:
        return {}
    array = np.asarray(values_s) * 1000.0
    return {
        "median": float(np.median(array)),
        "p99": float(np.percentile(array, 99)),
        "max": float(array.max()),
    }


def _open() -> tuple[Any, Any, Any]:
    import gymnasium as gym

    import acgym  # noqa: F401  (registers the ids)
    from acgym.human.drive import DRIVE_OVERRIDES
    from acgym.human.sdl import init_video
    from acgym.human.window import DriveWindow

    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame = init_video()
    overrides = [item.removeprefix("env.") for item in DRIVE_OVERRIDES]
    env = gym.make("acgym/Race-v0", overrides=overrides)
    window = DriveWindow(pygame, env.unwrapped.track)
    return pygame, env, window


def warm_up(args: argparse.Namespace) -> None:
    """One reset, step and frame (the kernels compile or load; fonts and maps are drawn)."""
    from acgym.human.session import DriveSession, SimulatorTap

    _, env, window = _open()
    tap = SimulatorTap(env, env.unwrapped.track.length_m)
    session = DriveSession(env, ScriptedDevice([DeviceInput()]), tap, view=window)
    session.start()
    session._step(0.0)
    window.draw(session.snapshot(0.0))
    env.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Drive for a while in real time with a scripted device; the figures."""
    from acgym.human.session import DriveSession, SimulatorTap

    duration_s = QUICK_DURATION_S if args.quick else DURATION_S
    pygame, env, window = _open()
    hands = ChangingHands(duration_s)
    device = ScriptedDevice(lambda k: hands.input_at(time.perf_counter()), name="scripted hands")
    frame_s: list[float] = []
    draw = window.draw

    def timed_draw(snapshot: Any) -> None:
        began = time.perf_counter()
        draw(snapshot)
        frame_s.append(time.perf_counter() - began)

    window.draw = timed_draw  # type: ignore[method-assign]
    session = DriveSession(
        env, device, SimulatorTap(env, env.unwrapped.track.length_m), view=window, fps=0.0
    )
    hands.start_s = time.perf_counter()
    began = time.perf_counter()
    stats = session.run(max_time_s=duration_s)
    elapsed_s = time.perf_counter() - began
    period_s = session.period_s
    starts = np.asarray(stats.step_start_s)
    lateness = (starts - (starts[0] + period_s * np.arange(len(starts)))).tolist()
    latency: list[float] = []  # a change -> the first step that read it (and applies it)
    applied = 0
    for read_s, seen in hands.reads:
        while applied < seen:
            latency.append(read_s - (hands.start_s + hands.offsets_s[applied]))
            applied += 1
    return {
        "video_driver": pygame.display.get_driver(),
        "window_px": [window.width, window.height],
        "duration_s": elapsed_s,
        "frames": stats.frames,
        "frames_per_s": stats.frames / elapsed_s,
        "target_frames_per_s": TARGET_FRAMES_PER_S,
        "frame_draw_ms": _percentiles_ms(frame_s),
        "physics_steps": stats.steps,
        "physics_steps_per_s": stats.steps / elapsed_s,
        "control_rate_hz": 1.0 / period_s,
        "step_lateness_ms": _percentiles_ms([max(0.0, x) for x in lateness]),
        "late_restarts": stats.late_restarts,
        "input_changes": len(latency),
        "latency_ms": _percentiles_ms(latency),
        "target_latency_ms": 1000.0 * period_s,
    }


__all__ = ["ChangingHands", "run", "warm_up"]

"""The HUD's text: what the drive window writes over the view, from a :class:`Snapshot`.

Speed, gear, rpm, the lap being driven with its time, the last and best lap, the live
delta to the best lap and to the reference (the expert's lap), the tyres off the track,
the pause reason and the last message. Pure formatting: the window draws the lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from acgym.human.session import Snapshot
from acgym.units import KMH_PER_MPS

MAX_TYRES_OUT = 2
"""More tyres than this off the track invalidate the lap (the game's rule)."""


@dataclass(frozen=True)
class HudText:
    """The HUD's lines; ``None`` where there is nothing to show."""

    speed: str
    gear: str
    rpm: str
    lap: str
    last: str | None
    best: str | None
    delta_best: str | None
    delta_reference: str | None
    tyres_out: str
    tyres_out_warning: bool
    """More than :data:`MAX_TYRES_OUT` tyres off: the lap will not count."""
    paused: str | None
    message: str | None
    footer: str


def lap_time_text(seconds: float) -> str:
    """``m:ss.mmm``."""
    minutes, rest = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{rest:06.3f}"


def gear_text(gear_ac: int) -> str:
    """The game's gear encoding (0 reverse, 1 neutral, 2 first) as the driver reads it."""
    return {0: "R", 1: "N"}.get(gear_ac, str(gear_ac - 1))


def hud_text(snapshot: Snapshot) -> HudText:
    """The HUD lines of one frame."""
    s = snapshot.status
    lap_number = s.completed_laps + 1
    invalid = " (invalid)" if s.invalidated else ""
    reference = snapshot.reference_label or "reference"
    return HudText(
        speed=f"{s.speed_mps * KMH_PER_MPS:.0f} km/h",
        gear=gear_text(s.gear),
        rpm=f"{s.rpm:.0f} rpm",
        lap=f"lap {lap_number}  {lap_time_text(s.lap_time_s)}{invalid}",
        last=None if s.last_lap_s <= 0 else f"last {lap_time_text(s.last_lap_s)}",
        best=None if snapshot.best is None else f"best {lap_time_text(snapshot.best.time_s)}",
        delta_best=None if snapshot.delta_best_s is None else f"{snapshot.delta_best_s:+.2f} best",
        delta_reference=(
            None
            if snapshot.delta_reference_s is None
            else f"{snapshot.delta_reference_s:+.2f} {reference}"
        ),
        tyres_out=f"tyres out {s.tyres_out}",
        tyres_out_warning=s.tyres_out > MAX_TYRES_OUT,
        paused=snapshot.paused,
        message=snapshot.message,
        footer=(
            f"{snapshot.device_name}  |  P pause  R restart  T back on track  V view  Esc quit"
            + (f"  |  recording to {snapshot.recording}" if snapshot.recording else "")
        ),
    )


__all__ = ["MAX_TYRES_OUT", "HudText", "gear_text", "hud_text", "lap_time_text"]

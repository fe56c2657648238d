"""The expert on every track with every car: one row per pair (``acgym sim drive --all``).

Each pair is an ``acgym/Race-v0`` env from a standing start on the start line (the env's
defaults: its reward, ends and rate limits), driven by :func:`acgym.rl.expert.drive_expert`
for ``laps`` laps; the row holds the car's speed-profile estimate, the fastest flying lap,
its distance to the estimate and the most tyres off the track at any step. A pair passes
when every lap was completed, at most two tyres were ever out, and the flying lap is within
``tolerance`` of the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from acgym.env.config import EnvConfig

MAX_TYRES_OUT = 2
"""A clean lap: at most this many tyres off the track at any step."""

ESTIMATE_TOLERANCE = 0.05
"""A flying lap passes within this fraction of the speed-profile estimate."""


@dataclass(frozen=True)
class ExpertRow:
    """One track and car.

    Attributes:
        track, car: The names.
        length_m: The reference line's length, m.
        estimate_s: The car's speed-profile lap-time estimate, s.
        laps: Laps completed (of those asked for).
        flying_lap_s: The fastest lap after the standing one, s (NaN: none).
        max_tyres_out: Most tyres off the track at any step.
        error: Why the pair could not be driven (empty: it was).
    """

    track: str
    car: str
    length_m: float
    estimate_s: float
    laps: int
    flying_lap_s: float
    max_tyres_out: int
    error: str = ""

    @property
    def delta(self) -> float:
        """Flying lap over estimate, minus 1 (NaN without a flying lap)."""
        return self.flying_lap_s / self.estimate_s - 1.0

    def passed(self, laps: int, tolerance: float = ESTIMATE_TOLERANCE) -> bool:
        """Every lap, clean, and the flying lap within ``tolerance`` of the estimate."""
        return (
            not self.error
            and self.laps >= laps
            and self.max_tyres_out <= MAX_TYRES_OUT
            and abs(self.delta) <= tolerance
        )

    def to_dict(self) -> dict[str, object]:
        """The row as plain values (for JSON)."""
        return {**asdict(self), "delta": self.delta}


def drive_pair(track: str, car: str, laps: int, config: EnvConfig) -> ExpertRow:
    """Drive the expert ``laps`` laps (the first from a standing start) on ``track``
    with ``car``; an env that cannot be built gives a row with its ``error``."""
    from acgym.errors import AcgymError
    from acgym.protocol import channels as ch
    from acgym.rl.expert import drive_expert, make_sim_env

    try:
        env = make_sim_env(track, car, config)
    except (AcgymError, OSError, ValueError) as exc:
        return ExpertRow(track, car, math.nan, math.nan, 0, math.nan, 0, str(exc))
    try:
        base = env.unwrapped
        estimate_s = base.expert_lap_estimate_s()
        run = drive_expert(env, laps=laps)
        times = [lap.time_s for lap in run.laps.laps]
        return ExpertRow(
            track=base.track.name,
            car=car,
            length_m=float(base.track.length_m),
            estimate_s=float(estimate_s),
            laps=len(times),
            flying_lap_s=min(times[1:], default=math.nan),
            max_tyres_out=int(run.states[ch.NUMBER_OF_TYRES_OUT].max()),
        )
    finally:
        env.close()


def expert_table(
    tracks: Iterable[str],
    cars: Sequence[str],
    *,
    laps: int = 2,
    config: EnvConfig | None = None,
    progress: Callable[[ExpertRow], None] | None = None,
) -> list[ExpertRow]:
    """Every track with every car (:func:`drive_pair`), track-major; ``progress`` is
    called with each row as it is done. ``config``: the env's options (its start, the
    step limit: raise ``max_episode_py_time`` for long tracks)."""
    config = config or EnvConfig()
    rows = []
    for track in tracks:
        for car in cars:
            row = drive_pair(track, car, laps, config)
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def format_table(rows: Sequence[ExpertRow], laps: int) -> str:
    """The rows as an aligned text table, with the count of pairs that passed."""
    header = (
        f"{'track':<36} {'car':<14} {'km':>5} {'estimate':>9} {'flying':>9} "
        f"{'delta':>7} {'tyres':>5}  result"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        if row.error:
            lines.append(f"{row.track:<36} {row.car:<14} not driven: {row.error}")
            continue
        verdict = "ok" if row.passed(laps) else _why(row, laps)
        lines.append(
            f"{row.track:<36} {row.car:<14} {row.length_m / 1000:5.2f} {row.estimate_s:8.2f}s "
            f"{row.flying_lap_s:8.2f}s {100 * row.delta:+6.1f}% {row.max_tyres_out:5d}  {verdict}"
        )
    passed = sum(row.passed(laps) for row in rows)
    lines.append(
        f"{passed} of {len(rows)} pairs lapped cleanly (<= {MAX_TYRES_OUT} tyres out) within "
        f"{100 * ESTIMATE_TOLERANCE:.0f} % of the estimate"
    )
    return "\n".join(lines)


def _why(row: ExpertRow, laps: int) -> str:
    reasons = []
    if row.laps < laps:
        reasons.append(f"{row.laps} of {laps} laps")
    if row.max_tyres_out > MAX_TYRES_OUT:
        reasons.append(f"{row.max_tyres_out} tyres out")
    if not abs(row.delta) <= ESTIMATE_TOLERANCE:
        reasons.append("off the estimate")
    return "FAIL: " + ", ".join(reasons)


def write_table(rows: Sequence[ExpertRow], path: Path) -> None:
    """The rows as JSON (atomically)."""
    import json

    from acgym.fileio import write_text_atomic

    write_text_atomic(path, json.dumps([row.to_dict() for row in rows], indent=1) + "\n")

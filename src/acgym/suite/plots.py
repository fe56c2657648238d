"""Learning-curve plots of a suite's task: one PNG per task, four panels.

Top: the best clean lap so far against env steps and against training time; bottom: the
episode return (a running mean over :data:`RETURN_WINDOW` episodes) against the same.
One thin line per seed and, with two seeds or more, their median (thick, over the span
every seed covers; a seed without a clean lap yet counts as the slowest, as in the
table).
The lap panels mark the expert's lap, the car's speed-profile estimate and, on the
game's own track, its published AI and best human times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.fileio import write_with_atomic

FloatArray = NDArray[np.float64]

RETURN_WINDOW = 10
"""Episodes in the running mean of the return curves."""
GRID_POINTS = 300
"""Points of the median curves."""
SECONDS_PER_MIN = 60.0


def running_mean(values: FloatArray, window: int) -> FloatArray:
    """The mean of the last ``window`` values at each index (fewer at the start)."""
    sums = np.cumsum(np.concatenate(([0.0], values)))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def median_curve(
    curves: Sequence[tuple[FloatArray, FloatArray]], *, best_so_far: bool
) -> tuple[FloatArray, FloatArray] | None:
    """The median of curves ``(x, y)`` (``x`` non-decreasing) on a grid over the span they
    all cover; None with fewer than two curves.

    Args:
        curves: The seeds' curves.
        best_so_far: ``y`` is a best-so-far step function whose NaN (no lap yet) counts
            as the worst; else ``y`` is interpolated linearly between its points.
    """
    curves = [(x, y) for x, y in curves if len(x)]
    start = max((float(x[0]) for x, _ in curves), default=0.0)
    end = min((float(x[-1]) for x, _ in curves), default=0.0)
    if len(curves) < 2 or end <= start:
        return None
    grid = np.linspace(start, end, GRID_POINTS)
    if best_so_far:
        held = [y[np.searchsorted(x, grid, side="right") - 1] for x, y in curves]
        values = np.where(np.isnan(held), np.inf, held)
    else:
        values = np.stack([np.interp(grid, x, y) for x, y in curves])
    median = np.median(values, axis=0)
    median[~np.isfinite(median)] = np.nan
    return grid, median


def plot_task(
    entry: Mapping[str, Any],
    curves: Sequence[tuple[int, Mapping[str, FloatArray]]],
    path: Path | str,
    *,
    total_steps: int | None = None,
) -> Path:
    """Draw a task's learning curves (see the module docstring) as a PNG, atomically.

    Args:
        entry: The task's part of the table (``acgym.suite.table.task_entry``).
        curves: ``(seed, columns of its curve.csv)`` of the task's runs.
        path: The PNG.
        total_steps: The runs' step budget: the end of the env-steps axis.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(13.0, 8.5), dpi=110, layout="constrained")
    axes = fig.subplots(2, 2, sharex="col")
    colors = [f"C{k % 10}" for k in range(len(curves))]
    for column, (x_key, x_scale, x_label) in enumerate(
        (
            ("env_steps", 1.0, "env steps (all cars)"),
            ("train_time_s", SECONDS_PER_MIN, "training time, min"),
        )
    ):
        lap_ax, return_ax = axes[0, column], axes[1, column]
        laps, returns = [], []
        for (seed, curve), color in zip(curves, colors, strict=True):
            x = curve[x_key] / x_scale
            smooth = running_mean(curve["episode_return"], RETURN_WINDOW)
            returns.append((x, smooth))
            laps.append((x, curve["best_lap_s"]))
            style = {"color": color, "linewidth": 1.0, "alpha": 0.75, "label": f"seed {seed}"}
            return_ax.plot(x, smooth, **style)
            if np.isfinite(curve["best_lap_s"]).any():
                lap_ax.step(x, curve["best_lap_s"], where="post", **style)
        for ax, series, best_so_far in ((lap_ax, laps, True), (return_ax, returns, False)):
            median = median_curve(series, best_so_far=best_so_far)
            if median is not None and np.isfinite(median[1]).any():
                ax.plot(
                    *median,
                    color="black",
                    linewidth=2.4,
                    drawstyle="steps-post" if best_so_far else "default",
                    label=f"median of {len(series)}",
                )
        _references(lap_ax, entry)
        _lap_range(lap_ax, laps, entry)
        if not any(np.isfinite(y).any() for _, y in laps):
            _say(lap_ax, "no clean lap yet")
        if not any(len(x) for x, _ in returns):
            _say(return_ax, "no episode ended yet")
        lap_ax.set_ylabel("best clean lap so far, s")
        return_ax.set_ylabel(f"episode return (mean of {RETURN_WINDOW})")
        return_ax.set_xlabel(x_label)  # the lap panel above shares the axis
        if x_key == "env_steps":
            return_ax.xaxis.set_major_formatter(FuncFormatter(_steps_text))
            return_ax.set_xlim(0, total_steps or None)
        else:
            return_ax.set_xlim(left=0)
        for ax in (lap_ax, return_ax):
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=8)
    track = f"{entry['track']} ({entry['track_source']})" if entry["track"] else "no track"
    fig.suptitle(f"{entry['task']}: {entry['car']} on {track}, {len(curves)} seed(s)", fontsize=13)
    write_with_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))
    return Path(path)


def _say(ax: Any, text: str) -> None:
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.9}
    ax.text(0.5, 0.8, text, transform=ax.transAxes, ha="center", fontsize=12, bbox=box)


def _steps_text(steps: float, _position: int) -> str:
    for scale, unit in ((1e6, "M"), (1e3, "k")):
        if abs(steps) >= scale:
            return f"{steps / scale:g}{unit}"
    return f"{steps:g}"


_REFERENCE_KEYS = {
    "expert_lap_s": ("expert", {"color": "black", "linestyle": "--"}),
    "estimate_s": ("speed-profile estimate", {"color": "grey", "linestyle": ":"}),
    "game_ai_lap_s": ("game AI", {"color": "tab:red", "linestyle": "-."}),
    "game_best_human_lap_s": ("best human", {"color": "tab:purple", "linestyle": "-."}),
}
"""Lap times drawn as lines across the lap panels: label and style."""

LAP_AXIS_TOP = 1.25
"""The lap panels end at this many times the expert's lap (or the estimate): a policy's
first laps can take minutes, and would flatten the part that matters."""


def _lap_range(
    ax: Any, laps: Sequence[tuple[FloatArray, FloatArray]], entry: Mapping[str, Any]
) -> None:
    values = [float(v) for _, y in laps for v in y[np.isfinite(y)]]
    if not values:
        return
    reference = entry.get("expert_lap_s") or entry.get("estimate_s")
    marks = [entry[k] for k in _REFERENCE_KEYS if entry.get(k) is not None]
    top = max(values) if reference is None else min(max(values), LAP_AXIS_TOP * reference)
    bottom = min([*values, *marks])
    margin = 0.03 * max(top - bottom, 1.0)
    ax.set_ylim(bottom - margin, max(top, *marks) + margin)


def _references(ax: Any, entry: Mapping[str, Any]) -> None:
    for key, (label, style) in _REFERENCE_KEYS.items():
        value = entry.get(key)
        if value is not None:
            ax.axhline(value, linewidth=1.2, label=f"{label} {value:.2f} s", **style)


__all__ = ["RETURN_WINDOW", "median_curve", "plot_task", "running_mean"]

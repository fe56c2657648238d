"""The suite's table, read from its folder: per task and seed, and the median over seeds.

For every run: the first clean lap (env steps and training time), the clean laps and the
best clean lap of training, the final policy's best clean lap (``acgym eval``, the
run's own final evaluation) and the best evaluated policy's (``checkpoints/best``, the
periodic evaluations' best, evaluated again at the end), against the expert's; for every task: the expert's lap, the
car's speed-profile estimate and the game's published times (shown only for the game's
own track). Written as Markdown (``results.md``), JSON (``results.json``, everything)
and CSV (``results.csv``, one row per run and one ``median`` row per task), each
atomically. The table can be written at any time: unfinished runs show how far they
are, and only finished runs count in the medians.

A median of "lower is better" figures counts a run without the figure (no clean lap)
as worse than any run with it, so it is blank when it falls on such a run: with three
seeds, the median first clean lap is the second fastest seed's, and blank when two of
the three never lapped cleanly.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from acgym import __version__
from acgym.fileio import write_text_atomic
from acgym.rl.run import LAPS_FILE
from acgym.suite.curves import CURVE_FILE, read_curve
from acgym.suite.layout import (
    PLOTS_DIR,
    SuiteSettings,
    TaskRecord,
    read_json_object,
    read_settings,
    read_task,
    run_dir,
    write_json,
)
from acgym.suite.runs import (
    EMPTY,
    ERROR_FILE,
    FINISHED,
    PENDING,
    STARTED,
    STOPPED,
    read_summary,
    run_state,
)
from acgym.suite.tasks import ResolvedTask, get_suite

MARKDOWN_FILE, JSON_FILE, CSV_FILE = "results.md", "results.json", "results.csv"

TABLE_COLUMNS = (
    "task",
    "car",
    "place",
    "track",
    "track_source",
    "seed",
    "status",
    "env_steps",
    "train_time_s",
    "stopped_by",
    "first_clean_lap_steps",
    "first_clean_lap_time_s",
    "clean_laps",
    "best_training_lap_s",
    "final_lap_s",
    "expert_lap_s",
    "final_vs_expert_pct",
    "best_policy_lap_s",
    "best_policy_steps",
    "best_vs_expert_pct",
    "estimate_s",
    "game_ai_lap_s",
    "game_best_human_lap_s",
    "run_dir",
    "note",
)
"""Columns of ``results.csv``."""

LOWER_IS_BETTER = (
    "first_clean_lap_steps",
    "first_clean_lap_time_s",
    "best_training_lap_s",
    "final_lap_s",
    "best_policy_lap_s",
)
"""Figures whose median counts a run without them as the worst."""

_STATUS = {
    PENDING: "pending",
    EMPTY: "started, no checkpoint yet",
    STARTED: "unfinished",
    STOPPED: "stopped (Ctrl-C)",
    FINISHED: "finished",
}


def median_lower_is_better(values: Sequence[float | None]) -> float | None:
    """The median of ``values``, a None counting as worse than any number (see the module
    docstring); None when the median falls on one, or there are no values."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else float(v) for v in values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])
    return median if math.isfinite(median) else None


def gap_pct(lap_s: float | None, reference_s: float | None) -> float | None:
    """``lap_s`` against ``reference_s``, % (positive: slower)."""
    if lap_s is None or reference_s is None:
        return None
    return 100.0 * (lap_s / reference_s - 1.0)


def run_row(out_dir: Path, record: TaskRecord, seed: int) -> dict[str, Any]:
    """A run's figures, from its folder (``summary.json``; while unfinished, its
    ``laps.json`` and ``curve.csv``)."""
    folder = run_dir(out_dir, record.resolved.task.task_id, seed)
    state = run_state(folder)
    summary = read_summary(folder) or {}
    laps = summary.get("laps") or (read_json_object(folder / LAPS_FILE) or {})
    env_steps, train_time_s = summary.get("env_steps"), summary.get("train_time_s")
    if not summary and (folder / CURVE_FILE).is_file():
        curve = read_curve(folder / CURVE_FILE)
        if len(curve["env_steps"]):
            env_steps = int(curve["env_steps"][-1])
            train_time_s = float(curve["train_time_s"][-1])
    status = _STATUS[state]
    error = (read_json_object(folder / ERROR_FILE) or {}).get("error")
    if error and state != FINISHED:
        status = f"failed: {error}"
    first = laps.get("first_clean_lap") or {}
    final_lap_s = (summary.get("eval") or {}).get("best_lap_s")
    best = summary.get("eval_best") or {}
    return {
        "seed": seed,
        "status": status,
        "finished": state == FINISHED,
        "env_steps": env_steps,
        "train_time_s": train_time_s,
        "stopped_by": summary.get("stopped_by"),
        "first_clean_lap_steps": first.get("env_steps"),
        "first_clean_lap_time_s": first.get("train_time_s"),
        "clean_laps": laps.get("clean_laps"),
        "laps": laps.get("laps"),
        "best_training_lap_s": laps.get("best_lap_s"),
        "final_lap_s": final_lap_s,
        "final_vs_expert_pct": gap_pct(final_lap_s, record.expert_lap_s),
        "best_policy_lap_s": best.get("best_lap_s"),
        "best_policy_steps": best.get("env_steps"),
        "best_vs_expert_pct": gap_pct(best.get("best_lap_s"), record.expert_lap_s),
        "run_dir": str(folder.relative_to(out_dir)),
    }


def task_entry(out_dir: Path, settings: SuiteSettings, task_id: str) -> dict[str, Any]:
    """A task's part of the table: its track and references, its runs and their median."""
    record = read_task(out_dir, task_id)
    if record is None:
        task = get_suite(settings.suite).task(task_id)
        record = TaskRecord(ResolvedTask(task, None, "", "", not_run="not prepared yet"))
    resolved, task = record.resolved, record.resolved.task
    shown = resolved.published_shown
    entry: dict[str, Any] = {
        "task": task.task_id,
        "car": task.car,
        "place": task.place,
        "track": resolved.track_name,
        "track_spec": resolved.track,
        "track_source": resolved.track_source,
        "note": resolved.note,
        "not_run": resolved.not_run,
        "estimate_s": record.estimate_s,
        "expert_lap_s": record.expert_lap_s,
        "expert_laps_s": list(record.expert_laps_s),
        "game_ai_lap_s": task.game_ai_lap_s if shown else None,
        "game_best_human_lap_s": task.game_best_human_lap_s if shown else None,
        "seeds": settings.seeds,
        "runs": [],
        "runs_finished": 0,
        "median": {},
        "plot": None,
    }
    if resolved.not_run is not None:
        return entry
    runs = [run_row(out_dir, record, seed) for seed in range(settings.seeds)]
    finished = [run for run in runs if run["finished"]]
    median: dict[str, Any] = {
        key: median_lower_is_better([run[key] for run in finished]) if finished else None
        for key in LOWER_IS_BETTER
    }
    median["train_time_s"] = median_lower_is_better([run["train_time_s"] for run in finished])
    median["final_vs_expert_pct"] = gap_pct(median["final_lap_s"], record.expert_lap_s)
    median["best_vs_expert_pct"] = gap_pct(median["best_policy_lap_s"], record.expert_lap_s)
    plot = Path(PLOTS_DIR) / f"{task.task_id}.png"
    entry.update(
        runs=runs,
        runs_finished=len(finished),
        median=median,
        plot=str(plot) if (out_dir / plot).is_file() else None,
    )
    return entry


def collect(out_dir: Path | str) -> dict[str, Any]:
    """The whole table of a suite folder (the content of ``results.json``)."""
    out_dir = Path(out_dir)
    settings = read_settings(out_dir)
    return {
        "settings": settings.to_dict(),
        "acgym_version": __version__,
        "written_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "tasks": [task_entry(out_dir, settings, task_id) for task_id in settings.tasks],
    }


def csv_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``results.csv`` (:data:`TABLE_COLUMNS`)."""
    rows = []
    for entry in table["tasks"]:
        common = {key: entry[key] for key in TABLE_COLUMNS if key in entry}
        if entry["not_run"] is not None:
            rows.append({**common, "status": f"not run: {entry['not_run']}"})
            continue
        for run in entry["runs"]:
            rows.append({**common, **{k: v for k, v in run.items() if k in TABLE_COLUMNS}})
        status = f"{entry['runs_finished']} of {entry['seeds']} finished"
        rows.append({**common, **entry["median"], "seed": "median", "status": status})
    return [{key: row.get(key) for key in TABLE_COLUMNS} for row in rows]


def to_csv(table: dict[str, Any]) -> str:
    """``results.csv``'s text (empty cells for missing figures)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(table):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


SUMMARY_HEADER = (
    "task",
    "car",
    "track",
    "runs",
    "first clean lap, env steps",
    "first clean lap, training time",
    "best training lap, s",
    "final policy, s",
    "expert, s",
    "final vs expert",
    "best evaluated policy, s",
    "best vs expert",
    "estimate, s",
    "game AI, s",
    "best human, s",
)
"""Columns of the Markdown table of the tasks (medians over seeds)."""

RUNS_HEADER = (
    "task",
    "seed",
    "status",
    "env steps",
    "training time",
    "stopped by",
    "first clean lap, env steps",
    "first clean lap, training time",
    "clean laps",
    "best training lap, s",
    "final policy, s",
    "final vs expert",
    "best evaluated policy, s (step)",
    "best vs expert",
    "run folder",
)
"""Columns of the Markdown table of the runs."""


def to_markdown(table: dict[str, Any]) -> str:
    """``results.md``'s text: the tasks' medians, the notes, the runs, the plots."""
    settings = SuiteSettings.from_dict(table["settings"])
    lines = [
        f"# Suite `{settings.suite}`",
        "",
        f"{settings.describe()}; acgym {table['acgym_version']}, written "
        f"{table['written_utc']} UTC. Medians over the finished runs of each task (a run "
        f"without a clean lap counts as the slowest: the median is {MISSING} when it falls "
        f"on one; {MISSING}: no figure); lap times are clean laps (at most two tyres off the track); training time "
        "excludes the kernels' warm-up and the final evaluation. The final policy is the "
        "best clean lap of `acgym eval` of the last checkpoint; the best evaluated policy "
        "is that of the checkpoint whose periodic evaluation (`train.eval_interval`) was "
        "best, evaluated again at the end; the expert's is its best clean lap of two from a "
        "standing start (`acgym sim drive`); the estimate is the car's speed profile on "
        "the track's reference line. The game's published times (arXiv 2407.16680, "
        "Table 2) are shown only against the game's own track file.",
        "",
        _row(SUMMARY_HEADER),
        _row(["---"] * 3 + ["---:"] * (len(SUMMARY_HEADER) - 3)),
    ]
    notes = []
    for entry in table["tasks"]:
        track = f"{entry['track']} ({entry['track_source']})" if entry["track"] else "-"
        if entry["not_run"] is not None:
            blank = [""] * (len(SUMMARY_HEADER) - 4)
            lines.append(_row([entry["task"], entry["car"], track, "not run", *blank]))
            notes.append(f"`{entry['task']}` not run: {entry['not_run']}.")
            continue
        median = entry["median"]
        lines.append(
            _row(
                [
                    entry["task"],
                    entry["car"],
                    track,
                    f"{entry['runs_finished']} of {entry['seeds']}",
                    _steps(median["first_clean_lap_steps"]),
                    _duration(median["first_clean_lap_time_s"]),
                    _lap(median["best_training_lap_s"]),
                    _lap(median["final_lap_s"]),
                    _lap(entry["expert_lap_s"]),
                    _pct(median["final_vs_expert_pct"]),
                    _lap(median["best_policy_lap_s"]),
                    _pct(median["best_vs_expert_pct"]),
                    _lap(entry["estimate_s"]),
                    _lap(entry["game_ai_lap_s"]),
                    _lap(entry["game_best_human_lap_s"]),
                ]
            )
        )
        if entry["note"]:
            notes.append(f"`{entry['task']}`: {entry['note']}.")
        if entry["expert_lap_s"] is None and entry["expert_laps_s"]:
            laps = ", ".join(f"{t:.3f}" for t in entry["expert_laps_s"])
            notes.append(f"`{entry['task']}`: the expert drove no clean lap (laps {laps} s).")
    if notes:
        lines += ["", *[f"* {note}" for note in notes]]
    lines += ["", "## Runs", "", _row(RUNS_HEADER), _row(_RUNS_ALIGN)]
    for entry in table["tasks"]:
        for run in entry["runs"]:
            lines.append(
                _row(
                    [
                        entry["task"],
                        str(run["seed"]),
                        run["status"],
                        _steps(run["env_steps"]),
                        _duration(run["train_time_s"]),
                        run["stopped_by"] or MISSING,
                        _steps(run["first_clean_lap_steps"]),
                        _duration(run["first_clean_lap_time_s"]),
                        _steps(run["clean_laps"]),
                        _lap(run["best_training_lap_s"]),
                        _lap(run["final_lap_s"]),
                        _pct(run["final_vs_expert_pct"]),
                        _best_policy(run),
                        _pct(run["best_vs_expert_pct"]),
                        f"`{run['run_dir']}`",
                    ]
                )
            )
    plots = [entry for entry in table["tasks"] if entry["plot"]]
    if plots:
        lines += ["", "## Learning curves", ""]
        lines += [f"![{entry['task']}]({entry['plot']})" for entry in plots]
    return "\n".join(lines) + "\n"


_RUNS_ALIGN = ["---"] * 3 + ["---:"] * 2 + ["---"] + ["---:"] * 8 + ["---"]


def _best_policy(run: dict[str, Any]) -> str:
    """``106.123 (650,000)``: the best evaluated policy's lap and step."""
    if run["best_policy_steps"] is None:
        return MISSING
    return f"{_lap(run['best_policy_lap_s'])} ({_steps(run['best_policy_steps'])})"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


MISSING = "-"
"""A figure the run or task does not have (no clean lap; not published)."""


def _steps(value: float | None) -> str:
    return MISSING if value is None else f"{int(value):,}"


def _lap(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.1f} %"


def _duration(seconds: float | None) -> str:
    """``1h02m03s`` / ``2m03s``; :data:`MISSING` for None."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def write_tables(out_dir: Path | str, table: dict[str, Any]) -> list[Path]:
    """Write ``results.md``, ``results.json`` and ``results.csv`` atomically."""
    out_dir = Path(out_dir)
    paths = [out_dir / MARKDOWN_FILE, out_dir / JSON_FILE, out_dir / CSV_FILE]
    write_text_atomic(paths[0], to_markdown(table))
    write_json(paths[1], table)
    write_text_atomic(paths[2], to_csv(table))
    return paths


__all__ = [
    "CSV_FILE",
    "JSON_FILE",
    "MARKDOWN_FILE",
    "TABLE_COLUMNS",
    "collect",
    "csv_rows",
    "gap_pct",
    "median_lower_is_better",
    "run_row",
    "task_entry",
    "to_csv",
    "to_markdown",
    "write_tables",
]

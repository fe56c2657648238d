"""``acgym suite``: a suite of tiny runs on built-in tracks writes the table (every column,
a task without its track "not run"), readable plots, and resumes where it stopped."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from reference_files import find_reference_dir
from tiny_runs import TINY

from acgym.cli import build_parser, main
from acgym.errors import ConfigError
from acgym.rl.trainer import Callback, Trainer
from acgym.suite.curves import CURVE_FILE, CurveRecorder, read_curve
from acgym.suite.driver import run_suite, write_report
from acgym.suite.layout import SuiteSettings, run_dir
from acgym.suite.plots import median_curve
from acgym.suite.runs import FINISHED, STOPPED, LocalRunner, run_state
from acgym.suite.table import (
    CSV_FILE,
    JSON_FILE,
    MARKDOWN_FILE,
    RUNS_HEADER,
    SUMMARY_HEADER,
    TABLE_COLUMNS,
    median_lower_is_better,
)
from acgym.suite.tasks import BUILT_IN, GAME_FILE, SUITES, Suite, Task, resolve_task

OVAL = Task("f317-oval", "dallara_f317", "oval", builtin_tracks=("oval",))
NOWHERE = Task(
    "gt3-nowhere",
    "bmw_z4_gt3",
    "Nowhere",
    game_track="ks_nowhere-layout_gp",
    builtin_tracks=("no_such_circuit",),
    game_ai_lap_s=100.0,
    game_best_human_lap_s=99.0,
)
TINY_SUITE = Suite("tiny", "a test suite", (OVAL, NOWHERE))
STEPS = 300
OVERRIDES = (
    *TINY,
    "train.num_envs=2",
    "train.checkpoint_interval=100",
    "train.eval_interval=150",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_settings(seeds: int = 1, steps: int = STEPS) -> SuiteSettings:
    return SuiteSettings("tiny", TINY_SUITE.task_ids(), seeds, steps, overrides=OVERRIDES)


@pytest.fixture(scope="module", autouse=True)
def tiny_suite_registered() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(SUITES, "tiny", TINY_SUITE)
        yield


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seed of the tiny suite, run to the end."""
    out = tmp_path_factory.mktemp("suite")
    result = run_suite(tiny_settings(), out)
    assert [(o.spec.task_id, o.action, o.error) for o in result.outcomes] == [
        ("f317-oval", "trained", None)
    ]
    return out


def test_the_table_has_every_column_in_markdown_json_and_csv(suite_dir: Path) -> None:
    with (suite_dir / CSV_FILE).open(newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == TABLE_COLUMNS
        rows = list(reader)
    run, median, not_run = rows
    assert (run["task"], run["seed"], run["status"]) == ("f317-oval", "0", "finished")
    assert int(run["env_steps"]) == STEPS and float(run["train_time_s"]) > 0
    assert run["track_source"] == BUILT_IN and run["stopped_by"] == "step budget"
    assert float(run["expert_lap_s"]) > 30.0 and float(run["estimate_s"]) > 30.0
    # the published times compare only with the game's own track file
    assert run["game_ai_lap_s"] == "" and run["game_best_human_lap_s"] == ""
    assert run["best_policy_steps"] in ("150", "300")  # the better of two evaluations
    assert (median["seed"], median["status"]) == ("median", "1 of 1 finished")
    assert not_run["task"] == "gt3-nowhere"
    assert not_run["status"].startswith("not run:")

    table = json.loads((suite_dir / JSON_FILE).read_text())
    oval, nowhere = table["tasks"]
    assert oval["runs"][0]["env_steps"] == STEPS and oval["runs_finished"] == 1
    assert set(oval["median"]) >= {"first_clean_lap_steps", "final_lap_s", "train_time_s"}
    assert oval["plot"] == "plots/f317-oval.png"

    markdown = (suite_dir / MARKDOWN_FILE).read_text()
    for header in (*SUMMARY_HEADER, *RUNS_HEADER):
        assert f"| {header} |" in markdown, header
    assert "![f317-oval](plots/f317-oval.png)" in markdown
    assert f"| - ({int(run['best_policy_steps']):,}) |" in markdown  # no clean lap, its step
    assert nowhere["not_run"] is not None


def test_a_task_without_its_track_is_not_run_and_says_why(suite_dir: Path) -> None:
    table = json.loads((suite_dir / JSON_FILE).read_text())
    (nowhere,) = [t for t in table["tasks"] if t["task"] == "gt3-nowhere"]
    assert nowhere["not_run"] == (
        "the game's ks_nowhere-layout_gp needs --tracks; no built-in track no_such_circuit"
    )
    assert nowhere["runs"] == [] and not (suite_dir / "gt3-nowhere" / "seed_0").exists()
    assert (
        "`gt3-nowhere` not run: the game's ks_nowhere-layout_gp needs --tracks"
        in (suite_dir / MARKDOWN_FILE).read_text()
    )


def test_the_learning_curves_are_readable_pngs(suite_dir: Path) -> None:
    import matplotlib.image

    png = suite_dir / "plots" / "f317-oval.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    height, width, _ = matplotlib.image.imread(png).shape
    assert width >= 1000 and height >= 700
    curve = read_curve(run_dir(suite_dir, "f317-oval", 0) / CURVE_FILE)
    assert len(curve["env_steps"]) >= 2  # 300 steps of 2 cars, episodes of 300 steps
    assert np.all(np.diff(curve["env_steps"]) >= 0) and curve["env_steps"][-1] <= STEPS


class _CtrlC(Callback):
    """A user's Ctrl-C (SIGINT) once, at ``at_step`` of the run in ``run_name``."""

    def __init__(self, run_name: str, at_step: int) -> None:
        self.run_name, self.at_step = run_name, at_step

    def on_step(self, trainer: Trainer) -> None:
        here = trainer.run_dir is not None and trainer.run_dir.name == self.run_name
        if here and trainer.counters.env_steps == self.at_step:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_stopped_suite_skips_finished_runs_and_resumes_the_unfinished(
    suite_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "suite"
    shutil.copytree(suite_dir, out)
    seed_0 = run_dir(out, "f317-oval", 0)
    finished_summary = (seed_0 / "summary.json").read_bytes()

    stopped = run_suite(
        tiny_settings(seeds=2), out, runner=LocalRunner(callbacks=[_CtrlC("seed_1", 200)])
    )
    assert stopped.interrupted
    assert [(o.spec.seed, o.action) for o in stopped.outcomes] == [(0, "skipped"), (1, "trained")]
    seed_1 = run_dir(out, "f317-oval", 1)
    assert run_state(seed_1) == STOPPED
    assert (seed_1 / CURVE_FILE).is_file()  # written with the checkpoint of the stop

    resumed = run_suite(tiny_settings(seeds=2), out)
    assert not resumed.interrupted
    assert [(o.spec.seed, o.action) for o in resumed.outcomes] == [(0, "skipped"), (1, "resumed")]
    assert (seed_0 / "summary.json").read_bytes() == finished_summary
    assert run_state(seed_1) == FINISHED
    summary = json.loads((seed_1 / "summary.json").read_text())
    assert summary["env_steps"] == STEPS and summary["eval"]["expert_best_lap_s"] > 0
    assert (seed_1 / "checkpoints" / "step_0000000200").is_dir()
    table = json.loads((out / JSON_FILE).read_text())
    assert [run["status"] for run in table["tasks"][0]["runs"]] == ["finished", "finished"]


def test_a_suite_folder_refuses_other_settings_and_the_suites_own_keys(
    suite_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="total_steps = 300, not 400"):
        run_suite(tiny_settings(steps=400), suite_dir)
    for item, key in (("seed=3", "agent.seed"), ("track=oval", "env.track")):
        with pytest.raises(ConfigError, match=f"{key} cannot be overridden in a suite"):
            run_suite(
                SuiteSettings("tiny", ("f317-oval",), 1, STEPS, overrides=(item,)),
                tmp_path / key,
            )
        assert not (tmp_path / key).exists()


def test_report_rewrites_the_table_from_the_folder(
    suite_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suite"
    shutil.copytree(suite_dir, out)
    for name in (MARKDOWN_FILE, JSON_FILE, CSV_FILE, "plots/f317-oval.png"):
        (out / name).unlink()
    assert main(["suite", "report", str(out)]) == 0
    for name in (MARKDOWN_FILE, JSON_FILE, CSV_FILE, "plots/f317-oval.png"):
        assert (out / name).is_file(), name
    assert str(out / MARKDOWN_FILE) in capsys.readouterr().out
    assert write_report(out)[0] == out / MARKDOWN_FILE


def test_median_counts_a_seed_without_a_value_as_the_slowest() -> None:
    assert median_lower_is_better([30.0, None, 10.0]) == 30.0
    assert median_lower_is_better([None, 5.0, None]) is None
    assert median_lower_is_better([4.0, 2.0]) == 3.0
    assert median_lower_is_better([4.0, None]) is None
    assert median_lower_is_better([]) is None


def test_the_median_learning_curve_counts_a_seed_without_a_lap_as_the_slowest() -> None:
    nan = np.nan
    a = (np.array([0.0, 5.0, 10.0]), np.array([nan, 120.0, 100.0]))
    b = (np.array([0.0, 8.0, 10.0]), np.array([nan, nan, 110.0]))
    grid, median = median_curve([a, b], best_so_far=True)
    assert grid[0] == 0.0 and grid[-1] == 10.0
    assert np.isnan(median[np.searchsorted(grid, 6.0)])  # b has no lap yet
    assert median[-1] == 105.0
    returns = median_curve(
        [(a[0], np.array([0.0, 1.0, 2.0])), (b[0], np.zeros(3))], best_so_far=False
    )
    assert returns is not None and np.allclose(returns[1], returns[0] / 10.0)
    assert median_curve([a], best_so_far=True) is None  # one seed: no median drawn


def test_a_resumed_curve_keeps_the_rows_up_to_its_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / CURVE_FILE
    first = CurveRecorder(path)
    first.rows = [(100.0, 1.0, -2.0, 50.0, 0.0, np.nan), (300.0, 3.0, 5.0, 150.0, 1.0, 40.5)]
    first.save()
    curve = read_curve(path)
    assert curve["best_lap_s"][1] == 40.5 and curve["clean_laps"].tolist() == [0.0, 1.0]
    assert CurveRecorder(path).rows == []  # a new run starts the file afresh

    resumed = CurveRecorder(path, resumed_at_step=200)
    assert len(resumed.rows) == 1 and resumed.rows[0][0] == 100.0 and np.isnan(resumed.rows[0][5])
    resumed.rows.append((400.0, 4.0, 6.0, 100.0, 2.0, 39.5))
    resumed.save()  # the rows read back are written as plain numbers
    curve = read_curve(path)
    assert curve["env_steps"].tolist() == [100.0, 400.0] and curve["best_lap_s"][1] == 39.5


def test_tracks_resolve_to_the_game_file_else_a_builtin_else_not_run() -> None:
    tracks = find_reference_dir() / "tracks" / "config.yaml"
    barcelona = Task("f317-barcelona", "dallara_f317", "Barcelona", "ks_barcelona-layout_gp")
    game = resolve_task(barcelona, tracks)
    assert game.track == f"{tracks}:ks_barcelona-layout_gp" and game.track_source == GAME_FILE
    assert game.published_shown and game.note == ""

    elsewhere = Task(
        "f317-rbr", "dallara_f317", "Red Bull Ring", "ks_red_bull_ring-layout_gp", ("OVAL",)
    )
    fallback = resolve_task(elsewhere, tracks)
    assert (fallback.track, fallback.track_source) == ("oval", BUILT_IN)
    assert not fallback.published_shown
    assert f"no ks_red_bull_ring-layout_gp in {tracks}" in fallback.note

    nowhere = resolve_task(Task("x", "dallara_f317", "X", "ks_x"), tracks)
    assert nowhere.track is None and nowhere.not_run == f"no ks_x in {tracks}"


def test_suite_run_takes_the_items_after_the_name_and_options() -> None:
    args = build_parser().parse_args(
        ["suite", "run", "paper", "--seeds", "2", "--out", "x", "train.num_envs=8", "seed_x=1"]
    )
    assert (args.name, args.seeds, args.out) == ("paper", 2, Path("x"))
    assert args.overrides == ["train.num_envs=8", "seed_x=1"]


def test_suite_list_names_every_task_of_the_papers_suite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["suite", "list"]) == 0
    out = capsys.readouterr().out
    for task in SUITES["paper"].tasks:
        assert task.task_id in out
    assert "f317-barcelona" in out and "97.52" in out

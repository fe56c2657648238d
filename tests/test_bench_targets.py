"""``acgym bench``: the warm-up's time (``compile_time_s``) apart from the figures, and the
timing helper in a low module of its own."""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
import types
from pathlib import Path

import pytest

import acgym.timing
from acgym import bench, cli
from acgym.errors import ConfigError
from acgym.timing import time_per_call_s


def test_the_warm_up_runs_first_and_its_time_is_reported_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    def warm_up(args: argparse.Namespace) -> None:
        calls.append("warm_up")

    def run(args: argparse.Namespace) -> dict[str, float]:
        calls.append("run")
        return {"figure": 1.0}

    fake = types.ModuleType("fake_bench")
    fake.warm_up, fake.run = warm_up, run
    monkeypatch.setitem(sys.modules, "fake_bench", fake)
    monkeypatch.setitem(bench.BENCH_TARGETS, "fake", "fake_bench")
    out = tmp_path / "fake.json"
    assert cli.main(["bench", "fake", "--json", str(out), "--quick"]) == 0
    assert calls == ["warm_up", "run"]
    results = json.loads(out.read_text())
    assert list(results) == ["target", "machine", "compile_time_s", "figure"]
    assert results["compile_time_s"] >= 0.0 and results["figure"] == 1.0
    assert json.loads(capsys.readouterr().out) == results
    assert bench.run_bench("fake")["figure"] == 1.0  # the same, without a file


def test_an_unknown_target_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"expected a target of .*'sim'.*got 'nope'"):
        bench.run_bench("nope")


@pytest.mark.parametrize("target", sorted(bench.BENCH_TARGETS))
def test_every_target_has_a_warm_up_and_a_run(target: str) -> None:
    module = importlib.import_module(bench.BENCH_TARGETS[target])
    assert callable(module.warm_up) and callable(module.run)


def test_time_per_call_s_makes_the_first_call_apart_then_the_loops() -> None:
    calls = [0]

    def count() -> None:
        calls[0] += 1

    timing = time_per_call_s(count, min_time_s=0.001, repeats=3)
    assert set(timing) == {"best_s", "median_s", "calls_per_repeat", "first_call_s"}
    # the first call, the calibration loops (1, 4, 16... calls), then 3 repeats
    assert calls[0] > 1 + 3 * timing["calls_per_repeat"]


def test_the_timing_module_imports_nothing_of_the_project() -> None:
    tree = ast.parse(Path(acgym.timing.__file__).read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.split(".")[0] == "acgym"]

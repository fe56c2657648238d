"""``acgym bench sac``: the quick run produces every figure the docs quote."""

from __future__ import annotations

import json
from pathlib import Path

from acgym.bench import run_bench
from acgym.rl.bench import _ladder


def test_quick_bench_reports_updates_per_second_for_every_variant(tmp_path: Path) -> None:
    out = tmp_path / "sac.json"
    results = run_bench("sac", out, quick=True)
    assert json.loads(out.read_text()) == results
    assert results["compile_time_s"] > 0  # the first calls, apart from the figures
    variants = {f"sac: {label}" for label, _ in _ladder()}
    variants |= {"discor: plain loop (original structure)", "discor: default"}
    for threads in ("threads=1",):  # the quick run uses one thread
        rates = results["updates_per_s"][threads]
        assert set(rates) == variants
        assert all(row["best"] > 0 for row in rates.values())
        assert results["acting"][threads]["act_us"] > 0
        for row in results["trainer_steps_per_s"][threads].values():
            assert row["inline"] > 0 and row["threaded"] > 0
    assert set(results["best_updates_per_s"]) == variants

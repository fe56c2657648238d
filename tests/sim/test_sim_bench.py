"""``acgym bench sim --quick`` runs end to end and reports every figure the docs quote
(the figures themselves are not checked: no timing in a test)."""

from __future__ import annotations

import json
from pathlib import Path

from acgym.bench import run_bench


def test_quick_sim_bench_reports_both_batches_the_profile_and_the_targets(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    result = run_bench("sim", out, quick=True)
    assert json.loads(out.read_text()) == result
    assert result["compile_time_s"] > 0  # the first calls, apart from the figures
    for n in ("1", "256"):
        batch = result["batches"][n]
        assert batch["num_cars"] == int(n) and batch["substeps"] == 8
        assert batch["car_steps_per_s"] >= batch["median_car_steps_per_s"] > 0.0
    profile = result["profile_seconds_per_call"]
    assert profile["substep_total_s"] == sum(
        profile[k] for k in ("tyre_pass_s", "drivetrain_pass_s", "wheel_body_pass_s")
    )
    assert {"one_car_met", "batch_256_met"} <= set(result["targets"])

"""``acgym bench track --quick`` runs end to end and reports every query the docs quote,
for one point and a batch, with its target, on the main circuit and on the crossing one
(the figures themselves are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

from acgym.bench import run_bench


def test_quick_track_bench_times_every_query_and_names_the_targets(tmp_path: Path) -> None:
    out = tmp_path / "track.json"
    result = run_bench("track", out, quick=True)
    assert json.loads(out.read_text()) == result
    assert result["compile_time_s"] > 0  # the first calls, apart from the figures
    assert set(result["targets"]) == {"project_point", "cast_rays_pose_12", "is_inside_point"}
    for name, target in result["targets"].items():
        assert target["measured_us"] == result["single"][name]["per_call_us"] > 0.0
        assert target["met"] == (target["measured_us"] <= target["target_us"])
    assert all(row["per_point_us"] > 0.0 for row in result["batch_1024"].values())
    crossing = result["crossing"]  # the same queries, with hints, on a figure-8
    assert len(crossing["track"]["crossings"]) == 1
    assert set(crossing["targets"]) == set(result["targets"])
    assert set(crossing["single"]) == set(result["single"])

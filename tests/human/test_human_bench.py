"""``acgym bench human``: a short run gives the window's frames, the steps and the input
latencies it measured (the figures themselves are for docs/benchmarks.md, not asserted)."""

from __future__ import annotations

from acgym.bench import run_bench


def test_the_human_bench_measures_frames_steps_and_latencies() -> None:
    results = run_bench("human", quick=True)
    assert results["video_driver"] == "dummy"  # the tests' SDL driver
    assert results["frames"] > 0 and results["physics_steps"] > 0
    assert results["frames_per_s"] == results["frames"] / results["duration_s"]
    assert results["input_changes"] > 0
    assert set(results["latency_ms"]) == {"median", "p99", "max"}
    assert results["latency_ms"]["median"] <= results["latency_ms"]["max"]
    assert results["target_latency_ms"] == 40.0 and results["control_rate_hz"] == 25.0

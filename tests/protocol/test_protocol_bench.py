"""The protocol benchmark runs end to end (short sizes; the figures are not checked)."""

from __future__ import annotations

import argparse

from acgym.protocol import bench


def test_codec_bench_reports_costs_per_state() -> None:
    result = bench.bench_codec(0.01)
    assert result["channels"] >= 90
    assert result["encode_us"] > 0 and result["decode_us"] > 0


def test_lockstep_bench_runs_against_a_server_subprocess() -> None:
    result = bench.bench_lockstep(200)
    assert result["steps"] == 200 and result["steps_per_s"] > 0


def test_realtime_bench_measures_jitter_at_both_ends() -> None:
    result = bench.bench_realtime(0.4, rate_hz=50.0)
    assert result["states"] >= 5
    assert result["server_tick_lateness_ms"]["count"] >= 5
    assert result["client_arrival_lateness_ms"]["p99"] >= 0.0


def test_run_has_the_figures_the_docs_quote(monkeypatch: object) -> None:
    calls = []
    monkeypatch.setattr(bench, "bench_lockstep", lambda n: calls.append(n) or {"steps_per_s": 1.0})  # type: ignore[attr-defined]
    monkeypatch.setattr(  # type: ignore[attr-defined]
        bench,
        "bench_realtime",
        lambda d: {
            "server_tick_lateness_ms": {"p99": 0.1},
            "client_arrival_lateness_ms": {"p99": 3.0},
        },
    )
    result = bench.run(argparse.Namespace(quick=True))
    assert calls == [1000]
    assert set(result["targets_met"]) == {
        "lockstep_steps_per_s",
        "server_jitter_p99_ms",
        "client_jitter_p99_ms",
    }
    assert result["targets_met"]["server_jitter_p99_ms"] is True

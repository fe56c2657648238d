"""The protocol benchmark runs end to end (short sizes; the figures are not checked)."""

from __future__ import annotations

import argparse

from acgym.protocol import bench


def test_codec_bench_reports_costs_per_state() -> None:
    result = bench.bench_codec(0.01)
    assert result["channels"] >= 90
    assert result["encode_us"] > 0 and result["decode_us"] > 0


def test_lockstep_bench_runs_against_a_server_subprocess() -> None:
    result = bench.bench_lockstep(200, "sim")
    assert result["steps"] == 200 and result["steps_per_s"] > 0


def test_realtime_bench_measures_jitter_at_both_ends() -> None:
    result = bench.bench_realtime(0.4, rate_hz=50.0)
    assert result["states"] >= 5
    assert result["server_tick_lateness_ms"]["count"] >= 5
    assert result["client_arrival_lateness_ms"]["p99"] >= 0.0


def test_run_has_the_figures_the_docs_quote(monkeypatch: object) -> None:
    calls = []
    monkeypatch.setattr(
        bench, "bench_lockstep", lambda n, kind: calls.append((n, kind)) or {"steps_per_s": 1.0}
    )  # type: ignore[attr-defined]
    monkeypatch.setattr(  # type: ignore[attr-defined]
        bench,
        "bench_realtime",
        lambda d, priority=None: {
            "server_tick_lateness_ms": {"p99": 0.1},
            "client_arrival_lateness_ms": {"p99": 3.0},
        },
    )
    result = bench.run(argparse.Namespace(quick=True))
    assert calls == [(1000, "full"), (1000, "sim")]
    assert set(result["codec"]) == {"full", "sim"}
    assert result["targets_met"]["server_jitter_p99_ms"] is True
    assert result["targets_met"]["client_jitter_p99_ms"] is False


def test_sim_like_state_zeroes_what_a_simulator_does_not_model() -> None:
    state = bench.TrivialSource(kind="sim").state()
    assert state["fl_tire_temperature_core"] == 0.0 and state["speed"] != 0.0
    assert len(state) == len(bench.TrivialSource(kind="full").state())

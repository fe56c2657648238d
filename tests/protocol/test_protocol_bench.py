"""The protocol benchmark runs end to end (short sizes; the figures are not checked)."""

from __future__ import annotations

import argparse

import pytest

from acgym.protocol import bench


def test_codec_bench_reports_costs_per_state() -> None:
    result = bench.bench_codec(0.01)
    assert result["channels"] >= 90
    assert result["encode_us"] > 0 and result["decode_us"] > 0


def test_lockstep_bench_runs_against_a_server_subprocess() -> None:
    result = bench.bench_lockstep(200, kinds=("sim",), repeats=2)
    assert result["sim"]["steps"] == 200 and result["sim"]["steps_per_s"] > 0


def test_realtime_bench_measures_jitter_at_both_ends() -> None:
    result = bench.bench_realtime(0.4, rate_hz=50.0)
    assert result["states"] >= 5
    assert result["server_tick_lateness_ms"]["count"] >= 5
    assert result["client_arrival_lateness_ms"]["p99"] >= 0.0


def test_run_has_the_figures_the_docs_quote(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_lockstep(num_steps: int) -> dict[str, dict[str, float]]:
        calls.append(num_steps)
        return {kind: {"steps_per_s": 6000.0} for kind in bench.STATE_KINDS}

    def fake_realtime(
        duration_s: float, priority: int | None = None, client_priority: int | None = None
    ) -> dict[str, object]:
        return {"server_tick_lateness_ms": {"p99": 0.1}, "client_arrival_lateness_ms": {"p99": 3.0}}

    monkeypatch.setattr(bench, "bench_lockstep", fake_lockstep)
    monkeypatch.setattr(bench, "bench_realtime", fake_realtime)
    result = bench.run(argparse.Namespace(quick=True))
    assert calls == [2000]
    assert set(result["codec"]) == set(result["lockstep"]) == {"full", "sim"}
    assert result["targets_met"]["lockstep_steps_per_s_full"] is True
    assert result["targets_met"]["server_jitter_p99_ms"] is True
    assert result["targets_met"]["client_jitter_p99_ms_priority"] is False


def test_sim_like_state_zeroes_what_a_simulator_does_not_model() -> None:
    state = bench.TrivialSource(kind="sim").state()
    assert state["fl_tire_temperature_core"] == 0.0 and state["speed"] != 0.0
    assert len(state) == len(bench.TrivialSource(kind="full").state())

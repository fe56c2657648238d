"""``acgym bench protocol``: codec cost, lock-step throughput, real-time tick jitter.

The server runs in a subprocess (``python -m acgym.protocol.bench serve``) over a
trivial source with the original plugin's ~90 channels at full float precision, so
client and server do not share a GIL and the figures are those of two processes on
loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from acgym.protocol import channels as ch
from acgym.protocol import codec
from acgym.protocol.channels import BY_WIRE, LEGACY_STATE_CHANNELS, default_value
from acgym.protocol.client import Client
from acgym.protocol.messages import Controls
from acgym.protocol.server import ProtocolServer
from acgym.timing import time_per_call_s

LOCKSTEP_TARGET_STEPS_PER_S = 5000.0
JITTER_TARGET_P99_MS = 2.0


STATE_KINDS = ("full", "sim")
"""``full``: every one of the ~90 channels a random double (the worst case for JSON:
118 numbers of 17 digits). ``sim``: the required channels and the 4-element lists random
doubles, the channels a simulator does not model (tyre temperatures, contact headings,
...) zero."""


class TrivialSource:
    """A car that does nothing but change its ~90 channels: the protocol's cost alone.

    It rotates through a few precomputed states of random full-precision floats (the
    encoding cost of real telemetry, see ``STATE_KINDS``) and counts steps in
    ``packetId``.
    """

    reset_options = ("distance_m", "lateral_offset_m", "heading_offset_rad", "speed_mps", "seed")

    def __init__(self, seed: int = 0, num_variants: int = 8, kind: str = "full") -> None:
        if kind not in STATE_KINDS:
            raise ValueError(f"state kind {kind!r}; expected one of {STATE_KINDS}")
        rng = random.Random(seed)
        self._variants = []
        for _ in range(num_variants):
            state: dict[str, Any] = {}
            for wire in LEGACY_STATE_CHANNELS:
                zero = default_value(wire)
                modelled = kind == "full" or BY_WIRE[wire].required or isinstance(zero, list)
                if not modelled:
                    state[wire] = zero
                elif isinstance(zero, list):
                    state[wire] = [rng.uniform(-100.0, 100.0) for _ in zero]
                elif isinstance(zero, int):
                    state[wire] = rng.randrange(0, 100_000)
                else:
                    state[wire] = rng.uniform(-1000.0, 1000.0)
            state[ch.DONE] = 0
            self._variants.append(state)
        self.steps = 0
        self.controls = Controls()

    def static_info(self) -> dict[str, Any]:
        """Static info of a made-up track and car."""
        return {
            "TrackName": "bench",
            "TrackConfiguration": "",
            "TrackLength": 1000.0,
            "CarName": "bench_car",
            "WindSpeed": 0.0,
            "WindDirection": 0.0,
            "autoShifterOn": 1,
            "penaltiesEnabled": 0,
            "backend": "bench",
            "backend_version": "1",
        }

    def config(self) -> dict[str, Any]:
        """Only the control rate."""
        return {"ego_sampling_freq": 25}

    def track_info(self) -> dict[str, Any]:
        """No track."""
        return {}

    def reset(self, options: dict[str, Any]) -> None:
        """Back to step 0."""
        self.steps = 0

    def apply(self, controls: Controls) -> None:
        """Keep the controls."""
        self.controls = controls

    def advance(self) -> None:
        """One more step."""
        self.steps += 1

    def state(self) -> dict[str, Any]:
        """The next precomputed state, with this step's counters."""
        state = dict(self._variants[self.steps % len(self._variants)])
        state[ch.PACKET_ID] = self.steps
        state[ch.TIMESTAMP_AC] = time.perf_counter()
        return state


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Serve a ``TrivialSource`` until stdin closes; print the ports, then tick stats."""
    parser = argparse.ArgumentParser(prog="python -m acgym.protocol.bench serve")
    parser.add_argument("--mode", choices=("realtime", "lockstep"), default="lockstep")
    parser.add_argument("--rate-hz", type=float, default=25.0)
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument("--state", choices=STATE_KINDS, default="full")
    parser.add_argument("--priority", type=int, default=None, help="SCHED_FIFO priority")
    args = parser.parse_args(argv)
    server = ProtocolServer(
        TrivialSource(kind=args.state),
        ego_port=0,
        mgmt_port=0,
        modes=(args.mode,),
        control_rate_hz=args.rate_hz,
        legacy=args.legacy,
        realtime_priority=args.priority,
    ).start()
    print(
        json.dumps({"ego_port": server.ego_address[1], "mgmt_port": server.mgmt_address[1]}),
        flush=True,
    )
    try:
        sys.stdin.read()  # the parent closes stdin (or dies) to stop us
    finally:
        lateness_ms = [1000.0 * x for x in server.ego.tick_lateness_s]
        counters = dict(server.ego.counters)
        raised = server.ego.priority_raised
        server.stop()
        stats = {"tick_lateness_ms": lateness_ms, "counters": counters, "priority_raised": raised}
        print(json.dumps(stats), flush=True)
    return 0


class ServerProcess:
    """``serve_main`` in a subprocess; a context manager that stops it."""

    def __init__(self, *args: str, timeout_s: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "acgym.protocol.bench", "serve", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = _readline_with_timeout(self.process, timeout_s)
        ports = json.loads(line)
        self.ego_port: int = ports["ego_port"]
        self.mgmt_port: int = ports["mgmt_port"]

    def stop(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """Stop the server; returns its final stats (empty if it was killed)."""
        if self.process.poll() is not None:
            return {}
        try:
            out, _ = self.process.communicate(timeout=timeout_s)  # closes stdin: stop
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            return {}
        lines = [line for line in out.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else {}

    def kill(self) -> None:
        """Kill the server at once (as if it crashed)."""
        self.process.kill()
        self.process.wait(timeout=10.0)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10.0)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def _readline_with_timeout(process: subprocess.Popen[str], timeout_s: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    if not result or not result[0]:
        process.kill()
        raise RuntimeError("the bench server subprocess did not start (no ports printed)")
    return result[0]


@contextlib.contextmanager
def _thread_priority(priority: int | None) -> Iterator[bool]:
    """Run this thread at real-time priority ``priority`` inside the block, if allowed;
    yields whether it was granted."""
    if priority is None:
        yield False
        return
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setscheduler(0, before[0], before[1])


def _process_cpu_s(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` so far, s (Linux ``/proc``; else NaN)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            fields = stream.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentiles_ms(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan, "count": 0}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    return {"p50": pick(0.5), "p99": pick(0.99), "max": ordered[-1], "count": len(ordered)}


def bench_codec(min_time_s: float, kind: str = "full") -> dict[str, Any]:
    """Encode (normalize + JSON) and decode (JSON + checks) cost of one state."""
    source = TrivialSource(kind=kind)
    channels = source.state()
    normalized = codec.normalize_channels(channels)
    data = codec.encode_state(1, 0, normalized)
    encode = time_per_call_s(
        lambda: codec.encode_state(1, 0, codec.normalize_channels(channels)), min_time_s
    )
    decode = time_per_call_s(lambda: codec.decode_from_server(data), min_time_s)
    return {
        "channels": len(channels),
        "state_bytes": len(data),
        "encode_us": 1e6 * encode["best_s"],
        "decode_us": 1e6 * decode["best_s"],
        "encode_median_us": 1e6 * encode["median_s"],
        "decode_median_us": 1e6 * decode["median_s"],
    }


def bench_lockstep(
    num_steps: int, kinds: Sequence[str] = STATE_KINDS, repeats: int = 10
) -> dict[str, dict[str, Any]]:
    """Lock-step steps per second, client here, one server subprocess per state kind.

    The steps are timed in ``repeats`` blocks per kind, the kinds taking turns so that
    they see the same machine; the best block is the figure least disturbed by other
    processes, the median says how steady it was.
    """
    block = max(1, num_steps // repeats)
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    with contextlib.ExitStack() as stack:
        clients = {}
        pids = {}
        for kind in kinds:
            server = stack.enter_context(ServerProcess("--mode", "lockstep", "--state", kind))
            pids[kind] = server.process.pid
            client = stack.enter_context(
                Client(ego_port=server.ego_port, mgmt_port=server.mgmt_port, mode="lockstep")
            )
            client.reset()
            client.receive_state()
            for _ in range(200):  # warm up
                client.step(0.0, 0.5, -1.0)
            clients[kind] = client
        cpu_s = {kind: [0.0, 0.0] for kind in kinds}  # client, server
        for _ in range(repeats):
            for kind, client in clients.items():
                client_start = os.times()
                server_start = _process_cpu_s(pids[kind])
                start_s = time.perf_counter()
                for _ in range(block):
                    client.step(0.01, 0.5, -1.0)
                rates[kind].append(block / (time.perf_counter() - start_s))
                client_end = os.times()
                cpu_s[kind][0] += (
                    client_end.user + client_end.system - client_start.user - client_start.system
                )
                cpu_s[kind][1] += _process_cpu_s(pids[kind]) - server_start
        retransmits = {k: c.counters.get("controls_retransmitted", 0) for k, c in clients.items()}
    return {
        kind: {
            "state": kind,
            "steps": block * repeats,
            "steps_per_s": max(rates[kind]),
            "steps_per_s_median": statistics.median(rates[kind]),
            "step_us": 1e6 / max(rates[kind]),
            "client_cpu_us_per_step": 1e6 * cpu_s[kind][0] / (block * repeats),
            "server_cpu_us_per_step": 1e6 * cpu_s[kind][1] / (block * repeats),
            "retransmits": retransmits[kind],
            "target_steps_per_s": LOCKSTEP_TARGET_STEPS_PER_S,
        }
        for kind in kinds
    }


def bench_realtime(
    duration_s: float,
    rate_hz: float = 25.0,
    priority: int | None = None,
    client_priority: int | None = None,
) -> dict[str, Any]:
    """Tick jitter of a real-time server, at the server and as seen by the client.

    Server: how late each tick started after its schedule. Delivery: from the state's
    creation (its ``timestamp_ac``, the same monotonic clock on one machine) to the
    client holding it. Client: the two added up, state by state (state ``seq`` k is tick
    k): how late after its schedule the client had each state.

    ``priority``, ``client_priority``: run the server's thread, and this (client)
    thread while it measures, at this real-time priority (if allowed).
    """
    arrivals: list[tuple[int, float, float]] = []  # seq, arrival, creation
    extra = ("--priority", str(priority)) if priority is not None else ()
    with ServerProcess("--mode", "realtime", "--rate-hz", str(rate_hz), *extra) as server:
        with (
            Client(ego_port=server.ego_port, mgmt_port=server.mgmt_port, drain="every") as client,
            _thread_priority(client_priority) as client_raised,
        ):
            end_s = time.perf_counter() + duration_s
            while time.perf_counter() < end_s:
                state = client.receive_state()
                arrivals.append((client.last_seq, time.perf_counter(), state[ch.TIMESTAMP_AC]))
                client.send_controls(0.0, 0.3, -1.0)
            counters = client.counters
        stats = server.stop()
    server_lateness_ms = stats.get("tick_lateness_ms", [])
    delivery_ms = [1000.0 * (arrival - created) for _, arrival, created in arrivals]
    client_lateness_ms = [
        server_lateness_ms[seq - 1] + delay_ms
        for (seq, _, _), delay_ms in zip(arrivals, delivery_ms, strict=True)
        if seq - 1 < len(server_lateness_ms)
    ]
    server_counters = stats.get("counters", {})
    return {
        "rate_hz": rate_hz,
        "server_priority": priority if stats.get("priority_raised") else "normal",
        "client_priority": client_priority if client_raised else "normal",
        "duration_s": duration_s,
        "states": len(arrivals),
        "server_tick_lateness_ms": _percentiles_ms(server_lateness_ms),
        "delivery_ms": _percentiles_ms(delivery_ms),
        "client_arrival_lateness_ms": _percentiles_ms(client_lateness_ms),
        "ticks_missed": server_counters.get("ticks_missed", 0),
        "states_lost": counters.get("states_lost", 0),
        "target_p99_ms": JITTER_TARGET_P99_MS,
    }


def warm_up(args: argparse.Namespace) -> None:
    """The first encode and decode of a state of each kind (the codec has no compiled
    kernels: this is its first use, a few milliseconds)."""
    for kind in STATE_KINDS:
        channels = TrivialSource(kind=kind).state()
        codec.decode_from_server(codec.encode_state(1, 0, codec.normalize_channels(channels)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every protocol benchmark; ``args.quick`` shortens them."""
    quick = bool(getattr(args, "quick", False))
    load_before = os.getloadavg()[0]
    codec_results = {kind: bench_codec(0.1 if quick else 0.5, kind) for kind in STATE_KINDS}
    lockstep = bench_lockstep(2000 if quick else 40000)
    realtime = bench_realtime(2.0 if quick else 30.0)
    realtime_priority = bench_realtime(2.0 if quick else 30.0, priority=10)
    realtime_both = bench_realtime(2.0 if quick else 30.0, priority=10, client_priority=10)

    def jitter_ok(result: dict[str, Any], key: str) -> bool:
        return result[key]["p99"] <= JITTER_TARGET_P99_MS

    targets = {
        f"lockstep_steps_per_s_{k}": v["steps_per_s"] >= LOCKSTEP_TARGET_STEPS_PER_S
        for k, v in lockstep.items()
    }
    for name, result in (
        ("", realtime),
        ("_priority", realtime_priority),
        ("_priority_both", realtime_both),
    ):
        targets[f"server_jitter_p99_ms{name}"] = jitter_ok(result, "server_tick_lateness_ms")
        targets[f"client_jitter_p99_ms{name}"] = jitter_ok(result, "client_arrival_lateness_ms")
    return {
        "quick": quick,
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "codec": codec_results,
        "lockstep": lockstep,
        "realtime": realtime,
        "realtime_server_priority_10": realtime_priority,
        "realtime_server_and_client_priority_10": realtime_both,
        "targets_met": targets,
        "note": (
            "server in a subprocess; encode = normalize + JSON, decode = JSON + checks, best "
            "of 5 repeats (medians beside); lock-step: best and median of 10 blocks, the state "
            "kinds (acgym.protocol.bench.STATE_KINDS) taking turns; jitter: lateness of each "
            "tick after its schedule (server) and of each arrival after the schedule fitted to "
            "the earliest one (client)"
        ),
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        raise SystemExit(serve_main(sys.argv[2:]))
    raise SystemExit("usage: python -m acgym.protocol.bench serve [--mode M] [--rate-hz HZ]")

"""``acgym sim serve``: the built-in simulator behind the protocol, like the game plugin.

:class:`SimCarSource` is a :class:`acgym.protocol.server.CarSource` over one car of a
:class:`acgym.sim.session.SimSession`; :func:`build_servers` starts one protocol server
per car. With ``--cars N`` each car is its own simulation (the simulator has no contact
between cars, so nothing is lost) served on its own ports: car ``i`` streams on UDP ego
port ``ego_port + i`` and answers management on TCP port ``mgmt_port + i`` (protocol v1
has no car field in its management requests, and one management server drives one ego
server, so each car has one management port).

Real time (default) ticks at the control rate like the game; ``--lockstep`` also offers
lock-step (the client picks in its ``connect``), where each controls message advances
exactly one control period. ``--legacy`` speaks the original sensors_par plugin's format
(real time, loopback, no token). This module joins ``sim`` and ``protocol``, so it sits
outside both packages.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from acgym.protocol.messages import (
    DEFAULT_EGO_PORT,
    DEFAULT_HOST,
    DEFAULT_MGMT_PORT,
    RESET_OPTION_RANGES,
    SAFE_CONTROLS,
    Controls,
)
from acgym.protocol.server import ProtocolServer
from acgym.sim.session import DEFAULT_CAR, SimSession
from acgym.sim.world import WorldConfig
from acgym.track.builtin import DEFAULT_TRACK

logger = logging.getLogger(__name__)

PLACEMENT_OPTIONS = ("distance_m", "lateral_offset_m", "heading_offset_rad", "speed_mps")
"""Reset options that place the car (``seed`` is accepted too: the simulator is
deterministic, so it changes nothing)."""


class SimCarSource:
    """One car of a ``SimSession`` as a protocol ``CarSource``.

    ``advance`` steps the whole session, so a session served this way should hold one car
    (``build_servers`` gives each car its own). A reset puts the car at the placement the
    options give (the protocol's reset options; absent ones are 0: the start line, on
    the reference line, at rest) and releases the controls (safe controls). Gear-shift
    requests apply to the next advance only (one shift per request).

    Args:
        session: The simulation.
        car: Which of its cars.
    """

    reset_options = tuple(RESET_OPTION_RANGES)

    def __init__(self, session: SimSession, car: int = 0) -> None:
        self.session = session
        self.car = car
        self._controls = np.zeros((session.num_cars, 3))
        self._flags = np.zeros((session.num_cars, 3))
        self._set(SAFE_CONTROLS)

    def _set(self, controls: Controls) -> None:
        self._controls[self.car] = (controls.steer, controls.acc, controls.brake)
        self._flags[self.car] = (
            float(controls.enable_gear_shift),
            float(controls.shift_up),
            float(controls.shift_down),
        )

    def static_info(self) -> dict[str, Any]:
        return self.session.static_info(self.car)

    def config(self) -> dict[str, Any]:
        return self.session.config()

    def track_info(self) -> dict[str, Any]:
        return self.session.track_info(self.car)

    def reset(self, options: dict[str, Any]) -> None:
        placement = {k: float(v) for k, v in options.items() if k in PLACEMENT_OPTIONS}
        self.session.reset([self.car], **placement)
        self._set(SAFE_CONTROLS)

    def apply(self, controls: Controls) -> None:
        self._set(controls)

    def advance(self) -> None:
        flags = self._flags if self._flags.any() else None
        self.session.step(self._controls, flags)
        self._flags[self.car] = 0.0  # a shift request is one shift

    def state(self) -> dict[str, Any]:
        return self.session.telemetry(self.car)


def build_servers(
    track: str = DEFAULT_TRACK,
    car: str = DEFAULT_CAR,
    *,
    num_cars: int = 1,
    host: str = DEFAULT_HOST,
    ego_port: int = DEFAULT_EGO_PORT,
    mgmt_port: int = DEFAULT_MGMT_PORT,
    lockstep: bool = False,
    legacy: bool = False,
    token: str | None = None,
    world_config: WorldConfig | None = None,
) -> list[ProtocolServer]:
    """One protocol server per car (not started); ports 0 pick free ports for every car.

    Raises:
        ConfigError: Inconsistent options (a token in legacy mode, no token off loopback).
    """
    from acgym.track.loaders import load_track

    the_track = load_track(track)
    servers: list[ProtocolServer] = []
    try:
        for i in range(num_cars):
            session = SimSession(the_track, car, num_cars=1, config=world_config)
            source = SimCarSource(session)
            servers.append(
                ProtocolServer(
                    source,
                    host,
                    ego_port + i if ego_port else 0,
                    mgmt_port + i if mgmt_port else 0,
                    token=token,
                    legacy=legacy,
                    modes=("realtime", "lockstep") if lockstep else ("realtime",),
                    control_rate_hz=float(session.world.config.control_hz),
                )
            )
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``acgym sim serve``."""
    parser.add_argument("--track", default=DEFAULT_TRACK, help="track name or file")
    parser.add_argument("--car", default=DEFAULT_CAR, help="car preset name or folder")
    parser.add_argument("--cars", type=int, default=1, help="cars, one per port pair")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind")
    parser.add_argument(
        "--ego-port",
        type=int,
        default=DEFAULT_EGO_PORT,
        help="UDP port of car 0 (car i: +i; 0: any)",
    )
    parser.add_argument(
        "--mgmt-port",
        type=int,
        default=DEFAULT_MGMT_PORT,
        help="TCP management port of car 0 (car i: +i; 0: any)",
    )
    parser.add_argument(
        "--lockstep", action="store_true", help="also offer lock-step (the client picks)"
    )
    parser.add_argument(
        "--legacy", action="store_true", help="speak the original plugin's wire format"
    )
    parser.add_argument(
        "--token", default=None, help="shared token (required off loopback; not with --legacy)"
    )
    parser.add_argument(
        "--duration-s", type=float, default=None, help="stop after this long (default: Ctrl-C)"
    )


def serve_command(args: argparse.Namespace) -> int:
    """Run the servers until Ctrl-C (or ``--duration-s``)."""
    if args.cars < 1:
        from acgym.errors import ConfigError

        raise ConfigError(f"--cars: expected >= 1, got {args.cars}")
    servers = build_servers(
        args.track,
        args.car,
        num_cars=args.cars,
        host=args.host,
        ego_port=args.ego_port,
        mgmt_port=args.mgmt_port,
        lockstep=args.lockstep,
        legacy=args.legacy,
        token=args.token,
    )
    stop = threading.Event()
    try:
        for i, server in enumerate(servers):
            server.start()
            (host, ego), (_, mgmt) = server.ego_address, server.mgmt_address
            print(f"car {i}: ego udp {host}:{ego}, management tcp {host}:{mgmt}", flush=True)
        deadline_s = None if args.duration_s is None else time.monotonic() + args.duration_s
        while not stop.is_set():
            remaining = None if deadline_s is None else deadline_s - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            stop.wait(1.0 if remaining is None else min(1.0, remaining))
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.stop()
    return 0


def register_serve(sim_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``acgym sim`` subcommands."""
    parser = sim_subparsers.add_parser(
        "serve", help="serve the simulator over the protocol (like the game plugin)"
    )
    add_serve_arguments(parser)
    parser.set_defaults(handler=serve_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m acgym.sim_server [options]``: ``acgym sim serve`` without the CLI."""
    parser = argparse.ArgumentParser(prog="acgym sim serve", description=__doc__.split("\n")[0])
    add_serve_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return serve_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

"""The rollout workers as Ray actors: start, requests, failures and replacements.

Ray is imported here, on first use, and only by a run that asks for workers. A run
without ``train.ray_address`` starts a Ray of this machine alone that listens on the
loopback interface only (nothing is reachable from the network); with it, the run joins
that cluster (``ray start --head`` on the learner's machine, ``ray start --address=...``
on the others; every machine needs the same acgym installed).

:class:`RayPool` keeps one :class:`acgym.dist.worker.RolloutWorker` actor per slot, at
most one request in flight per worker, and turns what Ray reports into
:class:`acgym.dist.learner.PoolEvent`: a worker started (its description), replied (its
batches), or failed (its process died: ``RayActorError``; or its collection failed).
A failed worker is killed and replaced by a new incarnation, at most
``train.worker_restarts`` times per slot. A worker of a remote car is placed on the Ray
node whose address is the car's host when there is one (the game's own PC), else
anywhere.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acgym.config import Config, parse_host
from acgym.dist.learner import FAILED, REPLY, STARTED, PoolEvent
from acgym.dist.worker import RolloutWorker
from acgym.errors import BackendError, ConfigError

logger = logging.getLogger(__name__)

POLL_WAIT_S = 1.0
"""Longest wait of a worker's poll for something to send, s."""
STOP_TIMEOUT_S = 60.0
"""How long the pool waits for a worker to stop and close its env, s."""
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch that makes a local Ray use (and listen on) the loopback address only, as
it does on macOS and Windows; set to 0 before Ray is imported for a run without
``train.ray_address``."""


def import_ray(local: bool) -> Any:
    """Ray, imported now (``local``: a Ray of this machine alone, on loopback).

    Raises:
        ConfigError: Ray is not installed.
    """
    if local:
        os.environ.setdefault(LOCAL_ONLY_ENV, "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "train.workers >= 2, train.ray_address and remote.hosts need Ray: "
            "pip install 'acgym[ray]'"
        ) from None
    return ray


LOCAL = "local"
"""``train.ray_address`` of a Ray of this machine alone (what no address gives with two
workers or more; with one worker, the way to run it on Ray)."""


def is_local(address: str | None) -> bool:
    """Whether ``address`` means a Ray of this machine alone."""
    return address is None or address == LOCAL


def connect_ray(address: str | None, num_cpus: int) -> Any:
    """Join the Ray cluster at ``address``, or start a Ray of this machine alone with
    ``num_cpus`` logical CPUs (:func:`is_local`); nothing when Ray is already initialised
    (a test's, a user's)."""
    ray = import_ray(is_local(address))
    if ray.is_initialized():
        return ray
    if is_local(address):
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    else:
        ray.init(address=address, logging_level=logging.WARNING, configure_logging=False)
    return ray


def local_cpus(workers: int) -> int:
    """Logical CPUs of a local Ray for ``workers`` workers: the machine's, or more (one
    per worker: the user asked for that many, however many cores there are)."""
    return max(os.cpu_count() or 1, workers)


@dataclass
class _Slot:
    actor: Any = None
    incarnation: int = -1
    restarts_left: int = 0
    starting: Any = None  # the describe() in flight
    polling: Any = None  # the poll() in flight
    version_sent: int = -2
    gone: bool = False


class RayPool:
    """One Ray actor per worker slot (see the module docstring).

    Args:
        config: The run's configuration.
        run_dir: The run folder (the workers' episode logs), or None.
        wait_s: Longest wait of one poll of a worker, s.
    """

    def __init__(self, config: Config, run_dir: str | None, wait_s: float = POLL_WAIT_S) -> None:
        self.ray = connect_ray(config.train.ray_address, local_cpus(config.train.workers))
        self.config = config
        self.plain_config = config.to_dict()
        self.run_dir = run_dir
        self.wait_s = wait_s
        self.remote_class = self.ray.remote(RolloutWorker)
        self.slots = [
            _Slot(restarts_left=config.train.worker_restarts) for _ in range(config.train.workers)
        ]
        self._weights: Any = None
        self._queued: list[PoolEvent] = []
        for index in range(len(self.slots)):
            self._launch(index)

    # ------------------------------------------------------------ lifecycle
    def _options(self, index: int) -> dict[str, Any]:
        options: dict[str, Any] = {"num_cpus": 1, "max_restarts": 0, "max_task_retries": 0}
        hosts = self.config.remote.hosts
        if hosts:
            host, _ego, _mgmt = parse_host(hosts[index], 1, 1)
            node = self._node_of(host)
            if node is not None:
                options["resources"] = {node: 0.001}
        return options

    def _node_of(self, host: str) -> str | None:
        """Ray's resource of the node at ``host``'s address, when the cluster has one."""
        try:
            address = socket.gethostbyname(host)
        except OSError:
            return None
        name = f"node:{address}"
        return name if name in self.ray.cluster_resources() else None

    def _launch(self, index: int) -> None:
        slot = self.slots[index]
        slot.incarnation += 1
        slot.actor = self.remote_class.options(**self._options(index)).remote(
            self.plain_config, index, slot.incarnation, self.run_dir
        )
        slot.starting = slot.actor.describe.remote()
        slot.polling = None
        slot.version_sent = -2

    def replace(self, slot: int) -> bool:
        """Kill ``slot``'s worker and start a new incarnation (False: no restart left)."""
        state = self.slots[slot]
        self._kill(state)
        if state.restarts_left <= 0:
            state.gone = True
            return False
        state.restarts_left -= 1
        self._launch(slot)
        return True

    def _kill(self, state: _Slot) -> None:
        if state.actor is not None:
            self.ray.kill(state.actor, no_restart=True)
        state.actor = state.starting = state.polling = None

    def active(self) -> int:
        """Slots with a worker running or starting."""
        return sum(1 for s in self.slots if not s.gone and s.actor is not None)

    def actor(self, slot: int) -> Any:
        """The Ray actor of ``slot`` (tests and tools)."""
        return self.slots[slot].actor

    # ------------------------------------------------------------- traffic
    def publish(self, weights: Mapping[str, Any]) -> Any:
        """Put new weights in Ray's object store once for every worker."""
        self._weights = self.ray.put(dict(weights))
        return self._weights

    def idle(self) -> list[int]:
        """Running slots without a request in flight."""
        return [
            i
            for i, s in enumerate(self.slots)
            if s.actor is not None and s.starting is None and s.polling is None
        ]

    def request(self, slot: int, ack: int, version: int, weights: Any) -> None:
        """Send ``slot``'s worker a poll (with the weights when it has older ones)."""
        state = self.slots[slot]
        send = weights is not None and version > state.version_sent
        state.polling = state.actor.poll.remote(
            ack, version, weights if send else None, self.wait_s
        )
        if send:
            state.version_sent = version

    def events(self, timeout_s: float) -> list[PoolEvent]:
        """Starts, replies and failures since the last call (waiting up to
        ``timeout_s`` for the first)."""
        if self._queued:
            queued, self._queued = self._queued, []
            return queued
        pending = {}
        for index, state in enumerate(self.slots):
            for ref in (state.starting, state.polling):
                if ref is not None:
                    pending[ref] = index
        if not pending:
            time.sleep(min(timeout_s, 0.05))
            return []
        ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=timeout_s)
        if ready:  # everything else already done too
            ready, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=0)
        events = []
        for ref in ready:
            index = pending[ref]
            state = self.slots[index]
            starting = ref is state.starting
            try:
                value = self.ray.get(ref)
            except Exception as exc:  # RayActorError (a dead process), our own errors
                events.append(PoolEvent(FAILED, index, failure_reason(exc)))
                state.starting = state.polling = None
                continue
            if starting:
                state.starting = None
                events.append(
                    PoolEvent(STARTED, index, {**value, "incarnation": state.incarnation})
                )
            else:
                state.polling = None
                events.append(PoolEvent(REPLY, index, value))
        return events

    def first_description(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the first worker to start (replacing those that fail meanwhile); the
        events seen are handed out again by the next :meth:`events`.

        Returns:
            Its description.

        Raises:
            BackendError: None started within ``timeout_s`` or every worker failed.
        """
        seen: list[PoolEvent] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in self.events(1.0):
                if event.kind != FAILED:
                    seen.append(event)
                    continue
                logger.warning("worker %d failed to start: %s", event.slot, event.value)
                if not self.replace(event.slot) and self.active() == 0:
                    raise BackendError(f"no worker could start; the last: {event.value}")
            started = [event for event in seen if event.kind == STARTED]
            if started:
                self._queued = seen
                return started[0].value
        raise BackendError(f"no worker started within {timeout_s:g} s")

    def close(self) -> list[dict[str, int]]:
        """Stop every worker (its env closed) and end the actors; returns their final
        counters (empty for a worker that did not answer)."""
        stops = {i: s.actor.stop.remote() for i, s in enumerate(self.slots) if s.actor is not None}
        finals: list[dict[str, int]] = []
        for index, ref in stops.items():
            try:
                finals.append(self.ray.get(ref, timeout=STOP_TIMEOUT_S))
            except Exception as exc:
                logger.warning("worker %d did not stop cleanly: %s", index, failure_reason(exc))
            self._kill(self.slots[index])
        return finals


def failure_reason(exc: BaseException) -> str:
    """A one-line reason of a failed Ray call."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


__all__ = [
    "LOCAL",
    "LOCAL_ONLY_ENV",
    "POLL_WAIT_S",
    "RayPool",
    "connect_ray",
    "failure_reason",
    "import_ray",
    "is_local",
    "local_cpus",
]

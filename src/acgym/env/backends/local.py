"""``LocalSim``: the built-in simulator in this process (one car of a ``SimSession``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym import __version__
from acgym.env.backend import (
    RESET_OPTION_SEED,
    RESET_OPTION_SEND_RESET,
    BackendKind,
    Controls,
    RowLayout,
)
from acgym.env.config import StartConfig
from acgym.env.starts import FAILURE_ENDS_OPTION, ProfileSpeed, start_placement
from acgym.errors import BackendError
from acgym.sim.car_params import CarParams
from acgym.sim.session import DEFAULT_CAR, SimSession
from acgym.sim.telemetry import COLUMNS, INT_CHANNELS, LIST_CHANNELS, NUM_COLUMNS, row_to_state
from acgym.sim.world import WorldConfig
from acgym.track.builtin import DEFAULT_TRACK
from acgym.track.track import Track

SIM_ROW_LAYOUT = RowLayout(
    columns=dict(COLUMNS),
    int_channels=frozenset(INT_CHANNELS),
    list_channels=frozenset(LIST_CHANNELS),
    num_columns=NUM_COLUMNS,
)
"""The simulator's telemetry rows (``acgym.sim.telemetry``)."""

NEUTRAL_ROW = (0.0, -1.0, -1.0)
"""Steer centred, pedals released: the controls after every reset."""


class LocalSim:
    """The simulator in process, lock-step, exact resets, with the row fast path.

    Reset options (besides ``send_reset`` and ``seed``): ``distance_m``,
    ``lateral_offset_m``, ``heading_offset_rad``, ``speed_mps`` and ``random_start``
    (:mod:`acgym.env.starts`); ``start`` gives their defaults. A ``seed`` reseeds the
    generator of random starts; without one it goes on (Gymnasium's convention).
    ``send_reset=False`` keeps the car where it is.

    Args:
        track: A ``Track``, or a name / path for ``acgym.track.loaders.load_track``.
        car: A car preset name, folder or ``CarParams``.
        world_config: Rates and surface settings of the simulator.
        start: Default start of the episodes.

    Attributes:
        session: The simulator (one car). The env's simulator extension
            (``acgym.env.sim_extension``) reaches it here; code outside the env uses
            that extension.
    """

    kind: BackendKind = "sim"
    supports_lock_step = True
    num_cars = 1
    exact_reset = True
    states_lost = 0
    row_layout = SIM_ROW_LAYOUT

    def __init__(
        self,
        track: Track | str = DEFAULT_TRACK,
        car: CarParams | str = DEFAULT_CAR,
        *,
        world_config: WorldConfig | None = None,
        start: StartConfig | None = None,
    ) -> None:
        self.session = SimSession(track, car, num_cars=1, config=world_config)
        self.track = self.session.track
        self.control_rate_hz = float(self.session.world.config.control_hz)
        self.start = StartConfig() if start is None else start
        self.profile_speed = ProfileSpeed(
            self.track.line_m, self.session.world.cars[0].vehicle_limits
        )
        self.rng = np.random.default_rng()
        self._controls = np.array([NEUTRAL_ROW])
        self._closed = False

    def connect(self) -> None:
        """Nothing to open (in process); a closed backend cannot be reopened."""
        if self._closed:
            raise BackendError("the LocalSim backend is closed: create a new one")

    def close(self) -> None:
        self._closed = True

    def reset(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Place the car (see the class docstring) and return its state."""
        options = dict(options or {})
        send_reset = bool(options.pop(RESET_OPTION_SEND_RESET, True))
        seed = options.pop(RESET_OPTION_SEED, None)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        failure_ends_m = options.pop(FAILURE_ENDS_OPTION, None)
        placement = start_placement(
            self.start, options, self.rng, self.track.length_m, self.profile_speed, failure_ends_m
        )
        if send_reset:
            self.session.reset(**placement)
            self._controls[:] = NEUTRAL_ROW
        return self.session.telemetry(0)

    def apply(self, controls: Controls) -> None:
        """Hold ``controls`` for the next steps (gear-shift flags are not supported)."""
        if controls.enable_gear_shift:
            raise BackendError("LocalSim: manual gear shifts are not supported by the env")
        row = self._controls[0]
        row[0], row[1], row[2] = controls.steer, controls.acc, controls.brake

    def observe(self) -> dict[str, Any]:
        """Advance one control period; the new state as a wire-named dict."""
        self.session.step(self._controls)
        return self.session.telemetry(0)

    def rows(self) -> NDArray[np.float64]:
        return self.session.telemetry_array

    def step_rows(self) -> NDArray[np.float64]:
        self.session.step(self._controls)
        return self.session.telemetry_array

    def static_info(self) -> dict[str, Any]:
        return self.session.static_info(0)

    def config(self) -> dict[str, Any]:
        """The simulator's settings plus the original ``get_config`` keys that apply to it:
        ``ego_sampling_freq`` (Hz), ``version`` and ``screen_capture_enable`` (False)."""
        return {**self.session.config(), "version": __version__, "screen_capture_enable": False}

    def track_info(self) -> dict[str, Any]:
        return self.session.track_info(0)


def state_from_row(row: NDArray[np.float64]) -> dict[str, Any]:
    """One simulator telemetry row as the wire-named state (what ``observe`` returns)."""
    return row_to_state(row)

"""The backend contract: what the environment needs from a world (the game or the simulator).

A backend hides where the telemetry comes from. The environment drives it like this::

    backend.connect()
    info = backend.static_info()          # once per connection
    state = backend.reset({"send_reset": True, "seed": 0})
    backend.apply(Controls(steer, acc, brake))
    state = backend.observe()             # the next state, one control period later
    ...
    backend.close()                       # safe twice

A *state* is a flat mapping from the wire channel names of DESIGN.md ("Telemetry
channels") to numbers (a few channels are 4-element lists). For one car the values are
scalars; a batched backend (``num_cars > 1``) returns ``(num_cars,)`` arrays per channel.
Real-time backends (the game, a real-time simulator server) apply controls on arrival and
``observe`` blocks until the next state is due; lock-step backends advance exactly one
control period per ``apply`` + ``observe`` pair.

A backend that also satisfies :class:`RowBackend` (the in-process simulator) hands the
environment its telemetry as one ``(num_cars, C)`` float64 matrix per step instead of a
dict: the environment's fast path, with no dict built per step. The dict path stays for
remote backends, whose states arrive as JSON.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from acgym.track.track import Track

logger = logging.getLogger(__name__)

BackendKind = Literal["sim", "ac"]
"""``"sim"``: the built-in simulator (in process or served); ``"ac"``: Assetto Corsa."""

State = Mapping[str, Any]
"""One step of telemetry: wire channel name -> value (scalar, list, or ``(N,)`` array)."""

RESET_OPTION_SEND_RESET = "send_reset"
"""Reset option: ``True`` puts the car back on the grid; ``False`` reconnects and goes on
from where the car is (the original's ``send_reset_at_start``)."""

RESET_OPTION_SEED = "seed"
"""Reset option: the seed given to ``env.reset`` (``None`` when not given)."""


class RowLayout(NamedTuple):
    """Where each wire channel lives in a backend's telemetry rows.

    Attributes:
        columns: Wire channel -> its first column, in the order a state dict lists them.
        int_channels: Channels holding integers (logged as int64).
        list_channels: Channels of 4 consecutive columns (fl, fr, rl, rr; logged as lists).
        num_columns: Columns of a row.
    """

    columns: Mapping[str, int]
    int_channels: frozenset[str]
    list_channels: frozenset[str]
    num_columns: int


class Controls(NamedTuple):
    """Controls sent to a backend, in the simulator's own ranges.

    Attributes:
        steer: Normalized steer in [-1, 1] (-1 = full left of the controller's range).
        acc: Gas in [-1, 1] (-1 = released).
        brake: Brake in [-1, 1] (-1 = released).
        enable_gear_shift: Whether the shift flags below are obeyed.
        shift_up: Shift up one gear.
        shift_down: Shift down one gear.

    For ``num_cars > 1`` each field may be an ``(N,)`` array.
    """

    steer: float | NDArray[np.float64]
    acc: float | NDArray[np.float64]
    brake: float | NDArray[np.float64]
    enable_gear_shift: bool = False
    shift_up: bool = False
    shift_down: bool = False


@runtime_checkable
class Backend(Protocol):
    """A world the environment can drive.

    Attributes:
        kind: ``"sim"`` or ``"ac"``.
        control_rate_hz: States per second (the plugin's ``ego_sampling_freq``).
        supports_lock_step: Whether the world waits for the controls of each step (a
            simulator in lock-step) rather than running in real time (the game).
        num_cars: Cars driven at once; states hold ``(num_cars,)`` arrays when > 1.
        exact_reset: Whether the state ``reset`` returns is the episode's settled first
            state (the simulator places the car exactly). When False (the game), the
            environment drives the original's neutral flush steps after a reset.
        states_lost: States, since the backend was created, that the environment never
            received (lost on the network, or superseded before they were read).
    """

    kind: BackendKind
    control_rate_hz: float
    supports_lock_step: bool
    num_cars: int
    exact_reset: bool

    @property
    def states_lost(self) -> int: ...

    def connect(self) -> None:
        """Open the connection (idempotent)."""

    def close(self) -> None:
        """Release the connection; leaves the car with neutral controls. Safe twice."""

    def reset(self, options: Mapping[str, Any] | None = None) -> State:
        """Start a new episode and return the first state.

        Options: ``send_reset`` (bool, default True), ``seed`` (int or None) and
        ``failure_ends_m`` (where the env's latest terminated episodes ended; a backend
        that does not place cars itself ignores it), plus any the backend documents (e.g.
        a start position for the simulator).
        """

    def apply(self, controls: Controls) -> None:
        """Apply controls now; they stay applied until the next ``apply``."""

    def observe(self) -> State:
        """Block until the next state and return it."""

    def static_info(self) -> dict[str, Any]:
        """Once-per-connection facts: TrackName, TrackConfiguration, TrackLength (m),
        CarName, ..., plus the backend's ``kind`` and version."""

    def config(self) -> dict[str, Any]:
        """The plugin's / server's own config (must hold ``ego_sampling_freq``)."""

    def track_info(self) -> dict[str, Any]:
        """The game's track description (left_lane, right_lane, fast_lane, ...);
        ``{}`` when the world has none."""


@runtime_checkable
class RowBackend(Backend, Protocol):
    """A backend with the fast path: telemetry rows instead of state dicts.

    Attributes:
        row_layout: The columns of the rows.
    """

    row_layout: RowLayout

    def rows(self) -> NDArray[np.float64]:
        """The current telemetry, ``(num_cars, num_columns)`` (a view: copy what you keep)."""

    def step_rows(self) -> NDArray[np.float64]:
        """Advance one control period with the applied controls; return :meth:`rows`."""


def track_full_name(static_info: Mapping[str, Any]) -> str:
    """``TrackName-TrackConfiguration`` (just the name when there is no configuration)."""
    name = str(static_info["TrackName"])
    configuration = static_info.get("TrackConfiguration") or ""
    return f"{name}-{configuration}" if configuration else name


def checked_static_info(backend: Backend, config: EnvConfig) -> dict[str, Any]:
    """The backend's static info (plus ``TrackFullName``), once it is checked against ``config``.

    As the original at its first reset: the control rate, track and car must be the
    configured ones, and so must the screen-capture settings when capture is on.

    Raises:
        ConfigError: The backend runs something else than configured.
        BackendError: The static info lacks TrackName or TrackLength.
    """
    static = dict(backend.static_info())
    for key in ("TrackName", "TrackLength"):
        if key not in static:
            raise BackendError(f"the {backend.kind} backend's static info lacks {key}")
    static["TrackFullName"] = track_full_name(static)
    backend_config = backend.config()
    expected = {
        "ego_sampling_freq": (config.ego_sampling_freq, backend_config.get("ego_sampling_freq")),
        "track": (config.track, static["TrackFullName"]),
        "car": (config.car, static.get("CarName")),
    }
    for key, (want, got) in expected.items():
        if want != got:
            raise ConfigError(
                f"{key}: the config expects {want!r}, the {backend.kind} backend runs {got!r}"
            )
    return static


def lap_length_m(static_info: Mapping[str, Any], track: Track) -> float:
    """The lap length that turns ``NormalizedSplinePosition`` into ``LapDist``, m: the
    backend's ``TrackLength``, or the track file's length when the backend does not know
    it (the game sends 0 when it has no length; a warning says so)."""
    reported = static_info.get("TrackLength")
    try:
        length_m = float(reported)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        length_m = math.nan
    if math.isfinite(length_m) and length_m > 0.0:
        return length_m
    logger.warning(
        "the backend reports TrackLength %r (unknown): LapDist and the curvature look-ahead "
        "use the length of the track file %r, %.1f m",
        reported,
        track.name,
        track.length_m,
    )
    return float(track.length_m)

"""Episode end: named conditions, each either a termination or a truncation.

The original (``AssettoCorsaEnv.expand_state``) ends an episode when:

========================= =========== ================================================
rule                      kind        condition
========================= =========== ================================================
``out_of_track``          terminated  out-of-track flag (``enable_out_of_track_termination``)
``low_speed``             terminated  speed < 1 m/s for 250 steps in a row (10 s at 25 Hz;
                                      ``enable_low_speed_termination``)
``max_gap``               terminated  ``|gap| > max_gap`` (when ``max_gap`` is set)
``time_limit``            truncated   ``ep_steps > max_episode_steps`` (the original's
                                      strict ``>``: step 15,001 after reset)
``max_laps``              truncated   more than ``max_laps_number`` distinct ``LapCount``
                                      values among the episode's previous steps
``game_done``             truncated   the backend's ``done`` (session over, disconnect)
========================= =========== ================================================

The original flags ``max_gap`` and the game's ``done`` as done without its
``terminated`` info; here ``max_gap`` is a failure (terminated) and the game's ``done``
a truncation (the MDP did not end). Its ``going_backwards`` check is a constant 0 and is
left out. The low-speed counter starts at reset, before the two flush steps, as in the
original.

Every rule works on a leading car axis: results are ``(N,)`` bool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.env.derived import GAP, OUT_OF_TRACK
from acgym.env.observations import Frame
from acgym.protocol import channels as ch

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


class TerminationRule(Protocol):
    """A named episode-end condition.

    Attributes:
        name: Rule name (``info["termination_reasons"]`` lists the ones that fired).
        truncates: True for a truncation (time, laps, game), False for a termination.
        episode_history: True when the rule's state follows the logged history of the
            episode, which the reset clears after its flush steps.
    """

    name: str
    truncates: bool
    episode_history: bool

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        """Start over (for the cars in ``mask``, or all)."""

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        """Whether each car's episode ends at this step, ``(N,)``."""


def _column(frame: Frame, name: str) -> NDArray[np.float64]:
    return frame.values[:, frame.index[name]]


@dataclass
class OutOfTrack:
    """The out-of-track flag is set (the game's tyre count or the track geometry)."""

    name: str = "out_of_track"
    truncates: bool = False
    episode_history: bool = False

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        pass

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        return _column(frame, OUT_OF_TRACK) != 0.0


@dataclass
class LowSpeed:
    """Speed under ``speed_mps`` for ``timeout_steps`` steps in a row.

    The counter starts at ``timeout_steps``, drops by one at every slow step and is
    restored at every fast one; the rule fires when it reaches 0.
    """

    speed_mps: float
    timeout_steps: int
    name: str = "low_speed"
    truncates: bool = False
    episode_history: bool = False
    counter: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.timeout_steps < 1:
            raise ValueError(f"low_speed: expected timeout_steps >= 1, got {self.timeout_steps}")

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        if mask is None or len(self.counter) != num_cars:
            self.counter = np.full(num_cars, self.timeout_steps, dtype=np.int64)
        else:
            self.counter[mask] = self.timeout_steps

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        slow = _column(frame, ch.SPEED) < self.speed_mps
        self.counter = np.where(slow, self.counter - 1, self.timeout_steps)
        return self.counter <= 0


@dataclass
class MaxGap:
    """``|gap|`` to the racing line above ``max_gap_m``."""

    max_gap_m: float
    name: str = "max_gap"
    truncates: bool = False
    episode_history: bool = False

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        pass

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        return np.abs(_column(frame, GAP)) > self.max_gap_m


@dataclass
class TimeLimit:
    """More than ``max_steps`` steps since reset (the original's ``ep_steps > limit``)."""

    max_steps: int
    name: str = "time_limit"
    truncates: bool = True
    episode_history: bool = False

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        pass

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        if ep_steps.shape != (frame.num_cars,):
            raise ValueError(
                f"time_limit: expected ep_steps of shape ({frame.num_cars},), got {ep_steps.shape}"
            )
        return ep_steps > self.max_steps


@dataclass
class MaxLaps:
    """More than ``max_laps`` distinct ``LapCount`` values in the episode's previous steps.

    The out lap counts: ``max_laps = 4`` (``eval_number_of_laps``) ends the episode at the
    first step after five lap numbers have been seen.
    """

    max_laps: int
    name: str = "max_laps"
    truncates: bool = True
    episode_history: bool = True
    seen: list[set[float]] = field(default_factory=list)

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        if mask is None or len(self.seen) != num_cars:
            self.seen = [set() for _ in range(num_cars)]
        else:
            for car in np.flatnonzero(mask):
                self.seen[car] = set()

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        laps = _column(frame, ch.LAP_COUNT)
        ended = np.array([len(seen) > self.max_laps for seen in self.seen])
        for seen, lap in zip(self.seen, laps.tolist(), strict=True):
            seen.add(lap)
        return ended


@dataclass
class GameDone:
    """The backend reports ``done`` (the game ended the session or disconnected)."""

    name: str = "game_done"
    truncates: bool = True
    episode_history: bool = False

    def reset(self, num_cars: int, mask: BoolArray | None = None) -> None:
        pass

    def __call__(self, frame: Frame, ep_steps: IntArray) -> BoolArray:
        return _column(frame, ch.DONE) != 0.0


class EpisodeEnd(NamedTuple):
    """What the rules decided at one step (all ``(N,)``, ``fired`` is ``(rules, N)``)."""

    terminated: BoolArray
    truncated: BoolArray
    fired: BoolArray


class Terminations:
    """All enabled rules; every rule is evaluated every step (stateful rules count on it).

    Rules are kept terminations first, then truncations (each group in the given order).
    """

    def __init__(self, rules: list[TerminationRule] | tuple[TerminationRule, ...]) -> None:
        self.rules = tuple(r for r in rules if not r.truncates) + tuple(
            r for r in rules if r.truncates
        )
        self.names = tuple(rule.name for rule in self.rules)
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"terminations: expected unique rule names, got {self.names}")
        self._num_terminating = sum(not rule.truncates for rule in self.rules)
        self._fired = np.zeros((len(self.rules), 0), dtype=bool)

    def reset(
        self, num_cars: int, mask: BoolArray | None = None, *, episode_history_only: bool = False
    ) -> None:
        """Reset the rules (only those following the logged history, if asked)."""
        for rule in self.rules:
            if rule.episode_history or not episode_history_only:
                rule.reset(num_cars, mask)

    def __call__(self, frame: Frame, ep_steps: IntArray) -> EpisodeEnd:
        """Evaluate every rule for this step (``fired`` is reused: copy it to keep it)."""
        fired = self._fired
        if fired.shape[1] != frame.num_cars:
            fired = self._fired = np.zeros((len(self.rules), frame.num_cars), dtype=bool)
        for k, rule in enumerate(self.rules):
            fired[k] = rule(frame, ep_steps)
        split = self._num_terminating
        terminated = fired[:split].any(axis=0)
        truncated = fired[split:].any(axis=0)
        return EpisodeEnd(terminated, truncated, fired)

    def reasons(self, fired: BoolArray, car: int = 0) -> tuple[str, ...]:
        """Names of the rules that fired for one car."""
        return tuple(name for name, hit in zip(self.names, fired[:, car], strict=True) if hit)


def make_terminations(config: EnvConfig) -> Terminations:
    """The original's rules, as enabled by ``config``."""
    rules: list[TerminationRule] = []
    if config.enable_out_of_track_termination:
        rules.append(OutOfTrack())
    if config.enable_low_speed_termination:
        rules.append(LowSpeed(config.termination.low_speed_mps, config.low_speed_timeout_steps))
    if config.max_gap:
        rules.append(MaxGap(config.max_gap))
    rules.append(TimeLimit(config.max_episode_steps))
    if config.max_laps_number:
        rules.append(MaxLaps(config.max_laps_number))
    rules.append(GameDone())
    return Terminations(rules)

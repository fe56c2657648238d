"""The reward: named terms with weights, summed; each logged as ``info["reward/<name>"]``.

Two rewards, chosen by name (``reward.kind``, :data:`REWARDS`):

``original`` (``AssettoCorsaEnv.get_reward``)::

    r = 3.6 * speed                          # km/h
    r *= 1 - |gap| / 12                      # when use_reference_line_in_reward
    r /= 300
    r -= coef * ||actions_diff||_2           # when penalize_actions_diff

where ``actions_diff`` is the change of the *applied* controls since the previous step
(steerAngle / 450, accStatus, brakeStatus), zero until three previous steps exist. The
original hard-codes the 12 m; here it is ``gap_const`` (default 12).

``progress`` (GT Sophy's course progress, Wurman et al., Nature 2022)::

    r = progress_per_m * (d_t - d_{t-1})     # d: the car's distance along the line, m
    r -= off_track * [out of track]
    r -= coef * ||actions_diff||_2           # when penalize_actions_diff

The progress is the change of ``LapDist`` since the previous step, wrapped into
``[-L/2, L/2)`` (``L`` the lap length), so crossing the start line counts the metres
driven, reversing counts negative and the speed across or away from the line counts
nothing; it is 0 at the first step of an episode.

Every term works on a leading car axis: values are ``(N,)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.env.derived import GAP, LAP_DIST, OUT_OF_TRACK
from acgym.env.observations import Frame, ObservationHistory
from acgym.protocol import channels as ch
from acgym.units import KMH_PER_MPS

FloatArray = NDArray[np.float64]

SPEED_REWARD_SCALE_KMH = 300.0
"""Divisor of the speed reward, km/h."""


def actions_diff(frame: Frame, history: ObservationHistory) -> FloatArray:
    """Change of the scaled applied controls since the previous step, ``(N, 3)``.

    Zero for a car whose history is not yet full, as in the original ``get_obs``.
    """
    diff = frame.applied - history.controls[:, -1]
    diff *= history.full
    return diff


def wrapped_progress_m(
    lap_dist_m: FloatArray, previous_m: FloatArray, length_m: float
) -> FloatArray:
    """Distance driven along the lap, ``lap_dist_m - previous_m`` wrapped into
    ``[-L/2, L/2)`` (a start-line crossing is a short step, not a lap back), ``(N,)`` m;
    0 where ``previous_m`` is NaN (no previous step)."""
    half = 0.5 * length_m
    progress = np.mod(lap_dist_m - previous_m + half, length_m) - half
    progress[np.isnan(progress)] = 0.0  # (np.nan_to_num costs 15 us a call)
    return progress


def sequence_progress_m(lap_dist_m: FloatArray, length_m: float) -> FloatArray:
    """Progress of each step of one logged episode ``(T,)`` (0 at its first step), m."""
    previous = np.concatenate(([np.nan], lap_dist_m[:-1]))
    return wrapped_progress_m(lap_dist_m, previous, length_m)


class StepChange(NamedTuple):
    """What changed over the step, per car: the terms' second input."""

    actions: FloatArray
    """``(N, 3)`` change of the scaled applied controls (:func:`actions_diff`)."""
    progress_m: FloatArray
    """``(N,)`` distance driven along the lap (:func:`wrapped_progress_m`), m."""

    @classmethod
    def zero(cls, num_cars: int) -> StepChange:
        """No change (a reset state)."""
        return cls(np.zeros((num_cars, 3)), np.zeros(num_cars))


class LapProgress:
    """Each car's ``LapDist`` at its previous step, for :attr:`StepChange.progress_m`."""

    def __init__(self, num_cars: int) -> None:
        self.previous_m = np.full(num_cars, np.nan)

    def __call__(self, frame: Frame, length_m: float) -> FloatArray:
        """Progress since the previous step, ``(N,)`` m (0 after a clear); ``length_m``:
        the lap length ``L`` that ``LapDist`` wraps at."""
        return wrapped_progress_m(frame.column(LAP_DIST), self.previous_m, length_m)

    def push(self, frame: Frame) -> None:
        """This step becomes the previous one."""
        self.previous_m[:] = frame.column(LAP_DIST)

    def clear(self, mask: NDArray[np.bool_] | None = None) -> None:
        """Forget the previous step (of the cars in ``mask``, or all)."""
        self.previous_m[slice(None) if mask is None else mask] = np.nan


class RewardTerm(Protocol):
    """A named reward term: ``weight * value`` is added to the reward."""

    name: str
    weight: float

    def __call__(self, frame: Frame, change: StepChange) -> FloatArray:
        """Unweighted value of each car, ``(N,)``."""


@dataclass(frozen=True)
class SpeedReward:
    """Speed in km/h / 300, times ``1 - |gap| / gap_const_m`` when following the line.

    Attributes:
        gap_const_m: Gap at which the reward reaches zero, m; None: ignore the gap.
    """

    gap_const_m: float | None = 12.0
    weight: float = 1.0
    name: str = "speed"

    def __post_init__(self) -> None:
        if self.gap_const_m is not None and not self.gap_const_m > 0:
            raise ValueError(
                f"speed reward: expected gap_const_m > 0 or None, got {self.gap_const_m}"
            )

    def __call__(self, frame: Frame, change: StepChange) -> FloatArray:
        speed_kmh = KMH_PER_MPS * frame.values[:, frame.index[ch.SPEED]]
        if self.gap_const_m is not None:
            speed_kmh = speed_kmh * (
                1.0 - np.abs(frame.values[:, frame.index[GAP]]) / self.gap_const_m
            )
        return speed_kmh / SPEED_REWARD_SCALE_KMH


@dataclass(frozen=True)
class ProgressReward:
    """Metres driven along the lap over the step (weight: reward per metre)."""

    weight: float = 0.3
    name: str = "progress"

    def __call__(self, frame: Frame, change: StepChange) -> FloatArray:
        if change.progress_m.shape != (frame.num_cars,):
            raise ValueError(
                f"progress: expected shape ({frame.num_cars},), got {change.progress_m.shape}"
            )
        return change.progress_m


@dataclass(frozen=True)
class OffTrackPenalty:
    """1 at a step with the out-of-track flag set (weight: minus the penalty)."""

    weight: float = -1.0
    name: str = "off_track"

    def __call__(self, frame: Frame, change: StepChange) -> FloatArray:
        return (frame.values[:, frame.index[OUT_OF_TRACK]] != 0.0).astype(np.float64)


@dataclass(frozen=True)
class ActionsDiffPenalty:
    """L2 norm of the change of the applied controls (weight: minus the coefficient)."""

    weight: float = -0.1
    name: str = "actions_diff"

    def __call__(self, frame: Frame, change: StepChange) -> FloatArray:
        diff = change.actions
        if diff.shape != (frame.num_cars, 3):
            raise ValueError(
                f"actions_diff: expected shape ({frame.num_cars}, 3), got {diff.shape}"
            )
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))


class Reward:
    """The weighted sum of named terms.

    Args:
        terms: Terms with unique names.
    """

    def __init__(self, terms: tuple[RewardTerm, ...] | list[RewardTerm]) -> None:
        self.terms = tuple(terms)
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"reward: expected unique term names, got {names}")
        self.info_keys = tuple(f"reward/{name}" for name in names)
        """``info`` keys of the weighted terms, in term order."""

    def __call__(self, frame: Frame, change: StepChange) -> tuple[FloatArray, list[FloatArray]]:
        """Total ``(N,)`` and the weighted value of each term (``(N,)`` each, term order)."""
        parts = [term.weight * term(frame, change) for term in self.terms]
        total = parts[0].copy() if parts else np.zeros(frame.num_cars)
        for part in parts[1:]:
            total += part
        return total, parts


def _original_terms(config: EnvConfig) -> list[RewardTerm]:
    return [SpeedReward(config.gap_const if config.use_reference_line_in_reward else None)]


def _progress_terms(config: EnvConfig) -> list[RewardTerm]:
    terms: list[RewardTerm] = [ProgressReward(weight=config.reward.progress_per_m)]
    if config.reward.off_track:
        terms.append(OffTrackPenalty(weight=-config.reward.off_track))
    return terms


REWARDS: dict[str, Callable[[EnvConfig], list[RewardTerm]]] = {
    "original": _original_terms,
    "progress": _progress_terms,
}
"""``reward.kind`` -> its terms for a config (the actions-diff penalty is added to either)."""


def make_reward(config: EnvConfig) -> Reward:
    """The reward ``config.reward.kind`` names, with the terms ``config`` enables."""
    terms = REWARDS[config.reward.kind](config)
    if config.penalize_actions_diff:
        terms.append(ActionsDiffPenalty(weight=-config.penalize_actions_diff_coef))
    return Reward(terms)

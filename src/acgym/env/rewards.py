"""The reward: named terms with weights, summed; each logged as ``info["reward/<name>"]``.

The original (``AssettoCorsaEnv.get_reward``)::

    r = 3.6 * speed                          # km/h
    r *= 1 - |gap| / 12                      # when use_reference_line_in_reward
    r /= 300
    r -= coef * ||actions_diff||_2           # when penalize_actions_diff

where ``actions_diff`` is the change of the *applied* controls since the previous step
(steerAngle / 450, accStatus, brakeStatus), zero until three previous steps exist. The
original hard-codes the 12 m; here it is ``gap_const`` (default 12).

Every term works on a leading car axis: values are ``(N,)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from acgym.env.config import EnvConfig
from acgym.env.derived import GAP
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


class RewardTerm(Protocol):
    """A named reward term: ``weight * value`` is added to the reward."""

    name: str
    weight: float

    def __call__(self, frame: Frame, diff: FloatArray) -> FloatArray:
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

    def __call__(self, frame: Frame, diff: FloatArray) -> FloatArray:
        speed_kmh = KMH_PER_MPS * frame.values[:, frame.index[ch.SPEED]]
        if self.gap_const_m is not None:
            speed_kmh = speed_kmh * (
                1.0 - np.abs(frame.values[:, frame.index[GAP]]) / self.gap_const_m
            )
        return speed_kmh / SPEED_REWARD_SCALE_KMH


@dataclass(frozen=True)
class ActionsDiffPenalty:
    """L2 norm of the change of the applied controls (weight: minus the coefficient)."""

    weight: float = -0.1
    name: str = "actions_diff"

    def __call__(self, frame: Frame, diff: FloatArray) -> FloatArray:
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

    def __call__(self, frame: Frame, diff: FloatArray) -> tuple[FloatArray, list[FloatArray]]:
        """Total ``(N,)`` and the weighted value of each term (``(N,)`` each, term order)."""
        parts = [term.weight * term(frame, diff) for term in self.terms]
        total = parts[0].copy() if parts else np.zeros(frame.num_cars)
        for part in parts[1:]:
            total += part
        return total, parts


def make_reward(config: EnvConfig) -> Reward:
    """The original's reward terms, as enabled by ``config``."""
    terms: list[RewardTerm] = [
        SpeedReward(config.gap_const if config.use_reference_line_in_reward else None)
    ]
    if config.penalize_actions_diff:
        terms.append(ActionsDiffPenalty(weight=-config.penalize_actions_diff_coef))
    return Reward(terms)

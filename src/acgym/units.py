"""SI constants and unit conversions used across the package."""

from __future__ import annotations

import math

GRAVITY_MPS2 = 9.80665
"""Standard gravity, m/s^2."""

AIR_DENSITY_KGPM3 = 1.225
"""Air density at sea level and 15 degC, kg/m^3."""

KMH_PER_MPS = 3.6
"""km/h in one m/s."""

RPM_PER_RADPS = 60.0 / (2.0 * math.pi)
"""rev/min in one rad/s."""

MS_PER_S = 1000.0
"""Milliseconds in one second."""


def mps_to_kmh(speed_mps: float) -> float:
    """Convert m/s to km/h."""
    return speed_mps * KMH_PER_MPS


def kmh_to_mps(speed_kmh: float) -> float:
    """Convert km/h to m/s."""
    return speed_kmh / KMH_PER_MPS

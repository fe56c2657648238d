"""Speed profile along a racing line for a car's limits, and the lap-time estimate."""

from __future__ import annotations

from dataclasses import dataclass

from acgym.units import AIR_DENSITY_KGPM3


@dataclass(frozen=True)
class VehicleLimits:
    """What the speed profile needs to know about a car (SI units).

    Attributes:
        mass_kg: Mass with driver and fuel, kg.
        mu_lat: Peak lateral tyre friction coefficient at static load.
        mu_long: Peak longitudinal tyre friction coefficient (braking and traction).
        drag_area_m2: Drag coefficient times frontal area, Cd*A, m^2.
        downforce_area_m2: Lift coefficient times area, Cl*A, m^2 (positive = downforce).
        max_power_w: Peak engine power, W.
        max_speed_mps: Speed at the rev limit in top gear, m/s.
        driven_load_fraction: Share of the car's weight on the driven wheels (traction).
        rolling_resistance: Rolling-resistance coefficient (force / normal load).
        air_density_kgpm3: Air density, kg/m^3.
    """

    mass_kg: float
    mu_lat: float
    mu_long: float
    drag_area_m2: float
    downforce_area_m2: float
    max_power_w: float
    max_speed_mps: float
    driven_load_fraction: float
    rolling_resistance: float = 0.015
    air_density_kgpm3: float = AIR_DENSITY_KGPM3

"""The built-in vehicle-dynamics simulator.

* :mod:`acgym.sim.car_params`: car presets (``cars/<name>/car.yaml`` + maps), ``load_car``,
  ``list_cars``, ``CarParams.vehicle_limits``.
* :mod:`acgym.sim.tyres`: Magic Formula tyre forces (combined slip, load sensitivity).
* :mod:`acgym.sim.powertrain`: engine, clutch, gearbox, shifting.
* :mod:`acgym.sim.dynamics`: one internal step of one car (loads, wheels, rigid body).
* :mod:`acgym.sim.integrator`: the fused compiled kernel over cars and internal steps.
* :mod:`acgym.sim.world`: ``World``, N cars on one track, the public stepping API.
* :mod:`acgym.sim.layout`: the column constants of the flat arrays.

The model is described in ``docs/sim.md``.
"""

from __future__ import annotations

from acgym import kernel_cache

kernel_cache.install()  # before any kernel is compiled or loaded: see acgym.kernel_cache

from acgym.sim.car_params import CarParams, list_cars, load_car  # noqa: E402
from acgym.sim.world import World, WorldConfig  # noqa: E402

__all__ = ["CarParams", "World", "WorldConfig", "list_cars", "load_car"]

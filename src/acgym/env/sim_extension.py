"""The simulator extension of the environment: what only the built-in simulator can tell.

``acgym/Race-v0`` runs the simulator in this process, single (``RacingEnv`` over
``LocalSim``) or batched (``RaceVectorEnv``). Both offer, on ``env.unwrapped``:

* ``has_simulator``: whether the simulator is in this process (False for the game and
  for a served simulator, ``acgym/AssettoCorsa-v0``).
* ``expert_action()``: the simulator's expert driver (:mod:`acgym.sim.driver`) at the
  wheel, as the action that moves the env's applied controls to the expert's controls
  (the env's action inverse: relative or absolute, within its rate limits and ranges),
  ``(3,)`` float32 for the single env, ``(N, 3)`` for the vector env. The expert keeps a
  speed loop and pedal ceilings from step to step: ask once per step, at every step of
  the episodes it drives; they start afresh at each car's first step of an episode.
* ``expert_lap_estimate_s()``: the expert's speed-profile lap time of the car on the
  track (a flying lap with the car's own limits), s: what its laps are measured against.
* ``telemetry_rows()``: the simulator's current telemetry, ``(N, C)`` float64 (a view the
  next step overwrites: copy what you keep), and ``telemetry_columns``: wire channel name
  -> column (``telemetry_rows()[:, telemetry_columns["completedLaps"]]``).

This is the third extension the learner may use beside the Gymnasium API (DESIGN.md):
code outside the environment reaches the simulator through it, never through the env's
backend or session. Without the simulator in process every one of them raises
``BackendError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import BackendError

if TYPE_CHECKING:
    from acgym.env.actions import ActionMapper
    from acgym.env.pipeline import StepPipeline
    from acgym.sim.driver import ExpertDriver
    from acgym.sim.session import SimSession


class SimulatorExtension:
    """The methods of the module docstring, mixed into ``RacingEnv`` and ``RaceVectorEnv``.

    The simulator is the vector env's own ``session`` or the single env's
    ``backend.session`` (``LocalSim``); the env provides ``action_mapper``, its applied
    controls ``_controls`` (``(3,)`` or ``(N, 3)``) and ``pipeline.ep_steps``.
    """

    action_mapper: ActionMapper
    pipeline: StepPipeline
    _controls: NDArray[np.float64]
    _expert: ExpertDriver | None = None

    @property
    def has_simulator(self) -> bool:
        """Whether the built-in simulator runs in this process behind the env."""
        return self._simulator() is not None

    @property
    def telemetry_columns(self) -> Mapping[str, int]:
        """Wire channel name -> its (first) column in :meth:`telemetry_rows`."""
        from acgym.env.backends.local import SIM_ROW_LAYOUT

        self._session()
        return SIM_ROW_LAYOUT.columns

    def telemetry_rows(self) -> NDArray[np.float64]:
        """The simulator's current telemetry, ``(num_cars, C)`` (a view: copy what you keep)."""
        return self._session().telemetry_array

    def expert_action(self) -> NDArray[np.float32]:
        """The expert's next action in the env's action units: ``(3,)``, or ``(N, 3)`` for
        the vector env (once per step; see the module docstring)."""
        expert = self._expert_driver()
        fresh = np.flatnonzero(self.pipeline.ep_steps == 0)
        if fresh.size:
            expert.reset(fresh)
        wanted = expert.controls().reshape(self._controls.shape)
        # The expert's hands and feet move at the relative actions' rates in every action
        # mode (its gains were tuned so): it drives the same with absolute pedals.
        rate = self.action_mapper.max_delta
        wanted = np.clip(wanted, self._controls - rate, self._controls + rate)
        return self.action_mapper.to_actions(self._controls, wanted).astype(np.float32)

    def expert_lap_estimate_s(self) -> float:
        """The expert's lap-time estimate of the car on the track (a flying lap), s."""
        return float(self._expert_driver().reference_profiles[0].lap_time_s)

    def _simulator(self) -> SimSession | None:
        owner: Any = getattr(self, "backend", self)  # LocalSim, or the vector env itself
        return getattr(owner, "session", None)

    def _session(self) -> SimSession:
        session = self._simulator()
        if session is None:
            kind = getattr(getattr(self, "backend", None), "kind", "?")
            raise BackendError(
                f"the simulator extension needs the built-in simulator in this process "
                f"(acgym/Race-v0); this env's backend ({kind!r}, "
                f"{type(getattr(self, 'backend', None)).__name__}) has none: no expert and no "
                f"telemetry rows (check env.unwrapped.has_simulator)"
            )
        return session

    def _expert_driver(self) -> ExpertDriver:
        if self._expert is None:
            from acgym.sim.driver import ExpertDriver

            self._expert = ExpertDriver(self._session())
        return self._expert


__all__ = ["SimulatorExtension"]

"""acgym: reinforcement learning for autonomous racing.

Assetto Corsa through its plugin, or the built-in vehicle-dynamics simulator, behind one
Gymnasium environment. Importing acgym registers the environment ids (entry points are
strings, so nothing heavy is imported until an environment is made):

* ``acgym/Race-v0``: the built-in simulator in process (``gymnasium.make``), and N cars in
  one batched simulator (``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``);
* ``acgym/AssettoCorsa-v0``: a remote car, the game plugin or ``acgym sim serve``.
"""

from __future__ import annotations

import gymnasium

__version__ = "0.1.0"

_ENVS = {
    "acgym/Race-v0": {
        "entry_point": "acgym.env.factory:make_race_env",
        "vector_entry_point": "acgym.env.factory:make_race_vector_env",
    },
    "acgym/AssettoCorsa-v0": {"entry_point": "acgym.env.factory:make_remote_env"},
}

for _id, _points in _ENVS.items():
    if _id not in gymnasium.registry:  # the environments truncate themselves (no TimeLimit)
        gymnasium.register(id=_id, max_episode_steps=None, **_points)

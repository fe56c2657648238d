"""acgym: reinforcement learning for autonomous racing.

Assetto Corsa through its plugin, or the built-in vehicle-dynamics simulator, behind one
Gymnasium environment.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""An emulated Assetto Corsa for the game plugin: its ``ac``/``acsys`` modules, shared
memory and a virtual vJoy, backed by the built-in simulator.

The real plugin (plugin/acgym) runs in it unmodified: tests drive it end to end, and
``acgym plugin emulate`` serves it on the usual ports so a client, ``acgym doctor`` or a
training run can talk to the plugin without the game.

* :mod:`acgym.emulated_game.game`: ``EmulatedGame`` (the car, the virtual vJoy).
* :mod:`acgym.emulated_game.ac_module`, :mod:`acgym.emulated_game.acsys`: the app API.
* :mod:`acgym.emulated_game.pages`: the shared-memory pages.
* :mod:`acgym.emulated_game.runner`: ``PluginRunner`` (load, acMain, frames, acShutdown).
* :mod:`acgym.emulated_game.plugin_files`: where the plugin's files are (light import).

Names are imported on first use, so ``plugin_files`` does not pull in the simulator.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EmulatedGame": "acgym.emulated_game.game",
    "VirtualVJoy": "acgym.emulated_game.game",
    "PluginRunner": "acgym.emulated_game.runner",
    "PLUGIN_FILES": "acgym.emulated_game.plugin_files",
    "default_plugin_dir": "acgym.emulated_game.plugin_files",
    "load_plugin_module": "acgym.emulated_game.plugin_files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'acgym.emulated_game' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)

"""An emulated Assetto Corsa for the game plugin: its ``ac``/``acsys`` modules, shared
memory and a virtual vJoy, backed by the built-in simulator.

The real plugin (plugin/acgym) runs in it unmodified: tests drive it end to end, and
``acgym plugin emulate`` serves it on the usual ports so a client, ``acgym doctor`` or a
training run can talk to the plugin without the game.

* :mod:`acgym.emulated_game.game`: ``EmulatedGame`` (the car, lap timing, virtual vJoy).
* :mod:`acgym.emulated_game.ac_module`, :mod:`acgym.emulated_game.acsys`: the app API.
* :mod:`acgym.emulated_game.pages`: the shared-memory pages.
* :mod:`acgym.emulated_game.runner`: ``PluginRunner`` (load, acMain, frames, acShutdown).
"""

from __future__ import annotations

from acgym.emulated_game.game import EmulatedGame, VirtualVJoy
from acgym.emulated_game.runner import PLUGIN_FILES, PluginRunner, default_plugin_dir

__all__ = [
    "PLUGIN_FILES",
    "EmulatedGame",
    "PluginRunner",
    "VirtualVJoy",
    "default_plugin_dir",
]

"""Fixtures of the plugin tests: the plugin's modules, a fake game folder, the emulated game.

Servers bind 127.0.0.1 on ephemeral ports (``ego_port = 0``, ``mgmt_port = 0`` in the
test's config.ini); every wait is bounded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_helpers import PLUGIN_DIR, running_plugin, write_config

from acgym.emulated_game import PLUGIN_FILES, EmulatedGame, PluginRunner


@pytest.fixture
def game_root(tmp_path: Path) -> Path:
    """A fake Assetto Corsa folder: ``apps/python`` and ``content``."""
    (tmp_path / "apps" / "python").mkdir(parents=True)
    (tmp_path / "content" / "tracks").mkdir(parents=True)
    (tmp_path / "content" / "cars").mkdir(parents=True)
    return tmp_path


@pytest.fixture
def app_dir(game_root: Path) -> Path:
    """The plugin copied into the fake game (``apps/python/acgym``), emulated controls."""
    target = game_root / "apps" / "python" / "acgym"
    target.mkdir()
    for name in PLUGIN_FILES:
        shutil.copy2(PLUGIN_DIR / name, target / name)
    write_config(target)
    return target


@pytest.fixture
def runner(app_dir: Path) -> Iterator[PluginRunner]:
    """The plugin running in real time in an emulated game (shared memory, CSP, vJoy)."""
    with running_plugin(EmulatedGame(), app_dir) as plugin:
        yield plugin

"""Fixtures of the capture tests: an X server of their own (Xvfb), the plugin's folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from acgym.capture.xvfb import private_display


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A private Xvfb display (``":N"``), 24-bit; stopped after the module's tests.

    The README's test command installs Xvfb (Debian's ``xvfb``); without it these tests
    fail, saying so, rather than skip.
    """
    if shutil.which("Xvfb") is None:
        pytest.fail(
            "Xvfb is not installed: the capture tests draw and grab a real window on it "
            "(apt-get install xvfb; the README's test command does)"
        )
    with private_display(640, 480) as display:
        yield display


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The plugin copied into a fake game folder (``apps/python/acgym``)."""
    from acgym.emulated_game import PLUGIN_FILES
    from acgym.emulated_game.plugin_files import default_plugin_dir

    target = tmp_path / "apps" / "python" / "acgym"
    target.mkdir(parents=True)
    (tmp_path / "content" / "tracks").mkdir(parents=True)
    for name in PLUGIN_FILES:
        shutil.copy2(default_plugin_dir() / name, target / name)
    return target

"""Fixtures of the capture tests: an X server of their own (Xvfb), the plugin's folder."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

XVFB_START_S = 10.0


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
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], XVFB_START_S)
        number = os.read(read_fd, 16).decode().strip() if ready else ""
        if not number:
            pytest.fail(f"Xvfb did not start within {XVFB_START_S:g} s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        try:
            server.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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

"""A private X server (Xvfb) for the capture benchmark and tests, where no display is at hand."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
from collections.abc import Iterator

from acgym.errors import BackendError

START_S = 10.0
"""Longest wait for Xvfb to report its display, s."""


@contextlib.contextmanager
def private_display(width: int = 1280, height: int = 720) -> Iterator[str]:
    """Run ``Xvfb`` on a free display (``-displayfd``) for the block; yields ``":N"``.

    Raises:
        BackendError: Xvfb is not installed (``apt-get install xvfb``) or did not start.
    """
    if shutil.which("Xvfb") is None:
        raise BackendError("Xvfb is not installed: apt-get install xvfb (or set DISPLAY)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], START_S)
        number = os.read(read_fd, 16).decode().strip() if ready else ""
        if not number:
            raise BackendError(f"Xvfb did not report a display within {START_S:g} s")
        yield f":{number}"
    finally:
        os.close(read_fd)
        server.terminate()
        try:
            server.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

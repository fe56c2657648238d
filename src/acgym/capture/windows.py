"""Windows: the game's window through dxcam (DXGI Desktop Duplication, the fastest
maintained capture for Windows games), imported only when a capture on Windows asks for
it (``pip install dxcam`` on the game's machine).

The window's client area is found by title with ``user32`` (``FindWindowW`` over the
titles of the top-level windows, ``GetClientRect``, ``ClientToScreen``) at every grab, so
a moved window is followed; dxcam grabs that region of the monitor in RGB. dxcam
returns nothing when the screen has not changed since its last grab: the last frame is
then the current one.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np
from numpy.typing import NDArray

from acgym.errors import BackendError, ConfigError

UInt8Image = NDArray[np.uint8]


class _Rect(ctypes.Structure):
    _fields_ = [("left", ctypes.c_long), ("top", ctypes.c_long), ("right", ctypes.c_long), ("bottom", ctypes.c_long)]  # fmt: skip


class _Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_long), ("y", ctypes.c_long)]


def _window_region(window_name: str) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the client area of the first top-level window
    whose title contains ``window_name``, in screen pixels."""
    user32: Any = ctypes.windll.user32  # type: ignore[attr-defined]
    found: list[int] = []
    enum_proc = ctypes.WINFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)

    def visit(hwnd: int, _: int) -> bool:
        length = user32.GetWindowTextLengthW(hwnd)
        buffer = ctypes.create_unicode_buffer(length + 1)
        user32.GetWindowTextW(hwnd, buffer, length + 1)
        if window_name in buffer.value and user32.IsWindowVisible(hwnd):
            found.append(hwnd)
            return False
        return True

    user32.EnumWindows(enum_proc(visit), 0)
    if not found:
        raise BackendError(f"no window titled {window_name!r}: is the game running?")
    rect, origin = _Rect(), _Point(0, 0)
    user32.GetClientRect(found[0], ctypes.byref(rect))
    user32.ClientToScreen(found[0], ctypes.byref(origin))
    return origin.x, origin.y, origin.x + rect.right, origin.y + rect.bottom


class DxcamGrabber:
    """Grabs one window's client area on Windows: ``grab()`` -> ``(H, W, 3)`` uint8 RGB.

    Args:
        window_name: Part of the window's title (the game's: ``Assetto Corsa``).
        output_index: The monitor the game is on (dxcam's ``output_idx``).
    """

    source_order = "rgb"

    def __init__(self, window_name: str, output_index: int = 0) -> None:
        try:
            import dxcam
        except ImportError:
            raise ConfigError(
                "capture on Windows needs dxcam on the game's machine: pip install dxcam"
            ) from None
        self.window_name = window_name
        self._camera = dxcam.create(output_idx=output_index, output_color="RGB")
        self._last: UInt8Image | None = None

    def grab(self) -> UInt8Image:
        frame = self._camera.grab(region=_window_region(self.window_name))
        if frame is None:  # nothing changed on the screen since the last grab
            if self._last is None:
                raise BackendError("dxcam gave no frame yet: is the game's window on screen?")
            return self._last
        self._last = np.asarray(frame, dtype=np.uint8)
        return self._last

    def close(self) -> None:
        release = getattr(self._camera, "release", None)
        if release is not None:
            release()

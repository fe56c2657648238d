"""X11 through ctypes (libX11 only, no Python package): find a window by name and grab
its pixels, or open a window and draw into it (the emulated game's screen).

Linux and the game under Proton (Wine draws its windows on the X server, so the game's
window is an X11 window like any other). A grab is ``XGetImage`` of the window, a
``(H, W, 4)`` BGRA array on the 24/32-bit TrueColor visuals of today's X servers (Xvfb
included). Each object opens its own display connection and must be used from one
thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np
from numpy.typing import NDArray

from acgym.errors import BackendError

ZPIXMAP = 2
ALL_PLANES = 0xFFFFFFFF

UInt8Image = NDArray[np.uint8]


class XImage(ctypes.Structure):
    """The leading fields of Xlib's ``XImage`` (the rest are not read)."""

    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


class XWindowAttributes(ctypes.Structure):
    """The leading fields of Xlib's ``XWindowAttributes``."""

    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", ctypes.c_ulong),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


_LIB: ctypes.CDLL | None = None


def libx11() -> ctypes.CDLL:
    """libX11 with the signatures used here.

    Raises:
        BackendError: no libX11 on this machine.
    """
    global _LIB
    if _LIB is not None:
        return _LIB
    name = ctypes.util.find_library("X11")
    if name is None:
        raise BackendError(
            "X11 capture needs libX11 (apt-get install libx11-6), and an X server (DISPLAY)"
        )
    lib = ctypes.CDLL(name)
    p, ul, i, u = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_uint
    signatures = {
        "XOpenDisplay": (p, [ctypes.c_char_p]),
        "XCloseDisplay": (i, [p]),
        "XDefaultScreen": (i, [p]),
        "XRootWindow": (ul, [p, i]),
        "XDefaultVisual": (p, [p, i]),
        "XDefaultDepth": (i, [p, i]),
        "XDefaultGC": (p, [p, i]),
        "XQueryTree": (i, [p, ul, ctypes.POINTER(ul), ctypes.POINTER(ul), ctypes.POINTER(ctypes.POINTER(ul)), ctypes.POINTER(u)]),
        "XFetchName": (i, [p, ul, ctypes.POINTER(ctypes.c_char_p)]),
        "XFree": (i, [p]),
        "XGetWindowAttributes": (i, [p, ul, ctypes.POINTER(XWindowAttributes)]),
        "XGetImage": (ctypes.POINTER(XImage), [p, ul, i, i, u, u, ul, i]),
        "XDestroyImage": (i, [ctypes.POINTER(XImage)]),
        "XCreateSimpleWindow": (ul, [p, ul, i, i, u, u, u, ul, ul]),
        "XStoreName": (i, [p, ul, ctypes.c_char_p]),
        "XMapWindow": (i, [p, ul]),
        "XDestroyWindow": (i, [p, ul]),
        "XCreateImage": (ctypes.POINTER(XImage), [p, p, u, i, i, p, u, u, i, i]),
        "XPutImage": (i, [p, ul, p, ctypes.POINTER(XImage), i, i, i, i, u, u]),
        "XSync": (i, [p, i]),
        "XFlush": (i, [p]),
    }  # fmt: skip
    for function, (restype, argtypes) in signatures.items():
        getattr(lib, function).restype = restype
        getattr(lib, function).argtypes = argtypes
    # Xlib's default error handler ends the process (a window partly off the screen makes
    # XGetImage fail with BadMatch): count the error instead; the failed call returns
    # nothing and the grab raises BackendError.
    lib.XSetErrorHandler.restype = ctypes.c_void_p
    lib.XSetErrorHandler.argtypes = [_ERROR_HANDLER]
    lib.XSetErrorHandler(_on_x_error)
    _LIB = lib
    return lib


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
X_ERRORS = [0]
"""X protocol errors seen (and survived) in this process."""


@_ERROR_HANDLER
def _on_x_error(display: int, event: int) -> int:
    X_ERRORS[0] += 1
    return 0


def open_display(display: str | None = None) -> ctypes.c_void_p:
    """A connection to ``display`` (default ``$DISPLAY``).

    Raises:
        BackendError: no X server there.
    """
    name = display if display is not None else os.environ.get("DISPLAY")
    handle = libx11().XOpenDisplay(name.encode() if name else None)
    if not handle:
        raise BackendError(
            f"cannot open the X display {name!r}: is the X server (or Xvfb) running and "
            "DISPLAY set?"
        )
    return handle


def find_window(display: ctypes.c_void_p, name: str) -> int | None:
    """The first window (depth-first from the root) whose title contains ``name``."""
    lib = libx11()
    stack = [lib.XRootWindow(display, lib.XDefaultScreen(display))]
    while stack:
        window = stack.pop()
        title = ctypes.c_char_p()
        if lib.XFetchName(display, window, ctypes.byref(title)) and title.value is not None:
            text = title.value.decode("utf-8", "replace")
            lib.XFree(title)
            if name in text:
                return int(window)
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        children, count = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        if lib.XQueryTree(
            display, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children),
            ctypes.byref(count),
        ):  # fmt: skip
            stack.extend(children[k] for k in range(count.value - 1, -1, -1))
            if children:
                lib.XFree(children)
    return None


class X11Grabber:
    """Grabs one window's pixels: ``grab()`` -> ``(H, W, 4)`` uint8 BGRA.

    Args:
        window_name: Part of the window's title (the game's: ``Assetto Corsa``).
        display: The X display (default ``$DISPLAY``).
    """

    source_order = "bgra"

    def __init__(self, window_name: str, display: str | None = None) -> None:
        self.window_name = window_name
        self._display = open_display(display)
        self._window: int | None = None

    def _find(self) -> int:
        if self._window is None:
            self._window = find_window(self._display, self.window_name)
            if self._window is None:
                raise BackendError(
                    f"no window titled {self.window_name!r} on the X display: is the game "
                    "running (and its window open)?"
                )
        return self._window

    def grab(self) -> UInt8Image:
        """The window's current pixels.

        Raises:
            BackendError: the window is gone or not viewable (it is looked up again on
                the next grab).
        """
        lib = libx11()
        window = self._find()
        attributes = XWindowAttributes()
        if not lib.XGetWindowAttributes(self._display, window, ctypes.byref(attributes)):
            self._window = None
            raise BackendError(f"the window {self.window_name!r} is gone")
        width, height = attributes.width, attributes.height
        image = lib.XGetImage(self._display, window, 0, 0, width, height, ALL_PLANES, ZPIXMAP)
        if not image:
            self._window = None
            raise BackendError(
                f"XGetImage failed on {self.window_name!r}: is the window mapped and wholly "
                "on the screen?"
            )
        try:
            ximage = image.contents
            if ximage.bits_per_pixel != 32:
                raise BackendError(
                    f"X11 capture needs a 24/32-bit visual, got {ximage.bits_per_pixel} bits "
                    "per pixel"
                )
            stride = ximage.bytes_per_line
            pixels = ctypes.cast(ximage.data, ctypes.POINTER(ctypes.c_uint8))
            rows = np.ctypeslib.as_array(pixels, shape=(ximage.height, stride))
            return rows[:, : 4 * ximage.width].reshape(ximage.height, ximage.width, 4).copy()
        finally:
            lib.XDestroyImage(image)

    def close(self) -> None:
        """Close the display connection (safe twice)."""
        if self._display:
            libx11().XCloseDisplay(self._display)
            self._display = None


class X11Window:
    """A window that shows ``(H, W, 3)`` RGB frames (the emulated game's screen).

    Args:
        title: The window's title (what a grabber looks for).
        width, height: Its size, pixels.
        display: The X display (default ``$DISPLAY``).
    """

    def __init__(self, title: str, width: int, height: int, display: str | None = None) -> None:
        lib = libx11()
        self.width, self.height = width, height
        self._display = open_display(display)
        screen = lib.XDefaultScreen(self._display)
        if lib.XDefaultDepth(self._display, screen) not in (24, 32):
            raise BackendError(
                "the X display needs a 24-bit TrueColor visual (Xvfb -screen 0 WxHx24)"
            )
        root = lib.XRootWindow(self._display, screen)
        self.window = lib.XCreateSimpleWindow(self._display, root, 0, 0, width, height, 0, 0, 0)
        lib.XStoreName(self._display, self.window, title.encode())
        lib.XMapWindow(self._display, self.window)
        self._gc = lib.XDefaultGC(self._display, screen)
        self._pixels = (ctypes.c_uint8 * (width * height * 4))()
        self._image = lib.XCreateImage(
            self._display, lib.XDefaultVisual(self._display, screen), 24, ZPIXMAP, 0,
            ctypes.cast(self._pixels, ctypes.c_void_p), width, height, 32, 4 * width,
        )  # fmt: skip
        lib.XSync(self._display, 0)

    def show(self, rgb: UInt8Image) -> None:
        """Draw a ``(height, width, 3)`` RGB frame and wait until the server has it."""
        lib = libx11()
        bgra = np.frombuffer(self._pixels, np.uint8).reshape(self.height, self.width, 4)
        bgra[..., :3] = rgb[..., ::-1]
        lib.XPutImage(
            self._display, self.window, self._gc, self._image, 0, 0, 0, 0, self.width, self.height
        )
        lib.XSync(self._display, 0)

    def close(self) -> None:
        """Destroy the window and close the connection (safe twice)."""
        if not self._display:
            return
        lib = libx11()
        self._image.contents.data = None  # the pixels are ours, not Xlib's to free
        lib.XDestroyImage(self._image)
        lib.XDestroyWindow(self._display, self.window)
        lib.XCloseDisplay(self._display)
        self._display = None

"""Running the real game plugin, unmodified, inside the emulated game.

``PluginRunner`` does what the game does with an app: it makes ``ac`` and ``acsys``
importable (as ``sys.modules`` entries bound to one :class:`EmulatedGame`), imports
``<plugin>/acgym.py`` by path, calls ``acMain``, then every frame advances the
simulator by the frame time and calls ``acUpdate(deltaT)`` (on its own thread in real
time, or step by step), and ``acShutdown`` at the end. Everything it put in
``sys.modules`` and ``sys.path`` is taken out again by :meth:`PluginRunner.stop`.

A third module, ``acgym_emulated_host``, exists only here: through it the plugin finds
the emulated shared-memory pages and the virtual vJoy device (``control_backend =
emulated``). In the real game the import fails and the plugin uses the game's own.

One runner at a time per process (the game's modules are process-wide).
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from acgym.emulated_game import acsys as emulated_acsys
from acgym.emulated_game.ac_module import make_ac_module
from acgym.emulated_game.game import EmulatedGame
from acgym.emulated_game.plugin_files import PLUGIN_MAIN, default_plugin_dir
from acgym.errors import AcgymError, ConfigError

AC_VERSION = "1.16.4 (emulated)"

_active_lock = threading.Lock()
_active: list[PluginRunner] = []
_load_counter = itertools.count(1)


class PluginRunner:
    """The game plugin running in an emulated game.

    Args:
        game: the emulated game.
        plugin_dir: the plugin's folder (holding ``acgym.py`` and ``config.ini``);
            default :func:`default_plugin_dir`.
        ac_version: passed to ``acMain``.
        time_scale: real time runs this many times faster than the wall clock (tests use
            it to drive a whole lap quickly; give the plugin a ``sampling_freq_hz`` as many
            times higher to keep its rate in game time).
        screen: a window drawn every frame before the app's ``acUpdate``, as the game
            renders a frame (:class:`acgym.emulated_game.screen.EmulatedScreen`), or None.

    Use as a context manager, or ``start()`` ... ``stop()``.
    """

    def __init__(
        self,
        game: EmulatedGame,
        plugin_dir: Path | str | None = None,
        *,
        ac_version: str = AC_VERSION,
        time_scale: float = 1.0,
        screen: Any = None,
    ) -> None:
        if not 0.1 <= time_scale <= 100.0:
            raise ConfigError(f"time_scale {time_scale}: expected 0.1 to 100")
        self.time_scale = float(time_scale)
        self.game = game
        self.screen = screen
        self.plugin_dir = Path(plugin_dir) if plugin_dir is not None else default_plugin_dir()
        if not (self.plugin_dir / PLUGIN_MAIN).is_file():
            raise ConfigError(f"{self.plugin_dir} holds no {PLUGIN_MAIN}: not the acgym plugin")
        self.ac_version = ac_version
        self.module: types.ModuleType | None = None
        self.ac = make_ac_module(game)
        self.app_name: str | None = None
        self._saved_modules: dict[str, types.ModuleType | None] = {}
        self._saved_path: list[str] = []
        self._modules_before: set[str] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._frame_lock = threading.Lock()
        self.frame_errors = 0

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def app(self) -> Any:
        """The plugin's app object (``acgym._app``), for inspection."""
        return getattr(self.module, "_app", None)

    def start(self, *, realtime: bool = True) -> PluginRunner:
        """Load the plugin, call ``acMain``; with ``realtime``, run one frame now and the
        next ones on a thread at the game's frame rate."""
        self._load()
        try:
            assert self.module is not None
            self.app_name = self.module.acMain(self.ac_version)
        except BaseException:
            self._unload()
            raise
        if realtime:
            # The first frame before the clock starts: the simulator's kernels may need
            # compiling (seconds), which must not eat into a client's timeouts.
            self._frame()
            self._thread = threading.Thread(target=self._loop, name="emulated-game", daemon=True)
            self._thread.start()
        return self

    def step(self, frames: int = 1) -> None:
        """Run ``frames`` game frames now (without the real-time thread)."""
        for _ in range(frames):
            self._frame()

    def stop(self) -> None:
        """Stop the frames, call ``acShutdown``, take the game's modules out. Safe twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.module is not None:
            try:
                self.module.acShutdown()
            finally:
                self._unload()

    def __enter__(self) -> PluginRunner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- frames ---------------------------------------------------------------------------

    def _frame(self) -> None:
        with self._frame_lock:
            self.game.frame()
            if self.screen is not None:
                self.screen.draw()
            assert self.module is not None
            self.module.acUpdate(self.game.frame_dt_s)

    def _loop(self) -> None:
        period_s = self.game.frame_dt_s / self.time_scale
        next_s = time.perf_counter()
        while not self._stop.is_set():
            now_s = time.perf_counter()
            if now_s < next_s:
                time.sleep(min(next_s - now_s, 0.05))
                continue
            try:
                self._frame()
            except Exception:  # the game goes on when an app fails, and so do we
                self.frame_errors += 1
            next_s += period_s
            if now_s - next_s > 2 * period_s:  # behind (a debugger, a loaded CI): resync
                next_s = now_s

    # -- modules --------------------------------------------------------------------------

    def _load(self) -> None:
        with _active_lock:
            if _active:
                raise AcgymError(
                    "another emulated game is running in this process: stop it first (the "
                    "game's ac/acsys modules are process-wide)"
                )
            _active.append(self)
        host = types.ModuleType("acgym_emulated_host", "The emulated game's host services.")
        host.open_shared_page = self.game.open_shared_page  # type: ignore[attr-defined]
        host.vjoy_dll = lambda: self.game.vjoy  # type: ignore[attr-defined]
        installs = {"ac": self.ac, "acsys": emulated_acsys, "acgym_emulated_host": host}
        self._saved_path = list(sys.path)
        self._modules_before = set(sys.modules)
        for name, module in installs.items():
            self._saved_modules[name] = sys.modules.get(name)
            sys.modules[name] = module
        try:
            self._purge_plugin_modules()
            name = f"acgym_plugin_main_{next(_load_counter)}"
            spec = importlib.util.spec_from_file_location(name, self.plugin_dir / PLUGIN_MAIN)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self.module = module
            shm = sys.modules.get("acgym_shm")
            if shm is not None and getattr(shm, "STRUCTURES", None):
                self.game.set_page_layouts(shm.STRUCTURES)
        except BaseException:
            self._unload()
            raise

    def _purge_plugin_modules(self) -> None:
        # Another plugin folder's modules (same names) must not be reused.
        for name in [
            n for n in sys.modules if n.startswith("acgym_") and n != "acgym_emulated_host"
        ]:
            del sys.modules[name]

    def _unload(self) -> None:
        for name in set(sys.modules) - self._modules_before:
            if name not in ("ac", "acsys", "acgym_emulated_host"):
                del sys.modules[name]
        for name, module in self._saved_modules.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        self._saved_modules = {}
        sys.path[:] = self._saved_path
        self.module = None
        with _active_lock:
            if self in _active:
                _active.remove(self)

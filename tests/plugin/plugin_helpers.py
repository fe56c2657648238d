"""Helpers of the plugin tests: the plugin's modules, config files, running plugins."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from acgym.emulated_game import EmulatedGame, PluginRunner
from acgym.protocol.client import Client

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "plugin" / "acgym"

TEST_CONFIG = {
    "ego_port": "0",
    "mgmt_port": "0",
    "control_backend": "emulated",
    "client_timeout_s": "5",
}
"""What every test's config.ini changes from the shipped one: free ports, the emulated
vJoy, and a client timeout long enough for slow test machines."""


def set_config_values(text: str, values: dict[str, str]) -> str:
    """Set ``key = value`` lines of an ini text (appending the keys it lacks)."""
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.MULTILINE)
        line = f"{key} = {value}"
        text, count = pattern.subn(lambda _m, line=line: line, text)
        if count == 0:
            text = text.rstrip("\n") + f"\n{line}\n"
    return text


def write_config(app_dir: Path, **values: object) -> None:
    """Write ``app_dir/config.ini``: the shipped one with ``TEST_CONFIG`` and ``values``."""
    text = (PLUGIN_DIR / "config.ini").read_text(encoding="utf-8")
    merged = dict(TEST_CONFIG)
    merged.update(
        {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in values.items()
        }
    )
    (app_dir / "config.ini").write_text(set_config_values(text, merged), encoding="utf-8")


@contextlib.contextmanager
def running_plugin(
    game: EmulatedGame, app_dir: Path, *, realtime: bool = True
) -> Iterator[PluginRunner]:
    """The plugin in ``app_dir`` running in ``game``; stopped (and unloaded) afterwards."""
    runner = PluginRunner(game, app_dir)
    runner.start(realtime=realtime)
    try:
        yield runner
    finally:
        runner.stop()


def ports(runner: PluginRunner) -> tuple[int, int]:
    """The running plugin's (ego, management) ports."""
    app = runner.app
    assert app.error == "", app.error
    return app.ego.address[1], app.mgmt.address[1]


def client_for(runner: PluginRunner, **kwargs: Any) -> Client:
    """A client of the running plugin (not connected yet)."""
    ego_port, mgmt_port = ports(runner)
    kwargs.setdefault("timeout_s", 3.0)
    return Client(ego_port=ego_port, mgmt_port=mgmt_port, **kwargs)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0, what: str = "it") -> None:
    """Poll ``predicate`` until true; fail after ``timeout_s``."""
    deadline_s = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline_s:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def receive_until(
    client: Client,
    predicate: Callable[[dict[str, Any]], bool],
    timeout_s: float = 5.0,
    controls: tuple[float, float, float] | None = None,
) -> dict[str, Any]:
    """Read states (sending ``controls`` before each) until one satisfies ``predicate``."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        if controls is not None:
            client.send_controls(*controls)
        state = client.receive_state()
        if predicate(state):
            return state
        if time.monotonic() > deadline_s:
            raise AssertionError(f"no state satisfied the condition in {timeout_s} s: {state}")


@contextlib.contextmanager
def plugin_modules(*names: str) -> Iterator[list[types.ModuleType]]:
    """Import plugin modules from plugin/acgym (fresh), then take them out again."""
    saved_path = list(sys.path)
    before = set(sys.modules)
    for name in [n for n in sys.modules if n.startswith("acgym_")]:
        del sys.modules[name]
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        yield [importlib.import_module(name) for name in names]
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - before:
            if name.startswith("acgym_"):
                del sys.modules[name]

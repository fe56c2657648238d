"""Where the game plugin's files are, and loading one of its modules by path.

Light on purpose (no simulator import): ``acgym plugin install`` uses it.
"""

from __future__ import annotations

import importlib.util
import itertools
import types
from pathlib import Path

import acgym
from acgym.errors import AcgymError

PLUGIN_MAIN = "acgym.py"
PLUGIN_FILES = (
    "acgym.py",
    "acgym_config.py",
    "acgym_controls.py",
    "acgym_servers.py",
    "acgym_shm.py",
    "acgym_telemetry.py",
    "acgym_wire.py",
    "config.ini",
)
"""Every file of the game plugin (plugin/acgym); ``acgym plugin install`` copies these."""
_load_counter = itertools.count(1)


def default_plugin_dir() -> Path:
    """The plugin's folder: inside the installed package (a wheel), else the source tree.

    A wheel carries a copy at ``acgym/_plugin`` (the build copies plugin/acgym there); an
    editable install or a source checkout uses ``plugin/acgym`` of the repository.

    Raises:
        AcgymError: neither exists (a broken install).
    """
    package = Path(acgym.__file__).resolve().parent
    for candidate in (package / "_plugin", package.parents[1] / "plugin" / "acgym"):
        if (candidate / PLUGIN_MAIN).is_file():
            return candidate
    raise AcgymError(
        f"the game plugin's files are missing: neither {package / '_plugin'} nor "
        f"{package.parents[1] / 'plugin' / 'acgym'} holds {PLUGIN_MAIN}; reinstall acgym"
    )


def load_plugin_module(name: str, plugin_dir: Path | str | None = None) -> types.ModuleType:
    """One of the plugin's modules without a sibling import (``acgym_config``,
    ``acgym_controls``, ``acgym_wire``, ``acgym_shm``), loaded by path under a private name.

    Raises:
        AcgymError: the plugin folder has no such module.
    """
    folder = Path(plugin_dir) if plugin_dir is not None else default_plugin_dir()
    path = folder / f"{name}.py"
    if not path.is_file():
        raise AcgymError(f"{path} is missing: the plugin folder is incomplete; reinstall acgym")
    spec = importlib.util.spec_from_file_location(
        f"_acgym_plugin_{name}_{next(_load_counter)}", path
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

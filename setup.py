"""Build hook: the wheel carries the game plugin (plugin/acgym) as ``acgym/_plugin``.

The plugin's canonical source is plugin/acgym (the game's Python 3.3 loads it from
``apps/python/acgym``; it is not a module of the package). ``acgym plugin install`` copies
it from ``acgym/_plugin`` in an installed wheel, or from plugin/acgym in a source checkout
or an editable install. Everything else about the build is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin" / "acgym"


class BuildPyWithPlugin(build_py):
    """build_py, then copy the plugin's .py and .ini files into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "acgym" / "_plugin"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(PLUGIN_DIR.iterdir()):
            if path.is_file() and path.suffix in (".py", ".ini"):
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithPlugin})

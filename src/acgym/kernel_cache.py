"""Numba's on-disk cache of acgym's compiled kernels, keyed on every source they use.

Numba's own ``cache=True`` keys a cached kernel on the file that defines it: a kernel
that inlines functions or reads constants from other modules (the simulator's batch
kernel inlines the dynamics, tyre and track queries; the env's ray kernel inlines
``track/rays.py``) would go on loading the old machine code after one of those changes.

:func:`install` puts a cache locator in front of Numba's for the kernels of a package.
It stores them under ``<cache root>/numba/<digest>/``, where the digest hashes every
module that uses Numba, every package module those import (read from their import lines)
and the Numba version. A change to any of those sources
gives another folder, so a stale kernel is never found; nothing is deleted. The cache
root is ``$ACGYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/acgym``, else ``~/.cache/acgym``.

This module imports nothing of the project (it runs first, from ``acgym/__init__.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

CACHE_DIR_ENV = "ACGYM_CACHE_DIR"
"""Environment variable naming the cache root (default ``$XDG_CACHE_HOME/acgym``)."""

PACKAGE_ROOT = Path(__file__).resolve().parent
"""The ``acgym`` package folder."""

_USES_NUMBA = re.compile(r"^\s*(?:import numba|from numba\b)", re.MULTILINE)
_FROM_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+(\([^)]*\)|[^\n]*)", re.MULTILINE)
_PLAIN_IMPORT = re.compile(r"^\s*import\s+([\w.]+)", re.MULTILINE)

_installed: dict[str, Path] = {}
"""Package name -> package folder, for every :func:`install` call."""


def cache_root() -> Path:
    """The folder holding acgym's caches (see the module docstring)."""
    explicit = os.environ.get(CACHE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "acgym"


def _module_file(package: str, root: Path, dotted: str) -> Path | None:
    """The source file of module ``dotted`` of ``package`` (rooted at ``root``), if any."""
    parts = dotted.split(".")
    if parts[0] != package:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_files(package: str, root: Path, text: str) -> set[Path]:
    """The package's source files that ``text`` imports (modules, and submodules named
    in ``from pkg.mod import sub``)."""
    found: set[Path] = set()
    for match in _PLAIN_IMPORT.finditer(text):
        path = _module_file(package, root, match.group(1))
        if path is not None:
            found.add(path)
    for match in _FROM_IMPORT.finditer(text):
        module = match.group(1)
        path = _module_file(package, root, module)
        if path is None:
            continue
        found.add(path)
        for item in match.group(2).strip("()").split(","):
            name = item.split("#")[0].split(" as ")[0].strip()
            if name.isidentifier():
                sub = _module_file(package, root, f"{module}.{name}")
                if sub is not None:
                    found.add(sub)
    return found


def kernel_sources(package: str = "acgym", root: Path = PACKAGE_ROOT) -> list[Path]:
    """Every source a kernel of ``package`` can depend on, sorted: the modules that use
    Numba (a kernel inlines or calls only compiled functions, which live there) and the
    package modules those import (a kernel reads constants through its own module's
    imports). Imports are followed on from Numba modules only.

    Args:
        package: The top-level package name (imports of other packages are not followed).
        root: The package's folder.
    """
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    kernel_modules = {path for path, text in texts.items() if _USES_NUMBA.search(text)}
    seen = set(kernel_modules)
    for path in kernel_modules:
        seen.update(_imported_files(package, root, texts[path]))
    return sorted(seen)


def sources_digest(package: str = "acgym", root: Path = PACKAGE_ROOT) -> str:
    """SHA-1 of :func:`kernel_sources` (relative paths and contents) and Numba's version."""
    import numba

    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"numba {numba.__version__}\n".encode())
    for path in kernel_sources(package, root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _digest_of(package: str, root: Path) -> str:
    return sources_digest(package, root)


def kernel_cache_dir(package: str = "acgym") -> Path:
    """The folder of ``package``'s compiled kernels for the current sources."""
    root = _installed.get(package, PACKAGE_ROOT)
    return cache_root() / "numba" / f"{package}-{_digest_of(package, root)[:20]}"


def kernels_cached(package: str = "acgym") -> bool:
    """Whether compiled kernels exist for the current sources (else the first use of the
    simulator and the env compiles them: about a minute)."""
    folder = kernel_cache_dir(package)
    return folder.is_dir() and any(folder.rglob("*.nbi"))


def _locator_base() -> Any:
    from numba.core import caching

    return caching._CacheLocator


def _locator_list() -> list[Any]:
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    return impl._locator_classes


@cache
def _locator_class() -> type:
    """Numba's cache-locator interface, implemented for installed packages (built on first
    use: importing numba is not free)."""

    class PackageKernelLocator(_locator_base()):  # type: ignore[misc]
        """Places a package's kernels under :func:`kernel_cache_dir`, stamped with the
        digest of all the package's kernel sources."""

        def __init__(self, py_func: Any, py_file: str, package: str) -> None:
            self._lineno = py_func.__code__.co_firstlineno
            self._package = package
            relative = Path(py_file).resolve().relative_to(_installed[package])
            self._cache_path = str(kernel_cache_dir(package) / relative.with_suffix(""))

        def get_cache_path(self) -> str:
            return self._cache_path

        def get_source_stamp(self) -> str:
            return _digest_of(self._package, _installed[self._package])

        def get_disambiguator(self) -> str:
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            package = str(getattr(py_func, "__module__", "") or "").split(".")[0]
            if package not in _installed:
                return None
            try:
                Path(py_file).resolve().relative_to(_installed[package])
            except ValueError:  # a file outside the package (a copy elsewhere)
                return None
            self = cls(py_func, py_file, package)
            try:
                self.ensure_cache_path()
            except OSError:  # not writable: Numba's own locators decide
                return None
            return self

    return PackageKernelLocator


def install(package: str = "acgym", root: Path | str = PACKAGE_ROOT) -> None:
    """Cache the kernels of ``package`` (folder ``root``) by the digest of all their
    sources. Call it before the package's kernel modules are imported; calling it again
    is harmless."""
    _installed[package] = Path(root).resolve()
    locators = _locator_list()
    locator = _locator_class()
    if locator not in locators:
        locators.insert(0, locator)


__all__ = [
    "CACHE_DIR_ENV",
    "PACKAGE_ROOT",
    "cache_root",
    "install",
    "kernel_cache_dir",
    "kernel_sources",
    "kernels_cached",
    "sources_digest",
]

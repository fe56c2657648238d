"""The compiled-kernel cache is keyed on every source a kernel uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from acgym import kernel_cache
from acgym.kernel_cache import PACKAGE_ROOT, kernel_sources, sources_digest


def _relative(paths: list[Path], root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in paths}


def test_kernel_sources_include_what_the_kernels_inline() -> None:
    sources = _relative(kernel_sources(), PACKAGE_ROOT)
    # the env's ray kernel inlines track/rays.py; the batch kernel inlines the dynamics,
    # tyres, powertrain, track queries and reads the column constants of sim/layout.py
    for name in (
        "env/features.py",
        "track/rays.py",
        "sim/integrator.py",
        "sim/dynamics.py",
        "sim/tyres.py",
        "sim/layout.py",
        "track/queries.py",
    ):
        assert name in sources
    assert "cli.py" not in sources  # nothing a kernel imports
    assert "rl/sac.py" not in sources


def _copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "acgym"
    shutil.copytree(PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return root


def test_an_edit_of_an_inlined_source_changes_the_digest(tmp_path: Path) -> None:
    root = _copy_package(tmp_path)
    before = sources_digest("acgym", root)
    rays = root / "track" / "rays.py"
    rays.write_text(rays.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert sources_digest("acgym", root) != before


def test_an_edit_outside_the_kernels_keeps_the_digest(tmp_path: Path) -> None:
    root = _copy_package(tmp_path)
    before = sources_digest("acgym", root)
    cli = root / "cli.py"
    cli.write_text(cli.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert sources_digest("acgym", root) == before


def test_the_cache_root_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(kernel_cache.CACHE_DIR_ENV, str(tmp_path / "c"))
    assert kernel_cache.cache_root() == tmp_path / "c"
    monkeypatch.delenv(kernel_cache.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel_cache.cache_root() == tmp_path / "xdg" / "acgym"
    assert kernel_cache.kernel_cache_dir().parent == tmp_path / "xdg" / "acgym" / "numba"


_HELPER = """
import numba

@numba.njit(cache=True, inline="always")
def value():
    return {value}
"""

_KERNEL = """
import numba

from kcdemo.helper import value

@numba.njit(cache=True)
def kernel(x):
    return x + value()
"""

_INIT = """
from acgym import kernel_cache

kernel_cache.install("kcdemo", __path__[0])
"""


def _run_kernel(tmp_path: Path) -> tuple[int, bool]:
    script = (
        "from acgym import kernel_cache\n"
        "from kcdemo.kernel import kernel\n"
        "print(kernel(0), kernel.stats.cache_hits != {} and sum(kernel.stats.cache_hits.values()))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        kernel_cache.CACHE_DIR_ENV: str(tmp_path / "cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    return int(out[0]), out[1] not in ("False", "0")


@pytest.mark.slow
def test_a_cached_kernel_is_not_reused_after_an_inlined_source_changes(tmp_path: Path) -> None:
    """Numba alone keys a cached kernel on its own file: after an edit of the inlined
    helper's module it would load the old machine code (and print 1 again)."""
    package = tmp_path / "kcdemo"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(_INIT), encoding="utf-8")
    (package / "kernel.py").write_text(textwrap.dedent(_KERNEL), encoding="utf-8")
    helper = package / "helper.py"
    helper.write_text(textwrap.dedent(_HELPER.format(value=1)), encoding="utf-8")
    assert _run_kernel(tmp_path) == (1, False)  # compiled and cached
    assert _run_kernel(tmp_path) == (1, True)  # loaded from the cache
    helper.write_text(textwrap.dedent(_HELPER.format(value=2)), encoding="utf-8")
    assert _run_kernel(tmp_path) == (2, False)  # compiled afresh, not the stale kernel
    assert len(list((tmp_path / "cache" / "numba").iterdir())) == 2  # nothing deleted


def test_importing_the_simulator_deletes_no_cache_file(tmp_path: Path) -> None:
    old = tmp_path / "cache" / "numba" / "acgym-0123456789abcdef0123" / "sim"
    old.mkdir(parents=True)
    (old / "integrator.step-1.py311.nbi").write_bytes(b"old")
    env = {**os.environ, kernel_cache.CACHE_DIR_ENV: str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-c", "import acgym.sim"], env=env, timeout=120, check=True)
    assert (old / "integrator.step-1.py311.nbi").read_bytes() == b"old"

"""Without workers nothing imports Ray: the package, ``acgym train --help``, a
single-process run; and a run that asks for workers without Ray says how to get it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from dist_helpers import TINY

import acgym
from acgym.config import load_config
from acgym.dist.run import check_distributed
from acgym.errors import ConfigError


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )


def test_the_package_and_acgym_train_help_do_not_import_ray() -> None:
    done = _python(
        "import sys\n"
        "import acgym, acgym.rl, acgym.rl.run, acgym.config\n"
        "from acgym.cli import main\n"
        "try:\n"
        "    main(['train', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
        "print('no ray')\n"
    )
    assert done.returncode == 0, done.stderr
    assert "no ray" in done.stdout and "train.workers" not in done.stderr


def test_a_single_process_run_does_not_import_ray(tmp_path: Path) -> None:
    items = [*TINY, "train.total_steps=40", "train.start_steps=20", f"train.run_dir={tmp_path}"]
    done = _python(
        "import sys\n"
        "from acgym.cli import main\n"
        f"code = main(['train', *{items!r}])\n"
        "assert code == 0, code\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
        "print('no ray')\n"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no ray" in done.stdout and (tmp_path / "summary.json").is_file()


def test_a_run_with_workers_and_no_ray_says_how_to_install_it(tmp_path: Path) -> None:
    done = _python(
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def no_ray(name, *args, **kwargs):\n"
        "    if name == 'ray' or name.startswith('ray.'):\n"
        "        raise ImportError('No module named ray')\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = no_ray\n"
        "from acgym.cli import main\n"
        f"sys.exit(main(['train', 'train.workers=2', 'train.runs_root={tmp_path}']))\n"
    )
    assert done.returncode == 1 and not list(tmp_path.iterdir())
    assert "pip install 'acgym[ray]'" in done.stderr


@pytest.mark.parametrize(
    ("items", "match"),
    [
        (["remote.hosts=[pc1]"], "use backend=remote"),
        (["backend=remote", "remote.hosts=[pc1, pc2]"], "set train.workers=2"),
        (["backend=remote", "train.workers=2"], "name them: remote.hosts"),
        (["backend=remote", "remote.hosts=[pc1]", "train.num_envs=2"], "train.num_envs=1"),
        (["train.workers=2", "env.image.enabled=true"], "vector observations only"),
    ],
)
def test_a_distributed_run_refuses_what_it_cannot_honour(items: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_distributed(load_config(None, items))


def test_a_bad_host_entry_is_refused_when_the_config_loads() -> None:
    with pytest.raises(ConfigError, match=r"remote.hosts: 'pc1:99999'"):
        load_config(None, ["remote.hosts=[pc1:99999]"])


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_acgym_dist_imports_ray_and_rl_knows_nothing_of_it() -> None:
    """DESIGN.md: scale-out sits above rl; rl knows nothing of Ray."""
    source = Path(acgym.__file__).parent
    ray_importers, rl_to_dist = [], []
    for path in sorted(source.rglob("*.py")):
        modules = _imports(path)
        area = path.relative_to(source).parts[0]
        if any(m == "ray" or m.startswith("ray.") for m in modules) and area != "dist":
            ray_importers.append(str(path.relative_to(source)))
        if area == "rl" and any(m.startswith("acgym.dist") for m in modules):
            rl_to_dist.append(str(path.relative_to(source)))
    assert ray_importers == [] and rl_to_dist == []

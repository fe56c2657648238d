"""The plugin runs on the game's Python 3.3 and imports nothing but the standard library,
its own modules and the game's.

Three checks, each shown to fail on a file that breaks it: vermin's minimum version,
trailing commas after ``*args``/``**kwargs`` (a syntax error before 3.5/3.6 that vermin
does not report), and the imports.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from plugin_helpers import PLUGIN_DIR

GAME_PYTHON = (3, 3)
GAME_MODULES = {"ac", "acsys", "acgym_emulated_host"}
"""The game's modules, and the emulated game's host module (an optional import)."""
ALLOWED_STDLIB = {
    "configparser",
    "ctypes",
    "fcntl",
    "hmac",
    "json",
    "logging",
    "math",
    "mmap",
    "os",
    "re",
    "reprlib",
    "select",
    "socket",
    "struct",
    "sys",
    "threading",
    "time",
}
"""Standard-library modules of Python 3.3 the plugin may import."""


def vermin_minimum(folder: Path) -> tuple[int, ...]:
    """The minimum Python 3 version vermin finds for the files in ``folder``."""
    command = shutil.which("vermin", path=str(Path(sys.executable).parent)) or "vermin"
    result = subprocess.run(
        [command, "--no-tips", "--no-parse-comments", "-t=3.0-", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r"Minimum required versions:.*?(\d+)\.(\d+)\s*$", result.stdout, re.M)
    assert match, f"vermin said nothing usable:\n{result.stdout}\n{result.stderr}"
    return (int(match.group(1)), int(match.group(2)))


def star_arg_trailing_commas(source: str) -> list[int]:
    """Lines where a call or def ends ``*x, )`` or ``**x, )``: invalid before Python 3.5."""
    lines = []
    stack: list[dict[str, bool]] = []
    previous = ""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT):
            continue
        text = token.string
        if token.type == tokenize.OP:
            if text in "([{":
                stack.append({"star": False})
            elif text in ")]}":
                group = stack.pop() if stack else {"star": False}
                if text == ")" and group["star"] and previous == ",":
                    lines.append(token.start[0])
            elif text in ("*", "**") and stack and previous in ("(", ","):
                stack[-1]["star"] = True
        previous = text
    return lines


def test_vermin_says_the_plugin_runs_on_python_3_3() -> None:
    assert vermin_minimum(PLUGIN_DIR) <= GAME_PYTHON


def test_vermin_check_fails_on_an_f_string(tmp_path: Path) -> None:
    shutil.copytree(PLUGIN_DIR, tmp_path / "acgym", ignore=shutil.ignore_patterns("logs"))
    (tmp_path / "acgym" / "acgym_new.py").write_text('name = "x"\nprint(f"hello {name}")\n')
    assert vermin_minimum(tmp_path / "acgym") > GAME_PYTHON


@pytest.mark.parametrize("path", sorted(PLUGIN_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_trailing_comma_after_star_arguments(path: Path) -> None:
    assert star_arg_trailing_commas(path.read_text(encoding="utf-8")) == []


def test_trailing_comma_check_finds_one() -> None:
    assert star_arg_trailing_commas("f(\n    a,\n    *rest,\n)\n") == [4]
    assert star_arg_trailing_commas("def g(a, **kw,):\n    pass\n") == [1]
    assert star_arg_trailing_commas("f(a, *rest)\nx = [1, 2,]\n") == []


@pytest.mark.parametrize("path", sorted(PLUGIN_DIR.glob("*.py")), ids=lambda p: p.name)
def test_imports_only_stdlib_the_game_and_its_own_modules(path: Path) -> None:
    own = {p.stem for p in PLUGIN_DIR.glob("*.py")}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in ALLOWED_STDLIB | own | GAME_MODULES, (
                f"{path.name}:{node.lineno} imports {name}: the game's Python has only the "
                "standard library (and nothing from the acgym package)"
            )

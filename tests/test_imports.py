"""The imports DESIGN.md draws: no private name (``_x``) of one area imported by another."""

from __future__ import annotations

import ast
from pathlib import Path

import acgym

SOURCE = Path(acgym.__file__).parent


def _area(module: str) -> str:
    """``acgym.<area>`` of a dotted module name (a top-level module is its own area)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_private_name_is_imported_across_areas() -> None:
    crossings = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            if not node.module.startswith("acgym.") or _area(node.module) == _area(module):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    crossings.append(f"{path.relative_to(SOURCE)}: {node.module}.{alias.name}")
    assert crossings == []


OBJECT_AREAS = {"track": "acgym.track", "world": "acgym.sim"}
"""Names that hold one area's object wherever the package uses them (a ``Track``, the
simulator's ``World``): ``track``, ``self.track``, ``bench_track``, ``world``, ..."""


def _holder_area(node: ast.expr) -> str | None:
    """The area of the object an attribute is read from, when its name tells."""
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    else:
        return None
    for holder, area in OBJECT_AREAS.items():
        if name == holder or name.endswith(f"_{holder}"):
            return area
    return None


def test_no_private_attribute_of_another_areas_object_is_read() -> None:
    reads = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            if not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            area = _holder_area(node.value)
            if area is not None and area != _area(module):
                reads.append(f"{path.relative_to(SOURCE)}:{node.lineno}: {ast.unparse(node)}")
    assert reads == []


def _imported_modules(path: Path) -> set[str]:
    """The acgym modules a file imports (top level and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "acgym" or m.startswith("acgym.")}


def test_the_learner_reaches_the_simulator_only_through_the_env() -> None:
    """DESIGN.md: rl uses env through the Gymnasium API and its documented extensions;
    it imports nothing of acgym.sim (nor an env backend)."""
    reaches = [
        f"{path.relative_to(SOURCE)}: {module}"
        for path in sorted((SOURCE / "rl").rglob("*.py"))
        for module in sorted(_imported_modules(path))
        if module.startswith(("acgym.sim", "acgym.env.backends"))
    ]
    assert reaches == []


def test_track_and_protocol_import_only_low_modules() -> None:
    low = {"acgym.errors", "acgym.units", "acgym.fileio", "acgym.timing", "acgym.kernel_cache"}
    for area in ("track", "protocol"):
        for path in sorted((SOURCE / area).rglob("*.py")):
            outside = {
                m
                for m in _imported_modules(path)
                if not m.startswith(f"acgym.{area}") and m not in low and m != "acgym"
            }
            assert outside == set(), f"{path.relative_to(SOURCE)} imports {sorted(outside)}"

"""Channel names are spelled in one place: the wire names in ``acgym.protocol.channels``,
the names the environment derives in ``acgym.env.derived``; the rest of the package
uses their constants (STYLE.md).

The scan reads every module of the package with :mod:`ast` and reports each string that
is a channel name, or that builds one (``f"SlipAngle_{t}"``, ``"SlipAngle_{t}".format``,
``"tyreContactHeading_" + tyre``). Exempt: the game plugin (a separate folder, Python
3.3, mirrors the table on purpose) and, in ``acgym.emulated_game``, the game's own API
names (dict keys and the ``acsys`` tables), which happen to equal some wire names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import acgym
from acgym.env import derived
from acgym.protocol import channels

SOURCE = Path(acgym.__file__).parent

WIRE_NAMES = frozenset(c.wire for c in channels.CHANNELS)
DERIVED_NAMES = frozenset((*derived.DERIVED_CHANNELS, *derived.CLIENT_INPUT_CHANNELS))

HOMES = {
    "protocol/channels.py": WIRE_NAMES,
    "env/derived.py": DERIVED_NAMES,
}
"""The one module allowed to spell each group of names."""

ALLOWED: dict[tuple[str, str, str], str] = {
    ("car_maps.py", "<module>", "steerAngle"): "a column of the original's steer_map.csv",
    ("commands/sim.py", "plot_lap", "speed"): "plot_track's color_by choice",
    ("commands/track.py", "register", "speed"): "the --color-by choice",
    ("commands/track.py", "_show", "speed"): "plot_track's color_by choice",
    ("config_loader.py", "<module>", "steps"): "a key of the original's config.yml",
    ("dist/transport.py", "<module>", "gap"): "a delivery status: a batch after a lost one",
    ("env/observations.py", "OutOfTrackFlag", "out_of_track"): "the term's name and label",
    ("env/rewards.py", "SpeedReward", "speed"): "the reward term's name",
    ("env/terminations.py", "OutOfTrack", "out_of_track"): "the termination's name",
    ("protocol/bench.py", "bench_lockstep", "steps"): "a key of the bench's result",
    ("rl/evaluation.py", "EvalEpisode.to_dict", "steps"): "a key of the eval summary",
    ("rl/evaluation.py", "format_report", "steps"): "a key of the eval summary",
    ("rl/run.py", "format_summary", "done"): "a word of the printed summary",
    ("track/loaders/fast_lane.py", "<module>", "speed"): "a field of the game's AI line",
    ("track/plot.py", "<module>", "speed"): "plot_track's color_by choice",
    ("track/plot.py", "plot_track", "speed"): "plot_track's color_by choice",
}
"""(module, enclosing function or class, literal) -> why that string is not the channel."""

_FIELD = re.compile(r"\{[^{}]*\}")


def _template(parts: list[str | None]) -> re.Pattern[str] | None:
    """A pattern for a string built of literal parts and unknown values (None), when some
    literal piece is specific enough (two letters or more) to name a channel."""
    pieces = []
    specific = False
    for part in parts:
        if part is None:
            pieces.append("[A-Za-z0-9]+")
            continue
        for k, text in enumerate(_FIELD.split(part)):
            if k:
                pieces.append("[A-Za-z0-9]+")
            pieces.append(re.escape(text))
            specific |= sum(ch.isalpha() for ch in text) >= 2
    return re.compile("".join(pieces)) if specific else None


def _sum_operands(node: ast.expr) -> list[ast.expr]:
    """The operands of ``a + b + ...`` (the nested sums included)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [node, *_sum_operands(node.left), *_sum_operands(node.right)]
    return [node]


def _sum_parts(node: ast.expr) -> list[str | None]:
    """The operands of ``a + b + ...``: literal strings, or None for anything else."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [*_sum_parts(node.left), *_sum_parts(node.right)]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return [None]


class _Finder(ast.NodeVisitor):
    """Channel names in one module, with the function or class around each."""

    def __init__(self, names: frozenset[str], game_api: bool) -> None:
        self.names = names
        self.game_api = game_api
        self.scope: list[str] = []
        self.found: list[tuple[int, str, str]] = []  # (line, scope, name)
        self._skip: set[int] = set()  # reported within a sum or f-string; game API keys

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def _report(self, node: ast.AST, parts: list[str | None]) -> None:
        if len(parts) == 1 and parts[0] in self.names:
            name = parts[0]
        else:
            pattern = _template(parts)
            matches = sorted(n for n in self.names if pattern and pattern.fullmatch(n))
            if not matches:
                return
            name = matches[0]
        self.found.append((node.lineno, ".".join(self.scope) or "<module>", name))

    def visit_Dict(self, node: ast.Dict) -> None:
        if self.game_api:  # the game's API names are the keys of its dispatch tables
            self._skip.update(id(k) for k in node.keys if k is not None)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Add) and id(node) not in self._skip:
            parts = _sum_parts(node)
            if any(p is not None for p in parts):
                self._report(node, parts)
                self._skip.update(id(n) for n in _sum_operands(node))
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = [v.value if isinstance(v, ast.Constant) else None for v in node.values]
        self._report(node, parts)
        self._skip.update(id(v) for v in node.values)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self._skip:
            self._report(node, [node.value])


def _spelled_names() -> tuple[list[str], set[tuple[str, str, str]]]:
    """Channel names spelled outside their home (``file:line (scope): name``), and the
    entries of ``ALLOWED`` that were used."""
    found, allowed = [], set()
    for path in sorted(SOURCE.rglob("*.py")):
        rel = path.relative_to(SOURCE).as_posix()
        if rel == "emulated_game/acsys.py":  # the game's API constants, no channel
            continue
        names = frozenset().union(*(n for home, n in HOMES.items() if home != rel))
        finder = _Finder(names, game_api=rel.startswith("emulated_game/"))
        finder.visit(ast.parse(path.read_text(encoding="utf-8")))
        for line, scope, name in finder.found:
            if (rel, scope, name) in ALLOWED:
                allowed.add((rel, scope, name))
            else:
                found.append(f"{rel}:{line} ({scope}): {name!r}")
    return found, allowed


def test_channel_names_are_spelled_only_in_their_home_module() -> None:
    spelled, allowed = _spelled_names()
    assert spelled == [], (
        "use the constants of acgym.protocol.channels (wire names) or acgym.env.derived "
        "(derived names), or add the literal to ALLOWED with the reason it is no channel:\n"
        + "\n".join(spelled)
    )
    assert set(ALLOWED) == allowed, f"stale ALLOWED entries: {sorted(set(ALLOWED) - allowed)}"


def test_every_wire_name_has_a_constant() -> None:
    constants: set[str] = set()
    for attr, value in vars(channels).items():
        if not attr.isupper():
            continue
        if isinstance(value, str):
            constants.add(value)
        elif isinstance(value, channels.PerTyre):
            constants.update(value)
    assert WIRE_NAMES <= constants, sorted(WIRE_NAMES - constants)


def test_per_tyre_names_follow_the_tyre_order() -> None:
    assert channels.SLIP_ANGLE == ("SlipAngle_fl", "SlipAngle_fr", "SlipAngle_rl", "SlipAngle_rr")
    assert channels.SLIP_ANGLE.rl == "SlipAngle_rl"
    assert channels.TIRE_PRESSURE.fr == "fr_tire_pressure"
    assert channels.TYRE_CONTACT_HEADING_Y.rr == "tyreContactHeading_RR_y"
    assert channels.per_tyre("x_{t}_{T}") == ("x_fl_FL", "x_fr_FR", "x_rl_RL", "x_rr_RR")


def test_the_scan_finds_literals_and_built_names() -> None:
    source = (
        "def f(state, t, tyre):\n"
        "    a = state['speed']\n"
        "    b = f'SlipAngle_{t}'\n"
        "    c = 'wheel_speed_{t}'.format(t=t)\n"
        "    d = 'tyreContactHeading_' + tyre + '_x'\n"
        "    e = {'RPM': 1}\n"
        "    g = f'{t}_{tyre}'\n"
    )
    finder = _Finder(WIRE_NAMES, game_api=False)
    finder.visit(ast.parse(source))
    assert [(line, name) for line, _, name in finder.found] == [
        (2, "speed"),
        (3, "SlipAngle_fl"),
        (4, "wheel_speed_fl"),
        (5, "tyreContactHeading_FL_x"),
        (6, "RPM"),
    ]
    game = _Finder(WIRE_NAMES, game_api=True)
    game.visit(ast.parse(source))
    assert [name for _, _, name in game.found] == [
        "speed",
        "SlipAngle_fl",
        "wheel_speed_fl",
        "tyreContactHeading_FL_x",
    ]

"""``acgym drive`` from the command line: device listing, the messages when no display or
no device is found, a whole (short) session that records, and the part's place in the
imports (only the command line imports acgym.human)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import acgym
from acgym.cli import main

SOURCE = Path(acgym.__file__).parent


def test_list_devices_says_none_is_plugged_in_and_that_the_keyboard_works(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drive", "--list-devices"]) == 0
    out = capsys.readouterr().out
    assert "no joystick, gamepad or wheel found" in out and "keyboard: arrows or WASD" in out


def test_without_a_display_drive_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    assert main(["drive", "--no-record"]) == 1
    assert "acgym drive needs a display" in capsys.readouterr().err


def test_a_device_that_is_not_there_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drive", "--device", "G29", "--no-record"]) == 1
    err = capsys.readouterr().err
    assert "no joystick, gamepad or wheel matches --device 'G29' (found: none)" in err


def test_a_short_session_from_the_command_line_records_its_episode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "drive",
            "--track",
            "oval",
            "--out",
            str(tmp_path),
            "--time-limit",
            "1",
            "--mapping",
            str(tmp_path / "devices.yaml"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "driving with the keyboard" in out and "steps in 1 episodes" in out
    (run,) = (tmp_path / "oval" / "dallara_f317").iterdir()
    assert run.name.endswith("_human")
    assert len(list((run / "laps").glob("*_states.parquet"))) == 1


def test_only_the_command_line_imports_the_human_part() -> None:
    importers = set()
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith(("human/", "commands/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(n == "acgym.human" or n.startswith("acgym.human.") for n in names):
                importers.add(relative)
    assert importers == set()

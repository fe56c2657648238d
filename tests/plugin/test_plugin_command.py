"""``acgym plugin install|path|emulate|joystick``: the files land where the game loads
them, identical to the source; wrong folders and existing installs are refused clearly;
the wheel carries the same files."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from plugin_helpers import PLUGIN_DIR, REPO

from acgym.cli import main
from acgym.commands.plugin import emulated_plugin, set_config_values
from acgym.emulated_game import PLUGIN_FILES, default_plugin_dir
from acgym.protocol.client import Client


def _installed(game_root: Path) -> Path:
    return game_root / "apps" / "python" / "acgym"


def test_plugin_files_list_every_file_of_the_plugin_folder() -> None:
    shipped = {p.name for p in PLUGIN_DIR.iterdir() if p.suffix in (".py", ".ini")}
    assert shipped == set(PLUGIN_FILES)
    assert default_plugin_dir() in (
        PLUGIN_DIR,
        Path(__import__("acgym").__file__).parent / "_plugin",
    )


def test_install_copies_identical_files(game_root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plugin", "install", "--ac-path", str(game_root)]) == 0
    target = _installed(game_root)
    for name in PLUGIN_FILES:
        assert (target / name).read_bytes() == (PLUGIN_DIR / name).read_bytes(), name
    out = capsys.readouterr().out
    assert str(target) in out and "UI Modules" in out and "acgym doctor" in out


def test_install_writes_settings_into_config(game_root: Path) -> None:
    code = main(
        [
            "plugin",
            "install",
            "--ac-path",
            str(game_root),
            "--token",
            "tok-1",
            "--host",
            "0.0.0.0",
            "--control-backend",
            "none",
            "--ego-port",
            "3345",
        ]
    )
    assert code == 0
    text = (_installed(game_root) / "config.ini").read_text()
    assert "\ntoken = tok-1\n" in text and "\nhost = 0.0.0.0\n" in text
    assert "\ncontrol_backend = none\n" in text and "\nego_port = 3345\n" in text
    assert "; How controls reach the car" in text  # comments are kept


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda root: root / "nowhere", "no such folder"),
        (lambda root: root / "content", "no apps/python folder"),
    ],
)
def test_install_refuses_what_is_not_the_game(
    game_root: Path, capsys: pytest.CaptureFixture, make: object, says: str
) -> None:
    path = make(game_root)  # type: ignore[operator]
    assert main(["plugin", "install", "--ac-path", str(path)]) == 1
    assert says in capsys.readouterr().err


def test_existing_install_needs_force_and_keeps_config(
    game_root: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["plugin", "install", "--ac-path", str(game_root), "--token", "mine"]) == 0
    target = _installed(game_root)
    (target / "acgym.py").write_text("# an old version\n")
    assert main(["plugin", "install", "--ac-path", str(game_root)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["plugin", "install", "--ac-path", str(game_root), "--force"]) == 0
    assert (target / "acgym.py").read_bytes() == (PLUGIN_DIR / "acgym.py").read_bytes()
    assert "\ntoken = mine\n" in (target / "config.ini").read_text()
    assert "kept your" in capsys.readouterr().out
    assert (
        main(["plugin", "install", "--ac-path", str(game_root), "--force", "--overwrite-config"])
        == 0
    )
    assert (target / "config.ini").read_bytes() == (PLUGIN_DIR / "config.ini").read_bytes()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "0.0.0.0"], "--token"),
        (["--host", "0.0.0.0", "--token", "t", "--legacy"], "loopback only"),
        (["--ego-port", "99999"], "expected a port"),
    ],
)
def test_install_refuses_settings_the_app_would_refuse(
    game_root: Path, capsys: pytest.CaptureFixture, args: list[str], says: str
) -> None:
    assert main(["plugin", "install", "--ac-path", str(game_root), *args]) == 1
    assert says in capsys.readouterr().err
    assert not _installed(game_root).exists()


def test_set_config_values_replaces_and_appends() -> None:
    text = "[acgym]\n; token = comment\ntoken =\nhost = 127.0.0.1\n"
    out = set_config_values(text, {"token": "x", "legacy": "true"})
    assert out == "[acgym]\n; token = comment\ntoken = x\nhost = 127.0.0.1\nlegacy = true\n"


def test_path_prints_the_plugin_folder(capsys: pytest.CaptureFixture) -> None:
    assert main(["plugin", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(default_plugin_dir())


def test_emulate_runs_for_its_duration_and_says_where(capsys: pytest.CaptureFixture) -> None:
    code = main(["plugin", "emulate", "--ego-port", "0", "--mgmt-port", "0", "--duration-s", "0.2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "bmw_z4_gt3 on oval, protocol v1" in out
    assert re.search(r"try: acgym doctor --ego-port \d+ --mgmt-port \d+", out)


def test_emulated_plugin_serves_a_client() -> None:
    with emulated_plugin({"ego_port": "0", "mgmt_port": "0", "token": "tk"}) as runner:
        app = runner.app
        client = Client(
            ego_port=app.ego.address[1], mgmt_port=app.mgmt.address[1], token="tk", timeout_s=3.0
        )
        with client:
            assert client.static_info()["TrackName"] == "oval"
            assert client.receive_state()["steps"] >= 1


def test_emulate_refuses_a_port_in_use(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["plugin", "emulate", "--ego-port", "0", "--mgmt-port", str(port)])
    assert code == 1
    assert f"cannot bind TCP 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uinput is Linux-only")
def test_joystick_without_uinput_says_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "uinput"
    assert main(["plugin", "joystick", "--uinput-path", str(missing), "--duration-s", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "cannot create the joystick" in err and str(missing) in err


@pytest.mark.slow
def test_the_wheel_carries_the_plugin_files(tmp_path: Path) -> None:
    """Build a wheel from a copy of the source tree; acgym/_plugin is the plugin folder."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "logs", "*.nbi", "*.nbc")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    shutil.copytree(REPO / "plugin", source / "plugin", ignore=ignore)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("acgym-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in PLUGIN_FILES:
            assert archive.read(f"acgym/_plugin/{name}") == (PLUGIN_DIR / name).read_bytes()

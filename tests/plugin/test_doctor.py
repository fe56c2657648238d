"""``acgym doctor`` against the plugin in the emulated game (green) and against nothing or
the wrong settings (clear failures, exit code 1)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from plugin_helpers import ports, running_plugin, write_config

from acgym.cli import main
from acgym.doctor import Target, format_report, run_doctor
from acgym.emulated_game import EmulatedGame, PluginRunner


def _target(runner: PluginRunner, **kwargs: object) -> Target:
    ego_port, mgmt_port = ports(runner)
    return Target(ego_port=ego_port, mgmt_port=mgmt_port, **kwargs)  # type: ignore[arg-type]


def _statuses(checks: list) -> dict[str, str]:
    return {check.name.split()[0]: check.status for check in checks}


def _free_ports() -> tuple[int, int]:
    """Two ports nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1], tcp.getsockname()[1]


def test_all_green_against_the_plugin(runner: PluginRunner, capsys: pytest.CaptureFixture) -> None:
    ego_port, mgmt_port = ports(runner)
    code = main(["doctor", "--ego-port", str(ego_port), "--mgmt-port", str(mgmt_port)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "everything works" in out
    for name in ("TCP", "UDP", "handshake", "static info", "config", "states", "controls"):
        assert f"OK   {name}" in out
    assert "moved steerAngle" in out
    # the car is left centred with the pedals released
    assert runner.game.controls[1] == -1.0 and runner.game.controls[2] == -1.0


def test_nothing_listening_fails_clearly(capsys: pytest.CaptureFixture) -> None:
    ego_port, mgmt_port = _free_ports()
    code = main(["doctor", "--ego-port", str(ego_port), "--mgmt-port", str(mgmt_port)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"FAIL TCP {mgmt_port}: connection refused" in out
    assert f"FAIL UDP {ego_port}" in out
    assert "UI Modules" in out
    assert "SKIP controls" in out


def test_a_wrong_token_is_named(app_dir: Path) -> None:
    write_config(app_dir, token="right-token")
    with running_plugin(EmulatedGame(), app_dir) as runner:
        checks = run_doctor(_target(runner, token="wrong-token"))
        assert _statuses(checks)["UDP"] == "fail"
        assert "--token" in checks[1].detail
        good = run_doctor(_target(runner, token="right-token"))
        assert not any(check.failed for check in good), format_report(good)


def test_legacy_plugin_passes_with_legacy_and_is_recognised_without(app_dir: Path) -> None:
    write_config(app_dir, legacy=True)
    with running_plugin(EmulatedGame(), app_dir) as runner:
        checks = run_doctor(_target(runner, legacy=True))
        assert not any(check.failed for check in checks), format_report(checks)
        wrong = run_doctor(_target(runner))
        assert wrong[0].failed and "--legacy" in wrong[0].detail
        assert wrong[1].status == "skip"  # no v1 datagram reaches an original ego server
        assert runner.app.counters.get("datagrams_rejected") == 0


def test_a_v1_plugin_is_recognised_with_legacy(runner: PluginRunner) -> None:
    checks = run_doctor(_target(runner, legacy=True))
    assert checks[0].failed and "without --legacy" in checks[0].detail


def test_controls_that_do_not_reach_the_car_are_explained(app_dir: Path) -> None:
    write_config(app_dir, control_backend="uinput", uinput_path="/nonexistent/uinput")
    with running_plugin(EmulatedGame(), app_dir) as runner:
        checks = run_doctor(_target(runner))
        statuses = _statuses(checks)
        assert statuses["config"] == "warn" and "/nonexistent/uinput" in checks[4].detail
        assert statuses["controls"] == "fail"
        assert "did not move steerAngle" in checks[-1].detail
        assert "/nonexistent/uinput" in checks[-1].detail


def test_missing_shared_memory_is_a_warning(app_dir: Path) -> None:
    with running_plugin(EmulatedGame(shared_memory=False), app_dir) as runner:
        checks = run_doctor(_target(runner))
        assert _statuses(checks)["states"] == "warn"
        assert "numberOfTyresOut" in checks[5].detail
        assert not any(check.failed for check in checks), format_report(checks)

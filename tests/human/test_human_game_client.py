"""The game path: ``record_controls_from_client=true`` logs the client's own device beside
every state (as the original's client did), and ``acgym drive --backend`` records a
person's laps over the protocol; here against the simulator's server on 127.0.0.1 in
lock-step (ephemeral ports, a server thread of this process), a scripted device in the
person's hands."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import acgym  # noqa: F401  (registers the ids)
from acgym.env.derived import ACC_STATUS_MANUAL, BRAKE_STATUS_MANUAL, STEER_ANGLE_MANUAL
from acgym.env.history import load_history
from acgym.errors import ConfigError
from acgym.human.client_inputs import DeviceClientInputs, LastReading
from acgym.human.devices import DeviceInput, ScriptedDevice
from acgym.human.drive import drive_config, prepare
from acgym.human.session import DriveSession, ExtraChannelsTap
from acgym.sim_server import build_servers

TIMEOUT_S = 30.0  # bounded; generous for a first compilation on a loaded machine


@pytest.fixture(scope="module")
def ports():
    (server,) = build_servers("oval", ego_port=0, mgmt_port=0, lockstep=True)
    with server:
        yield server.ego_address[1], server.mgmt_address[1]


def test_the_game_env_refuses_to_record_controls_without_the_clients_device(ports) -> None:  # type: ignore[no-untyped-def]
    ego, mgmt = ports
    with pytest.raises(ConfigError, match=r"pass client_inputs=.*acgym drive --backend ac"):
        gym.make(
            "acgym/AssettoCorsa-v0",
            track="oval",
            ego_port=ego,
            mgmt_port=mgmt,
            mode="lockstep",
            overrides=["record_controls_from_client=true"],
        )
    with pytest.raises(ConfigError, match="the game client's"):
        gym.make("acgym/Race-v0", track="oval", overrides=["record_controls_from_client=true"])


def test_a_person_drives_the_game_and_their_device_is_logged_beside_the_states(
    ports,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ego, mgmt = ports
    config = drive_config(
        None,
        [
            "backend=remote",
            "remote.mode=lockstep",
            f"remote.timeout_s={TIMEOUT_S}",
            f"env.ego_server_port={ego}",
            f"env.simulation_management_server_port={mgmt}",
            "env.track=oval",
            "env.remote_machine_ip=127.0.0.1",
        ],
        game=True,
    )
    wanted = DeviceInput(steer=0.1, throttle=0.8, brake=0.0)
    client = DeviceClientInputs(ScriptedDevice(lambda k: wanted))
    setup = prepare(config, out=tmp_path / "data", ghost=None, client_inputs=client)
    assert setup.reference is None  # no expert in the game
    track = setup.env.unwrapped.track
    drive = DriveSession(
        setup.env, LastReading(client), ExtraChannelsTap(track.length_m), realtime=True
    )
    stats = drive.run(max_steps=40)
    assert stats.steps == 40 and drive.status is not None and drive.status.speed_mps > 3.0
    (episode,) = (setup.run_dir / "laps").glob("*_states.parquet")
    states = load_history(episode).states
    np.testing.assert_allclose(states[STEER_ANGLE_MANUAL], 0.1)
    np.testing.assert_allclose(states[ACC_STATUS_MANUAL], 0.8)
    np.testing.assert_allclose(states[BRAKE_STATUS_MANUAL], 0.0)
    # the game (here the served simulator) applied what the person asked for
    assert states["accStatus"].iloc[-1] == pytest.approx(0.8)


def test_acgym_drive_records_a_person_in_the_game_from_the_command_line(
    ports,
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    from acgym.cli import main

    ego, mgmt = ports
    code = main(
        [
            "drive",
            "--backend",
            "remote",
            "--track",
            "oval",
            "--out",
            str(tmp_path),
            "--time-limit",
            "1",
            "--mapping",
            str(tmp_path / "devices.yaml"),
            "remote.mode=lockstep",
            f"remote.timeout_s={TIMEOUT_S}",
            "env.remote_machine_ip=127.0.0.1",
            f"env.ego_server_port={ego}",
            f"env.simulation_management_server_port={mgmt}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "oval" / "dallara_f317").iterdir()
    (episode,) = (run / "laps").glob("*_states.parquet")
    states = load_history(episode).states
    assert len(states) > 2
    np.testing.assert_array_equal(states[ACC_STATUS_MANUAL], 0.0)  # the keyboard, untouched

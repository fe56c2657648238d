"""The channel table: one row per channel, the original's 90 keys, units in names."""

from __future__ import annotations

import re

from acgym.protocol import channels


def test_wire_and_internal_names_are_unique() -> None:
    wires = [c.wire for c in channels.CHANNELS]
    names = [c.name for c in channels.CHANNELS]
    assert len(set(wires)) == len(wires)
    assert len(set(names)) == len(names)


def test_legacy_state_has_the_originals_90_keys_in_order() -> None:
    legacy = channels.LEGACY_STATE_CHANNELS
    assert len(legacy) == 90
    assert legacy[:5] == (
        "steps",
        "timestamp_ac",
        "total_errors_out_of_sync",
        "packetId",
        "currentTime",
    )
    assert legacy[-1] == "rr_tire_pressure"
    assert "done" not in legacy  # the original client added it


def test_four_element_lists_are_the_originals() -> None:
    assert set(channels.LIST_CHANNELS) == {
        "tyres_load",
        "NdSlip",
        "Mz",
        "SuspensionTravel",
        "CamberRad",
        "tyre_loaded_radius",
        "dynamic_pressure",
    }
    for wire in channels.LIST_CHANNELS:
        assert channels.default_value(wire) == [0.0, 0.0, 0.0, 0.0]


def test_required_channels_cover_design_md() -> None:
    design = (
        "steps packetId currentTime world_position_x world_position_y world_position_z yaw pitch roll "
        "speed local_velocity_x local_velocity_y local_velocity_z velocity_x velocity_y velocity_z "
        "angular_velocity_x angular_velocity_y angular_velocity_z accelX accelY accStatus brakeStatus "
        "steerAngle actualGear RPM LastFF SlipAngle_fl SlipAngle_fr SlipAngle_rl SlipAngle_rr "
        "tyre_slip_ratio_fl wheel_speed_rr Dy_fl NormalizedSplinePosition LapCount completedLaps "
        "BestLap iLastTime LapInvalidated numberOfTyresOut done"
    ).split()
    assert set(design) <= set(channels.REQUIRED_CHANNELS)


def test_internal_names_are_snake_case_with_their_unit() -> None:
    suffix = {
        "m": "_m",
        "m/s": "_mps",
        "rad": "_rad",
        "rad/s": "_radps",
        "deg": "_deg",
        "ms": "_ms",
        "s": "_s",
        "N": "_n",
    }
    for channel in channels.CHANNELS:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", channel.name), channel.name
        if channel.unit in suffix:
            assert channel.name.endswith(suffix[channel.unit]), channel


def test_renaming_round_trips_and_keeps_unknown_channels() -> None:
    state = {"speed": 3.0, "currentTime": 1200, "my_extra": 1}
    internal = channels.to_internal(state)
    assert internal == {"speed_mps": 3.0, "lap_time_ms": 1200, "my_extra": 1}
    assert channels.to_wire(internal) == state


def test_markdown_table_lists_every_channel() -> None:
    table = channels.markdown_table()
    assert table.count("\n") == len(channels.CHANNELS) + 1

"""MoTeC logs: the reader (header, channel list, sample types, scaling, rates, .ldx
markers) on files the tests write, and the import into the dataset layout: resampled to
the control rate, positions mapped to the track, a lap that trains; clear errors for a
missing channel, another track, no markers and broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from human_helpers import TINY_TRAIN, make_env
from motec_writer import Channel, write_ld, write_ldx

from acgym.cli import main
from acgym.env.history import load_history
from acgym.errors import DataFileError
from acgym.human.motec import read_ld
from acgym.human.motec_import import import_motec
from acgym.rl.expert import drive_expert
from acgym.rl.laps import laps_from_states

RATE_HZ = 25


@pytest.fixture(scope="module")
def two_laps() -> object:
    """The expert's two laps of the oval from a standing start (25 Hz states)."""
    env = make_env()
    try:
        return drive_expert(env, laps=2).states
    finally:
        env.close()


def upsample(values: np.ndarray, factor: int) -> np.ndarray:
    """``factor`` times the rate, linear between the samples (ends at the last sample)."""
    t = np.arange(len(values))
    return np.interp(np.arange((len(values) - 1) * factor + 1) / factor, t, values)


def acti_channels(states, skip: tuple[str, ...] = ()) -> list[Channel]:  # type: ignore[no-untyped-def]
    """The states as the game's MoTeC logger writes them: its names and units, positions
    and speed at 50 Hz, the rest at 25 Hz, some as scaled integers."""
    s = {
        c: states[c].to_numpy(dtype=float) for c in states.columns if states[c].dtype.kind in "fiub"
    }
    channels = [
        Channel("Ground Speed", "km/h", 50, upsample(s["speed"] * 3.6, 2)),
        Channel("Throttle Pos", "%", 25, s["accStatus"] * 100, "<i2", scale=1, decimals=1),
        Channel("Brake Pos", "%", 25, s["brakeStatus"] * 100),
        Channel("Steering Angle", "deg", 50, upsample(s["steerAngle"], 2)),
        Channel("Gear", "", 25, s["actualGear"] - 1, "<i2"),
        Channel("Engine RPM", "rpm", 25, s["RPM"], "<i4"),
        Channel("CG Accel Lateral", "G", 25, s["accelX"]),
        Channel("CG Accel Longitudinal", "G", 25, s["accelY"]),
        Channel("Chassis Yaw Rate", "deg/s", 25, np.degrees(s["angular_velocity_y"])),
        Channel("Car Coord X", "m", 50, upsample(-s["world_position_y"], 2)),
        Channel("Car Coord Y", "m", 50, upsample(s["world_position_x"], 2)),
        Channel("Car Coord Z", "m", 50, upsample(s["world_position_z"], 2)),
        Channel("Num Tires Off Track", "", 25, s["numberOfTyresOut"], "<i2"),
        Channel("Lap Invalidated", "", 25, s["LapInvalidated"], "<i2"),
        *(
            Channel(f"Tire Slip Angle {t.upper()}", "deg", 25, s[f"SlipAngle_{t}"])
            for t in ("fl", "fr", "rl", "rr")
        ),
    ]
    return [c for c in channels if c.name not in skip]


def crossings_s(states) -> list[float]:  # type: ignore[no-untyped-def]
    """The start (the car starts on the line) and the lap crossings, s from the start."""
    rows = np.flatnonzero(np.diff(states["completedLaps"].to_numpy()) > 0) + 1
    return [0.0, *(rows / RATE_HZ).tolist()]


def test_the_reader_gives_back_channels_scaling_rates_header_and_markers(tmp_path: Path) -> None:
    path = write_ld(
        tmp_path / "log.ld",
        [
            Channel("Raw", "bar", 10, np.array([100, 200, -50]), "<i2", 3, 4, 2, 1, raw=True),
            Channel("Half", "C", 20, np.array([1.5, -2.25]), "<f2"),
            Channel("Wide", "m", 100, np.array([123456, -7]), "<i4", raw=True),
        ],
        driver="Ayrton",
        venue="monza",
    )
    write_ldx(tmp_path / "log.ldx", [12.5, 55.25])
    log = read_ld(path)
    raw = log.channel("Raw")
    # (raw / scale * 10^-decimals + shift) * multiplier
    np.testing.assert_allclose(raw.values, [(v / 2 * 0.1 + 3) * 4 for v in (100, 200, -50)])
    assert (raw.unit, raw.rate_hz) == ("bar", 10.0)
    np.testing.assert_array_equal(log.channel("Half").values, [1.5, -2.25])
    np.testing.assert_array_equal(log.channel("Wide").values, [123456, -7])
    assert log.channel("Wide").times_s().tolist() == [0.0, 0.01]
    assert (log.header.driver, log.header.venue, log.header.event) == ("Ayrton", "monza", "AC_LIVE")
    assert log.header.recorded is not None and log.header.recorded.hour == 14
    assert log.lap_markers_s == (12.5, 55.25)
    with pytest.raises(DataFileError, match=r"no channel 'Speed' \(nor 'SPEED'\).*Half, Raw, Wide"):
        log.channel("Speed", "SPEED")


def test_broken_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    good = write_ld(tmp_path / "good.ld", [Channel("A", "m", 10, np.zeros(100))])
    with pytest.raises(DataFileError, match=r"not a MoTeC \.ld file"):
        read_ld(write_ld(tmp_path / "bad.ld", [Channel("A", "m", 10, np.zeros(3))], marker=7))
    truncated = tmp_path / "cut.ld"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(DataFileError, match=r"channel 'A': 100 samples .* truncated"):
        read_ld(truncated)
    (tmp_path / "x.ld").write_bytes(b"\x40\0\0")
    with pytest.raises(DataFileError, match="too short"):
        read_ld(tmp_path / "x.ld")


def test_a_motec_log_becomes_a_dataset_at_the_control_rate_on_the_track_that_trains(
    two_laps,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    log = write_ld(tmp_path / "stint.ld", acti_channels(two_laps))
    markers = crossings_s(two_laps)
    write_ldx(tmp_path / "stint.ldx", markers)
    out = tmp_path / "data"
    assert (
        main(
            [
                "dataset",
                "import-motec",
                str(log),
                "--track",
                "oval",
                "--car",
                "dallara_f317",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (run_dir,) = (out / "oval" / "dallara_f317").iterdir()
    static = json.loads((run_dir / "laps" / "static_info.json").read_text())
    assert static["source"] == "motec" and static["driver"] == "Test Driver"
    assert static["motec_axes"] == "world_position_x = Car Coord Y, world_position_y = -Car Coord X"
    files = sorted((run_dir / "laps").glob("*.parquet"))
    assert len(files) == 2  # the two laps between the three markers
    first = load_history(files[0]).states
    lap_rows = round(markers[1] * RATE_HZ)
    assert len(first) == lap_rows + 1  # start to crossing, at 25 Hz
    np.testing.assert_allclose(
        first["world_position_x"], two_laps["world_position_x"][: lap_rows + 1], atol=1e-3
    )
    np.testing.assert_allclose(
        first["world_position_y"], two_laps["world_position_y"][: lap_rows + 1], atol=1e-3
    )
    np.testing.assert_allclose(first["speed"], two_laps["speed"][: lap_rows + 1], atol=1e-4)
    np.testing.assert_array_equal(first["actualGear"], two_laps["actualGear"][: lap_rows + 1])
    np.testing.assert_allclose(first["accStatus"], two_laps["accStatus"][: lap_rows + 1], atol=1e-3)
    laps = [laps_from_states(load_history(f).states).laps for f in files]
    assert [lap.time_s for (lap,) in laps] == pytest.approx(np.diff(markers).tolist(), abs=1e-9)
    assert all(lap.clean for (lap,) in laps)
    # the environment logged its own derived channels: the car is on the line
    assert np.abs(first["gap"]).max() < 3.0 and first["LapDist"].iloc[-2] > 2400
    dataset = [f"train.dataset_path={out}", "train.load_offline_data=true"]
    code = main(["train", *TINY_TRAIN, *dataset, f"train.run_dir={tmp_path / 'run'}"])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["offline_transitions"] == sum(len(load_history(f).states) - 1 for f in files)


def test_a_missing_channel_is_named(two_laps, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    log = write_ld(tmp_path / "stint.ld", acti_channels(two_laps, skip=("Throttle Pos",)))
    write_ldx(tmp_path / "stint.ldx", crossings_s(two_laps))
    code = main(["dataset", "import-motec", str(log), "--track", "oval", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert "no channel 'Throttle Pos' (nor 'THROTTLE', 'Throttle')" in err and "Ground Speed" in err


def test_another_track_and_missing_markers_are_refused(two_laps, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = write_ld(tmp_path / "stint.ld", acti_channels(two_laps))
    with pytest.raises(DataFileError, match=r"no lap markers: put the \.ldx file .*stint\.ldx"):
        import_motec([log], out=tmp_path, track="oval", car="dallara_f317")
    write_ldx(tmp_path / "stint.ldx", crossings_s(two_laps))
    with pytest.raises(DataFileError, match="do not lie on track 'technical_circuit'"):
        import_motec([log], out=tmp_path, track="technical_circuit", car="dallara_f317")


def test_partial_laps_are_kept_on_request_and_a_log_without_a_whole_lap_is_refused(
    two_laps,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    log = write_ld(tmp_path / "stint.ld", acti_channels(two_laps))
    middle = crossings_s(two_laps)[1]
    write_ldx(tmp_path / "stint.ldx", [middle])  # one crossing: no whole lap, two parts
    with pytest.raises(DataFileError, match="no complete lap between its lap markers"):
        import_motec([log], out=tmp_path / "a", track="oval", car="dallara_f317")
    _, (result,) = import_motec(
        [log], out=tmp_path / "b", track="oval", car="dallara_f317", keep_partial=True
    )
    assert result.laps == [] and result.episodes == 2
    first, second = sorted((result.run_dir / "laps").glob("*.parquet"))
    assert len(load_history(first).states) == round(middle * RATE_HZ) + 1
    assert len(load_history(second).states) == len(two_laps) - round(middle * RATE_HZ)

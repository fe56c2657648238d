"""Episode log: Parquet states, static info, running statistics; history read back safely."""

from __future__ import annotations

import os
import pickle
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from acgym.env.episode_log import EpisodeLog, EpisodeRecorder, episode_stats, states_table
from acgym.env.history import find_histories, load_episodes_stats, load_history, restricted_loads
from acgym.errors import DataFileError


def rows_of_an_episode():
    """Six steps: steps 1,2,4,5,6,9 (a 2-step and a 3-step jump), laps 0, 1, 2."""
    steps = [1, 2, 4, 5, 6, 9]
    laps = [0, 0, 1, 1, 2, 2]
    last_ms = [0, 0, 61_000, 61_000, 59_500, 59_500]
    return [
        {
            "steps": s,
            "speed": float(10 + i),
            "reward": 0.5,
            "LapCount": lap,
            "iLastTime": last,
            "BestLap": 59_500 if i >= 4 else 61_000 if i >= 2 else 0,
            "terminated": i == 5,
            "sensors": np.full(3, float(i)),
            "tyres_load": [1.0, 2.0, 3.0, 4.0],
        }
        for i, (s, lap, last) in enumerate(zip(steps, laps, last_ms, strict=True))
    ]


def test_statistics_follow_the_original_columns_and_formulas():
    stats = episode_stats(states_table(rows_of_an_episode()), ep_count=3, total_steps=100)
    assert list(stats) == [
        "ep_count",
        "ep_steps",
        "total_steps",
        "packages_lost",
        "ep_reward",
        "speed_mean",
        "speed_max",
        "BestLap",
        "terminated",
        "LapNo_0",
        "LapNo_1",
        "LapNo_2",
        "ep_bestLapTime",
    ]
    assert stats["ep_steps"] == 6
    assert stats["packages_lost"] == 2 + 3  # the original sums the jumps above one
    assert stats["ep_reward"] == 3.0
    assert stats["speed_mean"] == 12.5 and stats["speed_max"] == 15.0
    assert stats["BestLap"] == 59.5
    assert (stats["LapNo_0"], stats["LapNo_1"], stats["LapNo_2"]) == (0.0, 61.0, 59.5)
    assert stats["ep_bestLapTime"] == 59.5
    assert stats["terminated"] is True


def test_each_episode_is_written_as_parquet_with_static_info_and_a_stats_row(tmp_path):
    clock = iter([datetime(2026, 1, 2, 3, 4, 5, 678_000)] * 2)
    log = EpisodeLog(tmp_path, clock=lambda: next(clock))
    static = {"TrackName": "circle", "TrackLength": 628.3}
    for ep in (1, 2):
        log.end_episode(
            states_table(rows_of_an_episode()), ep_count=ep, total_steps=6 * ep, static_info=static
        )
    files = find_histories(tmp_path / "laps")
    assert [f.name for f in files] == [
        "20260102_030405.678_states.parquet",
        "20260102_030405.679_states.parquet",
    ]
    history = load_history(tmp_path / "laps" / "20260102_030405.678_states.parquet")
    assert history.static_info == static
    assert list(history.states["LapCount"]) == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(history.states["sensors"].iloc[3], [3.0, 3.0, 3.0])
    stats = load_episodes_stats(tmp_path)
    assert list(stats["ep_count"]) == [1, 2]
    assert list(stats["total_steps"]) == [6, 12]
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_an_existing_stats_file_is_appended_to(tmp_path):
    for _ in range(2):
        table = states_table(rows_of_an_episode())
        EpisodeLog(tmp_path).end_episode(table, ep_count=1, total_steps=6, static_info={})
    assert len(load_episodes_stats(tmp_path)) == 2


def test_no_rows_write_nothing(tmp_path):
    empty = EpisodeRecorder().table()
    assert EpisodeLog(tmp_path).end_episode(empty, ep_count=1, total_steps=0, static_info={}) == {}
    assert not (tmp_path / "episodes_stats.csv").exists()


def test_a_channel_mixing_types_is_named(tmp_path):
    rows = rows_of_an_episode()
    rows[2]["speed"] = "fast"
    with pytest.raises(DataFileError, match="channel 'speed' mixes value types"):
        states_table(rows)


def test_recorder_keeps_each_channel_type_and_grows_past_its_capacity():
    recorder = EpisodeRecorder(capacity=2)
    for t in range(5):
        state = {
            "steps": t + 1,
            "speed": 1.5 * t,
            "tyres_load": [1.0, 2.0, 3.0, float(t)],
            "currentTime": 40 * t,
        }
        extras = {"currentTime": 0.04 * t, "sensors": np.full(3, float(t)), "terminated": t == 4}
        recorder.append(state, extras)
    columns = recorder.columns()
    assert list(columns) == ["steps", "speed", "tyres_load", "currentTime", "sensors", "terminated"]
    assert columns["steps"].dtype == np.int64 and list(columns["steps"]) == [1, 2, 3, 4, 5]
    assert columns["terminated"].dtype == bool and columns["terminated"][-1]
    np.testing.assert_allclose(columns["currentTime"], [0.0, 0.04, 0.08, 0.12, 0.16])
    assert columns["sensors"].shape == (5, 3) and columns["sensors"][4, 0] == 4.0
    np.testing.assert_array_equal(columns["tyres_load"][3], [1.0, 2.0, 3.0, 3.0])
    table = recorder.table()
    assert str(table.schema.field("sensors").type) == "list<item: double>"
    assert table.column("tyres_load").to_pylist()[4] == [1.0, 2.0, 3.0, 4.0]


def test_recorder_widens_for_channels_that_appear_vanish_or_change_type():
    recorder = EpisodeRecorder()
    recorder.append({"speed": 1.0, "gear": 2}, {"reward": 0.1})
    recorder.append({"speed": 2.0, "gear": 3, "LapCount": 1}, {"reward": 0.2})
    recorder.append({"speed": 3.0, "LapCount": 1}, {"reward": 0.3})
    recorder.append({"speed": 4.0, "gear": "N", "LapCount": 2}, {"reward": 0.4})
    frame = recorder.dataframe()
    assert list(frame["speed"]) == [1.0, 2.0, 3.0, 4.0]
    assert np.isnan(frame["LapCount"].iloc[0]) and list(frame["LapCount"].iloc[1:]) == [1, 1, 2]
    assert list(frame["gear"].iloc[[0, 1, 3]]) == [2, 3, "N"]
    assert list(frame["reward"]) == [0.1, 0.2, 0.3, 0.4]


def test_parquet_without_static_info_is_refused(tmp_path):
    pd.DataFrame({"speed": [1.0]}).to_parquet(tmp_path / "x_states.parquet")
    with pytest.raises(DataFileError, match=r"static_info\.json"):
        load_history(tmp_path / "x_states.parquet")


def test_original_pickle_laps_load_through_the_restricted_unpickler(tmp_path):
    states = [
        {
            "speed": np.float64(12.5),
            "LapCount": np.int64(1),
            "sensors": np.arange(3.0),
            "out_of_track": False,
        },
        {
            "speed": np.float64(13.0),
            "LapCount": np.int64(1),
            "sensors": np.arange(3.0),
            "out_of_track": True,
        },
    ]
    path = tmp_path / "lap.pkl"
    path.write_bytes(pickle.dumps({"states": states, "static_info": ""}))
    history = load_history(path)
    assert history.static_info == {}
    assert list(history.states["speed"]) == [12.5, 13.0]
    np.testing.assert_array_equal(history.states["sensors"].iloc[1], [0.0, 1.0, 2.0])


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pandas_dataframe_pickle_is_allowed(tmp_path, protocol):
    frame = pd.DataFrame({"speed": [1.0, 2.0], "lap": [0, 1], "track": ["monza", "monza"]})
    path = tmp_path / "lap.pkl"
    path.write_bytes(
        pickle.dumps({"states": frame, "static_info": {"TrackName": "monza"}}, protocol=protocol)
    )
    history = load_history(path)
    pd.testing.assert_frame_equal(history.states, frame)
    assert history.static_info == {"TrackName": "monza"}


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_a_command_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"states": [_Exploit(marker)], "static_info": {}}))
    with pytest.raises(DataFileError, match=r"disallowed type (posix|os|nt)\.system.*not loaded"):
        load_history(path)
    assert not marker.exists()


def test_a_pickle_of_an_arbitrary_class_is_refused():
    with pytest.raises(DataFileError, match="disallowed type"):
        restricted_loads(pickle.dumps(datetime(2026, 1, 1)))


def test_a_corrupt_pickle_is_a_data_file_error():
    with pytest.raises(DataFileError, match="corrupt"):
        restricted_loads(b"\x80\x04not a pickle")

"""``acgym sim drive --all``: the expert on every track with every car, as one table."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

from acgym.cli import main
from acgym.rl.expert_table import ExpertRow, format_table
from acgym.track.builtin import builtin_path


def test_a_representative_table_laps_cleanly_within_5_percent(tmp_path: Path) -> None:
    # an authored oval, the paper's real circuit and a track given as a file, every car
    track_file = builtin_path("technical_circuit")
    cars = ("dallara_f317", "bmw_z4_gt3", "ks_mazda_miata")
    args = ["sim", "drive", "--all", "--cars", ",".join(cars), "--tracks"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [*args, "oval,Catalunya", "--track-file", str(track_file), "--out", str(tmp_path)]
        )
    rows = json.loads((tmp_path / "expert_table.json").read_text())
    assert [(r["track"], r["car"]) for r in rows] == [
        (track, car) for track in ("oval", "Catalunya", "technical_circuit") for car in cars
    ]
    for row in rows:
        assert row["laps"] == 2 and row["max_tyres_out"] <= 2, row
        assert abs(row["delta"]) <= 0.05, row
        assert math.isclose(row["flying_lap_s"], row["estimate_s"] * (1 + row["delta"]))
    assert code == 0
    assert "9 of 9 pairs lapped cleanly" in out.getvalue()


def test_a_pair_fails_on_laps_tyres_or_time_and_the_table_says_why() -> None:
    good = ExpertRow("Monza", "dallara_f317", 5793.0, 100.0, 2, 103.0, 2)
    assert good.passed(2)
    wide = ExpertRow("Monza", "ks_mazda_miata", 5793.0, 150.0, 0, math.nan, 3)
    slow = ExpertRow("oval", "bmw_z4_gt3", 1600.0, 40.0, 2, 42.4, 0)
    broken = ExpertRow("nowhere.csv", "dallara_f317", math.nan, math.nan, 0, math.nan, 0, "no file")
    assert not any(row.passed(2) for row in (wide, slow, broken))
    text = format_table([good, wide, slow, broken], laps=2)
    assert "FAIL: 0 of 2 laps, 3 tyres out, off the estimate" in text
    assert "FAIL: off the estimate" in text and "+6.0%" in text
    assert "not driven: no file" in text
    assert "1 of 4 pairs lapped cleanly" in text

"""The TUMFTM racetrack-database format: a centre line with track widths.

One row per centre-line point, header ``# x_m,y_m,w_tr_right_m,w_tr_left_m``: position in
metres (x east, y north: an ordinary right-handed plane, so left is counter-clockwise
of the direction of travel) and the distances from the centre line to the right and to
the left border. Travel goes in increasing row order; the loop is closed implicitly.
The database's heading convention (north = 0) does not enter: borders are offset along
the normals of the centre line, right border to the right, left border to the left.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acgym.errors import TrackFileError
from acgym.track.loaders.common import borders_from_widths, require_points, track_from_file
from acgym.track.loaders.csv_table import read_columns
from acgym.track.track import Track

COLUMNS = ("x_m", "y_m", "w_tr_right_m", "w_tr_left_m")
"""Columns of a TUMFTM track file, in file order."""


def load_tumftm(path: Path | str, *, name: str | None = None) -> Track:
    """Load a TUMFTM racetrack-database track file (centre line + widths).

    The reference line is the centre line.

    Args:
        path: The CSV file (``tracks/<Name>.csv`` of the database).
        name: Track name; the file name without ``.csv`` when ``None``.

    Raises:
        TrackFileError: The file is missing or malformed (a centre-line or race-line file
            without widths is refused), a width is not positive, or the track is invalid.
    """
    path = Path(path)
    table = read_columns(path, COLUMNS, what="TUMFTM track CSV")
    centre_m = np.stack((table["x_m"], table["y_m"]), axis=1)
    if len(centre_m) > 1 and np.allclose(centre_m[0], centre_m[-1]):
        centre_m = centre_m[:-1]
        table = {key: values[:-1] for key, values in table.items()}
    require_points(path, len(centre_m), "centre-line points")
    for column in ("w_tr_right_m", "w_tr_left_m"):
        bad = np.flatnonzero(table[column] <= 0.0)
        if bad.size:
            row = int(bad[0])
            raise TrackFileError(
                f"TUMFTM track CSV {path}, data row {row + 1}, column {column!r}: width "
                f"{table[column][row]} m is not positive"
            )
    left_m, right_m = borders_from_widths(centre_m, table["w_tr_left_m"], table["w_tr_right_m"])
    return track_from_file(path, name or path.stem, left_m, right_m, centre_m)

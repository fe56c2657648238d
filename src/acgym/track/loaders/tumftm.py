"""The TUMFTM racetrack-database format: a centre line with track widths.

One row per centre-line point, header ``# x_m,y_m,w_tr_right_m,w_tr_left_m``: position in
metres (x east, y north: an ordinary right-handed plane, so left is counter-clockwise
of the direction of travel) and the distances from the centre line to the right and to
the left border. Travel goes in increasing row order; the loop is closed implicitly.
The database's heading convention (north = 0) does not enter: borders are offset along
the normals of the centre line, right border to the right, left border to the left.

A line file, header ``# x_m,y_m`` (the database's ``racelines/<Name>.csv``, or the racing
lines acgym computes for its built-in circuits), can be the reference line instead of
the centre line; ``save_tumftm_line`` writes one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from acgym.errors import TrackFileError
from acgym.fileio import write_text_atomic
from acgym.track.loaders.common import borders_from_widths, require_points, track_from_file
from acgym.track.loaders.csv_table import read_columns
from acgym.track.track import Track

COLUMNS = ("x_m", "y_m", "w_tr_right_m", "w_tr_left_m")
"""Columns of a TUMFTM track file, in file order."""

LINE_COLUMNS = ("x_m", "y_m")
"""Columns of a line file (a race line), in file order."""


def load_tumftm(
    path: Path | str, line_csv: Path | str | None = None, *, name: str | None = None
) -> Track:
    """Load a TUMFTM racetrack-database track file (centre line + widths).

    Args:
        path: The CSV file (``tracks/<Name>.csv`` of the database).
        line_csv: A line file (``# x_m,y_m``) to use as the reference line; the centre
            line when ``None``.
        name: Track name; the file name without ``.csv`` when ``None``.

    Raises:
        TrackFileError: A file is missing or malformed (a centre-line or race-line file
            without widths is refused as ``path``), a width is not positive, or the track
            is invalid.
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
    line_m, source = centre_m, str(path)
    if line_csv is not None:
        line_table = read_columns(Path(line_csv), LINE_COLUMNS, what="TUMFTM line CSV")
        line_m = np.stack((line_table["x_m"], line_table["y_m"]), axis=1)
        source = f"{path} + {line_csv}"
    return track_from_file(source, name or path.stem, left_m, right_m, line_m)


def save_tumftm_line(line_m: ArrayLike, path: Path | str, *, decimals: int = 4) -> None:
    """Write a closed line as a TUMFTM line file (``# x_m,y_m``), atomically.

    Args:
        line_m: The line, ``(M, 2)`` m, in the direction of travel, last point not
            repeated.
        path: Output file.
        decimals: Decimals per coordinate; 4 is 0.1 mm.
    """
    points = np.asarray(line_m, dtype=np.float64)
    rows = "".join(f"{x:.{decimals}f},{y:.{decimals}f}\n" for x, y in points.tolist())
    write_text_atomic(path, f"# {','.join(LINE_COLUMNS)}\n{rows}")

"""Read numeric CSV tables of track files, with errors that name the file, line and column."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError

FloatArray = NDArray[np.float64]


def require_file(path: Path, what: str, note: str = "") -> None:
    """Raise ``TrackFileError`` unless ``path`` is an existing file.

    Args:
        path: File to check.
        what: What the file is, for the message (e.g. ``"track CSV"``).
        note: Where the path came from, added to the message.
    """
    if not path.is_file():
        hint = " (it is a folder)" if path.is_dir() else ""
        note = f" ({note})" if note else ""
        raise TrackFileError(f"{what} {path}: no such file{hint}{note}; check the path")


def read_header(path: Path) -> list[str]:
    """Column names of a CSV file's first line (a leading ``#`` is dropped), stripped."""
    require_file(path, "CSV file")
    with open(path, encoding="utf-8-sig", newline="") as stream:
        first = stream.readline()
    return [name.strip() for name in first.lstrip("#").strip().split(",")]


def read_columns(
    path: Path,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    what: str = "CSV file",
) -> dict[str, FloatArray]:
    """Read named numeric columns of a CSV file with a header line.

    The header may start with ``#`` (as in the TUMFTM racetrack database). Blank lines
    are skipped. Every cell of a requested column must be a finite number.

    Args:
        path: The CSV file.
        required: Columns that must be present.
        optional: Columns read when present.
        what: What the file is, for error messages.

    Returns:
        Column name to values, each ``(R,)`` float64 for R data rows.

    Raises:
        TrackFileError: The file is missing or empty, a required column is missing, a
            row has too few fields, or a value is not a finite number (the message
            gives the line number and column).
    """
    require_file(path, what)
    with open(path, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    lines = [
        (number, row) for number, row in enumerate(rows, start=1) if any(c.strip() for c in row)
    ]
    if not lines:
        raise TrackFileError(f"{what} {path}: the file is empty; expected a header line")
    header_line, header = lines[0]
    names = [name.strip() for name in header]
    if names:
        names[0] = names[0].lstrip("#").strip()
    missing = [name for name in required if name not in names]
    if missing:
        raise TrackFileError(
            f"{what} {path}, line {header_line}: missing column(s) {', '.join(missing)}; "
            f"the header has {', '.join(names) or 'nothing'} and must name "
            f"{', '.join(required)}"
        )
    wanted = [*required, *(name for name in optional if name in names)]
    index = {name: names.index(name) for name in wanted}
    columns: dict[str, list[float]] = {name: [] for name in wanted}
    for line, row in lines[1:]:
        for name, col in index.items():
            if col >= len(row):
                raise TrackFileError(
                    f"{what} {path}, line {line}: has {len(row)} fields, column {name!r} "
                    f"is field {col + 1}; fix or remove the row"
                )
            cell = row[col].strip()
            try:
                value = float(cell)
            except ValueError:
                raise TrackFileError(
                    f"{what} {path}, line {line}, column {name!r}: {cell!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise TrackFileError(
                    f"{what} {path}, line {line}, column {name!r}: value {cell!r} is not "
                    "finite; fix or remove the row"
                )
            columns[name].append(value)
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}

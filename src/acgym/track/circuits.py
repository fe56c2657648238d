"""Real circuits: the TUMFTM racetrack database, with racing lines computed by acgym.

The data are those of github.com/TUMFTM/racetrack-database (LGPL-3.0; its licence and a
note of what was taken are in ``data/tumftm/``): ``tracks/<Name>.csv`` holds each
circuit's smoothed centre line and the widths to its right and left borders, copied
unchanged. ``racing_lines/<Name>.csv`` holds the reference line acgym drives: the
minimum-curvature line (``acgym.track.raceline``) ``RACING_LINE_MARGIN_M`` from the
borders, computed from the centre line and widths by ``write_racing_lines``
(``python -m acgym.track.circuits`` rewrites them). Loading reads the two files; nothing
is optimised at load time.

A circuit's name is its file name in the database (``Catalunya``, ``Monza``,
``Spielberg``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from acgym.errors import TrackFileError
from acgym.track.loaders.tumftm import load_tumftm, save_tumftm_line
from acgym.track.track import Track

FloatArray = NDArray[np.float64]

CIRCUITS_DIR = Path(__file__).with_name("data") / "tumftm"
"""Folder of the database's files (``tracks/``) and acgym's racing lines (``racing_lines/``)."""

SOURCE = "TUMFTM racetrack-database"
"""Where the circuits come from (github.com/TUMFTM/racetrack-database)."""

LICENCE = "LGPL-3.0"
"""Licence of the circuits' data (``data/tumftm/LICENSE``)."""

CIRCUITS: dict[str, str] = {
    "Austin": "Austin, USA (F1)",
    "BrandsHatch": "Brands Hatch, UK (DTM)",
    "Budapest": "Budapest, Hungary (F1)",
    "Catalunya": "Catalunya, Spain (F1)",
    "Hockenheim": "Hockenheim, Germany (F1, DTM)",
    "IMS": "Indianapolis Motor Speedway, USA (IndyCar)",
    "Melbourne": "Melbourne, Australia (F1)",
    "MexicoCity": "Mexico City, Mexico (F1)",
    "Montreal": "Montreal, Canada (F1)",
    "Monza": "Monza, Italy (F1)",
    "MoscowRaceway": "Moscow Raceway, Russia (DTM)",
    "Norisring": "Norisring, Germany (DTM)",
    "Nuerburgring": "Nuerburgring, Germany (DTM)",
    "Oschersleben": "Oschersleben, Germany (DTM)",
    "Sakhir": "Sakhir, Bahrain (F1)",
    "SaoPaulo": "Sao Paulo, Brazil (F1)",
    "Sepang": "Sepang, Malaysia (F1)",
    "Shanghai": "Shanghai, China (F1)",
    "Silverstone": "Silverstone, UK (F1)",
    "Sochi": "Sochi, Russia (F1)",
    "Spa": "Spa, Belgium (F1)",
    "Spielberg": "Spielberg, Austria (F1)",
    "Suzuka": "Suzuka, Japan (F1); crosses itself on a bridge",
    "YasMarina": "Yas Marina, Abu Dhabi (F1)",
    "Zandvoort": "Zandvoort, Netherlands (DTM)",
}
"""The built-in circuits: name (the database's file name) to place and series, as the
database's README lists them."""

WIDEST_CAR_HALF_WIDTH_M = 1.0
"""Half the body width of the widest car preset, m (the BMW Z4 GT3: about 2.0 m, a
widened GT3 body; the tyres' outer edges are inside it)."""

SAFETY_MARGIN_M = 0.5
"""Least room between the widest car's side and a border on a racing line, m: the
expert's tracking error, and the database's widths, extracted from satellite images,
are not exact."""

CROSS_SECTION_ALLOWANCE_M = 0.25
"""Added to the margin because the optimisation keeps it along each cross-section, m:
in tight corners the nearest border, at a right angle, is up to 0.24 m closer than that
(measured on every circuit every 0.5 m along the line)."""

RACING_LINE_MARGIN_M = WIDEST_CAR_HALF_WIDTH_M + SAFETY_MARGIN_M + CROSS_SECTION_ALLOWANCE_M
"""Least distance between a racing line and either border, along each cross-section, m.
The narrowest section of any circuit (7.4 m, Hockenheim) leaves the line 3.9 m to move
in; a wider margin costs lap time (2.0 m: +0.4 % on the F317's estimates)."""

RACING_LINE_ITERATIONS = 10
"""Gauss-Newton steps of the racing-line optimisation: the lap-time estimates change by
less than 0.05 % beyond it."""

REFERENCE_LINE = f"minimum-curvature racing line, margin {RACING_LINE_MARGIN_M} m"
"""What a circuit's reference line is (as a native file's ``reference_line`` says it)."""


def circuit_files(name: str) -> tuple[Path, Path]:
    """The database's track file and acgym's racing-line file of a circuit.

    Raises:
        TrackFileError: ``name`` is not a built-in circuit.
    """
    if name not in CIRCUITS:
        raise TrackFileError(f"no built-in circuit {name!r}; circuits: {', '.join(CIRCUITS)}")
    return CIRCUITS_DIR / "tracks" / f"{name}.csv", CIRCUITS_DIR / "racing_lines" / f"{name}.csv"


def load_circuit(name: str, *, centre_line: bool = False) -> Track:
    """Load a built-in circuit (not cached; ``acgym.track.builtin.load_builtin`` is).

    Args:
        name: Circuit name, a key of ``CIRCUITS``.
        centre_line: Take the database's centre line as the reference line instead of
            the racing line.

    Raises:
        TrackFileError: ``name`` is unknown, or a file is missing or invalid (rewrite
            the racing lines with ``python -m acgym.track.circuits``).
    """
    track_csv, line_csv = circuit_files(name)
    return load_tumftm(track_csv, None if centre_line else line_csv, name=name)


def circuit_racing_line(name: str) -> FloatArray:
    """Compute a circuit's racing line from the database's centre line and widths.

    Returns:
        The minimum-curvature line ``RACING_LINE_MARGIN_M`` from the borders, ``(M, 2)``
        m, starting on the start/finish line.
    """
    from acgym.track.raceline import min_curvature_line

    return min_curvature_line(
        load_circuit(name, centre_line=True),
        margin_m=RACING_LINE_MARGIN_M,
        iterations=RACING_LINE_ITERATIONS,
    )


def write_racing_lines(
    folder: Path | str = CIRCUITS_DIR / "racing_lines", names: Iterable[str] | None = None
) -> list[Path]:
    """Compute racing lines and write each as ``<folder>/<name>.csv`` (``# x_m,y_m``).

    Args:
        folder: Output folder; the package's racing-line folder by default.
        names: Circuits to write; every built-in circuit by default.

    Returns:
        The files written.
    """
    paths = []
    for name in CIRCUITS if names is None else names:
        path = Path(folder) / f"{name}.csv"
        save_tumftm_line(circuit_racing_line(name), path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_racing_lines():
        print(written)

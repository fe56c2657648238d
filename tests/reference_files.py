"""The original project's sample files, for the tests that check they read correctly
(``tests`` is on the path)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CANDIDATES = (
    REPO_ROOT / "shared" / "reference",
    REPO_ROOT.parent / "shared" / "reference",
)
"""Where the sample files of the original project may be: ``shared/`` in the checkout or
beside it. They are not part of the project (the project's own tests use its own data):
the tests that check that the original files read correctly run where they are."""


def find_reference_dir() -> Path:
    """The folder of the original project's sample files (``tracks/``, ``cars/``); the
    calling test is skipped, saying where it looked, when they are not here."""
    for folder in REFERENCE_CANDIDATES:
        if (folder / "tracks" / "config.yaml").is_file() and (folder / "cars").is_dir():
            return folder
    pytest.skip(
        "the original project's sample files are not here (looked in "
        + ", ".join(map(str, REFERENCE_CANDIDATES))
        + "); put its AssettoCorsaConfigs tracks/ and cars/ in shared/reference/ to run this"
    )

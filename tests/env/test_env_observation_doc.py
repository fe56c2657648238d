"""docs/observation.md is generated from the observation builder and cannot drift."""

from __future__ import annotations

from pathlib import Path

from acgym.env.observations import observation_doc_markdown

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "observation.md"


def test_observation_doc_equals_the_table_generated_from_the_builder():
    expected = observation_doc_markdown()
    assert DOC_PATH.read_text(encoding="utf-8") == expected, (
        'docs/observation.md is stale; regenerate it with: python -c "from '
        "acgym.env.observations import observation_doc_markdown as f; print(f(), end='')\" "
        "> docs/observation.md"
    )


def test_observation_doc_names_every_one_of_the_125_values():
    text = observation_doc_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == 125
    assert rows[0].startswith("| 0 | `speed` | basic | `speed` (m/s) / 80 |")
    assert rows[-1].startswith("| 124 | `prev_obs_1/ray_10` |")

"""Atomic writes leave either the old file or the new one, never a torn file."""

from __future__ import annotations

from pathlib import Path

import pytest

from acgym.fileio import write_text_atomic, write_with_atomic


def test_write_text_atomic_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_failed_writer_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    write_text_atomic(target, "old")

    def broken_writer(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_with_atomic(target, broken_writer)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_atomic_file_gets_the_default_mode_not_0600(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        target = tmp_path / "file.txt"
        write_text_atomic(target, "x")
        assert target.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)


def test_free_folder_takes_the_first_name_not_taken_and_slug_makes_names_safe(
    tmp_path: Path,
) -> None:
    from acgym.fileio import free_folder, slug

    assert free_folder(tmp_path, "run") == tmp_path / "run"
    (tmp_path / "run").mkdir()
    (tmp_path / "run_2").mkdir()
    assert free_folder(tmp_path, "run") == tmp_path / "run_3"
    assert slug("tracks/my track:v2.csv") == "my-track-v2.csv"

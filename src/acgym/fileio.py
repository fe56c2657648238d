"""Atomic file writes: a temp file in the same folder, then ``os.replace``. A crash
mid-write leaves the old file (or none), never half a file. Also the naming of new output
folders (a safe name, not taken yet).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` atomically.

    Use for writers that take a file name (``pyarrow.parquet.write_table``,
    ``matplotlib.Figure.savefig``, ``torch.save``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~_current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _current_umask() -> int:
    """The process umask (reading it needs setting it; restored at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp_path:
        with open(tmp_path, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())


def write_text_atomic(path: Path | str, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_with_atomic(path: Path | str, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp_path)`` and move the result onto ``path`` atomically."""
    with atomic_path(path) as tmp_path:
        writer(tmp_path)


def slug(text: str) -> str:
    """A file-name-safe form of a name or path's last part (others become ``-``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(text).name)


def free_folder(root: Path | str, name: str) -> Path:
    """``root/name``, or ``root/name_2``, ``_3``, ... : the first that does not exist yet."""
    path = Path(root) / name
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{name}_{suffix}"
    return path

"""Atomic file writes: a reader sees the old file or the whole new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(target: Path, durable: bool = True, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    `durable=False` skips the fsync: for caches, where a lost file only costs a rebuild. `private=True` leaves
    the file readable by its owner alone (0600), whatever the umask: the final phase's records, boards, grades.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(21, "is a folder; name a file to write", str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # name what the user asked to write, not the temporary file
        raise OSError(exc.errno, f"cannot write here ({exc.strerror})", str(target)) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    # mkstemp's 0600 would make public records unreadable to a course's web server; the final phase's stay 0600
    os.chmod(tmp, 0o600 if private else 0o666 & ~umask)
    try:
        yield Path(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(target: Path, text: str, private: bool = False) -> None:
    """Write `text` to `target` atomically (0600 when `private`)."""
    with atomic_path(target, private=private) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(target: Path, data: bytes, private: bool = False) -> None:
    """Write `data` to `target` atomically (0600 when `private`)."""
    with atomic_path(target, private=private) as tmp:
        tmp.write_bytes(data)


def private_folder(folder: Path) -> Path:
    """`folder`, created if missing, entered and listed by its owner alone (0700): the final phase's outputs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # one an earlier run left open, too
    return folder

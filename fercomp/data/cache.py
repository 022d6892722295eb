"""The parsed-data cache: one .npz per source version, keyed so a changed source is never served stale.

The key hashes the source's size and mtime with a sample of its bytes (head, tail and 64 blocks spread
through it) for a CSV, or every file's path, size and mtime for a folder: cheap enough that a cached
load stays well under 0.1 s, and any edit, copy-over or truncation changes it. The full content sha256,
computed while parsing, is stored in the entry and is what score records quote.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from fercomp.atomic import atomic_path
from fercomp.hashing import hasher

CACHE_FORMAT = 2  # 2: duplicates_across_splits stored with the arrays
_SAMPLE_BLOCKS, _BLOCK = 64, 4096


def cache_dir() -> Path:
    """$FERCOMP_CACHE_DIR, else $XDG_CACHE_HOME/fercomp, else ~/.cache/fercomp."""
    if os.environ.get("FERCOMP_CACHE_DIR"):
        return Path(os.environ["FERCOMP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fercomp"


def file_key(path: Path) -> str:
    """Size, mtime and sampled bytes of a file, hashed."""
    st = path.stat()
    digest = hasher()
    digest.update(f"{st.st_size}:{st.st_mtime_ns}:{CACHE_FORMAT}".encode())
    with open(path, "rb") as fh:
        step = max(st.st_size // _SAMPLE_BLOCKS, _BLOCK)
        for offset in range(0, st.st_size, step):
            fh.seek(offset)
            digest.update(fh.read(_BLOCK))
        fh.seek(max(st.st_size - _BLOCK, 0))
        digest.update(fh.read(_BLOCK))
    return digest.hexdigest()[:24]


def entry_path(source: Path, key: str) -> Path:
    """Where the cache entry of `source` at version `key` lives."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", source.name)[:40]
    return cache_dir() / f"{stem}-{key}.npz"


def load(entry: Path) -> dict[str, np.ndarray] | None:
    """A cache entry's arrays, or None (with a warning) if it is missing, truncated or of another format."""
    if not entry.exists():
        return None
    try:
        with np.load(entry, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        if int(arrays.get("format", -1)) != CACHE_FORMAT:
            raise ValueError(f"cache format {int(arrays.get('format', -1))}, expected {CACHE_FORMAT}")
        return arrays
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(f"{entry}: ignoring unusable cache entry ({exc}); re-reading the source")
        return None


def store(entry: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a cache entry atomically; a cache that cannot be written only costs speed."""
    try:
        with atomic_path(entry, durable=False) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, format=np.array(CACHE_FORMAT), **arrays)
    except OSError as exc:
        warnings.warn(f"{entry}: could not write the data cache ({exc}); continuing without it")

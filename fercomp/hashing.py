"""Every sha256 fercomp computes, in one place: of bytes, text, a file (streamed), a JSON value, or an
incremental hasher for data read in pieces. Hex digests throughout; records, caches and hand-ins
compare them as strings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CHUNK = 1 << 20


def hasher():
    """An incremental sha256 (update it piece by piece, then .hexdigest())."""
    return hashlib.sha256()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blake2b_int64(data: bytes) -> int:
    """A stable signed 64-bit hash of `data` (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))


def sha256_json(value) -> str:
    """Of a JSON value with sorted keys (anything JSON cannot say is written with str)."""
    return sha256_text(json.dumps(value, sort_keys=True, default=str))


def sha256_file(path: Path) -> str:
    """Of a file's bytes, read in 1 MiB pieces."""
    digest = hasher()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()

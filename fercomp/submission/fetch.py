"""Weights handed in by URL with a pinned SHA-256: downloaded once by the trusted parent, verified, and
kept in a content-addressed cache (`<cache>/weights/<sha256><suffix>`). The worker never sees the network;
it receives the verified bytes through its pipe like any other weights file.

Only http(s) URLs are fetched: a `file://` URL would let a hand-in name a file on the grading machine.
"""

from __future__ import annotations

import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from fercomp.data.cache import cache_dir
from fercomp.errors import SubmissionError
from fercomp.hashing import hasher

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
TIMEOUT_S = 60.0
_CHUNK = 1 << 20


def weights_cache() -> Path:
    """Where fetched weights live: inside the data cache, which every worker has hidden from it."""
    return cache_dir() / "weights"


def suffix_of(url: str, allowed: tuple[str, ...]) -> str:
    """The weights format from the URL's file name (.pt/.pth/.safetensors); .pt when it names none."""
    name = Path(urllib.parse.urlparse(url).path).name
    return next((s for s in allowed if name.endswith(s)), ".pt")


def fetch_weights(url: str, sha256: str, where: Path, max_mb: int, allowed: tuple[str, ...]) -> Path:
    """The cached file for `sha256`, downloading `url` first if it is not cached; SubmissionError names
    an unreachable URL, a wrong hash or an oversized download. `where` is the hand-in, for messages."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https"):
        raise SubmissionError(f"{where}: WEIGHTS_URL must be an http(s) URL, got {url!r}", "bad_metadata")
    if not SHA256_RE.match(sha256):
        raise SubmissionError(f"{where}: WEIGHTS_SHA256 must be 64 lower-case hex digits (sha256sum's output), "
                              f"got {sha256!r}", "bad_metadata")
    target = weights_cache() / f"{sha256}{suffix_of(url, allowed)}"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        digest = _download(url, fd, where, max_mb)
        if digest != sha256:
            raise SubmissionError(f"{where}: WEIGHTS_SHA256 is {sha256[:12]}…, but {url} has {digest[:12]}…; "
                                  "fix the hash (sha256sum FILE) or the uploaded file", "weights_hash_mismatch")
        os.replace(tmp, target)  # concurrent fetches of the same hash write the same bytes: either wins
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _download(url: str, fd: int, where: Path, max_mb: int) -> str:
    digest, size = hasher(), 0
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            for block in iter(lambda: response.read(_CHUNK), b""):
                size += len(block)
                if size > max_mb << 20:
                    raise SubmissionError(f"{where}: WEIGHTS_URL {url} is over the {max_mb} MB weights limit",
                                          "weights_too_large")
                digest.update(block)
                out.write(block)
    except urllib.error.HTTPError as exc:
        raise SubmissionError(f"{where}: WEIGHTS_URL {url} answered HTTP {exc.code} ({exc.reason}); "
                              "check the link is public (a release asset's download URL)", "weights_unreachable") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SubmissionError(f"{where}: WEIGHTS_URL {url} is unreachable ({reason}); check the URL and the network",
                              "weights_unreachable") from None
    return digest.hexdigest()

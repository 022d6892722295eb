"""Code fingerprints that are the same in every process: copydetect's winnowing over a stable k-gram hash.

copydetect hashes each k-gram with Python's `hash()`, which is salted per process (PYTHONHASHSEED): which
k-grams winnowing keeps, and so `code_similarity`, changed from one run of the audit to the next on the same
files. Here the k-grams are hashed with blake2b, so the same files give the same fingerprints on any machine.
"""

from __future__ import annotations

import threading

import numpy as np
from copydetect import CodeFingerprint as _SaltedFingerprint
from copydetect import compare_files, utils

from fercomp.hashing import blake2b_int64

__all__ = ["CodeFingerprint", "compare_files", "stable_kgram_hashes"]

_PATCH = threading.Lock()  # the hash is swapped in copydetect's module while one fingerprint is taken


def stable_kgram_hashes(text: str, k: int) -> np.ndarray:
    """A signed 64-bit blake2b hash of every k-gram of `text`, in order (copydetect's `hashed_kgrams`, unsalted)."""
    grams = (text[i:i + k].encode("utf-8", "surrogatepass") for i in range(len(text) - k + 1))
    return np.array([blake2b_int64(g) for g in grams],
                    dtype=np.int64)


class CodeFingerprint(_SaltedFingerprint):
    """copydetect's CodeFingerprint (same arguments) with the stable hash, so boilerplate hashes match too."""

    def __init__(self, *args, **kwargs):
        with _PATCH:
            salted, utils.hashed_kgrams = utils.hashed_kgrams, stable_kgram_hashes
            try:
                super().__init__(*args, **kwargs)
            finally:
                utils.hashed_kgrams = salted

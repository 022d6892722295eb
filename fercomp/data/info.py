"""What `fercomp data info` reports about a source: counts, image checks, duplicates, roles."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fercomp.data.dataset import FERData
from fercomp.data.labels import CLASS_NAMES


@dataclass(frozen=True)
class DataSummary:
    source: str
    layout: str
    sha256: str
    samples: int
    image_shape: list[int]
    classes: list[str]
    counts: dict[str, list[int]]
    held_out: str | None
    validation: str | None
    duplicate_images: int
    duplicates_across_splits: int
    conflicting_labels: int

    def to_dict(self) -> dict:
        return asdict(self)


def _row_keys(images: np.ndarray) -> np.ndarray:
    """A 64-bit key per image: a random-weighted sum of its bytes read as uint64 words (one pass)."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    words = flat.view(np.uint64)
    weights = np.random.default_rng(0).integers(1, 2**63, words.shape[1], dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        return (words * weights).sum(axis=1, dtype=np.uint64)


def duplicate_stats(images: np.ndarray, split: np.ndarray, labels: np.ndarray) -> tuple[int, int, int]:
    """(repeated images, groups shared across splits, groups with conflicting labels), by identical pixels.

    Rows are grouped by a 64-bit key first; only key collisions are compared byte for byte.
    """
    keys = _row_keys(images)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    repeats = across = conflicts = 0
    for group in np.flatnonzero(counts > 1):
        members = np.flatnonzero(inverse == group)
        flat = images[members].reshape(len(members), -1)
        _, exact_inverse = np.unique(flat, axis=0, return_inverse=True)
        for exact in np.unique(exact_inverse):
            same = members[exact_inverse.ravel() == exact]
            if len(same) > 1:
                repeats += len(same) - 1
                across += int(len(set(split[same].tolist())) > 1)
                conflicts += int(len(set(labels[same].tolist())) > 1)
    return repeats, across, conflicts


def summarize(data: FERData) -> DataSummary:
    """Counts per split and class, and duplicate checks (identical pixels)."""
    repeated, across, conflicts = duplicate_stats(data.images, data.split, data.labels)
    return DataSummary(
        source=data.source,
        layout=data.layout,
        sha256=data.source_sha256,
        samples=len(data),
        image_shape=list(data.images.shape[1:]),
        classes=list(CLASS_NAMES),
        counts=data.counts(),
        held_out=data.held_out,
        validation=data.validation,
        duplicate_images=repeated,
        duplicates_across_splits=across,
        conflicting_labels=conflicts,
    )

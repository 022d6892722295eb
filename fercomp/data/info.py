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


def duplicate_stats(images: np.ndarray, split: np.ndarray, labels: np.ndarray) -> tuple[int, int, int]:
    """(repeated images, groups shared across splits, groups with conflicting labels), by identical pixels."""
    flat = np.ascontiguousarray(images.reshape(len(images), -1))
    rows = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(rows, return_index=True, return_inverse=True, return_counts=True)
    repeated = counts[inverse] > 1
    across = conflicts = 0
    if repeated.any():
        groups = inverse[repeated]
        order = np.argsort(groups, kind="stable")
        g, splits, group_labels = groups[order], split[repeated][order], labels[repeated][order]
        bounds = np.flatnonzero(np.diff(g)) + 1
        for s, l in zip(np.split(splits, bounds), np.split(group_labels, bounds)):
            across += int(len(set(s.tolist())) > 1)
            conflicts += int(len(set(l.tolist())) > 1)
    return int(len(images) - len(first)), across, conflicts


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

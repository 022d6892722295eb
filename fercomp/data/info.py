"""What `fercomp data info` reports about a source: counts, image checks, duplicates, roles."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fercomp.data.dataset import FERData
from fercomp.data.duplicates import cross_split_groups, duplicate_stats
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
    known_duplicates: int | None  # fercomp.toml's [competition] known_duplicates (None: not set)
    # each group of identical images found in more than one split: its rows' sample ids, splits and labels
    cross_split: list[list[dict]]

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(data: FERData, known_duplicates: int | None = None) -> DataSummary:
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
        known_duplicates=known_duplicates,
        cross_split=[[{"id": str(data.ids[i]), "split": data.split_names[data.split[i]], "label": CLASS_NAMES[data.labels[i]]}
                      for i in rows] for rows in cross_split_groups(data.images, data.split)],
    )

"""FERData: the one in-memory form every source is read into."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fercomp.data.labels import CLASS_NAMES, NUM_CLASSES, WHOLE_SET, canonical_split
from fercomp.errors import DataError


@dataclass(frozen=True)
class FERData:
    """Images, canonical labels, split membership and stable sample ids, index-aligned.

    `images` is uint8 N×48×48, `labels` int64 N (0 Angry … 6 Neutral), `split` int8 N indexing
    `split_names`, `ids` the sample ids (``row:<i>`` for a CSV, the relative path for a folder).
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    split_names: tuple[str, ...]
    ids: np.ndarray
    source: str
    source_sha256: str
    held_out: str | None
    validation: str | None = None
    layout: str = "csv"
    warnings: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def resolve_split(self, name: str) -> str:
        """The exact split name for `name`, or a DataError saying which splits exist."""
        if self.split_names == (WHOLE_SET,) and name.lower() != WHOLE_SET.lower():
            raise DataError(
                f"{self.source}: has no Usage column, so it has no split '{name}'; "
                f"only the whole set ('{WHOLE_SET}') can be used — add a Usage column to split it"
            )
        found = canonical_split(name, self.split_names)
        if found is None:
            raise DataError(
                f"{self.source}: no split '{name}'; this source has {', '.join(self.split_names)}"
            )
        return found

    def select(self, name: str) -> "FERData":
        """The samples of one split, refusing an empty one."""
        split_name = self.resolve_split(name)
        mask = self.split == self.split_names.index(split_name)
        if not mask.any():
            raise DataError(f"{self.source}: split '{split_name}' is empty")
        return self.take(np.flatnonzero(mask))

    def take(self, index: np.ndarray) -> "FERData":
        """The samples at `index`, everything else (source, hash, roles) unchanged."""
        return replace(self, images=self.images[index], labels=self.labels[index], split=self.split[index], ids=self.ids[index])

    def counts(self) -> dict[str, list[int]]:
        """Per-split, per-class sample counts (canonical class order)."""
        out: dict[str, list[int]] = {}
        for code, name in enumerate(self.split_names):
            labels = self.labels[self.split == code]
            out[name] = np.bincount(labels, minlength=NUM_CLASSES).tolist()
        return out

    @property
    def class_names(self) -> tuple[str, ...]:
        return CLASS_NAMES

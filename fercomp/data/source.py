"""Open a FER-2013 source (CSV file or folder tree) as FERData, through the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fercomp.data import cache, duplicates
from fercomp.data.dataset import FERData
from fercomp.data.labels import PRIVATE_TEST, PUBLIC_TEST, canonical_split
from fercomp.errors import DataError


def load_data(path: str | Path, held_out: str | None = None, use_cache: bool = True, announce: bool = True) -> FERData:
    """Read `path` (a fer2013.csv or a train/test folder) into FERData, canonically labelled.

    `held_out` names the held-out split; by default PrivateTest (Kaggle splits) or `test` (folders).
    Images shared across splits are announced once per file on stderr unless `announce` is false
    (`fercomp data info` shows them in its table instead).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass a fer2013.csv or a folder with train/ and test/")
    layout = "folder" if path.is_dir() else "csv"
    key = _key(path, layout)
    entry = cache.entry_path(path, key)
    arrays = cache.load(entry) if use_cache else None
    if arrays is None:
        arrays = _parse(path, layout)
        if use_cache:
            cache.store(entry, arrays)
    data = _to_dataset(path, layout, arrays, held_out)
    if announce:
        duplicates.announce(path, data.source_sha256, int(arrays.get("duplicates_across_splits", 0)))
    return data


def _key(path: Path, layout: str) -> str:
    if layout == "csv":
        return cache.file_key(path)
    from fercomp.data.folder_reader import fingerprint

    return fingerprint(path)[:24]


def _parse(path: Path, layout: str) -> dict[str, np.ndarray]:
    if layout == "csv":
        from fercomp.data.csv_reader import read_csv

        images, labels, split, names, sha = read_csv(path)
        ids = None
    else:
        from fercomp.data.folder_reader import read_folder

        images, labels, split, names, ids, sha = read_folder(path)
    arrays = {
        "duplicates_across_splits": np.array(duplicates.duplicate_stats(images, split, labels)[1] if len(names) > 1 else 0),
        "images": images,
        "labels": labels,
        "split": split,
        "split_names": np.array(names),
        "sha256": np.array(sha),
    }
    if ids is not None:
        arrays["ids"] = ids
    return arrays


def _to_dataset(path: Path, layout: str, arrays: dict[str, np.ndarray], held_out: str | None) -> FERData:
    names = tuple(str(s) for s in arrays["split_names"].tolist())
    n = int(arrays["labels"].shape[0])
    ids = arrays["ids"] if "ids" in arrays else np.char.add("row:", np.arange(n).astype(str))
    present = tuple(names[code] for code in np.unique(arrays["split"]).tolist())
    held, validation = _roles(path, names, present, held_out)
    return FERData(
        images=arrays["images"],
        labels=arrays["labels"].astype(np.int64),
        split=arrays["split"].astype(np.int8),
        split_names=names,
        ids=ids,
        source=str(path),
        source_sha256=str(arrays["sha256"]),
        held_out=held,
        validation=validation,
        layout=layout,
    )


def _roles(path: Path, names: tuple[str, ...], present: tuple[str, ...], held_out: str | None) -> tuple[str | None, str | None]:
    """(held-out split, validation split) for a source with these splits; `present` are those with rows (a CSV
    always names all three Kaggle splits, and an empty PublicTest is no validation split)."""
    validation = PUBLIC_TEST if PUBLIC_TEST in present else None
    if held_out is None:
        held = PRIVATE_TEST if PRIVATE_TEST in names else ("test" if "test" in names else None)
        return held, validation
    held = canonical_split(held_out, names)
    if held is None:
        raise DataError(f"{path}: cannot hold out '{held_out}'; this source has {', '.join(names)}")
    return held, (validation if validation != held else None)

"""Identical images in a source: how many repeat, how many groups span splits or disagree on the label.

`duplicate_stats` groups the rows by a 64-bit key in one sort, then checks every group byte for byte against
its first member (a key collision, which only contrived data produces, is split exactly). The real FER-2013
has several hundred images shared across its splits; `cross_split_notice` is the one line that says so,
once per data file and process, unless `[competition] known_duplicates` in fercomp.toml acknowledges it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _row_keys(flat: np.ndarray) -> np.ndarray:
    """A 64-bit key per row: a random-weighted sum of its bytes read as uint64 words (one pass)."""
    words = flat.view(np.uint64)
    weights = np.random.default_rng(0).integers(1, 2**63, words.shape[1], dtype=np.uint64) | np.uint64(1)
    with np.errstate(over="ignore"):
        return (words * weights).sum(axis=1, dtype=np.uint64)


def _groups(flat: np.ndarray) -> np.ndarray:
    """A group id per row: equal ids exactly when the rows' bytes are equal."""
    keys = _row_keys(flat)
    order = np.argsort(keys, kind="stable")
    boundary = np.concatenate(([True], keys[order][1:] != keys[order][:-1]))
    run_starts, run_of_sorted = np.flatnonzero(boundary), np.cumsum(boundary) - 1
    group = np.empty(len(order), dtype=np.int64)
    group[order] = run_of_sorted
    first = order[run_starts][group]  # each row's run representative
    shared = first != np.arange(len(order))
    differ = np.flatnonzero(shared)[~(flat[shared] == flat[first[shared]]).all(axis=1)]
    if differ.size:  # key collisions: split those runs by exact bytes
        rows = np.flatnonzero(np.isin(group, group[differ]))
        _, exact = np.unique(flat[rows], axis=0, return_inverse=True)
        group[rows] = group.max() + 1 + exact.ravel()
    return group


def duplicate_stats(images: np.ndarray, split: np.ndarray, labels: np.ndarray) -> tuple[int, int, int]:
    """(repeated images, groups shared across splits, groups with conflicting labels), by identical pixels."""
    n = len(images)
    if n < 2:
        return 0, 0, 0
    group = _groups(np.ascontiguousarray(images.reshape(n, -1)))
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.concatenate(([True], group[order][1:] != group[order][:-1])))

    def spread(values: np.ndarray) -> int:
        """Groups whose members do not all share one value."""
        ordered = values[order].astype(np.int64)
        return int((np.minimum.reduceat(ordered, starts) != np.maximum.reduceat(ordered, starts)).sum())

    return n - len(starts), spread(split), spread(labels)


def cross_split_groups(images: np.ndarray, split: np.ndarray) -> list[np.ndarray]:
    """The row indices of each group of identical images that spans more than one split, in row order."""
    n = len(images)
    if n < 2:
        return []
    group = _groups(np.ascontiguousarray(images.reshape(n, -1)))
    order = np.lexsort((np.arange(n), group))
    starts = np.flatnonzero(np.concatenate(([True], group[order][1:] != group[order][:-1])))
    ordered = split[order].astype(np.int64)
    spans = np.minimum.reduceat(ordered, starts) != np.maximum.reduceat(ordered, starts)
    ends = np.append(starts[1:], n)
    return sorted((order[a:b] for a, b, keep in zip(starts, ends, spans) if keep), key=lambda rows: int(rows[0]))


_announced: set[tuple[str, str]] = set()
_acknowledged: list[int] = []  # set by a command that read a config other than ./fercomp.toml (--config)


def acknowledge(known_duplicates: int) -> None:
    """Use this [competition] known_duplicates (from a --config file) instead of ./fercomp.toml's."""
    _acknowledged[:] = [known_duplicates]


def known_duplicates() -> int | None:
    """The acknowledged count: --config's, else ./fercomp.toml's; None when unset (0) or unreadable (a broken
    fercomp.toml is reported by the commands that use it, not by every data load)."""
    if _acknowledged:
        return _acknowledged[0] or None
    from fercomp.config import load_config
    from fercomp.errors import UsageError

    try:
        return load_config().competition.known_duplicates or None
    except UsageError:
        return None


def cross_split_notice(path: Path | str, shared: int, known: int | None, *, hint: bool = True) -> str | None:
    """The warning for `shared` images found in more than one split, or None when there are none or
    `known` (fercomp.toml's [competition] known_duplicates) acknowledges exactly that many. `hint` points
    to `fercomp data info`, which prints the notice without it."""
    if not shared or known == shared:
        return None
    what = f"{path}: {shared} image(s) appear in more than one split, so held-out scores may be inflated"
    if known is not None:
        return (f"{what}; fercomp.toml's [competition] known_duplicates = {known} acknowledged another number "
                f"(a different file?): check the data, then set known_duplicates = {shared}")
    where = "`fercomp data info` lists them; " if hint else ""
    return f"{what}; {where}to acknowledge, set [competition] known_duplicates = {shared} in fercomp.toml"


def announce(path: Path | str, sha256: str, shared: int, *, hint: bool = True) -> None:
    """Print the cross-split notice on stderr, once per data file (path and content) in this process."""
    if not shared or (str(path), sha256) in _announced:
        return
    notice = cross_split_notice(path, shared, known_duplicates(), hint=hint)
    _announced.add((str(path), sha256))
    if notice is None:
        return
    from rich.console import Console
    from rich.markup import escape

    # soft_wrap: one line however narrow the terminal, so logs and greps see it whole.
    Console(stderr=True, soft_wrap=True, highlight=False).print(f"[yellow]warning:[/] {escape(notice)}")

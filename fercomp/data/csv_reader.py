"""Read the Kaggle `fer2013.csv` (emotion,pixels[,Usage][,extra columns]) into arrays.

The common file (no quoted commas) is parsed straight from its bytes with vectorised numpy passes; any
other CSV dialect goes through pandas and then the same pixel parser, so both paths validate alike.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from fercomp.data.labels import KAGGLE_SPLITS, NUM_CLASSES, PIXELS_PER_IMAGE, WHOLE_SET
from fercomp.errors import DataError
from fercomp.hashing import hasher, sha256_file

REQUIRED = ("emotion", "pixels")
_ROWS_PER_CHUNK = 256
_BLOCK_BYTES = 1 << 22


def read_header(path: Path) -> list[str]:
    """The header's column names, or a DataError naming what is missing."""
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise DataError(f"{path}: empty file; expected a header 'emotion,pixels,Usage'")
    names = [h.strip().lstrip("\ufeff") for h in header]
    for column in REQUIRED:
        if column not in names:
            raise DataError(
                f"{path}: missing column '{column}' (header is {','.join(names)}); "
                "expected the Kaggle columns emotion,pixels,Usage"
            )
    return names


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Parse a FER CSV into (images N×48×48 uint8, labels int64, split int8, split names, sha256)."""
    path = Path(path)
    names = read_header(path)
    parsed = _read_blocks(path, names)
    if parsed is None:
        parsed = _read_with_pandas(path, names)
    labels, images, usage_values, digest = parsed
    n = len(labels)
    if n == 0:
        raise DataError(f"{path}: has a header but no data rows")
    split, split_names = _parse_usage(usage_values, n, path)
    return images.reshape(n, 48, 48), labels, split, split_names, digest


def _line_of(row: int) -> str:
    """How a data row is named in messages: the file line (header is line 1) and the row index."""
    return f"line {row + 2} (row {row})"


def _read_blocks(path: Path, names: list[str]):
    """Stream the file in blocks of whole lines, parsed on a thread pool; None if it needs pandas.

    The main thread only reads, hashes and counts lines; numpy releases the GIL, so the parsing of
    successive blocks overlaps. Blocks keep arrays cache-sized and let the allocator reuse memory: on
    these machines fresh large allocations (page faults) cost as much as the parsing itself.
    """
    col = {name: names.index(name) for name in names}
    digest = hasher()
    parts = []
    with open(path, "rb") as fh, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        header = fh.readline()
        digest.update(header)
        carry, row = b"", 0
        while True:
            buf = bytearray(len(carry) + _BLOCK_BYTES + 1)
            buf[: len(carry)] = carry
            got = fh.readinto(memoryview(buf)[len(carry) : len(carry) + _BLOCK_BYTES])
            digest.update(memoryview(buf)[len(carry) : len(carry) + got])
            end = len(carry) + got
            at_end = got == 0
            if at_end:
                if not bytes(buf[:end]).strip():
                    break
                buf[end] = ord("\n")  # a last line without a newline
                end += 1
            cut = buf.rfind(b"\n", 0, end) + 1
            carry = bytes(buf[cut:end])
            if cut:
                raw = np.frombuffer(buf, dtype=np.uint8, count=cut)
                parts.append(pool.submit(_parse_block, raw, col, row, path, at_end))
                row += buf.count(b"\n", 0, cut)
            if at_end:
                break
        # Results in file order, so the first bad row of the file is the one reported.
        results = [part.result() for part in parts]
    if any(r is None for r in results):
        return None
    if not results:
        return np.zeros(0, np.int64), np.zeros((0, PIXELS_PER_IMAGE), np.uint8), [], digest.hexdigest()
    labels = np.concatenate([r[0] for r in results])
    images = np.concatenate([r[1] for r in results])
    usage = [u for r in results for u in r[2]] if "Usage" in col else None
    return labels, images, usage, digest.hexdigest()


def _parse_block(raw: np.ndarray, col: dict[str, int], first_row: int, path: Path, at_end: bool):
    """(labels, pixels, usage strings) of a block of whole lines, or None if a line's commas don't fit."""
    fields = _line_fields(raw, len(col), first_row, path, at_end)
    if fields is None:
        return None
    lo, hi = fields
    e, p = col["emotion"], col["pixels"]
    labels = _parse_labels(raw, lo[:, e], hi[:, e], first_row, path)
    usage = []
    if "Usage" in col:
        u = col["Usage"]
        usage = [raw[x:y].tobytes().decode("utf-8", "replace").strip() for x, y in zip(lo[:, u], hi[:, u])]
    return labels, parse_pixels(raw, lo[:, p], hi[:, p], first_row, path), usage


def _line_fields(raw: np.ndarray, ncols: int, first_row: int, path: Path, at_end: bool):
    """Per-line field spans (lo, hi: lines × columns) of a block of whole lines; None on a comma mismatch.

    A blank line also returns None: the pandas path skips it, keeping row numbers right.
    """
    newlines = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], newlines[:-1] + 1))
    ends = newlines - (raw[np.maximum(newlines - 1, 0)] == ord("\r"))
    commas = np.flatnonzero(raw == ord(","))
    per_line = np.searchsorted(commas, ends) - np.searchsorted(commas, starts)
    wrong = np.flatnonzero(per_line != ncols - 1)
    if wrong.size:
        bad = int(wrong[0])
        if at_end and bad == len(starts) - 1 and 0 < per_line[bad] < ncols - 1:
            raise DataError(
                f"{path}: {_line_of(first_row + bad)}: has {per_line[bad] + 1} of {ncols} fields — "
                "the file looks truncated; re-copy it"
            )
        return None
    inner = commas.reshape(-1, ncols - 1)
    lo = np.concatenate([starts[:, None], inner + 1], axis=1)
    hi = np.concatenate([inner, ends[:, None]], axis=1)
    return lo, hi


def _read_with_pandas(path: Path, names: list[str]):
    """Parse through pandas for CSV dialects the block path does not take (quoted commas)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:  # pandas' own message names the line
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [c.strip().lstrip("\ufeff") for c in frame.columns]
    buffers = {}
    for column in ("emotion", "pixels"):
        values = [v.strip().strip('"').encode() for v in frame[column].tolist()]
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        lo = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
        raw = np.frombuffer(bytearray(b"\n".join(values) + b"\n"), dtype=np.uint8)
        buffers[column] = (raw, lo, lo + lengths)
    labels = _parse_labels(*buffers["emotion"], 0, path)
    images = parse_pixels(*buffers["pixels"], 0, path)
    usage = [u.strip() for u in frame["Usage"].tolist()] if "Usage" in frame.columns else None
    digest = sha256_file(Path(path))
    return labels, images, usage, digest


def _parse_labels(raw: np.ndarray, lo: np.ndarray, hi: np.ndarray, first_row: int, path: Path) -> np.ndarray:
    """The emotion column as int64 labels in 0..6."""
    labels = np.full(lo.size, -1, dtype=np.int64)
    simple = (hi - lo == 1) & (raw[np.minimum(lo, raw.size - 1)] - np.uint8(ord("0")) < NUM_CLASSES)
    labels[simple] = raw[lo[simple]] - ord("0")
    for row in np.flatnonzero(~simple):
        text = raw[lo[row] : hi[row]].tobytes().decode("utf-8", "replace").strip().strip('"')
        if not (text.isdigit() and int(text) < NUM_CLASSES):
            raise DataError(
                f"{path}: {_line_of(first_row + int(row))}: emotion '{text}' is not a label 0–6 "
                "(0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral)"
            )
        labels[row] = int(text)
    return labels


def parse_pixels(raw: np.ndarray, lo: np.ndarray, hi: np.ndarray, first_row: int, path: Path) -> np.ndarray:
    """Parse space-separated 0–255 integers in byte spans [lo, hi) of `raw` into N×2304 uint8.

    Bytes between the spans are overwritten with spaces: `raw` must be a scratch buffer.
    """
    n = lo.size
    out = np.empty((n, PIXELS_PER_IMAGE), dtype=np.uint8)
    for r0 in range(0, n, _ROWS_PER_CHUNK):
        r1 = min(r0 + _ROWS_PER_CHUNK, n)
        out[r0:r1] = _parse_pixel_chunk(raw, lo[r0:r1], hi[r0:r1], first_row + r0, path)
    return out


def _gap_positions(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Byte positions between consecutive spans (the other fields and line ends)."""
    gap = lo[1:] - hi[:-1]
    offsets = np.repeat(hi[:-1] - np.concatenate(([0], np.cumsum(gap)[:-1])), gap)
    return np.arange(int(gap.sum())) + offsets


def _parse_pixel_chunk(raw, lo, hi, first_row: int, path: Path) -> np.ndarray:
    # Two passes over the bytes find each token's last digit; the value is then gathered from the
    # (at most) two digits before it, on arrays a quarter of the bytes' size.
    base = int(lo[0])
    seg = raw[base : int(hi[-1])]
    seg[_gap_positions(lo, hi) - base] = ord(" ")
    digit = seg - np.uint8(ord("0"))
    is_digit = digit < 10
    if not (is_digit | (seg == ord(" "))).all():
        allowed = is_digit | (seg == ord(" ")) | (seg == ord('"')) | (seg == ord("\t"))
        if not allowed.all():
            _raise_bad_pixel(seg, lo - base, first_row, int(np.flatnonzero(~allowed)[0]), path)
    is_end = is_digit.copy()
    is_end[:-1] &= ~is_digit[1:]
    ends = np.flatnonzero(is_end)
    rows = lo - base
    per_row = np.diff(np.searchsorted(ends, rows), append=ends.size)
    wrong = np.flatnonzero(per_row != PIXELS_PER_IMAGE)
    if wrong.size:
        row = int(wrong[0])
        raise DataError(
            f"{path}: {_line_of(first_row + row)}: has {per_row[row]} pixels, expected "
            f"{PIXELS_PER_IMAGE} (48×48 space-separated integers)"
        )
    # Every span starts inside the chunk, so index -1, -2, -3 only wrap for tokens at the very start,
    # whose `before` flags are forced false below.
    value = digit[ends].astype(np.int16)
    has_tens = is_digit[ends - 1] & (ends >= 1)
    has_hundreds = has_tens & is_digit[ends - 2] & (ends >= 2)
    too_long = has_hundreds & is_digit[ends - 3] & (ends >= 3)
    value += digit[ends - 1] * has_tens * np.int16(10)
    value += digit[ends - 2].astype(np.int16) * has_hundreds * np.int16(100)
    too_big = too_long | (value > 255)
    if too_big.any():
        position = int(ends[np.flatnonzero(too_big)[0]])
        row = int(np.searchsorted(rows, position, side="right") - 1)
        start = position
        while start > 0 and is_digit[start - 1]:
            start -= 1
        text = seg[start : position + 1].tobytes().decode()
        raise DataError(f"{path}: {_line_of(first_row + row)}: pixel value {text} is outside 0–255")
    return value.astype(np.uint8).reshape(-1, PIXELS_PER_IMAGE)


def _raise_bad_pixel(seg, row_starts, first_row: int, position: int, path: Path) -> None:
    row = int(np.searchsorted(row_starts, position, side="right") - 1)
    a = max(position - 8, int(row_starts[row]))
    context = seg[a : position + 8].tobytes().decode("utf-8", "replace").split()
    token = next((t for t in context if not t.isdigit()), seg[position : position + 1].tobytes().decode())
    raise DataError(
        f"{path}: {_line_of(first_row + row)}: pixel '{token}' is not an integer 0–255 "
        "(pixels must be space-separated integers)"
    )


def _parse_usage(values: list[str] | None, n: int, path: Path) -> tuple[np.ndarray, tuple[str, ...]]:
    """Split codes from the Usage column; a file without one is a single whole-set split."""
    if values is None:
        return np.zeros(n, dtype=np.int8), (WHOLE_SET,)
    lookup = {name: code for code, name in enumerate(KAGGLE_SPLITS)}
    codes = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int8, count=len(values))
    unknown = np.flatnonzero(codes < 0)
    if unknown.size:
        row = int(unknown[0])
        raise DataError(
            f"{path}: {_line_of(row)}: Usage '{values[row]}' is not one of "
            f"{', '.join(KAGGLE_SPLITS)}"
        )
    return codes, KAGGLE_SPLITS

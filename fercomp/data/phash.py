"""A perceptual hash of 48×48 faces, and the nearest FER-2013 face to each supplement face.

The private supplement is evidence only if no face in it is public, so every supplement face is compared
with every FER-2013 face, by the same hash, whenever a supplement is built (`fercomp supplement`) or read
(the final phase). The hash is the DCT hash of Zauner (2010), as imagehash's `phash`: the image brought to
32×32, its 2-D DCT, the lowest frequencies, one bit per coefficient above their median; here 12×12 of them
rather than 8×8, because FER-2013 faces are all centred and upright, and 63 bits do not tell two such faces from
a face and its shifted copy (benchmarks/bench_supplement_hash.py). Only the signs of low frequencies survive,
so a face re-encoded, brightened, contrast-stretched, blurred or shifted by a pixel or two keeps most of its
bits, while two different faces differ in about half of them. A mirrored face has its odd horizontal
frequencies negated, so its hash is read off the same coefficients (`MIRROR_SIGN`): the mirror of a public
face is refused too. A face rescaled by more than a few per cent, rotated or re-cropped is not caught.

The hash only proposes: each face's 16 nearest FER-2013 hashes within `NEAR` bits are then compared pixel by pixel
(correlation of the centre, best over ±2 px shifts and the mirror, `SAME`), because faces made from one template
(fercomp's synthetic set) are hash neighbours without being one face.

Written here rather than taken from `imagehash` because it is two matrix products over all 35,887 FER-2013
faces at once (imagehash goes through PIL one image at a time), in numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fercomp.data.labels import IMAGE_SIZE

HASH_SIZE = 12  # the 12×12 lowest frequencies, less the mean (DC): 143 bits
DCT_SIZE = 32
WORDS = 3  # uint64 words per hash
#: Hamming distance (of 143 bits) at or below which two faces are one face. Measured on scikit-image's 100 LFW
#: faces (benchmarks/bench_supplement_hash.py): distinct people differ in 40 bits or more (65 on average), a face
#: against its re-encoded, brightened, contrast-stretched, gamma-changed or blurred copy in at most 14, against
#: itself shifted by 1–2 px in at most 26. (The 8×8 hash of imagehash does not separate them: 10 against 12.)
NEAR = 30
#: Pixel correlation (best over ±2 px shifts and the mirror) at or above which a hash neighbour is the same face:
#: copies re-encoded (JPEG q70), re-lit, contrast-stretched, gamma-changed, shifted or lightly blurred (σ 0.7) keep
#: 0.988 or more; distinct LFW faces reach 0.83 at most, distinct synthetic faces (one template, so nearly all hash
#: neighbours) 0.978 (1,000 against 35,887). A copy blurred with σ ≥ 1 (0.96) is not caught.
SAME = 0.985
CANDIDATES = 16  # hash neighbours of each query checked pixel by pixel
_CHUNK = 256  # query faces compared at a time: 256 × 35,887 bytes of distances, 9 MB


def _resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """The area-average resampling matrix (size_out × size_in): each output pixel the mean of what it covers."""
    edges = np.linspace(0, size_in, size_out + 1)
    matrix = np.zeros((size_out, size_in))
    for row, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        for col in range(int(np.floor(lo)), int(np.ceil(hi))):
            matrix[row, col] = min(hi, col + 1) - max(lo, col)
    return matrix / matrix.sum(axis=1, keepdims=True)


def _dct_matrix(size: int) -> np.ndarray:
    """The orthonormal DCT-II as a matrix (row k: frequency k)."""
    k, n = np.arange(size)[:, None], np.arange(size)[None, :]
    matrix = np.sqrt(2.0 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    matrix[0] /= np.sqrt(2.0)
    return matrix


#: Resize to 32×32 and take the 12 lowest DCT frequencies in one matrix (12×48): low = M · image · Mᵀ.
_LOW = (_dct_matrix(DCT_SIZE)[:HASH_SIZE] @ _resize_matrix(IMAGE_SIZE, DCT_SIZE)).astype(np.float32)
#: Mirroring an image negates its odd horizontal frequencies (the resize is symmetric, so this holds for _LOW).
MIRROR_SIGN = np.where(np.arange(HASH_SIZE) % 2, -1.0, 1.0).astype(np.float32)[None, :]


def _low_frequencies(images: np.ndarray) -> np.ndarray:
    """The 12×12 lowest DCT coefficients of each uint8 N×48×48 image (float32 N×12×12), as two matrix products."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"expected N×{IMAGE_SIZE}×{IMAGE_SIZE} images, got {images.shape}")
    columns = images.astype(np.float32) @ _LOW.T  # N×48×12
    return (columns.transpose(0, 2, 1) @ _LOW.T).transpose(0, 2, 1)  # N×12×12: M · image · Mᵀ


def _bits(coefficients: np.ndarray) -> np.ndarray:
    """Each coefficient but the mean above the image's median of them, packed into WORDS uint64 words."""
    flat = coefficients.reshape(len(coefficients), -1)[:, 1:]
    above = flat > np.median(flat, axis=1, keepdims=True)
    packed = np.packbits(above, axis=1, bitorder="little")
    padded = np.zeros((len(flat), WORDS * 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    return padded.view("<u8")


def phash(images: np.ndarray) -> np.ndarray:
    """One 143-bit DCT hash per uint8 N×48×48 image (uint64 N×3)."""
    return _bits(_low_frequencies(images))


def phash_with_mirror(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, hashes of the mirrored images), from one DCT."""
    low = _low_frequencies(images)
    return _bits(low), _bits(low * MIRROR_SIGN)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance between hashes (uint64 …×3, broadcasting over the leading axes), as uint8."""
    a, b = np.asarray(a), np.asarray(b)
    total = np.bitwise_count(a[..., 0] ^ b[..., 0])  # word by word: no …×3 temporary, uint8 throughout (≤ 143)
    for word in range(1, WORDS):
        total += np.bitwise_count(a[..., word] ^ b[..., word])
    return total


@dataclass(frozen=True)
class Nearest:
    """For each query face: the reference face most like it among its hash neighbours, the two hashes' Hamming
    distance (of 143 bits) and the pixels' correlation (best over shifts and the mirror; 0 when none is near)."""

    index: np.ndarray  # int64 per query
    distance: np.ndarray  # int per query, 0–143
    correlation: np.ndarray  # float per query, −1–1

    def duplicates(self) -> np.ndarray:
        """Which queries are one face with a reference face: near in hash and alike pixel by pixel."""
        return (self.distance <= NEAR) & (self.correlation >= SAME)


def _candidates(plain: np.ndarray, mirrored: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CANDIDATES references nearest each query or its mirror by hash: (indices, distances), both Q×K."""
    k = min(CANDIDATES, len(reference))
    index = np.zeros((len(plain), k), dtype=np.int64)
    near = np.zeros((len(plain), k), dtype=np.int64)
    for start in range(0, len(plain), _CHUNK):
        stop = start + _CHUNK
        block = np.minimum(distance(plain[start:stop, None], reference[None, :]),
                           distance(mirrored[start:stop, None], reference[None, :]))
        top = np.argpartition(block, k - 1, axis=1)[:, :k] if k < len(reference) else np.argsort(block, axis=1)
        index[start:stop], near[start:stop] = top, np.take_along_axis(block, top, axis=1)
    return index, near


def _standardised(pixels: np.ndarray) -> np.ndarray:
    """Rows less their mean, of unit length (a flat image stays all zero): dot products are correlations."""
    rows = pixels.reshape(len(pixels), -1).astype(np.float64)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


_VERIFY_CHUNK = 64  # query faces whose candidates are compared pixel by pixel at a time (64 × 32 × 48 × 48 floats)
_BORDER = 2  # shifts searched: up to 2 px each way; the query's centre (44×44) against every window


def best_correlation(images: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """For each image (Q×48×48) and each of its candidates (Q×K×48×48), the highest pixel correlation of the
    image's centre with the candidate or its mirror shifted by up to 2 px (Q×K): brightness, contrast and a small
    shift do not lower it, another face does."""
    side, shifts = IMAGE_SIZE - 2 * _BORDER, 2 * _BORDER + 1
    centres = _standardised(images[:, _BORDER:-_BORDER, _BORDER:-_BORDER]).astype(np.float32)
    both = np.concatenate([candidates, candidates[:, :, :, ::-1]], axis=1).astype(np.float32)  # Q × 2K × 48 × 48
    best = np.full(both.shape[:2], -1.0, dtype=np.float32)
    for dy in range(shifts):
        for dx in range(shifts):
            # the centre sums to 0, so the window's own mean drops out of the dot product
            window = both[:, :, dy:dy + side, dx:dx + side].reshape(*both.shape[:2], -1)
            total, squares = window.sum(axis=2, dtype=np.float64), np.einsum("qkn,qkn->qk", window, window, dtype=np.float64)
            spread = np.sqrt(np.maximum(squares - total * total / window.shape[2], 1e-18))
            best = np.maximum(best, np.einsum("qkn,qn->qk", window, centres) / spread)
    return best.reshape(len(images), 2, -1).max(axis=1)


def nearest_public(images: np.ndarray, public: np.ndarray) -> Nearest:
    """For each of `images` (uint8 N×48×48), the face of `public` most like it or its mirror image: the hash finds
    the candidates, the pixels decide (synthetic faces drawn from one template share a hash neighbourhood)."""
    count = len(images)
    if not len(public) or not count:
        return Nearest(np.zeros(count, dtype=np.int64), np.full(count, WORDS * 64), np.zeros(count))
    plain, mirrored = phash_with_mirror(images)
    index, near = _candidates(plain, mirrored, phash(public))
    close = near <= NEAR
    correlation = np.full(near.shape, -1.0)
    rows = np.flatnonzero(close.any(axis=1))
    for start in range(0, len(rows), _VERIFY_CHUNK):
        chunk = rows[start:start + _VERIFY_CHUNK]
        correlation[chunk] = best_correlation(images[chunk], public[index[chunk]])
    correlation[~close] = -1.0  # only hash neighbours count
    pick = np.where(close.any(axis=1), correlation.argmax(axis=1), near.argmin(axis=1))
    taken = (np.arange(count), pick)
    return Nearest(index[taken], near[taken], np.maximum(correlation[taken], 0.0))

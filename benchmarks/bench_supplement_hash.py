"""The supplement's duplicate check: does the perceptual hash tell one face from another, and what does it cost?

1. Separation. scikit-image's 100 LFW faces (real, distinct people, 25×25 upscaled to 48×48): the Hamming
   distance of each face to every other face (different faces) against its distance to a perturbed copy of
   itself (JPEG, brightness, contrast, gamma, blur, a 1–2 px shift, a 2 px crop, mirror), and the share that
   `nearest_public` calls a duplicate (hash within `NEAR`, then pixel correlation at least `SAME`); and fercomp's
   synthetic faces, which share one template.
2. Cost. Hashing a FER-2013-size set (35,887 synthetic faces) and comparing 1,000 supplement faces with all of
   them, against reading the same CSV through fercomp's reader (the ratio is what the check adds to a read).

Run: python benchmarks/bench_supplement_hash.py   (needs scikit-image, the `dev` extra)
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tabulate import tabulate

from fercomp.data.phash import NEAR, SAME, distance as hamming, nearest_public, phash


def _lfw_faces() -> np.ndarray:
    from skimage.data import lfw_subset

    faces = lfw_subset()[:100]  # the first 100 are faces, the rest are not
    return np.stack([np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((48, 48), Image.BICUBIC))
                     for f in faces])


def _perturbations() -> dict:
    def jpeg(img: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(img).save(buffer, format="JPEG", quality=70)
        return np.asarray(Image.open(buffer).convert("L"))

    def shift(img: np.ndarray) -> np.ndarray:
        return np.pad(img, 2, mode="edge")[1:49, 2:50]

    def crop(img: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(img[2:46, 2:46]).resize((48, 48), Image.BILINEAR))

    return {
        "JPEG q70": jpeg,
        "brightness +30": lambda i: np.clip(i.astype(int) + 30, 0, 255).astype(np.uint8),
        "contrast x1.3": lambda i: np.clip((i.astype(float) - 128) * 1.3 + 128, 0, 255).astype(np.uint8),
        "gamma 0.7": lambda i: (255 * (i / 255.0) ** 0.7).astype(np.uint8),
        "blur r=1": lambda i: np.asarray(Image.fromarray(i).filter(ImageFilter.GaussianBlur(1))),
        "shift (1, 2) px": shift,
        "crop 2 px, resized": crop,
        "mirror": lambda i: i[:, ::-1].copy(),
    }


def separation() -> None:
    faces = _lfw_faces()
    hashes = phash(faces)
    pair = hamming(hashes[:, None], hashes[None, :])
    different = pair[~np.eye(len(faces), dtype=bool)]
    apart = np.concatenate([nearest_public(faces[:50], faces[50:]).duplicates(),
                            nearest_public(faces[50:], faces[:50]).duplicates()])
    rows = [["different faces (100 x 99)", int(different.min()), f"{different.mean():.1f}", int(different.max()),
             f"{(different <= NEAR).mean():.2%}", f"{apart.mean():.2%}"]]
    for name, change in _perturbations().items():
        changed = np.stack([change(f) for f in faces])
        match = nearest_public(changed, faces)
        # the mirror is checked through the mirrored hash, as nearest_public does
        distance = match.distance if name == "mirror" else hamming(phash(changed), hashes)
        found = match.duplicates() & (match.index == np.arange(len(faces)))
        rows.append([f"same face, {name}", int(distance.min()), f"{distance.mean():.1f}", int(distance.max()),
                     f"{(distance <= NEAR).mean():.2%}", f"{found.mean():.2%}"])
    rows.append(synthetic())
    print(f"Hamming distance of 143 bits; near-duplicate at or below {NEAR}")
    print(tabulate(rows, headers=["pair", "min", "mean", "max", f"share <= {NEAR}",
                                  f"called duplicate (hash, then correlation >= {SAME})"], tablefmt="github"))


def synthetic() -> list:
    """fercomp's synthetic faces (one template): 400 of one seed against 2,600 of another."""
    from fercomp.data.synth import SynthSpec, generate

    public = generate(SynthSpec(n_train=2000, n_public=300, n_private=300, seed=0))[0]
    private = generate(SynthSpec(n_train=0, n_public=0, n_private=400, seed=99))[0]
    match = nearest_public(private, public)
    return ["different synthetic faces (400 vs nearest of 2,600)", int(match.distance.min()),
            f"{match.distance.mean():.1f}", int(match.distance.max()), f"{(match.distance <= NEAR).mean():.2%}",
            f"{match.duplicates().mean():.2%}"]


def cost() -> None:
    from fercomp.data.csv_reader import read_csv
    from fercomp.data.synth import SynthSpec, write

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fer.csv"
        write(path, SynthSpec(seed=3), "csv")
        start = time.perf_counter()
        images = read_csv(path)[0]
        read_s = time.perf_counter() - start
    start = time.perf_counter()
    phash(images)
    hash_s = time.perf_counter() - start
    queries = images[:1000]
    start = time.perf_counter()
    nearest_public(queries, images)
    both_s = time.perf_counter() - start
    print(f"\n{len(images):,} faces")
    print(tabulate([["read the CSV (fercomp's reader, no cache)", f"{read_s:.2f}", "1.00"],
                    [f"hash all {len(images):,} faces", f"{hash_s:.2f}", f"{hash_s / read_s:.2f}"],
                    ["1,000 supplement faces (and mirrors) against all", f"{both_s:.2f}", f"{both_s / read_s:.2f}"]],
                   headers=["step", "seconds", "x the read"], tablefmt="github"))


if __name__ == "__main__":
    separation()
    cost()

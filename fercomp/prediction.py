"""`fercomp predict`: a submission's top-k classes for face images, through the sandboxed worker.

Images of any size and format (anything PIL opens) become what the competition data is: 8-bit
grayscale, the centre square crop, resized to 48×48 with PIL's bilinear filter (antialiased), after
applying any EXIF rotation. Images from a data set (`--data`) are used as stored. The worker receives
the 48×48 uint8 faces exactly as in `fercomp score`, so its predictions for data-set images equal score's.
Probabilities are the softmax of the submission's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fercomp.data.labels import CLASS_NAMES
from fercomp.errors import UsageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass
class Predictions:
    """One row per image: its name, the top-k (class, probability), and the true class when known."""

    names: list[str]
    images: np.ndarray  # N×48×48 uint8, what the model saw
    probabilities: np.ndarray  # N×7, canonical class order
    labels: np.ndarray | None = None  # true classes, for data-set images
    top_k: int = 3
    source: dict = field(default_factory=dict)  # where the images came from

    def rows(self) -> list[dict]:
        out = []
        for i, name in enumerate(self.names):
            order = np.argsort(-self.probabilities[i])[: self.top_k]
            row = {"image": name, "top": [{"class": CLASS_NAMES[k], "probability": float(self.probabilities[i, k])} for k in order]}
            if self.labels is not None:
                row["true"] = CLASS_NAMES[int(self.labels[i])]
            out.append(row)
        return out

    def to_dict(self) -> dict:
        return {"source": self.source, "preprocessing": "8-bit grayscale, centre square crop, 48×48 bilinear",
                "predictions": self.rows()}


def face(path: Path) -> np.ndarray:
    """One image file as a 48×48 uint8 face, the way the competition data is stored."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            gray = ImageOps.exif_transpose(image).convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"{path}: not an image PIL can read ({exc.__class__.__name__})") from None
    side = min(gray.size)
    left, top = (gray.width - side) // 2, (gray.height - side) // 2
    square = gray.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((48, 48), Image.Resampling.BILINEAR), dtype=np.uint8)


def image_files(paths: list[Path]) -> list[Path]:
    """The image files named, with folders expanded to the images inside them (sorted)."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            out.append(path)
        else:
            raise UsageError(f"{path}: no such image or folder")
    if not out:
        raise UsageError(f"no images in {', '.join(map(str, paths))} ({', '.join(IMAGE_SUFFIXES)})")
    return out


def predict(submission: Path, images: list[Path] | None = None, data: Path | None = None, split: str | None = None,
            n: int = 16, top_k: int = 3, device: str = "auto", seed: int = 0, weights: Path | None = None) -> Predictions:
    """Top-k predictions of `submission` for image files, or for `n` faces of a data set's split."""
    from fercomp.data.cache import cache_dir
    from fercomp.data.source import load_data
    from fercomp.devices import validate
    from fercomp.submission.contract import read_submission
    from fercomp.submission.runner import Limits, WorkerFailure
    from fercomp.submission.session import Session

    validate(device)
    if bool(images) == (data is not None):
        raise UsageError("give image files (or folders), or --data PATH with --split and --n, not both")
    protected = [cache_dir()]
    if data is not None:
        loaded = load_data(data)
        split = loaded.resolve_split(split or loaded.validation or loaded.split_names[0])
        subset = loaded.select(split)
        pick = np.sort(np.random.default_rng(seed).choice(len(subset), size=min(n, len(subset)), replace=False))
        faces, labels = subset.images[pick], subset.labels[pick]
        names = [f"{split}#{int(i)}" for i in pick]  # the face's position within the split
        source = {"data": str(data), "split": split, "indices": pick.tolist()}
        protected.append(Path(data))
    else:
        files = image_files(images)
        faces, labels = np.stack([face(p) for p in files]), None
        names, source = [str(p) for p in files], {"images": [str(p) for p in files]}
    hand_in = read_submission(submission, weights)
    try:
        with Session(hand_in, Limits(), device, protected) as session:
            outputs = session.predict(faces)
    except WorkerFailure as exc:
        if exc.reason == "device_unavailable":
            raise UsageError(exc.detail) from None
        raise UsageError(f"{submission}: the model failed in the sandbox ({exc.reason}: {exc.detail})") from None
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return Predictions(names, faces, shifted / shifted.sum(axis=1, keepdims=True), labels, top_k, source)

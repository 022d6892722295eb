"""A procedural FER-format data set: 48×48 faces whose expression is carried by facial geometry.

Each class has a mean expression (mouth curvature and opening, brow slant and height, eye opening, nose
wrinkle, mouth width); each face draws an expression strength and per-feature jitter around it, so weak
expressions drift towards Neutral and neighbouring classes overlap, as they do in FER-2013. Pose, scale,
position, lighting, background and noise vary independently of the class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fercomp.data.labels import (
    CLASS_NAMES,
    FER2013_CLASS_COUNTS,
    IMAGE_SIZE,
    KAGGLE_SPLITS,
    NUM_CLASSES,
)

# Columns: mouth curvature, mouth opening, brow slant (inner end down > 0), brow raise, eye opening,
# nose wrinkle, mouth half-width. Rows in canonical class order.
_EXPRESSIONS = np.array(
    [
        [-0.04, 0.02, 0.11, -0.05, 0.75, 0.25, 0.20],  # Angry
        [-0.07, 0.03, 0.06, -0.03, 0.60, 0.95, 0.19],  # Disgust
        [-0.03, 0.10, -0.08, 0.07, 1.40, 0.00, 0.22],  # Fear
        [0.11, 0.06, 0.00, 0.01, 0.80, 0.10, 0.26],  # Happy
        [-0.09, 0.00, -0.09, 0.01, 0.75, 0.00, 0.20],  # Sad
        [0.00, 0.20, -0.02, 0.11, 1.50, 0.00, 0.15],  # Surprise
        [0.00, 0.00, 0.00, 0.00, 1.00, 0.00, 0.21],  # Neutral
    ]
)
_JITTER = np.array([0.035, 0.03, 0.04, 0.03, 0.20, 0.20, 0.025])


@dataclass(frozen=True)
class SynthSpec:
    """Sizes and seed of a synthetic set (defaults: the real FER-2013 split sizes)."""

    n_train: int = 28709
    n_public: int = 3589
    n_private: int = 3589
    seed: int = 0


def class_frequencies() -> np.ndarray:
    """FER-2013's class frequencies (Happy most common, Disgust about 1.5 %)."""
    counts = np.asarray(FER2013_CLASS_COUNTS, dtype=np.float64)
    return counts / counts.sum()


def generate(spec: SynthSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (images uint8 N×48×48, labels int64 N, split index int8 N into KAGGLE_SPLITS)."""
    rng = np.random.default_rng(spec.seed)
    sizes = (spec.n_train, spec.n_public, spec.n_private)
    split = np.repeat(np.arange(3, dtype=np.int8), sizes)
    labels = rng.choice(NUM_CLASSES, size=split.size, p=class_frequencies()).astype(np.int64)
    images = np.empty((split.size, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, split.size, 2048):
        stop = min(start + 2048, split.size)
        images[start:stop] = render_faces(labels[start:stop], rng)
    return images, labels, split


def _soft(inside: np.ndarray, sharpness: float = 20.0) -> np.ndarray:
    """Anti-aliased membership from a signed 'inside' distance (positive inside)."""
    return np.clip(inside * sharpness + 0.5, 0.0, 1.0)


def render_faces(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Render one face per label as uint8 48×48 images."""
    n = labels.size
    col = lambda a: np.asarray(a, np.float32)[:, None, None]  # noqa: E731 - per-face value over the grid
    grid = ((np.arange(IMAGE_SIZE) - (IMAGE_SIZE - 1) / 2) / (IMAGE_SIZE / 2)).astype(np.float32)
    Y, X = np.meshgrid(grid, grid, indexing="ij")

    strength = rng.uniform(0.25, 1.25, n)
    neutral = _EXPRESSIONS[6]
    expr = neutral + (_EXPRESSIONS[labels] - neutral) * strength[:, None]
    expr = expr + rng.normal(0, 1, (n, 7)) * _JITTER
    curve, opening, slant, lift, eye_open, wrinkle, half_width = (col(expr[:, i]) for i in range(7))
    opening, eye_open = np.maximum(opening, 0), np.clip(eye_open, 0.3, 2.0)
    wrinkle, half_width = np.clip(wrinkle, 0, 1.2), np.clip(half_width, 0.1, 0.32)

    angle = col(np.deg2rad(rng.normal(0, 9, n)))
    scale = col(rng.uniform(0.82, 1.12, n))
    cx, cy = col(rng.uniform(-0.1, 0.1, n)), col(rng.uniform(-0.08, 0.1, n))
    u = (np.cos(angle) * (X - cx) + np.sin(angle) * (Y - cy)) / scale
    v = (-np.sin(angle) * (X - cx) + np.cos(angle) * (Y - cy)) / scale

    head_a, head_b = col(rng.uniform(0.6, 0.72, n)), col(rng.uniform(0.78, 0.9, n))
    face = _soft(1 - (u / head_a) ** 2 - (v / head_b) ** 2, 4)

    eye_x, eye_y = col(rng.uniform(0.26, 0.34, n)), col(rng.uniform(-0.2, -0.08, n))
    eyes = np.zeros_like(u)
    brows = np.zeros_like(u)
    for side in (-1.0, 1.0):
        du = u - side * eye_x
        eyes = np.maximum(eyes, _soft(1 - (du / 0.11) ** 2 - ((v - eye_y) / (0.05 * eye_open)) ** 2, 3))
        outward = du * side
        brow_line = eye_y - 0.16 - lift + slant * (-outward) / 0.15 * 0.6
        brows = np.maximum(brows, _soft(0.035 - np.abs(v - brow_line)) * _soft(0.16 - np.abs(outward)))

    mouth_y = col(rng.uniform(0.36, 0.48, n))
    across = np.clip(1 - (u / half_width) ** 2, 0, None)
    mid = mouth_y - curve * (u / half_width) ** 2 + curve * 0.5
    gap = opening * across / 2
    mouth = _soft(0.03 + gap - np.abs(v - mid)) * _soft(half_width - np.abs(u))

    nose = 0.35 * _soft(0.02 - np.abs(u)) * _soft(0.12 - np.abs(v - 0.1))
    folds = np.abs(np.sin((v - 0.02) * 60)) * _soft(0.07 - np.abs(v - 0.02)) * _soft(0.13 - np.abs(u))
    nose = np.maximum(nose, wrinkle * 0.8 * folds)

    background = col(rng.uniform(0.05, 0.95, n)) + col(rng.normal(0, 0.15, n)) * X
    skin = np.clip(background + col(rng.choice([-1, 1], n) * rng.uniform(0.2, 0.45, n)), 0.4, 0.95)
    depth = col(rng.uniform(0.25, 0.45, n))
    img = background * (1 - face) + skin * face
    features = np.maximum.reduce([eyes, brows * 0.9, mouth, nose * 0.6]) * face
    img = img - depth * features
    light = 1 + col(rng.normal(0, 0.2, n)) * X + col(rng.normal(0, 0.2, n)) * Y
    noise = rng.standard_normal(img.shape, dtype=np.float32) * col(rng.uniform(0.01, 0.07, n))
    img = img * light + noise
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def write_csv(path, images: np.ndarray, labels: np.ndarray, split: np.ndarray) -> None:
    """Write the Kaggle `fer2013.csv` format (emotion,pixels,Usage), atomically."""
    from fercomp.atomic import atomic_path

    flat = images.reshape(len(images), -1)
    # One vectorised pass: every pixel as its decimal text, joined per row by spaces.
    table = np.array([str(i).encode() for i in range(256)], dtype=object)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(b"emotion,pixels,Usage\n")
        for start in range(0, len(flat), 4096):
            chunk = flat[start : start + 4096]
            lines = []
            for i, row in enumerate(chunk):
                k = start + i
                pixels = b" ".join(table[row].tolist())
                lines.append(b"%d,%s,%s\n" % (labels[k], pixels, KAGGLE_SPLITS[split[k]].encode()))
            fh.write(b"".join(lines))


def write_folder(root, images: np.ndarray, labels: np.ndarray, split: np.ndarray) -> None:
    """Write the folder layout train/<class>/Training_<i>.png, test/<class>/{Public,Private}Test_<i>.png.

    The tree is built in a temporary folder beside `root` and renamed into place when complete.
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from PIL import Image

    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for k in range(len(images)):
            folder = "train" if split[k] == 0 else "test"
            target = tmp / folder / CLASS_NAMES[labels[k]].lower()
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[k], mode="L").save(target / f"{KAGGLE_SPLITS[split[k]]}_{k}.png")
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write(out, spec: SynthSpec, layout: str = "csv") -> dict[str, int]:
    """Generate and write a synthetic set in `layout` (csv or folder); return the split sizes."""
    from pathlib import Path

    images, labels, split = generate(spec)
    if layout == "csv":
        write_csv(Path(out), images, labels, split)
    else:
        write_folder(Path(out), images, labels, split)
    return dict(zip(KAGGLE_SPLITS, (spec.n_train, spec.n_public, spec.n_private)))

"""The audit's secret perturbations of 48×48 gray faces: what an honest model shrugs off and a lookup key does not.

A memoriser keys its table on a coarse version of each face (blurred, low-resolution, mirror-symmetric, at a few
offsets), and a coarse key survives the small changes it was built for: a mirror, a shift of a pixel or two,
JPEG. So the family reaches further: small rotations and scales and crops (which move every pixel of a face by
up to a few pixels, unevenly), brightness, contrast and gamma, noise, a covered patch, and several at once.
Each kind stays within what a network trained with ordinary augmentation tolerates; the audit compares a team's
drop with its cohort's, kind by kind, so an honest cohort's common drop is never held against anyone.
Pure numpy and Pillow (the trusted parent perturbs; the measurer only ever sees the resulting images).
"""

from __future__ import annotations

import io

import numpy as np

KINDS = ("mirror", "shift", "jpeg", "rotate", "scale", "crop", "tone", "noise", "occlude", "combined")
DRAWS = 8  # uniform numbers drawn per image: each kind maps them to its parameters
SIZE = 48


def perturb_all(images: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each image under one kind drawn from `rng`, with its parameters: (perturbed uint8 images, kind index)."""
    kinds = rng.integers(0, len(KINDS), size=len(images))
    draws = rng.random((len(images), DRAWS))
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = perturb(image, KINDS[kinds[i]], draws[i])
    return out, kinds


def perturb(image: np.ndarray, kind: str, u: np.ndarray) -> np.ndarray:
    """One uint8 48×48 image under `kind`, its parameters taken from the uniform numbers `u` (DRAWS of them)."""
    if kind == "combined":  # a geometric change, a tone change and noise, each milder than alone
        image = _affine(image, angle=_signed(u[0], 3, 8), scale=1 + _signed(u[1], 0.03, 0.08), dx=_signed(u[2], 0, 2),
                        dy=_signed(u[3], 0, 2), flip=u[4] < 0.5)
        return _noise(_tone(image, u[5], u[6], u[7]), 3.0, u[0])
    return _SINGLE[kind](image, u)


def _signed(u: float, low: float, high: float) -> float:
    """A magnitude between low and high with a random sign, from one uniform number."""
    magnitude = low + (high - low) * (2 * u % 1.0)
    return magnitude if u < 0.5 else -magnitude


def _affine(image: np.ndarray, angle: float = 0.0, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
            flip: bool = False) -> np.ndarray:
    """Rotated by `angle` degrees and scaled about the centre, then shifted; edges repeated, bilinear."""
    from PIL import Image

    pad = SIZE // 2
    padded = np.pad(image[:, ::-1] if flip else image, pad, mode="edge")
    big = Image.fromarray(np.ascontiguousarray(padded))
    c = padded.shape[0] / 2
    theta = np.deg2rad(angle)
    # PIL maps each output pixel back to its input: the inverse of scale·rotate about the centre, then the shift.
    a, b = np.cos(theta) / scale, np.sin(theta) / scale
    matrix = (a, b, c - a * (c + dx) - b * (c + dy), -b, a, c + b * (c + dx) - a * (c + dy))
    moved = big.transform(big.size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.BILINEAR)
    return np.asarray(moved)[pad : pad + SIZE, pad : pad + SIZE]


def _mirror(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    return image[:, ::-1]


def _shift(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    dy, dx = (int(np.floor(v * 4)) for v in u[:2])
    dy, dx = (d - 2 if d < 2 else d - 1 for d in (dy, dx))  # -2, -1, 1 or 2 pixels
    padded = np.pad(image, 2, mode="edge")
    return padded[2 - dy : 50 - dy, 2 - dx : 50 - dx]


def _jpeg(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(70 + 26 * u[0]))
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))


def _rotate(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    return _affine(image, angle=_signed(u[0], 6, 15))


def _scale(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    return _affine(image, scale=1 + _signed(u[0], 0.08, 0.15), dx=_signed(u[1], 0, 2), dy=_signed(u[2], 0, 2))


def _crop(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A 36–42 pixel window, anywhere inside the face, stretched back to 48×48."""
    from PIL import Image

    side = int(36 + 7 * u[0])
    top, left = int(u[1] * (SIZE - side + 1)), int(u[2] * (SIZE - side + 1))
    window = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.asarray(window.resize((SIZE, SIZE), Image.Resampling.BILINEAR))


def _tone(image: np.ndarray, u_brightness: float, u_contrast: float, u_gamma: float) -> np.ndarray:
    x = image.astype(np.float64) / 255.0
    x = x ** (2.0 ** _signed(u_gamma, 0.2, 0.5))  # gamma 0.71–0.87 or 1.15–1.41
    x = (x - x.mean()) * (1 + _signed(u_contrast, 0.15, 0.35)) + x.mean() + _signed(u_brightness, 0.05, 0.12)
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _noise(image: np.ndarray, sigma: float, u: float) -> np.ndarray:
    rng = np.random.default_rng(int(u * 2**32))  # seeded by the secret's draw: the same image, the same noise
    noisy = image.astype(np.float64) + rng.normal(0.0, sigma, image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _occlude(image: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A 10–16 pixel square of one gray level over part of the face."""
    side = int(10 + 7 * u[0])
    top, left = int(u[1] * (SIZE - side + 1)), int(u[2] * (SIZE - side + 1))
    out = image.copy()
    out[top : top + side, left : left + side] = int(255 * u[3])
    return out


_SINGLE = {
    "mirror": _mirror, "shift": _shift, "jpeg": _jpeg, "rotate": _rotate, "scale": _scale, "crop": _crop,
    "tone": lambda image, u: _tone(image, u[0], u[1], u[2]), "noise": lambda image, u: _noise(image, 4 + 6 * u[0], u[1]),
    "occlude": _occlude,
}

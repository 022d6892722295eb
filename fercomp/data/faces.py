"""One photo to one FER-format face: read upright, find the face, crop it with a margin, 48×48 grayscale.

The detector is OpenCV's LBP frontal-face cascade as scikit-image ships it (`skimage.data.
lbp_frontal_face_cascade_filename()`, run by `skimage.feature.Cascade`): a trained, widely used detector whose
model file is inside the installed wheel, so nothing is downloaded at run time. (opencv-python-headless 5 no longer
ships its cascades, and its 4.x wheels are about 170 MB installed against scikit-image's 32 MB.) It finds
upright frontal faces, so alignment here is: the photo turned upright by its EXIF orientation, and the face
centred in a square crop. A face turned far from the camera or tilted by more than about 15° is not found, which
is reported rather than cropped badly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fercomp.data.labels import IMAGE_SIZE

#: The photo is searched at this long side at most (faster; a face needs only ~40 px to be found).
WORKING_SIDE = 480
#: Detections narrower than this share of the widest are ignored: background detections, not a second subject.
SECONDARY = 0.5
#: Extra room around the detector's box, as a share of its width on each side: the cascade's box runs from the
#: brows to the mouth, FER-2013's crops from the forehead to the chin.
MARGIN = 0.2
#: Overlapping detections a face needs (the cascade's default is 4): 8 removes the false faces that darker or
#: low-contrast JPEGs of scikit-image's astronaut show on her suit, and keeps every real one tried.
MIN_NEIGHBOURS = 8
#: Cropped faces smaller than this (in the photo's own pixels) would be upscaled into the 48×48 face.
MIN_FACE_PX = IMAGE_SIZE


@dataclass(frozen=True)
class Face:
    """What came of one photo: a face (uint8 48×48) and the photo's own 48×48 thumbnail, or why there is none."""

    outcome: str  # kept, no_face, several_faces, too_small, unreadable
    reason: str = ""
    face: np.ndarray | None = None
    thumbnail: np.ndarray | None = None  # the whole photo at 48×48: a FER image dropped in as a "photo" is this
    box: tuple[int, int, int] | None = None  # (row, column, side) of the square crop, in the upright photo's pixels


def read_gray(path: Path) -> np.ndarray:
    """The photo upright (its EXIF orientation applied), as uint8 grayscale; OSError/ValueError when unreadable."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        return np.asarray(image.convert("L"))


@lru_cache(maxsize=1)
def _detector():
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def detect(gray: np.ndarray) -> list[tuple[int, int, int]]:
    """Faces in an uint8 grayscale photo as (row, column, width) in its pixels, largest first."""
    from PIL import Image

    scale = min(1.0, WORKING_SIDE / max(gray.shape))
    small = gray if scale == 1.0 else np.asarray(
        Image.fromarray(gray).resize((max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale))),
                                     Image.Resampling.BOX))
    short = min(small.shape)
    smallest = max(24, int(0.12 * short))  # a face below an eighth of the photo is background, or not a subject
    if short < smallest:
        return []
    found = _detector().detect_multi_scale(img=small.astype(np.float32) / 255.0, scale_factor=1.1, step_ratio=1,
                                           min_size=(smallest, smallest), max_size=(short, short),
                                           min_neighbor_number=MIN_NEIGHBOURS)
    boxes = _merge(sorted(((int(d["r"] / scale), int(d["c"] / scale), int(d["width"] / scale)) for d in found),
                          key=lambda box: -box[2]))
    return [box for box in boxes if box[2] >= SECONDARY * boxes[0][2]] if boxes else []


def _merge(boxes: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop each box that mostly lies inside a larger one: the cascade's own grouping leaves such pairs on one face."""
    kept: list[tuple[int, int, int]] = []
    for row, col, width in boxes:  # largest first
        inside = any(max(0, min(r + w, row + width) - max(r, row)) * max(0, min(c + w, col + width) - max(c, col))
                     >= 0.5 * width * width for r, c, w in kept)
        if not inside:
            kept.append((row, col, width))
    return kept


def crop(gray: np.ndarray, box: tuple[int, int, int]) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The square around a detection, `MARGIN` wider on each side (edges repeated past the photo), at 48×48."""
    from PIL import Image

    row, col, width = box
    side = int(round(width * (1 + 2 * MARGIN)))
    top, left = row + width // 2 - side // 2, col + width // 2 - side // 2
    pad = max(0, -top, -left, top + side - gray.shape[0], left + side - gray.shape[1])
    padded = np.pad(gray, pad, mode="edge") if pad else gray
    square = padded[top + pad : top + pad + side, left + pad : left + pad + side]
    face = Image.fromarray(np.ascontiguousarray(square)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(face), (top, left, side)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """The whole photo squeezed to 48×48."""
    from PIL import Image

    return np.asarray(Image.fromarray(gray).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS))


def face_of(path: Path) -> Face:
    """Read, detect, crop: the one face of a photo, or the reason it has none."""
    from PIL import Image, UnidentifiedImageError

    try:
        gray = read_gray(path)
    except UnidentifiedImageError:
        return Face("unreadable", "not an image PIL can read")
    except Image.DecompressionBombError as exc:
        return Face("unreadable", f"refused as too large ({exc})")
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files raise any of these
        return Face("unreadable", f"cannot decode ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    small = thumbnail(gray)
    boxes = detect(gray)
    if not boxes:
        return Face("no_face", "no upright frontal face found", thumbnail=small)
    if len(boxes) > 1:
        return Face("several_faces", f"{len(boxes)} faces of similar size: crop the photo to one person", thumbnail=small)
    if boxes[0][2] < MIN_FACE_PX:
        return Face("too_small", f"the face is {boxes[0][2]} px wide, under {MIN_FACE_PX}", thumbnail=small)
    face, square = crop(gray, boxes[0])
    return Face("kept", "", face=face, thumbnail=small, box=square)

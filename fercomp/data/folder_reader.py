"""Read the folder layout ROOT/{train,test}/<class>/<file>.{jpg,png} into arrays, canonically labelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fercomp.data.labels import CLASS_NAMES, IMAGE_SIZE, KAGGLE_SPLITS, class_index, canonical_split
from fercomp.errors import DataError
from fercomp.hashing import hasher

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
FOLDER_SPLITS = ("train", "test")


def list_images(root: Path) -> list[tuple[str, str, Path]]:
    """(split folder, class folder, file) for every image, sorted by relative path; checks the tree."""
    root = Path(root)
    split_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    known = [d for d in split_dirs if d.name.lower() in FOLDER_SPLITS]
    if not known:
        raise DataError(
            f"{root}: no 'train' or 'test' folder; expected ROOT/train/<class>/*.jpg and ROOT/test/<class>/*.jpg"
        )
    found = []
    for split_dir in known:
        for class_dir in sorted(p for p in split_dir.iterdir() if not p.name.startswith(".")):
            if not class_dir.is_dir():
                continue
            if class_index(class_dir.name) is None:
                raise DataError(
                    f"{class_dir}: unknown class folder '{class_dir.name}'; expected one of "
                    f"{', '.join(c.lower() for c in CLASS_NAMES)}"
                )
            for file in sorted(class_dir.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    found.append((split_dir.name.lower(), class_dir.name, file))
    if not found:
        raise DataError(f"{root}: no .jpg or .png images under train/ or test/")
    return found


def kaggle_split_of(name: str) -> str | None:
    """The Kaggle split a file name carries (`PublicTest_123.jpg` → PublicTest), if any."""
    prefix = name.split("_", 1)[0]
    return canonical_split(prefix, KAGGLE_SPLITS)


def read_folder(root: Path):
    """Decode every image: (images uint8 N×48×48, labels, split codes, split names, ids, sha256).

    The sha256 covers every image's relative path and bytes, read once for both uses.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    entries = list_images(root)
    images = np.empty((len(entries), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    digest = hasher()
    for k, (_, _, file) in enumerate(entries):
        data = file.read_bytes()
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + data)
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                gray = im.convert("L")
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise DataError(f"{file}: not a readable image ({exc}); remove or re-export it") from None
        if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(
                f"{file}: image is {gray.size[0]}×{gray.size[1]}, expected 48×48; resize it or remove it"
            )
        images[k] = np.asarray(gray)
    labels = np.array([class_index(cls) for _, cls, _ in entries], dtype=np.int64)
    ids = np.array([file.relative_to(root).as_posix() for _, _, file in entries])
    kaggle = [kaggle_split_of(file.name) for _, _, file in entries]
    if all(kaggle):
        names = KAGGLE_SPLITS
        split = np.array([names.index(k) for k in kaggle], dtype=np.int8)
    else:
        names = tuple(s for s in FOLDER_SPLITS if any(e[0] == s for e in entries))
        split = np.array([names.index(e[0]) for e in entries], dtype=np.int8)
    return images, labels, split, names, ids, digest.hexdigest()


def fingerprint(root: Path) -> str:
    """A digest of every image's relative path, size and mtime: changes whenever the tree does."""
    digest = hasher()
    for split_folder, class_folder, file in list_images(root):
        st = file.stat()
        digest.update(f"{file.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()

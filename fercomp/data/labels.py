"""The canonical FER-2013 label order and the names sources use for classes and splits."""

from __future__ import annotations

#: The competition's label order: index = label. Never the alphabetical folder order.
CLASS_NAMES: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 48
PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE

#: Kaggle `Usage` values, in file order: training, validation, held-out test.
TRAINING, PUBLIC_TEST, PRIVATE_TEST = "Training", "PublicTest", "PrivateTest"
KAGGLE_SPLITS: tuple[str, ...] = (TRAINING, PUBLIC_TEST, PRIVATE_TEST)
WHOLE_SET = "All"

#: Class counts of the real FER-2013 (all three splits): the synthetic set draws with these frequencies.
FER2013_CLASS_COUNTS: tuple[int, ...] = (4953, 547, 5121, 8989, 6077, 4002, 6198)
FER2013_SPLIT_SIZES = {TRAINING: 28709, PUBLIC_TEST: 3589, PRIVATE_TEST: 3589}


def class_index(name: str) -> int | None:
    """Canonical label of a class name, case-insensitively; None when it is not a FER class."""
    lowered = name.strip().lower()
    for index, canonical in enumerate(CLASS_NAMES):
        if canonical.lower() == lowered:
            return index
    return None


def canonical_split(name: str, known: tuple[str, ...]) -> str | None:
    """The split in `known` that `name` names, case-insensitively."""
    lowered = name.strip().lower()
    return next((split for split in known if split.lower() == lowered), None)

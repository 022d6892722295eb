"""The course's private supplement: its own labelled photos made into FER-format faces, none of them public.

`build_supplement` reads a folder of photos (PHOTOS/<class>/…, or any files with a labels CSV), makes each into
one 48×48 face (fercomp/data/faces.py), refuses every face, and every photo, that is a near-duplicate of a
FER-2013 image or its mirror (fercomp/data/phash.py), and returns the faces and one report row per photo.
`write_supplement` writes them: a FER-format CSV (emotion,pixels,Usage; Usage is PrivateTest, the faces
being held out by nature) that `[competition] private_supplement` names, and the report as CSV and Markdown.
`read_supplement` is how the final phase reads one: with every face checked again against the competition's
FER-2013, and the duplicates dropped and counted, so a supplement that was carved from FER-2013 or edited by
hand cannot bring public faces in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fercomp.data.dataset import FERData
from fercomp.data.labels import CLASS_NAMES, PRIVATE_TEST, class_index
from fercomp.data.phash import nearest_public
from fercomp.errors import DataError

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
#: Other words for the classes that a course's folders may use (the FER names themselves match in any case).
ALIASES = {"anger": "Angry", "disgusted": "Disgust", "fearful": "Fear", "afraid": "Fear", "scared": "Fear",
           "happiness": "Happy", "sadness": "Sad", "surprised": "Surprise", "calm": "Neutral"}
OUTCOMES = ("kept", "duplicate", "no_face", "several_faces", "too_small", "unreadable")
REPORT_COLUMNS = ("photo", "label", "outcome", "reason", "supplement_row", "fer_id", "fer_split", "distance")


@dataclass(frozen=True)
class PhotoRow:
    """One photo's fate, as the report prints it."""

    photo: str  # relative to the photos folder
    label: str  # the FER class name
    outcome: str  # one of OUTCOMES
    reason: str = ""
    supplement_row: int | None = None  # kept: its 1-based data row in the supplement CSV
    fer_id: str = ""  # duplicate: the FER-2013 image it repeats (row:<i> of the CSV, or its relative path)
    fer_split: str = ""
    distance: int | None = None  # duplicate: Hamming distance of the hashes (of 143 bits)


@dataclass(frozen=True)
class Supplement:
    faces: np.ndarray  # uint8 N×48×48, the kept faces in report order
    labels: np.ndarray  # int64 N, canonical
    rows: list[PhotoRow]

    def counts(self) -> dict[str, int]:
        return {outcome: sum(r.outcome == outcome for r in self.rows) for outcome in OUTCOMES}


def label_of(name: str, where: str) -> int:
    """The canonical label a folder name or a CSV label names; numbers are refused (FER or alphabetical order?)."""
    text = name.strip()
    index = class_index(text)
    if index is None and text.lower() in ALIASES:
        index = CLASS_NAMES.index(ALIASES[text.lower()])
    if index is not None:
        return index
    expected = ", ".join(c.lower() for c in CLASS_NAMES)
    if text.isdigit():
        raise DataError(f"{where}: label '{text}' is a number; write the class name ({expected}): numbered folders "
                        "are read in FER order by some tools and in alphabetical order by others")
    raise DataError(f"{where}: '{text}' is not a FER class; expected one of {expected}")


def photos_from_folders(root: Path) -> list[tuple[Path, int]]:
    """Every photo under ROOT/<class>/ (any depth below the class folder), labelled by its class folder's name."""
    found = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if entry.suffix.lower() in PHOTO_SUFFIXES:
                raise DataError(f"{entry}: a photo outside a class folder; put it in {root}/<class>/ or pass --labels")
            continue
        label = label_of(entry.name, str(entry))
        found += [(p, label) for p in sorted(entry.rglob("*"))
                  if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES and not p.name.startswith(".")]
    return found


def photos_from_csv(root: Path, labels_csv: Path) -> list[tuple[Path, int]]:
    """The photos a CSV with columns `photo,label` names (paths relative to `root`), labelled by class name."""
    try:
        text = labels_csv.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{labels_csv}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"photo", "label"} <= {f.strip().lower() for f in reader.fieldnames}:
        raise DataError(f"{labels_csv}: expected a header with the columns photo,label (the photo's path inside {root})")
    names = {f.strip().lower(): f for f in reader.fieldnames}
    found = []
    for line, row in enumerate(reader, start=2):
        where = f"{labels_csv}: line {line}"
        photo = (row.get(names["photo"]) or "").strip()
        path = root / photo
        if not photo or not path.is_file():
            raise DataError(f"{where}: photo '{photo}' is not a file in {root}")
        found.append((path, label_of(row.get(names["label"]) or "", where)))
    return found


def list_photos(root: Path, labels_csv: Path | None) -> list[tuple[Path, int]]:
    """The labelled photos to make faces of, from class folders or from a labels CSV; refuses an empty set."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; pass a folder of photos in <class>/ sub-folders (angry/, happy/, …)")
    photos = photos_from_csv(root, Path(labels_csv)) if labels_csv else photos_from_folders(root)
    if not photos:
        raise DataError(f"{root}: no photos ({', '.join(sorted(PHOTO_SUFFIXES))}) in class folders such as "
                        f"{root}/happy/")
    return photos


def build_supplement(root: Path, fer: FERData, labels_csv: Path | None = None) -> Supplement:
    """Faces from the course's photos, each photo reported; near-duplicates of `fer` (or mirrors) refused."""
    from fercomp.data.faces import face_of

    root = Path(root)
    photos = list_photos(root, labels_csv)
    results = [face_of(path) for path, _ in photos]
    # A photo that is itself a FER image (its thumbnail) or whose face is one: either is a public face.
    public: dict[int, tuple[int, int, float]] = {}  # photo → (FER index, hash distance, pixel correlation)
    for attribute in ("thumbnail", "face"):
        which = [i for i, r in enumerate(results) if getattr(r, attribute) is not None and i not in public]
        if which:
            match = nearest_public(np.stack([getattr(results[i], attribute) for i in which]), fer.images)
            for at in np.flatnonzero(match.duplicates()):
                public[which[at]] = (int(match.index[at]), int(match.distance[at]), float(match.correlation[at]))
    rows, faces, labels = [], [], []
    for i, ((path, label), result) in enumerate(zip(photos, results)):
        photo, name = path.relative_to(root).as_posix(), CLASS_NAMES[label]
        if i in public:
            index, bits, correlation = public[i]
            split = fer.split_names[fer.split[index]]
            rows.append(PhotoRow(photo, name, "duplicate", f"near-duplicate of FER-2013 {fer.ids[index]} ({split}) or "
                                 f"its mirror: {bits} of 143 hash bits differ, pixel correlation {correlation:.3f}",
                                 fer_id=str(fer.ids[index]), fer_split=split, distance=bits))
        elif result.outcome == "kept":
            faces.append(result.face)
            labels.append(label)
            rows.append(PhotoRow(photo, name, "kept", f"face at row {result.box[0]}, column {result.box[1]}, "
                                 f"{result.box[2]} px square", supplement_row=len(faces)))
        else:
            rows.append(PhotoRow(photo, name, result.outcome, result.reason))
    stacked = np.stack(faces) if faces else np.zeros((0, 48, 48), dtype=np.uint8)
    return Supplement(stacked, np.asarray(labels, dtype=np.int64), rows)


def supplement_csv(supplement: Supplement) -> str:
    """The kept faces as a FER-format CSV: emotion,pixels,Usage (PrivateTest)."""
    lines = ["emotion,pixels,Usage"]
    lines += [f"{int(label)},{' '.join(map(str, face.ravel().tolist()))},{PRIVATE_TEST}"
              for face, label in zip(supplement.faces, supplement.labels)]
    return "\n".join(lines) + "\n"


def report_csv(supplement: Supplement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for r in supplement.rows:
        writer.writerow([r.photo, r.label, r.outcome, r.reason, "" if r.supplement_row is None else r.supplement_row,
                         r.fer_id, r.fer_split, "" if r.distance is None else r.distance])
    return out.getvalue()


def report_markdown(supplement: Supplement, root: Path, fer: FERData, out: Path) -> str:
    counts = supplement.counts()
    per_class = np.bincount(supplement.labels, minlength=len(CLASS_NAMES))
    lines = [f"# Private supplement from {root}", "",
             f"{len(supplement.rows)} photos; {counts['kept']} faces kept in {out}; every photo and face checked "
             f"against {len(fer):,} FER-2013 images of {fer.source} (and their mirrors).", "",
             "| outcome | photos |", "|---|---:|"]
    lines += [f"| {outcome.replace('_', ' ')} | {counts[outcome]} |" for outcome in OUTCOMES]
    lines += ["", "| class | faces kept |", "|---|---:|"]
    lines += [f"| {name} | {int(n)} |" for name, n in zip(CLASS_NAMES, per_class)]
    refused = [r for r in supplement.rows if r.outcome != "kept"]
    if refused:
        lines += ["", "## Refused", "", "| photo | label | outcome | why |", "|---|---|---|---|"]
        lines += [f"| {r.photo} | {r.label} | {r.outcome.replace('_', ' ')} | {r.reason} |" for r in refused]
    return "\n".join(lines) + "\n"


def write_supplement(supplement: Supplement, out: Path, report: Path, root: Path, fer: FERData) -> list[Path]:
    """The supplement CSV (only when a face was kept) and the report as `report`.csv and `report`.md, atomically."""
    from fercomp.atomic import write_text

    written = []
    if len(supplement.faces):
        write_text(out, supplement_csv(supplement))
        written.append(out)
    for path, text in ((report.with_suffix(".csv"), report_csv(supplement)),
                       (report.with_suffix(".md"), report_markdown(supplement, root, fer, out))):
        write_text(path, text)
        written.append(path)
    return written


@dataclass(frozen=True)
class ReadSupplement:
    """A supplement as the final phase uses it: public duplicates dropped, and counted."""

    data: FERData  # the faces left
    duplicates_dropped: int
    dropped_ids: tuple[str, ...]  # the supplement's ids of the dropped faces (row:<i>)


def read_supplement(path: Path, fer: FERData) -> ReadSupplement:
    """Read a supplement (a FER-format CSV or folder) and drop every face that repeats a `fer` image or its mirror."""
    from fercomp.data.source import load_data

    faces = load_data(path, announce=False)
    match = nearest_public(faces.images, fer.images)
    public = match.duplicates()
    if public.all():
        raise DataError(f"{path}: every one of its {len(faces)} faces is a near-duplicate of a FER-2013 image; "
                        "a supplement must hold the course's own photos (fercomp supplement)")
    return ReadSupplement(faces.take(np.flatnonzero(~public)), int(public.sum()),
                          tuple(str(i) for i in faces.ids[public]))


def make_supplement(root: Path, out: Path, fer_path: Path, labels_csv: Path | None = None,
                    report: Path | None = None) -> tuple[Supplement, list[Path]]:
    """`fercomp supplement`: read FER-2013 from `fer_path`, build from `root`, write `out` and the report
    (`report`, default OUT-report, as .csv and .md). Nothing is written when the photos cannot be read as a set."""
    from fercomp.data.source import load_data

    out, fer_path = Path(out), Path(fer_path)
    if out.suffix.lower() != ".csv":
        raise DataError(f"{out}: the supplement is a FER-format CSV; name a .csv file")
    list_photos(Path(root), labels_csv)  # the photos first: the folder the user named is the likelier mistake
    if not fer_path.exists():
        raise DataError(f"{fer_path}: no such file or folder; the supplement is checked against FER-2013: pass --fer "
                        "with the course's fer2013.csv (default: [competition] data in fercomp.toml)")
    fer = load_data(fer_path, announce=False)
    supplement = build_supplement(Path(root), fer, labels_csv)
    report = Path(report) if report else out.with_name(out.stem + "-report")
    return supplement, write_supplement(supplement, out, report, Path(root), fer)

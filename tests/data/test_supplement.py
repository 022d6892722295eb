"""`fercomp supplement`: real faces (scikit-image's astronaut, transformed) become a FER-format supplement, every
photo reported; photos without one face, unreadable files and near-duplicates of FER-2013 images are refused."""

import csv

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from fercomp.data.phash import NEAR, distance, nearest_public, phash
from fercomp.data.source import load_data
from fercomp.data.supplement import build_supplement, read_supplement, supplement_csv
from fercomp.data.synth import SynthSpec, write
from tests.conftest import lines

skimage_data = pytest.importorskip("skimage.data")  # a runtime dependency: never skipped where fercomp installs


@pytest.fixture(scope="module")
def fer(tmp_path_factory):
    path = tmp_path_factory.mktemp("fer") / "fer.csv"
    write(path, SynthSpec(n_train=400, n_public=60, n_private=60, seed=5), "csv")
    return path


@pytest.fixture(scope="module")
def photos(tmp_path_factory, fer):
    """Labelled photos: five of one real face (as shot, brighter, darker, mirrored, cropped), one with no face,
    one with two, a broken file, and a FER-2013 face saved as a photo."""
    root = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(skimage_data.astronaut())
    folders = {"happy": [("astronaut.jpg", astronaut), ("bright.png", ImageEnhance.Brightness(astronaut).enhance(1.3))],
               "SURPRISE": [("mirror.png", astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT))],
               "Sadness": [("dark.jpg", ImageEnhance.Brightness(astronaut).enhance(0.7))],  # an alias of Sad
               "sad": [("crop.jpg", astronaut.crop((60, 0, 450, 420)))],
               "neutral": [("coffee.jpg", Image.fromarray(skimage_data.coffee()))],
               "angry": [("two.png", Image.fromarray(np.concatenate([skimage_data.astronaut()] * 2, axis=1)))],
               "fear": [("fer_face.png", Image.fromarray(load_data(fer, announce=False).images[7]).resize((160, 160)))]}
    for folder, images in folders.items():
        (root / folder).mkdir()
        for name, image in images:
            image.save(root / folder / name)
    (root / "angry" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "happy" / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture(scope="module")
def built(photos, fer, tmp_path_factory):
    from fercomp.cli import main

    out = tmp_path_factory.mktemp("out") / "supplement.csv"
    try:
        main(["supplement", str(photos), "--fer", str(fer), "--out", str(out)])
    except SystemExit as exc:
        pytest.fail(f"exit {exc.code}")
    with open(out.with_name("supplement-report.csv"), newline="") as fh:
        report = {row["photo"]: row for row in csv.DictReader(fh)}
    return out, report


def test_kept_and_refused(built):
    out, report = built
    outcome = {photo: row["outcome"] for photo, row in report.items()}
    assert outcome == {"happy/astronaut.jpg": "kept", "happy/bright.png": "kept", "SURPRISE/mirror.png": "kept",
                       "Sadness/dark.jpg": "kept", "sad/crop.jpg": "kept", "neutral/coffee.jpg": "no_face",
                       "angry/two.png": "several_faces", "angry/broken.jpg": "unreadable", "fear/fer_face.png": "duplicate"}
    assert report["fear/fer_face.png"]["fer_id"] == "row:7" and int(report["fear/fer_face.png"]["distance"]) <= NEAR
    assert "2 faces" in report["angry/two.png"]["reason"]
    faces = load_data(out, announce=False)
    assert len(faces) == 5 and faces.images.shape == (5, 48, 48)
    labels = {report[p]["supplement_row"]: report[p]["label"] for p in report if report[p]["outcome"] == "kept"}
    # labelled by folder name, whatever its case or alias, in the FER order (never the sorted folder index)
    assert [faces.class_names[k] for k in faces.labels] == [labels[str(i)] for i in range(1, 6)]
    assert sorted(labels.values()) == ["Happy", "Happy", "Sad", "Sad", "Surprise"]
    markdown = out.with_name("supplement-report.md").read_text()
    assert "| kept | 5 |" in markdown and "| duplicate | 1 |" in markdown and "fer_face.png" in markdown


def test_a_face_cropped_from_a_photo_is_checked_too(fer, tmp_path):
    """A public face inside a larger photo (the photo as a whole is no FER image) is refused by its crop: here
    FER-2013 holds the face that the same photo, saved as a PNG rather than a JPEG, gives."""
    from dataclasses import replace

    from fercomp.data.faces import face_of

    canvas = Image.new("RGB", (800, 700), (90, 120, 90))
    canvas.paste(Image.fromarray(skimage_data.astronaut()), (200, 120))
    canvas.save(tmp_path / "original.png")
    public_face = face_of(tmp_path / "original.png").face
    base = load_data(fer, announce=False)
    public = replace(base, images=np.concatenate([base.images, public_face[None]]), labels=np.concatenate([base.labels, [3]]),
                     split=np.concatenate([base.split, [0]]), ids=np.concatenate([base.ids, ["row:520"]]))
    (tmp_path / "photos" / "happy").mkdir(parents=True)
    canvas.save(tmp_path / "photos" / "happy" / "framed.jpg", quality=90)
    result = build_supplement(tmp_path / "photos", public)
    assert [r.outcome for r in result.rows] == ["duplicate"] and result.rows[0].fer_id == "row:520"
    assert len(build_supplement(tmp_path / "photos", base).faces) == 1  # without that row, the same photo is kept


def test_read_drops_public_faces(built, fer, tmp_path):
    """A supplement carved partly from FER-2013 (one face mirrored) loses those faces when read, counted."""
    out, _ = built
    ours, public = load_data(out, announce=False), load_data(fer, announce=False)
    from fercomp.data.supplement import Supplement

    mixed = Supplement(np.concatenate([ours.images, public.images[[3]], public.images[[9], :, ::-1]]),
                       np.concatenate([ours.labels, public.labels[[3, 9]]]), [])
    path = tmp_path / "mixed.csv"
    path.write_text(supplement_csv(mixed))
    read = read_supplement(path, public)
    assert read.duplicates_dropped == 2 and len(read.data) == 5 and read.dropped_ids == ("row:5", "row:6")


def test_hash_tells_faces_apart():
    """Distinct real faces are far apart; the same face re-encoded, brightened or shifted a pixel is near."""
    faces = np.stack([np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((48, 48)))
                      for f in skimage_data.lfw_subset()[:40]])
    hashes = phash(faces)
    pairs = distance(hashes[:, None], hashes[None, :])[~np.eye(40, dtype=bool)]
    assert pairs.min() > NEAR
    brighter = np.clip(faces.astype(int) + 25, 0, 255).astype(np.uint8)
    shifted = np.pad(faces, ((0, 0), (1, 1), (1, 1)), mode="edge")[:, :48, 1:49]
    for changed in (brighter, shifted, faces[:, :, ::-1]):
        match = nearest_public(changed, faces)
        assert (match.index == np.arange(40)).all() and match.duplicates().all()
    others = nearest_public(faces[:20], faces[20:])
    assert not others.duplicates().any()


def test_distinct_synthetic_faces_are_not_duplicates():
    """fercomp's synthetic faces share one template, so their hashes are neighbours: the pixels decide."""
    from fercomp.data.synth import generate

    public = generate(SynthSpec(n_train=600, n_public=0, n_private=0, seed=0))[0]
    private = generate(SynthSpec(n_train=0, n_public=0, n_private=150, seed=99))[0]
    match = nearest_public(private, public)
    assert (match.distance <= NEAR).mean() > 0.5  # the hash alone would call most of them public
    assert not match.duplicates().any()
    assert nearest_public(public[:50, :, ::-1], public).duplicates().all()


@pytest.mark.parametrize("layout, words", [
    ("missing", "not a folder"),
    ("numbered", "label '3' is a number"),
    ("unknown", "'joyful' is not a FER class"),
    ("loose", "a photo outside a class folder"),
    ("labels", "line 2: photo 'gone.jpg' is not a file"),
])
def test_bad_input_is_one_line(cli, tmp_path, fer, layout, words):
    root = tmp_path / "photos"
    extra = []
    if layout != "missing":
        root.mkdir()
    folder = {"numbered": "3", "unknown": "joyful"}.get(layout)
    if folder:
        (root / folder).mkdir()
        Image.new("L", (64, 64)).save(root / folder / "a.png")
    if layout == "loose":
        Image.new("L", (64, 64)).save(root / "a.png")
    if layout == "labels":
        (tmp_path / "labels.csv").write_text("photo,label\ngone.jpg,happy\n")
        extra = ["--labels", tmp_path / "labels.csv"]
    code, out, err = cli("supplement", root, "--fer", fer, "--out", tmp_path / "s.csv", *extra)
    assert code == 2 and len(lines(err)) == 1 and words in err and "Traceback" not in err, err
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "s-report.csv").exists()


def test_a_mistyped_photos_folder_is_named_before_the_fer_file(cli, tmp_path, monkeypatch):
    """Run outside a course (no fer2013.csv where the default points): the folder the user typed is what is wrong."""
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("supplement", tmp_path / "photoz")
    assert code == 2 and len(lines(err)) == 1 and "photoz: not a folder" in err, err


def test_labels_csv_and_no_face_kept(cli, tmp_path, fer):
    """Labels from a CSV (any layout); a set where no face is found writes the report and exits 2."""
    Image.fromarray(skimage_data.coffee()).save(tmp_path / "cup.jpg")
    (tmp_path / "labels.csv").write_text("photo,label\ncup.jpg,Neutral\n")
    code, out, err = cli("supplement", tmp_path, "--labels", tmp_path / "labels.csv", "--fer", fer,
                         "--out", tmp_path / "o" / "s.csv")
    assert code == 2 and "no face kept from 1 photos" in err and len(lines(err)) == 1
    assert not (tmp_path / "o" / "s.csv").exists() and "cup.jpg,Neutral,no_face" in (tmp_path / "o" / "s-report.csv").read_text()

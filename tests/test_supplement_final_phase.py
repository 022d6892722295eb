"""A course as an instructor runs it, end to end: `fercomp init`, `fercomp supplement` from real face photos, and a
jailed final phase whose audit names a memoriser of every public split and no honest team.

The memoriser keys a lookup of every Training, PublicTest and PrivateTest face on a coarse face (blurred, 12×12,
mirror-symmetric, brightness and contrast taken out, at five offsets), answers those from the table and every other
face from a small network. Every check that compares one public split with another sees the same near-perfect
accuracy on all of them; the course's own faces (real people: scikit-image's LFW sample and astronaut, each photo
shot a few ways, in class folders) are the evidence that names it. The same course without a supplement says, on
its final board and in its audit, that memorisation of public faces cannot be excluded.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from fercomp.audit_passes import SECRET_ENV
from fercomp.data.synth import SynthSpec, generate, write_csv
from tests.conftest import run_cli_captured
from tests.hostile.audit_cohort import ROBUST, STARTER, build, honest_source, robust_lookup, train, write

skimage_data = pytest.importorskip("skimage.data")  # a runtime dependency: never skipped where fercomp installs

pytestmark = pytest.mark.jail  # hand-ins scored and audited in jails

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
HONEST = [f"team_{i}" for i in range(4)]
MEMORISER = "team_lookup"
FAST_LATENCY = "\n[latency]\nmin_queries = 3\nmin_seconds = 0.0\nwarmup_queries = 1\n"


cli = run_cli_captured  # module fixtures drive the CLI as a user would, in the course's folder


def face_photos(root: Path) -> int:
    """Photos of real people in class folders: each of scikit-image's LFW faces (25×25, enlarged onto a canvas as a
    photo) shot twice (a shift and a brightness, then a mirror and a crop), and the astronaut four ways. A person's
    photos share a class folder, and the classes take turns, so every class holds about as many faces."""
    rng = np.random.default_rng(3)
    lfw = skimage_data.lfw_subset()[:100]  # the first 100 are faces
    photos = []
    for person, face in enumerate(lfw):
        portrait = Image.fromarray((face * 255).astype(np.uint8)).resize((160, 160), Image.Resampling.BICUBIC)
        canvas = np.pad(np.asarray(portrait), 80, mode="edge")
        dy, dx = rng.integers(-24, 25, 2)
        first = Image.fromarray(np.roll(canvas, (int(dy), int(dx)), axis=(0, 1)))
        first = ImageEnhance.Brightness(first).enhance(float(rng.uniform(0.8, 1.2)))
        second = Image.fromarray(canvas).transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((30, 20, 300, 300))
        photos += [(person, f"lfw{person:03d}_a.jpg", first), (person, f"lfw{person:03d}_b.png", second)]
    astronaut = Image.fromarray(skimage_data.astronaut())
    for k, photo in enumerate((astronaut, astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                               ImageEnhance.Brightness(astronaut).enhance(1.25), astronaut.crop((40, 0, 460, 400)))):
        photos.append((100, f"astronaut_{k}.jpg", photo))
    for person, name, photo in photos:
        folder = root / CLASSES[person % len(CLASSES)]
        folder.mkdir(parents=True, exist_ok=True)
        photo.convert("RGB").save(folder / name)
    return len(photos)


def hand_ins(course: Path, images: np.ndarray, labels: np.ndarray, split: np.ndarray) -> None:
    """The baseline (the course's starter, trained), four honest teams (the starter at their own widths, seeds
    and epochs, trained on Training) and the memoriser, written into the course."""
    train_x, train_y = images[split == 0], labels[split == 0]
    write(course / "baselines", "baseline_cnn", STARTER, train(build(STARTER), train_x, train_y, 100, 3, 3e-3).state_dict())
    for i, team in enumerate(HONEST):
        model = train(build(honest_source(2 * i)), train_x, train_y, seed=i, epochs=3 + i % 2, lr=(2e-3, 3e-3)[i % 2])
        write(course / "submissions", team, honest_source(2 * i), model.state_dict())
    net = train(build(ROBUST.split("class RobustLookup")[0]), train_x, train_y, seed=5, epochs=4, lr=3e-3)
    write(course / "submissions", MEMORISER, *robust_lookup(net, images, labels))  # every public split


def final_phase(course: Path) -> dict:
    """`fercomp leaderboard --phase final` in the course (jailed: init's sandbox = "required"); its files."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(course)
        code, out, err = cli("leaderboard", "--phase", "final", "--jobs", "2")
        assert code == 0, out + err
        final = course / "reports" / "final"
        result = {"out": out, "board": (final / "leaderboard-PrivateTest.md").read_text(),
                  "audit": json.loads((final / "audit-PrivateTest.json").read_text()),
                  "audit_md": (final / "audit-PrivateTest.md").read_text()}
        (final / "audit-PrivateTest.json").unlink()
        code, out, err = cli("audit")  # again from the records alone, as docs/audit.md runs it after the final phase
        assert code == 0, out + err
        result["audit_again"] = json.loads((final / "audit-PrivateTest.json").read_text())
        result["public_folder"] = sorted(p.name for p in (course / "reports" / "leaderboard").glob("*"))
    return result


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """Two courses made by `fercomp init` on one synthetic set with the same hand-ins: one with a supplement that
    `fercomp supplement` built from the photos, one without; each through its final phase."""
    root = tmp_path_factory.mktemp("e2e")
    images, labels, split = generate(SynthSpec(n_train=800, n_public=200, n_private=300, seed=23))
    photos = root / "photos"
    taken = face_photos(photos)
    with pytest.MonkeyPatch.context() as mp:
        # module scope: the per-test isolated caches are not set up yet
        mp.setenv("FERCOMP_CACHE_DIR", str(root / "cache"))
        mp.setenv("FERCOMP_EXPORT_CACHE_DIR", str(root / "exported"))  # the second course's hand-ins are not exported again
        mp.setenv(SECRET_ENV, "the course's secret, kept outside the repository")
        made = {}
        for name, extra in (("with", ["--supplement", "data/supplement.csv"]), ("without", [])):
            course = root / name
            code, out, err = cli("init", course, "--fercomp-spec", "fercomp==0.1.0", *extra)
            assert code == 0, out + err
            with open(course / "fercomp.toml", "a") as fh:
                fh.write(FAST_LATENCY)
            write_csv(course / "data" / "fer2013.csv", images, labels, split)  # where init's next steps put the data
            if made:  # the same files: trained once, and exported once (the export cache is keyed by content)
                for folder in ("baselines", "submissions"):
                    shutil.copytree(made["with"] / folder, course / folder, dirs_exist_ok=True)
            else:
                hand_ins(course, images, labels, split)
            made[name] = course
        mp.chdir(made["with"])
        code, out, err = cli("supplement", photos, "--out", "data/supplement.csv")
        assert code == 0, out + err
        with open(made["with"] / "data" / "supplement-report.csv", newline="") as fh:
            outcomes = [row["outcome"] for row in csv.DictReader(fh)]
        supplement = {"out": out, "outcomes": outcomes, "photos": taken}
        return {"supplement": supplement, **{name: final_phase(course) for name, course in made.items()}}


def flagged(audit: dict, check_id: str) -> set[tuple[str, ...]]:
    check = next(c for c in audit["checks"] if c["id"] == check_id)
    assert check.get("not_run") is None, f"{check_id} did not run: {check['not_run']}"
    return {tuple(f["teams"]) for f in check["findings"] if f["flagged"]}


def test_the_supplement_is_made_from_the_real_faces(courses):
    supplement = courses["supplement"]
    outcomes = supplement["outcomes"]
    assert len(outcomes) == supplement["photos"]  # every photo reported
    assert outcomes.count("kept") >= 0.9 * len(outcomes), supplement["out"]  # nearly every photo: one frontal face
    assert "duplicate" not in outcomes  # real people are no synthetic face
    # init --supplement named the file already: the command says so rather than asking for it again
    assert "fercomp.toml's private_supplement already names data/supplement.csv" in supplement["out"], supplement["out"]


def test_the_audit_names_the_memoriser_through_the_supplement_and_no_honest_team(courses):
    audit = courses["with"]["audit"]
    gap = next(c for c in audit["checks"] if c["id"] == "supplement_gap")
    assert (MEMORISER,) in flagged(audit, "supplement_gap"), [(f["teams"], f["p_value"], f["detail"]) for f in gap["findings"]]
    # every public split memorised: the checks that compare public splits with each other see nothing
    assert (MEMORISER,) not in flagged(audit, "split_gap") | flagged(audit, "train_gap")
    assert set(audit["under_review"]) == {MEMORISER}, audit["under_review"]
    board = courses["with"]["board"]
    assert "cannot be excluded" not in board and "private supplement" in board
    # `fercomp audit` after the final phase: the same findings, written beside the final board, not in the public folder
    assert courses["with"]["audit_again"]["under_review"] == audit["under_review"]
    assert courses["with"]["public_folder"] == []


def test_without_a_supplement_the_board_and_the_audit_say_what_cannot_be_excluded(courses):
    result = courses["without"]
    assert "memorisation of public faces cannot be excluded" in result["board"]
    assert "memorisation of public faces cannot be excluded" in result["audit_md"]
    check = next(c for c in result["audit"]["checks"] if c["id"] == "supplement_gap")
    assert check.get("not_run"), check
    assert not set(result["audit"]["under_review"]) & set(HONEST), result["audit"]["under_review"]

"""`fercomp gradescope build`: the autograder zip Gradescope takes (setup.sh and run_autograder at its root).

What ships: the course's fercomp.toml and gradescope/ scripts, the pinned fercomp (ci/requirements.txt), the
public split of the data as a fer2013.csv, and the baseline's score record on it. The held-out split (images
and labels) ships only when `[gradescope] final = true`, for a course that scores the final phase there,
hidden from students until grades are published. Everything a hand-in could want to read is only ever read
by the trusted run_autograder: the jails see none of /autograder.
"""

from __future__ import annotations

import json
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fercomp.config import CONFIG_NAME, GRADESCOPE_MIN_MEMORY_MB, load_config
from fercomp.errors import UsageError
from fercomp.gradescope.autograder import MANIFEST
from fercomp.version import __version__

SCRIPTS = ("setup.sh", "run_autograder")
BUNDLED_SPLITS = {"public": "PublicTest", "held_out": "PrivateTest"}  # the zip's CSV uses the Kaggle names
DATA = "data/fer2013.csv"


@dataclass(frozen=True)
class Bundle:
    path: Path
    splits: dict[str, int]  # bundled split → images
    members: list[str]


def build(course: Path, out: Path | None = None) -> Bundle:
    """Write the autograder zip for the course in `course` (default gradescope/autograder.zip there)."""
    from fercomp.atomic import atomic_path
    from fercomp.data.source import load_data
    from fercomp.data.synth import write_csv
    from fercomp.records import read_record

    course = Path(course)
    cfg = load_config(course / CONFIG_NAME) if (course / CONFIG_NAME).is_file() else None
    if cfg is None:
        raise UsageError(f"{course}: no {CONFIG_NAME}; run fercomp gradescope build in the course folder (fercomp init)")
    missing = [name for name in SCRIPTS if not (course / "gradescope" / name).is_file()]
    if missing:
        raise UsageError(f"{course / 'gradescope' / missing[0]}: missing; write the scripts with fercomp init . --gradescope")
    _check_memory(course / CONFIG_NAME, cfg.gradescope.memory_mb)
    requirements = course / "ci" / "requirements.txt"
    _check_requirements(requirements)
    comp = cfg.competition
    data = load_data(course / comp.data, held_out=comp.held_out)
    wanted = {"public": data.resolve_split(comp.public_split)}
    if cfg.gradescope.final:
        if data.held_out is None:
            raise UsageError(f"{course / comp.data}: no held-out split, but [gradescope] final = true ships it")
        wanted["held_out"] = data.resolve_split(data.held_out)
    baseline = Path(comp.baseline).stem
    records, manifest = {}, {"fercomp": __version__, "data": DATA, "public_split": BUNDLED_SPLITS["public"],
                             "held_out": BUNDLED_SPLITS["held_out"] if "held_out" in wanted else None, "baseline_records": {}}
    for role, split in wanted.items():
        path = course / comp.results / f"{baseline}.{split}.json"
        if not path.is_file():
            raise UsageError(f"{path}: no baseline record on {split}; score it first: fercomp score {comp.baseline} "
                             f"--phase {'public' if role == 'public' else 'final'}")
        record = read_record(path)
        if record.status != "scored" or record.data.get("sha256") != data.source_sha256:
            raise UsageError(f"{path}: the baseline's record must be scored on {course / comp.data} as it is now "
                             f"({'failed' if record.status != 'scored' else 'scored on other data'}); score it again")
        name = f"baseline/{baseline}.{BUNDLED_SPLITS[role]}.json"
        records[name] = path.read_bytes()
        manifest["baseline_records"][BUNDLED_SPLITS[role]] = name
    with tempfile.TemporaryDirectory(prefix="fercomp-gradescope-build-") as tmp:
        csv = Path(tmp) / "fer2013.csv"
        subset = data.take(np.flatnonzero(np.isin(data.split, [data.split_names.index(s) for s in wanted.values()])))
        kaggle_code = {data.split_names.index(wanted[role]): code for code, role in ((1, "public"), (2, "held_out"))
                       if role in wanted}
        write_csv(csv, subset.images, subset.labels, np.array([kaggle_code[int(s)] for s in subset.split], dtype=np.int8))
        files = {"setup.sh": (course / "gradescope" / "setup.sh").read_bytes(),
                 "run_autograder": (course / "gradescope" / "run_autograder").read_bytes(),
                 CONFIG_NAME: (course / CONFIG_NAME).read_bytes(),
                 "requirements.txt": requirements.read_bytes() if requirements.is_file() else f"fercomp=={__version__}\n".encode(),
                 MANIFEST: (json.dumps(manifest, indent=2) + "\n").encode(), **records}
        target = Path(out) if out else course / "gradescope" / "autograder.zip"
        with atomic_path(target) as tmp_zip, zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, content in files.items():
                _add(zf, name, content, executable=name in SCRIPTS)
            _add(zf, DATA, csv.read_bytes(), executable=False)
    counts = {BUNDLED_SPLITS[role]: int((data.split == data.split_names.index(split)).sum()) for role, split in wanted.items()}
    return Bundle(target, counts, [*files, DATA])


def _check_memory(config: Path, memory_mb: int) -> None:
    """A zip whose jails cannot start scores nobody: every run would end "too little memory" (score 0)."""
    if memory_mb < GRADESCOPE_MIN_MEMORY_MB:
        raise UsageError(f"{config}: [gradescope] memory_mb = {memory_mb} is below the {GRADESCOPE_MIN_MEMORY_MB} MB the "
                         "jails need (the baseline's passed 1.8 GB): set memory_mb = 4096 and the same memory in "
                         "Gradescope's autograder settings")


#: a requirement Gradescope's image cannot install: a file URL, or a path on the machine that built the zip
LOCAL_PIN = re.compile(r"file:|@\s*[./~]|^\s*(-e\s+)?[./~]|^\s*-e\s+(?!git\+https?://)")


def _check_requirements(requirements: Path) -> None:
    """What setup.sh installs on Gradescope must be reachable from there: an index version or a remote URL."""
    if not requirements.is_file():
        return  # the zip then pins this fercomp's version on the index
    for number, line in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith("#") and LOCAL_PIN.search(text):
            raise UsageError(f"{requirements}:{number}: '{text}' is a local path, which Gradescope cannot install; run "
                             "fercomp init . --force --fercomp-spec with a git URL and commit (fercomp @ git+https://…@<commit>)"
                             " or a version on a package index (fercomp==X.Y.Z)")


def _add(zf: zipfile.ZipFile, name: str, content: bytes, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # a fixed date: the same course gives the same zip
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, content)

"""The final phase's audit passes: the same exported graph, on images other than the held-out split.

The trusted parent builds each view's images and keeps its labels; the measurer sees uint8 images only,
exactly as for the held-out split, and cannot tell a view from another batch. What each view is for:
- public: the whole public split. Public and held-out splits are draws from one distribution, so an honest
  model scores about the same on both; a model fitted to the held-out labels does not.
- training_sample: a fixed, seeded sample of Training images. An honest model scores at least as well on
  images it trained on as on unseen ones.
- supplement: the course's private faces ([competition] private_supplement), which no one outside the course
  has: a memoriser of every public image scores them like a random guess.
- perturbed: each held-out image once more under one perturbation (`PERTURBATIONS`: mirrored, shifted, re-encoded,
  rotated, scaled, cropped, re-toned, noised, partly covered, or several at once), the kind and its parameters
  drawn from a secret seed ($FERCOMP_AUDIT_SECRET, kept out of the repository). An honest model tolerates these
  about as well as its cohort, kind by kind; a lookup of memorised images, even keyed on a coarse (blurred,
  low-resolution, mirror-symmetric) face, loses its answers to the geometric ones.
Each view is summarised into the record (fercomp/records.py `audit_views`); the audit reads only that.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fercomp.config import NO_SUPPLEMENT, check_supplement
from fercomp.data import perturbations
from fercomp.data.dataset import FERData
from fercomp.errors import DataError, UsageError
from fercomp.hashing import sha256_text
from fercomp.measure.metrics import confidence_counts
from fercomp.records import ids_sha256
from fercomp.submission import session
from fercomp.submission.contract import SubmissionFiles
from fercomp.submission.runner import HandinJails

SECRET_ENV = "FERCOMP_AUDIT_SECRET"
#: the secret family (fercomp/data/perturbations.py); the audit compares each kind's drop with the cohort's
PERTURBATIONS = perturbations.KINDS


@dataclass(frozen=True)
class AuditPasses:
    """Which views the final phase adds (each recorded in the record's settings)."""

    public_split: str | None = "PublicTest"
    training_sample: int = 2000  # Training images scored (0: none)
    supplement: str = ""  # the course's private faces (a fer2013-style CSV or a folder); "" for none
    perturb: bool = True  # needs $FERCOMP_AUDIT_SECRET; without it the view is skipped with a note

    def settings(self) -> dict:
        """What changes the views' numbers: the secret enters as a digest, never itself."""
        secret = os.environ.get(SECRET_ENV, "")
        return {"public_split": self.public_split, "training_sample": self.training_sample,
                "supplement": self.supplement, "perturb": self.perturb and bool(secret),
                "secret_sha256": sha256_text("fercomp-audit:" + secret)[:16] if secret else None}


def for_phase(cfg, phase: str | None) -> AuditPasses | None:
    """The passes a competition config asks for in `phase`: the final phase only, unless [audit] enabled = false.
    `fercomp leaderboard --phase final` and the CI/Slurm shards (`fercomp score --phase final`) both use this,
    so their records carry the same views under the same settings."""
    comp = cfg.competition
    if phase == "final":
        check_supplement(cfg)
    if phase != "final" or not cfg.audit.enabled:
        return None
    return AuditPasses(public_split=comp.public_split, training_sample=cfg.audit.training_sample,
                       supplement=comp.private_supplement)


@dataclass(frozen=True)
class View:
    name: str
    images: np.ndarray  # uint8 N×48×48, what the measurer sees
    labels: np.ndarray  # kept by the parent
    detail: dict  # what the view is, recorded with it
    kinds: np.ndarray | None = None  # perturbed: the perturbation of each image (index into PERTURBATIONS)


def build_views(passes: AuditPasses, data: FERData, held: FERData) -> tuple[list[View], list[str]]:
    """The views to score beside `held` (the held-out subset of `data`), and a note for each one left out."""
    views, notes = [], []
    if passes.public_split:
        try:
            public = data.select(passes.public_split)
            views.append(View("public", public.images, public.labels,
                              {"split": passes.public_split, "ids_sha256": ids_sha256(public.ids)}))
        except DataError as exc:
            notes.append(f"public view not scored: {exc.message}")
    if passes.training_sample:
        views.extend(_training(data, passes.training_sample, notes))
    if passes.supplement:
        views.append(_supplement(Path(passes.supplement), data))
        dropped = views[-1].detail["duplicates_dropped"]
        if dropped:
            notes.append(f"private supplement: {dropped} face(s) dropped as near-duplicates of FER-2013 images "
                         "(public faces are no evidence); `fercomp supplement` lists such photos in its report")
    else:
        notes.append(NO_SUPPLEMENT)
    secret = os.environ.get(SECRET_ENV, "")
    if passes.perturb and secret:
        views.append(perturbed_view(held, secret))
    elif passes.perturb:
        notes.append(f"perturbation probe not run: set {SECRET_ENV} (a secret kept outside the repository)")
    return views, notes


def _training(data: FERData, size: int, notes: list[str]) -> list[View]:
    try:
        training = data.select("Training")
    except DataError:
        notes.append("training view not scored: the data has no Training split")
        return []
    # Seeded by the data, so every team (and every re-run) gets the same sample.
    rng = np.random.default_rng(int(data.source_sha256[:12], 16))
    index = np.sort(rng.choice(len(training), size=min(size, len(training)), replace=False))
    sample = training.take(index)
    return [View("training_sample", sample.images, sample.labels,
                 {"split": "Training", "images": len(index), "of": len(training), "ids_sha256": ids_sha256(sample.ids)})]


def _supplement(path: Path, data: FERData) -> View:
    """The supplement's faces less any that repeat a face of `data` (the competition's FER-2013), counted."""
    supplement = read_supplement_setting(path, data)
    faces = supplement.data
    return View("supplement", faces.images, faces.labels,
                {"source_sha256": faces.source_sha256, "images": len(faces), "ids_sha256": ids_sha256(faces.ids),
                 "duplicates_dropped": supplement.duplicates_dropped})


_SUPPLEMENTS: dict[tuple, object] = {}
_SUPPLEMENTS_LOCK = threading.Lock()


def read_supplement_setting(path: Path, data: FERData):
    """[competition] private_supplement read and checked against `data` (fercomp/data/supplement.py), once per
    file version and data set in a process: every team's held-out split pools the same faces."""
    from fercomp.data.supplement import read_supplement

    if not path.exists():
        raise UsageError(f"[competition] private_supplement = {str(path)!r}: no such file or folder")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, data.source_sha256)
    with _SUPPLEMENTS_LOCK:
        if key not in _SUPPLEMENTS:
            _SUPPLEMENTS.clear()
            _SUPPLEMENTS[key] = read_supplement(path, data)
        return _SUPPLEMENTS[key]


def perturbed_view(held: FERData, secret: str) -> View:
    """Each held-out image under one perturbation drawn, with its parameters, from the secret seed."""
    seed = int(sha256_text(f"fercomp-audit:{secret}:{held.source_sha256}")[:16], 16)
    images, kinds = perturbations.perturb_all(held.images, np.random.default_rng(seed))
    counts = {name: int((kinds == k).sum()) for k, name in enumerate(PERTURBATIONS)}
    return View("perturbed", images, held.labels, {"of": "held-out split", "kinds": counts}, kinds)


def summarise(view: View, log_probs: np.ndarray, top1: np.ndarray, clean_correct: np.ndarray | None = None) -> dict:
    """What the record keeps of a view: counts, accuracy, the mean and spread of the per-image loss; for the
    perturbed view, also how many held-out images each perturbation turned from right to wrong and back."""
    correct = top1 == view.labels
    nll = -np.maximum(log_probs, -50.0)  # a probability of exactly 0 would make one image's loss infinite
    summary = {**view.detail, "images": int(len(correct)), "correct": int(correct.sum()),
               "accuracy": float(correct.mean()), "nll_mean": float(nll.mean()), "nll_sd": float(nll.std(ddof=1))}
    if view.kinds is not None and clean_correct is not None:
        summary["clean_correct"] = int(clean_correct.sum())
        summary["right_to_wrong"] = int((clean_correct & ~correct).sum())
        summary["wrong_to_right"] = int((~clean_correct & correct).sum())
        summary["by_kind"] = {name: {"images": int((view.kinds == k).sum()),
                                     "right_to_wrong": int((clean_correct & ~correct)[view.kinds == k].sum()),
                                     "wrong_to_right": int((~clean_correct & correct)[view.kinds == k].sum())}
                              for k, name in enumerate(PERTURBATIONS)}
    summary["log_prob_counts"] = confidence_counts(log_probs)
    return summary



def true_class_log_probs(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log softmax(outputs)[true class], per image, in float64."""
    shifted = outputs.astype(np.float64) - outputs.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1))
    return shifted[np.arange(len(labels)), labels] - log_z


_VIEWS: dict[tuple, tuple[list[View], list[str]]] = {}
_VIEWS_LOCK = threading.Lock()


def cohort_views(passes: AuditPasses | None, data: FERData, held: FERData) -> tuple[list[View], list[str]]:
    """The views of this data, built once per cohort (every team sees the same images) and only when asked."""
    if passes is None:
        return [], []
    key = (data.source_sha256, len(held), repr(passes), repr(passes.settings()))
    with _VIEWS_LOCK:
        if key not in _VIEWS:
            _VIEWS.clear()
            _VIEWS[key] = build_views(passes, data, held)
        return _VIEWS[key]


def score_views(jails: HandinJails, files: SubmissionFiles, held: FERData, outputs: np.ndarray, batch_size: int,
                views: tuple[list[View], list[str]]) -> dict:
    """Each view through the same exported graph, summarised (the labels never leave this process)."""
    built, notes = views
    if not built and not notes:
        return {}
    clean_correct = outputs.argmax(1) == held.labels
    out: dict = {"notes": list(notes)} if notes else {}
    for view in built:
        seen, _ = session.predict_all(jails, view.images, batch_size, files)
        out[view.name] = summarise(view, true_class_log_probs(seen, view.labels), seen.argmax(1), clean_correct)
    return out

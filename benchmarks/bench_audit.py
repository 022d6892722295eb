"""The audit: its false-positive rates on simulated honest cohorts, and what its final-phase passes cost.

1. False positives. Honest teams are simulated image by image: image i has a difficulty d_i, team t an
   ability a_t (accuracies of about 40–70 %), and P(correct) = sigmoid(a_t − d_i). Honest behaviour, as the
   checks assume it: the public split is drawn like the held-out one (plus a small validation bonus), Training
   images come with an overfitting bonus, the private supplement has one shift shared by every team, and
   perturbations undo 1–8 % of a team's correct answers. Errors are correlated across teams (shared
   difficulty), as real models' are. Every check runs through `run_audit` on real records; the table gives the
   share of honest teams (or pairs) flagged at the documented level ([audit] alpha = 0.001, Holm).
   Confidence: each team has its own calibration (the share of right answers given with near-certainty), the
   same on every split it has not trained on, more on Training; perturbation kinds share one difficulty each.
2. Cost. One hand-in (the zoo's small CNN) scored on a real-size synthetic held-out split (3,589 images) with
   and without the final phase's audit passes (public split 3,589, Training sample 2,000, supplement 1,000,
   perturbed copies 3,589), in the jail, in this run: the ratio is what the audit adds to a final phase.

3. On an honestly trained cohort (`--fer2013 PATH`, or `--synthetic` for the generated set): a varied cohort of
   plain CNNs (2–4 layers, widths 8–256, seeds, with and without augmentation, epochs) and a robust-key memoriser
   (a CNN plus a lookup of a share of every public split keyed on a blurred, 12×12, mirror-symmetric face at five
   offsets) are trained in this process and audited from records built as the scorer builds them: every check's
   false positives on the honest teams, whether the memoriser is named, and each perturbation kind's drop for the
   honest teams against how much of the memoriser's gain it removes (benchmarks/audit_real.py).

Run: python benchmarks/bench_audit.py [--cohorts 40] [--teams 30] [--skip-cost]
     python benchmarks/bench_audit.py --fer2013 data/fer2013.csv [--teams 12] [--epochs 8] [--memorised 0.55]
     python benchmarks/bench_audit.py --synthetic --teams 6 --epochs 3      (minutes, on the generated faces)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fercomp.audit.run import run_audit
from fercomp.config import AuditSection
from fercomp.data.perturbations import KINDS
from fercomp.measure.metrics import confidence_counts
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs, encode_predictions

IMAGES, PUBLIC, TRAINING, SUPPLEMENT = 3589, 3589, 2000, 1000
PAIR_CHECKS = ("identical_files", "weights_cosine", "weights_permuted", "behaviour", "code_similarity")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _log_probs(correct: np.ndarray, sharpness: float, rng: np.random.Generator) -> np.ndarray:
    """A team's true-class log-probabilities: right answers near 0 (how near is the team's calibration), wrong ones
    below log 0.5."""
    right = -rng.exponential(sharpness, correct.size)
    wrong = np.log(rng.uniform(0.01, 0.45, correct.size))
    return np.where(correct, np.maximum(right, np.log(0.3)), wrong)


def _view(correct: np.ndarray, log_probs: np.ndarray, extra: dict | None = None) -> dict:
    nll = -log_probs
    return {"images": int(correct.size), "correct": int(correct.sum()), "accuracy": float(correct.mean()),
            "nll_mean": float(nll.mean()), "nll_sd": float(nll.std(ddof=1)), "log_prob_counts": confidence_counts(log_probs),
            **(extra or {})}


def honest_cohort(teams: int, rng: np.random.Generator) -> dict[str, ScoreRecord]:
    labels = rng.integers(0, 7, IMAGES)
    difficulty = {k: rng.normal(0, 1.5, n) for k, n in (("held", IMAGES), ("public", PUBLIC), ("train", TRAINING),
                                                          ("supplement", SUPPLEMENT))}
    shift = rng.normal(0.3, 0.1)
    ids = np.array([f"row:{i}" for i in range(IMAGES)])
    kinds = rng.integers(0, len(KINDS), IMAGES)
    kind_hardness = rng.uniform(0.5, 2.0, len(KINDS))  # a rotation costs every model more than a JPEG
    records = {}
    for t in range(teams):
        ability = rng.uniform(-0.5, 1.0)
        sharpness = rng.uniform(0.005, 0.3)  # the team's calibration: how close to 1 its right answers are
        draw = {k: rng.random(d.size) < _sigmoid(ability - d + bonus) for (k, d), bonus in
                zip(difficulty.items(), (0.0, rng.uniform(0, 0.1), rng.uniform(0.1, 1.5), -shift))}
        held = draw["held"]
        top1 = np.where(held, labels, (labels + 1 + rng.integers(0, 6, IMAGES)) % 7)
        lost = held & (rng.random(IMAGES) < rng.uniform(0.01, 0.08) * kind_hardness[kinds])
        by_kind = {k: {"images": int((kinds == i).sum()), "right_to_wrong": int(lost[kinds == i].sum()), "wrong_to_right": 0}
                   for i, k in enumerate(KINDS)}
        log_probs = {k: _log_probs(c, sharpness * (0.5 if k == "train" else 1.0), rng) for k, c in draw.items()}
        perturbed = _view(held & ~lost, log_probs["held"], {"clean_correct": int(held.sum()), "right_to_wrong": int(lost.sum()),
                                                            "wrong_to_right": 0, "by_kind": by_kind})
        views = {"public": _view(draw["public"], log_probs["public"]), "training_sample": _view(draw["train"], log_probs["train"]),
                 "supplement": _view(draw["supplement"], log_probs["supplement"]), "perturbed": perturbed}
        name = f"team_{t:03d}"
        records[name] = ScoreRecord(
            schema=SCHEMA, status="scored", submission={"name": name, "sha256": f"py{t}", "weights_sha256": f"w{t}"},
            data={"split": "PrivateTest", "size": IMAGES}, environment={}, timestamp="", isolation=[],
            accuracy=float(held.mean()), predictions=encode_predictions(labels, top1, top1, ids),
            true_class_log_prob=encode_log_probs(log_probs["held"]), audit_views=views)
    return records


def false_positives(cohorts: int, teams: int) -> list[list]:
    rng = np.random.default_rng(0)
    counts: dict[str, list[int]] = {}
    for _ in range(cohorts):
        audit = run_audit(honest_cohort(teams, rng), "baseline", AuditSection(), "PrivateTest")
        for check in audit.checks:
            if check.not_run:
                continue
            tested = teams * (teams - 1) // 2 if check.id in PAIR_CHECKS else teams
            flagged, total = counts.setdefault(check.id, [0, 0])
            counts[check.id] = [flagged + len(check.flagged), total + tested]
    return [[cid, total, flagged, f"{flagged / total:.4%}"] for cid, (flagged, total) in counts.items()]


def cost(rounds: int) -> list[list]:
    from fercomp.audit_passes import SECRET_ENV, AuditPasses
    from fercomp.data.synth import SynthSpec, generate, write_csv
    from fercomp.scoring import score_submission
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' fast scoring settings
    from tests.scoring_helpers import fast_config

    os.environ.setdefault(SECRET_ENV, "benchmark secret")
    root = Path(tempfile.mkdtemp(prefix="fercomp-bench-audit-"))
    write_csv(root / "fer.csv", *generate(SynthSpec(n_train=6000, n_public=3589, n_private=3589, seed=3)))
    write_csv(root / "supplement.csv", *generate(SynthSpec(n_train=0, n_public=0, n_private=SUPPLEMENT, seed=4)))
    handin = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "small_cnn.py"
    plain = fast_config(root / "fer.csv", None, require_weights=False)
    audited = replace(plain, audit=AuditPasses(training_sample=TRAINING, supplement=str(root / "supplement.csv")))
    times: dict[str, list[float]] = {"final phase without the audit": [], "final phase with the audit": []}
    for _ in range(rounds):
        for label, config in zip(times, (plain, audited)):
            start = time.perf_counter()
            record = score_submission(handin, config)
            assert record.status == "scored", record.failure
            times[label].append(time.perf_counter() - start)
    reference = min(times["final phase without the audit"])
    return [[label, f"{min(v):.2f}", f"{min(v) / reference:.2f}×"] for label, v in times.items()]


def trained(csv: Path | None, teams: int, epochs: int, memorised: float) -> None:
    """Part 3: an honest cohort trained on `csv` (None: the generated faces), audited; tables printed."""
    from fercomp.audit_passes import SECRET_ENV
    from fercomp.data.source import load_data
    from fercomp.data.synth import SynthSpec, generate, write_csv

    import audit_real

    os.environ.setdefault(SECRET_ENV, "benchmark secret")
    if csv is None:
        csv = Path(tempfile.mkdtemp(prefix="fercomp-bench-audit-")) / "synthetic.csv"
        write_csv(csv, *generate(SynthSpec(n_train=3000, n_public=1000, n_private=1000, seed=7)))
    elif not csv.is_file():
        raise SystemExit(f"--fer2013 {csv}: no such file (the Kaggle fer2013.csv, with its Usage column)")
    data = load_data(csv)
    print(f"Training {teams} honest teams and a robust-key memoriser ({memorised:.0%} of every public split) on {csv}:")
    records, drops, gain, perturbed = audit_real.cohort(data, teams, epochs, memorised)
    audit = run_audit(records, "baseline", AuditSection(), data.held_out)
    honest = [n for n in records if n != "robust_memoriser"]
    rows = []
    for check in audit.checks:
        if check.not_run:
            rows.append([check.id, "not run", "", check.not_run[:60]])
            continue
        tested = len(honest) * (len(honest) - 1) // 2 if check.id in PAIR_CHECKS else len(honest)
        named = [f for f in check.flagged if not set(f.teams) & {"robust_memoriser"}]
        memo = [f for f in check.findings if f.teams == ("robust_memoriser",)]
        rows.append([check.id, f"{len(named)}/{tested}", "flagged" if memo and memo[0].flagged else "",
                     f"{memo[0].p_value:.2g}" if memo and memo[0].p_value is not None else ""])
    print(tabulate(rows, headers=["check", "honest flagged", "memoriser", "memoriser's p"]))
    accuracies = [records[n].accuracy for n in honest]
    print(f"\nhonest held-out accuracy {min(accuracies):.1%}–{max(accuracies):.1%}; memoriser {records['robust_memoriser'].accuracy:.1%}"
          f" (its own network {records['robust_memoriser'].accuracy - gain:.1%}, gain {gain:+.1%})")
    table = []
    for k in KINDS:
        values = np.array([drops[n][k] for n in honest])
        extra = drops["robust_memoriser"][k] - drops["its_network"][k]
        table.append([k, int((perturbed.kinds == KINDS.index(k)).sum()), f"{np.median(values):+.1%}",
                      f"{values.min():+.1%} … {values.max():+.1%}", f"{drops['robust_memoriser'][k]:+.1%}",
                      f"{extra / gain:.0%}" if gain > 0 else "—"])
    print("\nAccuracy lost to each perturbation kind (on the held-out images it was applied to):")
    print(tabulate(table, headers=["kind", "images", "honest median", "honest range", "memoriser", "share of its gain removed"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohorts", type=int, default=40)
    parser.add_argument("--teams", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--fer2013", type=Path, help="train and audit an honest cohort on this fer2013.csv")
    parser.add_argument("--synthetic", action="store_true", help="the same on the generated faces")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--memorised", type=float, default=0.55, help="share of every public split the memoriser keys")
    args = parser.parse_args()
    if args.fer2013 or args.synthetic:
        trained(args.fer2013, args.teams, args.epochs, args.memorised)
        return
    print(f"False positives on {args.cohorts} simulated honest cohorts of {args.teams} teams (alpha 0.001, Holm):")
    print(tabulate(false_positives(args.cohorts, args.teams), headers=["check", "tested", "flagged", "rate"]))
    if not args.skip_cost:
        print("\nCost of the audit's passes for one hand-in (best of rounds, seconds; ratio to the plain final phase):")
        print(tabulate(cost(args.rounds), headers=["scoring", "seconds", "ratio"]))


if __name__ == "__main__":
    main()

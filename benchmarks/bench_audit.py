"""The audit: its false-positive rates on simulated honest cohorts, and what its final-phase passes cost.

1. False positives. Honest teams are simulated image by image: image i has a difficulty d_i, team t an
   ability a_t (accuracies of about 40–70 %), and P(correct) = sigmoid(a_t − d_i). Honest behaviour, as the
   checks assume it: the public split is drawn like the held-out one (plus a small validation bonus), Training
   images come with an overfitting bonus, the private supplement has one shift shared by every team, and
   perturbations undo 1–8 % of a team's correct answers. Errors are correlated across teams (shared
   difficulty), as real models' are. Every check runs through `run_audit` on real records; the table gives the
   share of honest teams (or pairs) flagged at the documented level ([audit] alpha = 0.001, Holm).
2. Cost. One hand-in (the zoo's small CNN) scored on a real-size synthetic held-out split (3,589 images) with
   and without the final phase's audit passes (public split 3,589, Training sample 2,000, supplement 1,000,
   perturbed copies 3,589), in the jail, in this run: the ratio is what the audit adds to a final phase.

Run: python benchmarks/bench_audit.py [--cohorts 40] [--teams 30] [--skip-cost]
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
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs, encode_predictions

IMAGES, PUBLIC, TRAINING, SUPPLEMENT = 3589, 3589, 2000, 1000
PAIR_CHECKS = ("identical_files", "weights_cosine", "behaviour", "code_similarity")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _view(correct: np.ndarray, extra: dict | None = None) -> dict:
    nll = np.where(correct, 0.6, 2.2)
    return {"images": int(correct.size), "correct": int(correct.sum()), "accuracy": float(correct.mean()),
            "nll_mean": float(nll.mean()), "nll_sd": float(nll.std(ddof=1)), **(extra or {})}


def honest_cohort(teams: int, rng: np.random.Generator) -> dict[str, ScoreRecord]:
    labels = rng.integers(0, 7, IMAGES)
    difficulty = {k: rng.normal(0, 1.5, n) for k, n in (("held", IMAGES), ("public", PUBLIC), ("train", TRAINING),
                                                          ("supplement", SUPPLEMENT))}
    shift = rng.normal(0.3, 0.1)
    ids = np.array([f"row:{i}" for i in range(IMAGES)])
    records = {}
    for t in range(teams):
        ability = rng.uniform(-0.5, 1.0)
        draw = {k: rng.random(d.size) < _sigmoid(ability - d + bonus) for (k, d), bonus in
                zip(difficulty.items(), (0.0, rng.uniform(0, 0.1), rng.uniform(0.1, 1.5), -shift))}
        held = draw["held"]
        top1 = np.where(held, labels, (labels + 1 + rng.integers(0, 6, IMAGES)) % 7)
        lost = held & (rng.random(IMAGES) < rng.uniform(0.01, 0.08))
        perturbed = _view(held & ~lost, {"clean_correct": int(held.sum()), "right_to_wrong": int(lost.sum()),
                                         "wrong_to_right": 0, "by_kind": {}})
        views = {"public": _view(draw["public"]), "training_sample": _view(draw["train"]),
                 "supplement": _view(draw["supplement"]), "perturbed": perturbed}
        name = f"team_{t:03d}"
        records[name] = ScoreRecord(
            schema=SCHEMA, status="scored", submission={"name": name, "sha256": f"py{t}", "weights_sha256": f"w{t}"},
            data={"split": "PrivateTest", "size": IMAGES}, environment={}, timestamp="", isolation=[],
            accuracy=float(held.mean()), predictions=encode_predictions(labels, top1, top1, ids),
            true_class_log_prob=encode_log_probs(np.where(held, -0.6, -2.2)), audit_views=views)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohorts", type=int, default=40)
    parser.add_argument("--teams", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-cost", action="store_true")
    args = parser.parse_args()
    print(f"False positives on {args.cohorts} simulated honest cohorts of {args.teams} teams (alpha 0.001, Holm):")
    print(tabulate(false_positives(args.cohorts, args.teams), headers=["check", "tested", "flagged", "rate"]))
    if not args.skip_cost:
        print("\nCost of the audit's passes for one hand-in (best of rounds, seconds; ratio to the plain final phase):")
        print(tabulate(cost(args.rounds), headers=["scoring", "seconds", "ratio"]))


if __name__ == "__main__":
    main()

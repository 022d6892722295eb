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

3. On an honestly trained cohort (`--fer2013 PATH`, a CSV or a train/, test/ folder, or `--synthetic` for the
   generated set): a varied cohort of plain CNNs (2–4 layers, widths 8–256, seeds, with and without augmentation,
   epochs), a copy of one of them with its hidden units permuted and fine-tuned one epoch, and robust-key
   memorisers (a CNN plus a lookup of a share of every public split keyed on a blurred, 12×12, mirror-symmetric face
   at five offsets) are trained in this process and audited from records built as the scorer builds them, with
   `--supplement` Training faces set aside beforehand as the private supplement: every check's false positives on
   the honest teams, whether each memoriser and the copy are named, and each perturbation kind's drop for the
   honest teams against how much of each memoriser's gain it removes (benchmarks/audit_real.py).

Run: python benchmarks/bench_audit.py [--cohorts 40] [--teams 30] [--skip-cost]
     python benchmarks/bench_audit.py --fer2013 data/fer2013.csv [--teams 12] [--epochs 8] [--memorised 0.55,1]
                                      [--supplement 1000]    (a train/, test/ folder works as well as the CSV)
     python benchmarks/bench_audit.py --synthetic --teams 6 --epochs 3      (minutes, on the generated faces)
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tabulate import tabulate

from fercomp.audit.pairs import sketch_cosine, sketches
from fercomp.audit.run import run_audit
from fercomp.config import AuditSection
from fercomp.data.perturbations import KINDS
from fercomp.measure.metrics import confidence_counts
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs, encode_predictions

IMAGES, PUBLIC, TRAINING, SUPPLEMENT = 3589, 3589, 2000, 1000
PAIR_CHECKS = ("identical_files", "weights_cosine", "weights_permuted", "activations_aligned", "behaviour",
               "code_similarity")


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


def trained(source: Path | None, teams: int, epochs: int, memorised: tuple[float, ...], supplement: int,
            train_images: int = 0, max_base: int = 32, keep: Path | None = None) -> None:
    """Part 3: an honest cohort trained on `source` (None: the generated faces), audited; tables printed."""
    from fercomp.audit_passes import SECRET_ENV
    from fercomp.data.source import load_data
    from fercomp.data.synth import SynthSpec, generate, write_csv

    import audit_real

    os.environ.setdefault(SECRET_ENV, "benchmark secret")
    folder = keep or Path(tempfile.mkdtemp(prefix="fercomp-bench-audit-"))
    folder.mkdir(parents=True, exist_ok=True)
    if source is None:
        source = folder / "synthetic.csv"
        write_csv(source, *generate(SynthSpec(n_train=3000, n_public=1000, n_private=1000, seed=7)))
    elif not source.exists():
        raise SystemExit(f"--fer2013 {source}: no such file or folder (the Kaggle fer2013.csv with its Usage column, "
                         "or a train/<class>/, test/<class>/ folder)")
    data = load_data(source)
    print(f"models kept in {folder}")
    shares = ", ".join(f"{m:.0%}" for m in memorised)
    lookups = f"robust-key memorisers ({shares} of every public split)" if memorised else "no memoriser"
    print(f"Training {teams} honest teams, a permuted copy and {lookups} "
          f"on {source}, {supplement} Training faces set aside as the private supplement, each model trained on "
          f"{train_images or 'all the'} Training faces, first layers at most {max_base} wide "
          f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {torch_threads()} torch threads):")
    start = time.perf_counter()
    records, drops, gains, perturbed, original = audit_real.cohort(data, teams, epochs, memorised, supplement, folder,
                                                                        train_images, max_base)
    audit = run_audit(records, "baseline", AuditSection(), data.held_out)
    memorisers = [audit_real.memoriser_name(m) for m in memorised]
    copied = (original, "permuted_copy")
    honest = [n for n in records if n not in memorisers and n != "permuted_copy"]
    rows = []
    for check in audit.checks:
        if check.not_run:
            rows.append([check.id, "not run", *[""] * (len(memorisers) + 1), check.not_run[:60]])
            continue
        tested = len(honest) * (len(honest) - 1) // 2 if check.id in PAIR_CHECKS else len(honest)
        named = [f for f in check.flagged if set(f.teams) <= set(honest)]
        cells = []
        for name in memorisers:
            memo = [f for f in check.findings if f.teams == (name,)]
            cells.append(("flagged" if memo[0].flagged else "") + (f" p {memo[0].p_value:.2g}" if memo[0].p_value is not None
                                                                   else "") if memo else "")
        cells.append("flagged" if any(set(f.teams) == set(copied) for f in check.flagged) else "")
        rows.append([check.id, f"{len(named)}/{tested}", *cells, ""])
    print(tabulate(rows, headers=["check", "honest flagged", *memorisers, f"permuted copy of {original}", "not run"]))
    plain, canonical = (sketch_cosine(sketches(records[original], field), sketches(records["permuted_copy"], field))[0]
                        for field in ("data", "canonical"))
    print(f"\npermuted copy against {original}: weights cosine {plain:.2f} in plain order, {canonical:.2f} in canonical "
          f"unit order (thresholds {AuditSection().weights_cosine}, {AuditSection().weights_permuted})")
    aligned = next(c for c in audit.checks if c.id == "activations_aligned")
    if not aligned.not_run:
        print(activations_table(records, honest, original, aligned))
    print(f"under review: {', '.join(audit.under_review) or 'none'}")
    accuracies = [records[n].accuracy for n in honest]
    print(f"honest held-out accuracy {min(accuracies):.1%}–{max(accuracies):.1%}; "
          + "; ".join(f"{n} {records[n].accuracy:.1%} (gain {gains[n]:+.1%} over its network)" for n in memorisers))
    table = []
    for k in KINDS:
        values = np.array([drops[n][k] for n in honest])
        row = [k, int((perturbed.kinds == KINDS.index(k)).sum()), f"{np.median(values):+.1%}",
               f"{values.min():+.1%} … {values.max():+.1%}"]
        for name in memorisers:
            extra = drops[name][k] - drops["its_network"][k]
            row += [f"{drops[name][k]:+.1%}", f"{extra / gains[name]:.0%}" if gains[name] > 0 else "—"]
        table.append(row)
    print("\nAccuracy lost to each perturbation kind (on the held-out images it was applied to):")
    print(tabulate(table, headers=["kind", "images", "honest median", "honest range",
                                   *[h for n in memorisers for h in (n, "share of its gain removed")]]))
    print(f"\n{time.perf_counter() - start:.0f} s")


def activations_table(records: dict[str, ScoreRecord], honest: list[str], original: str, check) -> str:
    """The activations_aligned statistic (share of units matched at r ≥ 0.8) of every honest pair that shares a
    hidden layer's shape, and the copy's against its original."""
    from fercomp.audit.activations import aligned_statistic, lower_bound, signatures

    sig = {name: signatures(record) for name, record in records.items()}
    values, bounds = [], []
    for a, b in itertools.combinations(sorted(honest), 2):
        found = aligned_statistic(sig[a][2], sig[b][2])
        if found is not None:
            values.append(found[0])
            bounds.append(lower_bound(found[0], sum(n for n, _, _ in found[1])))
    others = [found[0] for name in honest if name != original
              for found in [aligned_statistic(sig[name][2], sig["permuted_copy"][2])] if found is not None]
    copy = aligned_statistic(sig[original][2], sig["permuted_copy"][2])
    shown = ", ".join(f"{v:.2f}" for v in sorted(values, reverse=True))
    return (f"\nactivations_aligned (threshold {AuditSection().activations_aligned}): {len(values)} honest pairs compared, "
            f"max {max(values, default=float('nan')):.3f}, median {float(np.median(values)) if values else float('nan'):.3f} "
            f"[{shown}], lower bounds at most {max(bounds, default=float('nan')):.3f}; the permuted copy against the "
            f"other teams: max {max(others, default=float('nan')):.3f}; against {original}: "
            f"{copy[0] if copy else float('nan'):.3f}, lower bound "
            f"{lower_bound(copy[0], sum(n for n, _, _ in copy[1])) if copy else float('nan'):.3f} "
            f"(layers: {', '.join(f'{n} units mean r {r:.2f}, {m:.0%} at r ≥ 0.8' for n, r, m in (copy[1] if copy else []))})")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cohorts", type=int, default=40)
    parser.add_argument("--teams", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--fer2013", type=Path, help="train and audit an honest cohort on this fer2013.csv (or folder)")
    parser.add_argument("--synthetic", action="store_true", help="the same on the generated faces")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--memorised", default="0.55", help="share of every public split each memoriser keys (comma list; \"\" for none)")
    parser.add_argument("--supplement", type=int, default=1000, help="Training faces set aside as the private supplement")
    parser.add_argument("--train-images", type=int, default=0, help="train each model on this many Training faces (0: all)")
    parser.add_argument("--max-base", type=int, default=32, choices=(8, 16, 24, 32), help="widest first layer of the cohort")
    parser.add_argument("--keep", type=Path, help="keep the trained models in this folder (and reuse those already there)")
    args = parser.parse_args()
    if args.fer2013 or args.synthetic:
        trained(args.fer2013, args.teams, args.epochs, tuple(float(m) for m in args.memorised.split(",") if m), args.supplement,
                args.train_images, args.max_base, args.keep)
        return
    print(f"False positives on {args.cohorts} simulated honest cohorts of {args.teams} teams (alpha 0.001, Holm):")
    print(tabulate(false_positives(args.cohorts, args.teams), headers=["check", "tested", "flagged", "rate"]))
    if not args.skip_cost:
        print("\nCost of the audit's passes for one hand-in (best of rounds, seconds; ratio to the plain final phase):")
        print(tabulate(cost(args.rounds), headers=["scoring", "seconds", "ratio"]))


if __name__ == "__main__":
    main()

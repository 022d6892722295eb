"""Memorisation that every public split hides: the perturbation family kind by kind, and the shape of confidence.

- perturbation_kinds, per team: each secret perturbation kind's drop (fercomp/data/perturbations.py) against the
  cohort's drop for the same kind. An honest cohort loses about the same share to a rotation as to a crop; a lookup
  keyed on a coarse face survives a mirror or a JPEG and loses its memorised answers to the geometric kinds.
- confidence_shape, per team: how much more of the held-out split is answered with near-certainty than of a
  split the team could not have memorised the same way (the private supplement; the public split, for a lookup of
  the held-out split alone), against the cohort's difference. A memoriser answers its memorised faces with a
  probability near 1; an honest model's confidence on held-out faces looks like its confidence on other unseen faces.
Both read the held-out record only (its per-image log-probabilities and audit views).
"""

from __future__ import annotations

import math

import numpy as np

from fercomp.audit.fitted import _check
from fercomp.audit.model import Check
from fercomp.audit.statistics import cohort_with_noise, robust_p
from fercomp.measure.metrics import confidence_counts
from fercomp.records import ScoreRecord, decode_log_probs

MIN_KIND_IMAGES = 20  # a kind with fewer perturbed images in a record says too little to test
REFERENCES = ("supplement", "public")  # the splits the held-out confidence is set against, in order of strength


def _mcnemar(lost: int, won: int, n: int) -> tuple[float, float]:
    """(drop, paired standard error) of accuracy lost under a perturbation."""
    return (lost - won) / n, float(np.sqrt(max(lost + won - (lost - won) ** 2 / n, 1.0))) / n


def perturbation_kinds(records: dict[str, ScoreRecord], alpha: float) -> Check:
    drops: dict[str, dict[str, tuple[float, float]]] = {}
    for team, record in records.items():
        by_kind = (record.audit_views.get("perturbed") or {}).get("by_kind") or {}
        drops[team] = {kind: _mcnemar(v["right_to_wrong"], v.get("wrong_to_right", 0), v["images"])
                       for kind, v in by_kind.items() if v.get("images", 0) >= MIN_KIND_IMAGES}
    kinds = sorted({k for d in drops.values() for k in d})
    centres = {k: cohort_with_noise([d[k] for d in drops.values() if k in d]) for k in kinds}
    rows = []
    for team, per_kind in drops.items():
        if not per_kind:
            continue
        tests = {k: robust_p(drop, se, centres[k]) for k, (drop, se) in per_kind.items()}
        worst = max(tests, key=lambda k: tests[k][0])
        z, p = tests[worst]
        excess = per_kind[worst][0] - centres[worst]["median"]
        words = ", ".join(f"{k} {per_kind[k][0]:+.1%} (cohort {centres[k]['median']:+.1%}, z {tests[k][0]:.1f})"
                          for k in sorted(per_kind))
        # the smallest of len(per_kind) p-values, Bonferroni within the team; Holm across teams follows
        rows.append((team, excess, min(1.0, p * len(per_kind)),
                     f"largest excess: {worst} {excess:+.1%} over the cohort's median (z = {z:.1f}); by kind: {words}"))
    cohort_values = {k: {"median": c["median"], "spread": c["spread"], "n": c["n"]} for k, c in centres.items()}
    return _check("perturbation_kinds", rows, alpha, cohort_values)


def _certain(counts: list[int]) -> tuple[int, int]:
    """(images answered with true-class probability ≥ 0.99, images): the top two bins of confidence_counts."""
    return int(sum(counts[-2:])), int(sum(counts))


def confidence_shape(records: dict[str, ScoreRecord], alpha: float) -> Check:
    values: dict[str, dict[str, tuple[float, float, str]]] = {}
    for team, record in records.items():
        log_probs = decode_log_probs(record)
        if log_probs is None:
            continue
        held, n = _certain(confidence_counts(log_probs))
        for ref in REFERENCES:
            counts = (record.audit_views.get(ref) or {}).get("log_prob_counts")
            if not counts or not sum(counts):
                continue
            other, m = _certain(counts)
            a, b = held / n, other / m
            se = max(math.sqrt(a * (1 - a) / n + b * (1 - b) / m), 1.0 / min(n, m))
            values.setdefault(team, {})[ref] = (a - b, se, f"near-certain (p ≥ 0.99) on {held}/{n} = {a:.1%} held-out, "
                                                           f"{other}/{m} = {b:.1%} {ref}")
    refs = [r for r in REFERENCES if any(r in v for v in values.values())]
    centres = {r: cohort_with_noise([v[r][:2] for v in values.values() if r in v]) for r in refs}
    rows = []
    for team, per_ref in values.items():
        tests = {r: robust_p(per_ref[r][0], per_ref[r][1], centres[r]) for r in per_ref}
        worst = max(tests, key=lambda r: tests[r][0])
        z, p = tests[worst]
        words = "; ".join(f"{per_ref[r][2]} (gap {per_ref[r][0]:+.1%} against the cohort's {centres[r]['median']:+.1%}, "
                          f"z {tests[r][0]:.1f})" for r in per_ref)
        rows.append((team, per_ref[worst][0], min(1.0, p * len(per_ref)), words))
    return _check("confidence_shape", rows, alpha, {r: centres[r] for r in refs})

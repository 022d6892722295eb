"""Fitted to the test set: per-team checks on the final phase's audit views (fercomp/audit_passes.py).

Every input is in the held-out record: its accuracy, per-image losses and `audit_views`. A check whose view
is missing from a record says so instead of passing silently.
"""

from __future__ import annotations

import numpy as np

from fercomp.audit.model import CHECKS, Check, Finding
from fercomp.audit.statistics import binomial_above, cohort, holm, mean_smaller, proportion_greater, robust_p
from fercomp.records import ScoreRecord, decode_log_probs


#: nats: below this a difference of mean losses is float16 rounding (held-out losses are stored in float16), not evidence
LOSS_RESOLUTION = 0.01


def _check(check_id: str, rows: list[tuple[str, float, float, str]], alpha: float, cohort_values: dict | None = None,
           missing: list[str] | None = None) -> Check:
    """A check from (team, value, raw p, detail) rows: p Holm-adjusted across teams, flagged below alpha."""
    title, statistic, rule = CHECKS[check_id]
    if not rows:
        why = "no record has this view" + (f" ({', '.join(missing)})" if missing else "")
        return Check(check_id, title, statistic, rule, not_run=why)
    adjusted = holm([p for _, _, p, _ in rows])
    findings = tuple(Finding((team, ), value, p, p < alpha, detail) for (team, value, _, detail), p in zip(rows, adjusted))
    return Check(check_id, title, statistic, rule, findings, cohort_values or cohort([r[1] for r in rows]))


def _held(record: ScoreRecord) -> tuple[int, int]:
    n = int(record.data["size"])
    return round(record.accuracy * n), n


def split_gap(records: dict[str, ScoreRecord], alpha: float) -> Check:
    rows = []
    for team, record in records.items():
        view = record.audit_views.get("public")
        if not view:
            continue
        correct, n = _held(record)
        diff, p_acc = proportion_greater(correct, n, view["correct"], view["images"])
        losses = decode_log_probs(record)
        p_loss, loss_words = 1.0, ""
        if losses is not None and len(losses) == n:
            nll = -np.maximum(losses, -50.0)
            p_loss = mean_smaller(float(nll.mean()), float(nll.std(ddof=1)), n, view["nll_mean"], view["nll_sd"], view["images"],
                                  LOSS_RESOLUTION)
            loss_words = f"; mean loss {nll.mean():.3f} vs {view['nll_mean']:.3f}"
        detail = (f"held-out {correct}/{n} = {correct / n:.2%}, public {view['correct']}/{view['images']} = "
                  f"{view['accuracy']:.2%}{loss_words}")
        rows.append((team, diff, min(1.0, 2 * min(p_acc, p_loss)), detail))
    return _check("split_gap", rows, alpha)


def train_gap(records: dict[str, ScoreRecord], alpha: float, margin: float) -> Check:
    rows = []
    for team, record in records.items():
        view = record.audit_views.get("training_sample")
        if not view:
            continue
        correct, n = _held(record)
        diff, p = proportion_greater(correct, n, view["correct"], view["images"], margin)
        rows.append((team, diff, p, f"held-out {correct / n:.2%}, Training sample {view['correct']}/{view['images']} = "
                     f"{view['accuracy']:.2%} (margin {margin:.0%})"))
    return _check("train_gap", rows, alpha)


def ceiling(records: dict[str, ScoreRecord], alpha: float, limit: float) -> Check:
    rows = []
    for team, record in records.items():
        correct, n = _held(record)
        rows.append((team, record.accuracy, binomial_above(correct, n, limit),
                     f"{correct}/{n} = {record.accuracy:.2%} against a ceiling of {limit:.0%}"))
    return _check("ceiling", rows, alpha)


def supplement_gap(records: dict[str, ScoreRecord], alpha: float) -> Check:
    gaps = {}
    for team, record in records.items():
        view = record.audit_views.get("supplement")
        if view:
            correct, n = _held(record)
            a, s = correct / n, view["accuracy"]
            se = float(np.sqrt(a * (1 - a) / n + s * (1 - s) / view["images"]))
            gaps[team] = (a - s, max(se, 1.0 / n), f"held-out {a:.2%}, private supplement {view['correct']}/{view['images']} "
                          f"= {s:.2%}")
    return _robust("supplement_gap", gaps, alpha)


def perturbation_drop(records: dict[str, ScoreRecord], alpha: float) -> Check:
    drops = {}
    for team, record in records.items():
        view = record.audit_views.get("perturbed")
        if not view:
            continue
        n, lost, won = view["images"], view["right_to_wrong"], view["wrong_to_right"]
        se = float(np.sqrt(max(lost + won - (lost - won) ** 2 / n, 1.0))) / n  # McNemar's paired standard error
        kinds = ", ".join(f"{k} {v['right_to_wrong']}/{v['images']}" for k, v in view.get("by_kind", {}).items())
        drops[team] = ((lost - won) / n, se, f"{view['clean_correct']}/{n} right before, {view['correct']}/{n} after; "
                       f"turned wrong by kind: {kinds}")
    return _robust("perturbation_drop", drops, alpha)


def _robust(check_id: str, values: dict[str, tuple[float, float, str]], alpha: float) -> Check:
    centre = cohort([v for v, _, _ in values.values()])
    rows = []
    for team, (value, se, detail) in values.items():
        z, p = robust_p(value, se, centre)
        rows.append((team, value, p, f"{detail}; {value:+.2%} against the cohort's median {centre['median']:+.2%} "
                     f"(spread {centre['spread']:.2%}), z = {z:.1f}"))
    return _check(check_id, rows, alpha, centre)

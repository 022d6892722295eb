"""Fitted to the test set: per-team checks on the final phase's audit views (fercomp/audit_passes.py).

Every input is in the held-out record: its accuracy, per-image losses and `audit_views`. A check whose view
is missing from a record says so instead of passing silently.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fercomp.audit.model import CHECKS, Check, Finding
from fercomp.audit.statistics import (between_teams, binomial_above, cohort, detectable_gap, gap_se, holm, mean_smaller,
                                      proportion_greater, robust_p, supplement_needed)
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


def split_gap(records: dict[str, ScoreRecord], alpha: float, two_sided: bool = True) -> Check:
    """Held-out above public: fitted to the held-out split. With `two_sided` (the course forbids training on the
    public split) public above held-out is tested too: trained on the public split."""
    rows = []
    for team, record in records.items():
        view = record.audit_views.get("public")
        if not view:
            continue
        correct, n = _held(record)
        diff, p_up = proportion_greater(correct, n, view["correct"], view["images"])
        p_down = proportion_greater(view["correct"], view["images"], correct, n)[1]
        losses = decode_log_probs(record)
        loss_up = loss_down = 1.0
        loss_words = ""
        if losses is not None and len(losses) == n:
            nll = -np.maximum(losses, -50.0)
            held_loss = (float(nll.mean()), float(nll.std(ddof=1)), n)
            public_loss = (view["nll_mean"], view["nll_sd"], view["images"])
            loss_up = mean_smaller(*held_loss, *public_loss, LOSS_RESOLUTION)
            loss_down = mean_smaller(*public_loss, *held_loss, LOSS_RESOLUTION)
            loss_words = f"; mean loss {nll.mean():.3f} vs {view['nll_mean']:.3f}"
        # each direction: the smaller of its two tests' p (×2); two directions: ×2 again
        p = min(1.0, 2 * min(p_up, loss_up))
        if two_sided:
            p = min(1.0, 2 * min(p, 2 * min(p_down, loss_down)))
        detail = (f"held-out {correct}/{n} = {correct / n:.2%}, public {view['correct']}/{view['images']} = "
                  f"{view['accuracy']:.2%}{loss_words}")
        if two_sided and min(p_down, loss_down) < min(p_up, loss_up):
            detail += "; public above held-out: trained on the public split? ([audit] train_on_public = false)"
        rows.append((team, diff, p, detail))
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
    gaps, sizes = {}, []
    for team, record in records.items():
        view = record.audit_views.get("supplement")
        if view:
            correct, n = _held(record)
            a, s = correct / n, view["accuracy"]
            gaps[team] = (a - s, max(gap_se(a, n, s, view["images"]), 1.0 / n), f"held-out {a:.2%}, private supplement "
                          f"{view['correct']}/{view['images']} = {s:.2%}")
            sizes.append((a, n, view["images"]))
    check = _robust("supplement_gap", gaps, alpha)
    if check.not_run:
        return check
    return replace(check, cohort={**check.cohort, "power": supplement_power(sizes, alpha, check.cohort["between"])})


def supplement_power(sizes: list[tuple[float, int, int]], alpha: float, between: float) -> dict:
    """What this cohort's supplement can see: the smallest excess gap flagged half the time and 80 % of the time,
    at the cohort's median accuracy and sizes, and the faces a 5- or 10-point gap would need (80 %)."""
    accuracy, held, faces = (float(np.median([row[i] for row in sizes])) for i in range(3))
    teams, held, faces = len(sizes), round(held), round(faces)
    power = {"teams": teams, "held_out_images": held, "supplement_images": faces, "accuracy": accuracy,
             "alpha": alpha, "between": between}
    power["gap_half_the_time"] = detectable_gap(teams, held, faces, accuracy, alpha, 0.5, between)
    power["gap_80_percent"] = detectable_gap(teams, held, faces, accuracy, alpha, 0.8, between)
    for points in (5, 10):
        power[f"faces_for_{points}_points"] = supplement_needed(points / 100, teams, held, accuracy, alpha, 0.8, between)
    return power


def power_note(power: dict) -> str:
    """The supplement test's power in one sentence, for the audit's notes."""
    need = ", ".join(f"{p} points needs {power[f'faces_for_{p}_points']:,} faces" if power[f"faces_for_{p}_points"]
                     else f"{p} points cannot be seen with this held-out split" for p in (5, 10))
    return (f"supplement test power: with {power['supplement_images']:,} private faces, {power['held_out_images']:,} "
            f"held-out images and {power['teams']} teams (alpha {power['alpha']:g}, Holm), a team whose held-out "
            f"accuracy beats its supplement accuracy by {100 * power['gap_half_the_time']:.1f} points more than the "
            f"cohort's gap is flagged half the time, by {100 * power['gap_80_percent']:.1f} points 80 % of the time; "
            f"to flag 80 % of the time an excess of {need}")


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
    if values:  # each team's own noise, and what the cohort's spread holds beyond it (counted once: see robust_p)
        centre["noise"] = float(np.median([se for _, se, _ in values.values()]))
        centre["between"] = between_teams(centre["spread"], centre["noise"])
    rows = []
    for team, (value, se, detail) in values.items():
        z, p = robust_p(value, se, centre)
        rows.append((team, value, p, f"{detail}; {value:+.2%} against the cohort's median {centre['median']:+.2%} "
                     f"(spread {centre['spread']:.2%}, {centre['between']:.2%} beyond sampling noise), own standard "
                     f"error {se:.2%}, z = {z:.1f}"))
    return _check(check_id, rows, alpha, centre)

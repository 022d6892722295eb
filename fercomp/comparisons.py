"""Paired comparisons from records alone: two teams (`fercomp compare`), or a whole board's neighbours.

Two records are compared only on the same images: same data, same split, same sample ids in the same
order (`predictions.ids_sha256`). Along a board, each team is compared with the team ranked just below
it and with the baseline; each family's p-values are Holm-corrected (neighbours along the board, and
teams against the baseline), and a difference is significant when its adjusted p-value is below α.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from fercomp.errors import RecordError
from fercomp.marks import Comparison
from fercomp.measure import stats
from fercomp.records import ScoreRecord, decode_predictions


def correctness(record: ScoreRecord) -> np.ndarray:
    """Per image: did the record's top-1 class equal the true class (from its stored predictions)."""
    rows = decode_predictions(record)
    return rows[:, 0] == rows[:, 1]


def _same_images(a: ScoreRecord, b: ScoreRecord) -> None:
    for what, left, right in (("split", a.split, b.split), ("data", a.data.get("sha256"), b.data.get("sha256")),
                              ("sample ids", (a.predictions or {}).get("ids_sha256"),
                               (b.predictions or {}).get("ids_sha256"))):
        if left != right:
            raise RecordError(f"'{a.name}' and '{b.name}' were scored on different {what} ({str(left)[:16]} vs "
                              f"{str(right)[:16]}); a paired comparison needs the same images")


def compare_pair(a: ScoreRecord, b: ScoreRecord, kind: str = "pair", correct: dict | None = None) -> Comparison:
    """The exact McNemar test and the paired bootstrap interval of accuracy a − b (p_holm = p unadjusted);
    `correct` holds per-image correctness already decoded, by team."""
    for record in (a, b):
        if record.status != "scored":
            raise RecordError(f"record of '{record.name}' is not scored ({(record.failure or {}).get('reason')}); "
                              "nothing to compare")
    _same_images(a, b)
    correct = correct or {r.name: correctness(r) for r in (a, b)}
    found = stats.paired(correct[a.name], correct[b.name])
    return Comparison(a=a.name, b=b.name, kind=kind, p_holm=found.p_value, significant=None, **asdict(found))


def _holm(comparisons: list[Comparison], alpha: float) -> list[Comparison]:
    from dataclasses import replace

    adjusted = stats.holm([c.p_value for c in comparisons])
    return [replace(c, p_holm=p, significant=p < alpha) for c, p in zip(comparisons, adjusted)]


def compare_board(ordered: list[ScoreRecord], baseline: ScoreRecord,
                  alpha: float = stats.ALPHA) -> tuple[list[Comparison], list[str]]:
    """Neighbour and baseline comparisons for scored records in board order; (comparisons, notes).
    A team without per-image predictions is left out of the tests, with a note."""
    notes, usable, correct = [], [], {}
    for record in [*ordered, baseline]:
        try:
            correct[record.name] = correctness(record)  # decoded once per record
            usable.append(record)
        except RecordError as exc:
            notes.append(f"{'baseline' if record is baseline else record.name}: no paired tests ({exc.message})")
    teams = [r for r in usable if r is not baseline]
    neighbours = [compare_pair(upper, lower, "neighbour", correct) for upper, lower in zip(teams, teams[1:])]
    against = [compare_pair(record, baseline, "baseline", correct) for record in teams] if baseline.name in correct else []
    return _holm(neighbours, alpha) + _holm(against, alpha), notes


def describe(comparison: Comparison, a: ScoreRecord, b: ScoreRecord, alpha: float = stats.ALPHA) -> dict:
    """Everything `fercomp compare` prints, as plain data."""
    wilson = {r.name: stats.wilson(round(r.accuracy * r.data["size"]), r.data["size"]) for r in (a, b)}
    verdict = ("significantly different" if comparison.p_value < alpha else "not significantly different")
    return {"a": a.name, "b": b.name, "split": a.split, "images": comparison.images,
            "accuracy": {a.name: a.accuracy, b.name: b.accuracy},
            "accuracy_wilson_95": {k: list(v) for k, v in wilson.items()},
            "only_a_correct": comparison.only_a, "only_b_correct": comparison.only_b,
            "difference": comparison.difference, "difference_bootstrap_95": [comparison.difference_low, comparison.difference_high],
            "mcnemar_exact_p": comparison.p_value, "alpha": alpha, "verdict": verdict,
            "method": (f"exact McNemar: two-sided binomial test of {comparison.only_a} among the "
                       f"{comparison.only_a + comparison.only_b} images exactly one team got right, p = 1/2; difference "
                       f"interval: paired percentile bootstrap, {stats.RESAMPLES} resamples of the {comparison.images} "
                       f"images, seed {stats.SEED}")}

"""The audit's plain values: checks, findings and the whole audit (what renderers and boards read)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA = "fercomp.audit/1"


@dataclass(frozen=True)
class Finding:
    teams: tuple[str, ...]  # one team, or a pair in name order
    value: float | None  # the check's statistic (see Check.statistic)
    p_value: float | None  # Holm-adjusted across the teams or pairs of this check; None where no test applies
    flagged: bool
    detail: str  # the numbers behind the value, in words


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    statistic: str  # what `value` is
    rule: str  # when a finding is flagged
    findings: tuple[Finding, ...] = ()
    cohort: dict = field(default_factory=dict)  # the distribution each value is set against: median, spread, n
    not_run: str | None = None  # why the check could not run (its inputs are missing)

    @property
    def flagged(self) -> list[Finding]:
        return [f for f in self.findings if f.flagged]


@dataclass(frozen=True)
class Audit:
    split: str
    checks: tuple[Check, ...]
    settings: dict  # the [audit] settings the checks used
    notes: tuple[str, ...] = ()
    schema: str = SCHEMA

    @property
    def under_review(self) -> list[str]:
        """Every team named by a flagged finding, sorted."""
        return sorted({team for check in self.checks for f in check.flagged for team in f.teams})

    def reasons(self, team: str) -> list[str]:
        """The ids of the checks that flagged `team`."""
        return [c.id for c in self.checks if any(team in f.teams for f in c.flagged)]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["under_review"] = self.under_review
        return out


CHECKS = {
    "split_gap": ("Held-out split against the public split",
                  "accuracy on the held-out split minus accuracy on the public split (the same exported graph)",
                  "one-sided two-proportion z-test of held-out > public, and Welch's test of the mean per-image loss; "
                  "the smaller p (×2) after Holm across teams below alpha"),
    "train_gap": ("Held-out split against a Training sample",
                  "accuracy on the held-out split minus accuracy on the seeded Training sample",
                  "one-sided z-test of held-out − Training > margin; Holm across teams below alpha"),
    "ceiling": ("Plausibility", "accuracy on the held-out split",
                "one-sided binomial test of accuracy > ceiling; Holm across teams below alpha"),
    "supplement_gap": ("Held-out split against the private supplement",
                       "accuracy on the held-out split minus accuracy on the course's private faces",
                       "robust z of the gap against the cohort's gaps (median, 1.4826·MAD, plus the gap's own standard "
                       "error); its one-sided p after Holm across teams below alpha"),
    "perturbation_drop": ("Perturbation probe",
                          "accuracy lost when each held-out image is mirrored, shifted or re-encoded (secret seed)",
                          "robust z of the drop against the cohort's drops, as for supplement_gap"),
    "perturbation_kinds": ("Perturbation probe, kind by kind",
                           "the largest excess of one perturbation kind's drop (rotate, scale, crop, tone, noise, "
                           "occlude, combined, mirror, shift, jpeg) over the cohort's median drop for that kind",
                           "robust z per kind as for supplement_gap; the smallest p times the number of kinds, Holm "
                           "across teams, below alpha"),
    "confidence_shape": ("Confidence shape",
                         "share of held-out images answered with true-class probability ≥ 0.99 minus that share on the "
                         "private supplement (or the public split)",
                         "robust z of the gap against the cohort's gaps per reference split; the smaller p times the "
                         "number of references, Holm across teams, below alpha"),
    "identical_files": ("Identical hand-ins", "1 when the .py or the weights of two teams are byte-identical",
                        "any identical .py (other than the baseline's) or identical weights"),
    "weights_cosine": ("Near-copied weights",
                       "cosine similarity of the weights' sketches, tensors of the same shape paired in order, "
                       "weighted by size",
                       "cosine ≥ weights_cosine over at least half of both models' weights (not when both are the "
                       "baseline's)"),
    "weights_permuted": ("Near-copied weights, hidden units permuted",
                         "cosine similarity of the weights' sketches taken in canonical unit order (rows, then columns, "
                         "sorted by absolute sums), weighted by size",
                         "cosine ≥ weights_permuted over at least half of both models' weights, where the plain order "
                         "is not already ≥ weights_cosine (not when both are the baseline's)"),
    "behaviour": ("Behaviour: error consistency",
                  "Cohen's κ of per-image correctness on the held-out split (Geirhos et al. 2020)",
                  "fewer disagreements than a κ of the cohort's median + 3 spreads (at most 0.95) allows: a one-sided "
                  "exact binomial test, Holm across pairs, below alpha"),
    "code_similarity": ("Code fingerprints",
                        "share of each file's tokens in common winnowed fingerprints (copydetect), baseline removed",
                        "the smaller of the two shares ≥ code_similarity"),
}

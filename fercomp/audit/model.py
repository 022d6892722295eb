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
    # a pair's team that was handed in first, from the course's hand-in times ([audit] handed_in); None when the
    # order is not known (or the finding is about one team): then the evidence fits either team being the source
    first: str | None = None

    @property
    def later(self) -> str | None:
        """The pair's team handed in second, where the order is known."""
        return next((t for t in self.teams if t != self.first), None) if self.first and len(self.teams) == 2 else None


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
    handed_in: dict[str, str] = field(default_factory=dict)  # team → hand-in time (ISO 8601) where the course gave one
    schema: str = SCHEMA

    @property
    def under_review(self) -> list[str]:
        """Every team named by a flagged finding, sorted."""
        return sorted({team for check in self.checks for f in check.flagged for team in f.teams})

    def reasons(self, team: str) -> list[str]:
        """The ids of the checks that flagged `team`."""
        return [c.id for c in self.checks if any(team in f.teams for f in c.flagged)]

    def review_note(self, team: str) -> str:
        """Why `team` is under review, each pair named with its order where known."""
        parts = []
        for check in self.checks:
            for f in check.flagged:
                if team not in f.teams:
                    continue
                other = [t for t in f.teams if t != team]
                if not other:
                    parts.append(check.id)
                elif f.first:
                    parts.append(f"{check.id} with {other[0]}, {f.first} handed in first")
                else:
                    parts.append(f"{check.id} with {other[0]}, order unknown")
        return "under review (audit: " + "; ".join(dict.fromkeys(parts)) + ")"

    def withheld(self) -> dict[str, str]:
        """What `[audit] withhold = true` withholds, team → why: a team flagged on its own evidence (a per-team
        check), or the later of a flagged pair whose order is known. Never a team on a pair's evidence that fits it
        being the source equally well: the earlier of a pair, or either one when the order is unknown."""
        out: dict[str, list[str]] = {}
        for check in self.checks:
            for f in check.flagged:
                if len(f.teams) == 1:
                    out.setdefault(f.teams[0], []).append(check.id)
                elif f.later:
                    out.setdefault(f.later, []).append(f"{check.id}: handed in after {f.first}")
        return {team: "under review (audit: " + "; ".join(dict.fromkeys(why)) + ")" for team, why in sorted(out.items())}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["under_review"] = self.under_review
        return out


CHECKS = {
    "split_gap": ("Held-out split against the public split",
                  "accuracy on the held-out split minus accuracy on the public split (the same exported graph)",
                  "two-proportion z-test of held-out > public, and Welch's test of the mean per-image loss, the smaller "
                  "p (×2); unless [audit] train_on_public = true, also of public > held-out (trained on the public "
                  "split), the smaller direction's p (×2 again); after Holm across teams below alpha"),
    "train_gap": ("Held-out split against a Training sample",
                  "accuracy on the held-out split minus accuracy on the seeded Training sample",
                  "one-sided z-test of held-out − Training > margin; Holm across teams below alpha"),
    "ceiling": ("Plausibility", "accuracy on the held-out split",
                "one-sided binomial test of accuracy > ceiling; Holm across teams below alpha"),
    "supplement_gap": ("Held-out split against the private supplement",
                       "accuracy on the held-out split minus accuracy on the course's private faces",
                       "z of the gap above the cohort's median gap, over the gap's own standard error and the cohort's "
                       "spread beyond that noise (√(spread² − noise²): the noise counted once); its one-sided p after "
                       "Holm across teams below alpha"),
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
    "activations_aligned": ("Near-copied units, hidden units permuted and fine-tuned",
                            "share of the hidden units (layers of equal shape, not the first) whose match, units "
                            "paired one to one by their outputs on the probe faces (a coarse grid per face), "
                            "correlates at r ≥ 0.8",
                            "the share's one-sided 95 % Wilson lower bound (units as trials) ≥ activations_aligned "
                            "(not when both are that near the baseline)"),
    "behaviour": ("Behaviour: error consistency",
                  "Cohen's κ of per-image correctness on the held-out split (Geirhos et al. 2020)",
                  "fewer disagreements than a κ of the cohort's median + 3 spreads (at most 0.95) allows: a one-sided "
                  "exact binomial test, Holm across pairs, below alpha"),
    "code_similarity": ("Code fingerprints",
                        "share of each file's tokens in common winnowed fingerprints (copydetect), baseline removed",
                        "the smaller of the two shares ≥ code_similarity"),
}

"""Run every audit check over one split's records (the baseline's record is the reference, not audited)."""

from __future__ import annotations

from pathlib import Path

from fercomp.audit import fitted, memorisation, pairs, tensors
from fercomp.audit.model import Audit
from fercomp.config import AuditSection
from fercomp.hashing import sha256_file
from fercomp.records import ScoreRecord


def run_audit(records: dict[str, ScoreRecord], baseline_name: str, settings: AuditSection, split: str,
              submissions: Path | None = None, baseline_py: Path | None = None) -> Audit:
    """Every check on the scored records of `split`; the baseline is used as a reference only."""
    baseline = records.get(baseline_name)
    teams = {n: r for n, r in records.items() if n != baseline_name and r.status == "scored"}
    notes = []
    if baseline is None:
        notes.append(f"no record for the baseline '{baseline_name}': its code is not removed as boilerplate")
    starters = tuple(Path(p) for p in settings.starter_files)
    notes += [f"[audit] starter_files: {p} not found, so not removed as boilerplate" for p in starters if not p.is_file()]
    starter_sha = frozenset(sha256_file(p) for p in starters if p.is_file())
    alpha = settings.alpha
    checks = (
        fitted.split_gap(teams, alpha),
        fitted.train_gap(teams, alpha, settings.train_margin),
        fitted.ceiling(teams, alpha, settings.ceiling),
        fitted.supplement_gap(teams, alpha),
        fitted.perturbation_drop(teams, alpha),
        memorisation.perturbation_kinds(teams, alpha),
        memorisation.confidence_shape(teams, alpha),
        pairs.identical_files(teams, baseline or _empty(), starter_sha),
        pairs.weights_cosine(teams, baseline or _empty(), settings.weights_cosine),
        tensors.weights_permuted(teams, baseline or _empty(), settings.weights_permuted, settings.weights_cosine),
        pairs.behaviour(teams, alpha),
        pairs.code_similarity(teams, submissions, baseline_py, settings.code_similarity, starters),
    )
    notes.extend(tensors.large_buffers(teams))
    for record in teams.values():  # the same for every team: said once
        notes.extend(record.audit_views.get("notes", []))
    return Audit(split=split, checks=checks, settings=settings.to_dict(), notes=tuple(dict.fromkeys(notes)))


def _empty() -> ScoreRecord:
    from fercomp.records import SCHEMA

    return ScoreRecord(schema=SCHEMA, status="failed", submission={"name": "none"}, data={}, environment={}, timestamp="",
                       isolation=[])

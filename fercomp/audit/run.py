"""Run every audit check over one split's records (the baseline's record is the reference, not audited)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from fercomp.audit import activations, fitted, memorisation, pairs, tensors
from fercomp.audit.handed_in import read_handed_in
from fercomp.audit.model import Audit, Finding
from fercomp.config import AuditSection
from fercomp.hashing import sha256_file
from fercomp.records import ScoreRecord


def run_audit(records: dict[str, ScoreRecord], baseline_name: str, settings: AuditSection, split: str,
              submissions: Path | None = None, baseline_py: Path | None = None,
              handed_in: dict[str, dt.datetime] | None = None) -> Audit:
    """Every check on the scored records of `split`; the baseline is used as a reference only. `handed_in`
    (team → when the course received its hand-in) orders each flagged pair where both times are known."""
    baseline = records.get(baseline_name)
    teams = {n: r for n, r in records.items() if n != baseline_name and r.status == "scored"}
    notes = []
    if baseline is None:  # its hashes and weights are what identical_files and weights_cosine set aside
        notes.append(f"no record for the baseline '{baseline_name}': its files and weights are not set aside as the "
                     "course's own")
    if submissions is not None and (baseline_py is None or not Path(baseline_py).is_file()):
        notes.append(f"the baseline's code ({baseline_py or 'not given'}) was not found: it is not removed as boilerplate")
    starters = tuple(Path(p) for p in settings.starter_files)
    notes += [f"[audit] starter_files: {p} not found, so not removed as boilerplate" for p in starters if not p.is_file()]
    starter_sha = frozenset(sha256_file(p) for p in starters if p.is_file())
    alpha = settings.alpha
    checks = (
        fitted.split_gap(teams, alpha, two_sided=not settings.train_on_public),
        fitted.train_gap(teams, alpha, settings.train_margin),
        fitted.ceiling(teams, alpha, settings.ceiling),
        fitted.supplement_gap(teams, alpha),
        fitted.perturbation_drop(teams, alpha),
        memorisation.perturbation_kinds(teams, alpha),
        memorisation.confidence_shape(teams, alpha),
        pairs.identical_files(teams, baseline or _empty(), starter_sha),
        pairs.weights_cosine(teams, baseline or _empty(), settings.weights_cosine),
        tensors.weights_permuted(teams, baseline or _empty(), settings.weights_permuted, settings.weights_cosine),
        activations.activations_aligned(teams, baseline or _empty(), settings.activations_aligned),
        pairs.behaviour(teams, alpha),
        pairs.code_similarity(teams, submissions, baseline_py, settings.code_similarity, starters),
    )
    notes.extend(tensors.large_buffers(teams))
    for record in teams.values():  # the same for every team: said once
        notes.extend(record.audit_views.get("notes", []))
    supplement = next(c for c in checks if c.id == "supplement_gap")
    if "power" in supplement.cohort:
        notes.append(fitted.power_note(supplement.cohort["power"]))
    if handed_in is None and settings.handed_in:
        handed_in = read_handed_in(Path(settings.handed_in))
    times = {team: when for team, when in (handed_in or {}).items() if team in teams}
    checks = tuple(replace(c, findings=tuple(_ordered(f, times) for f in c.findings)) for c in checks)
    return Audit(split=split, checks=checks, settings=settings.to_dict(), notes=tuple(dict.fromkeys(notes)),
                 handed_in={team: when.isoformat() for team, when in sorted(times.items())})


def _ordered(finding: Finding, times: dict[str, dt.datetime]) -> Finding:
    """The pair's earlier team as `first`, when both were handed in at known, different times."""
    if len(finding.teams) != 2 or not all(t in times for t in finding.teams):
        return finding
    a, b = finding.teams
    if times[a] == times[b]:
        return finding
    return replace(finding, first=a if times[a] < times[b] else b)


def _empty() -> ScoreRecord:
    from fercomp.records import SCHEMA

    return ScoreRecord(schema=SCHEMA, status="failed", submission={"name": "none"}, data={}, environment={}, timestamp="",
                       isolation=[])

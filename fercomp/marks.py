"""Marks as pure functions of score records: sliding scales, the rank scale, final marks.

Linear (the competition's rule), for a metric m (accuracy, or efficiency = accuracy % ÷ GFLOPs):
    mark = max × (m − m_baseline) / (m_best − m_baseline), clipped to [0, max]
where m_best is the best value among the scored teams. No improvement gives 0, the best improvement
the maximum. If no team beats the baseline every mark is 0 (nobody divides by zero).
Rank: teams that beat the baseline are ranked (ties share the better rank); with n of them, rank r
gets max × (n − r + 1) / n; the rest get 0.
No torch, no submissions: this module reads numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fercomp.config import MarksSection
from fercomp.records import ScoreRecord


@dataclass
class TeamMarks:
    team: str
    status: str  # scored | failed | missing
    accuracy: float | None = None
    gflops: float | None = None
    efficiency: float | None = None
    accuracy_mark: float = 0.0
    efficiency_mark: float = 0.0
    report_mark: float | None = None
    final_mark: float = 0.0
    rank: int | None = None
    notes: list[str] = field(default_factory=list)


def linear_mark(value: float | None, baseline: float, best: float, maximum: float) -> float:
    """max × (value − baseline) / (best − baseline), clipped to [0, max]; 0 when best ≤ baseline."""
    if value is None or best <= baseline:
        return 0.0
    return min(max(maximum * (value - baseline) / (best - baseline), 0.0), maximum)


def rank_marks(values: dict[str, float], baseline: float, maximum: float) -> dict[str, float]:
    """The rank scale: improvers ranked by value (ties share the better rank), the rest 0."""
    improvers = sorted((v for v in values.values() if v > baseline), reverse=True)
    n = len(improvers)
    out = {}
    for team, value in values.items():
        if value > baseline:
            rank = improvers.index(value) + 1
            out[team] = maximum * (n - rank + 1) / n
        else:
            out[team] = 0.0
    return out


def _metric_marks(values: dict[str, float], baseline: float, maximum: float, scale: str) -> dict[str, float]:
    if scale == "rank":
        return rank_marks(values, baseline, maximum)
    best = max(values.values(), default=baseline)
    return {team: linear_mark(v, baseline, best, maximum) for team, v in values.items()}


def compute_marks(
    teams: dict[str, ScoreRecord], baseline: ScoreRecord, settings: MarksSection,
    report_marks: dict[str, float] | None = None,
) -> list[TeamMarks]:
    """Marks for every team, ranked by accuracy (ties: equal rank, then by efficiency)."""
    if baseline.status != "scored" or baseline.accuracy is None:
        reason = (baseline.failure or {}).get("reason", "no accuracy")
        raise ValueError(f"the baseline record is not scored ({reason}); marks need a scored baseline")
    rows = {name: _row(name, record) for name, record in teams.items()}
    scored = {n: r for n, r in rows.items() if r.status == "scored"}
    accuracy = {n: r.accuracy for n, r in scored.items()}
    eligible = {}
    for n, r in scored.items():
        flagged = any(f.startswith(("flops_disagree", "no_gflops")) for f in teams[n].flags)
        if r.efficiency is None:
            r.notes.append("no efficiency: GFLOPs undefined")
        elif flagged and settings.exclude_flagged_efficiency:
            r.notes.append("efficiency mark withheld: FLOP count flagged until resolved")
        else:
            eligible[n] = r.efficiency
    base_eff = baseline.efficiency if baseline.efficiency is not None else 0.0
    for n, mark in _metric_marks(accuracy, baseline.accuracy, settings.accuracy, settings.scale).items():
        rows[n].accuracy_mark = mark
    for n, mark in _metric_marks(eligible, base_eff, settings.efficiency, settings.scale).items():
        rows[n].efficiency_mark = mark
    for n, r in scored.items():
        if r.accuracy <= baseline.accuracy:
            r.notes.append("accuracy not above the baseline")
    if report_marks is not None:
        for n, r in rows.items():
            r.report_mark = report_marks.get(n)
            if r.report_mark is None:
                r.notes.append("no report mark")
    for r in rows.values():
        r.final_mark = r.accuracy_mark + r.efficiency_mark + (r.report_mark or 0.0)
    return rank_rows(list(rows.values()))


def _row(name: str, record: ScoreRecord) -> TeamMarks:
    if record.status != "scored":
        failure = record.failure or {}
        return TeamMarks(team=name, status="failed", notes=[f"failed: {failure.get('reason')}: {failure.get('detail', '')[:200]}"])
    return TeamMarks(team=name, status="scored", accuracy=record.accuracy, gflops=record.gflops, efficiency=record.efficiency)


def rank_rows(rows: list[TeamMarks]) -> list[TeamMarks]:
    """Order by accuracy then efficiency; equal accuracy shares a rank; failed teams last, unranked."""
    scored = sorted((r for r in rows if r.status == "scored"), key=lambda r: (-r.accuracy, -(r.efficiency or 0.0), r.team))
    previous, rank = None, 0
    for position, row in enumerate(scored, start=1):
        if row.accuracy != previous:
            rank, previous = position, row.accuracy
        row.rank = rank
    return scored + sorted((r for r in rows if r.status != "scored"), key=lambda r: r.team)


def read_report_marks(path, maximum: float) -> dict[str, float]:
    """team,mark CSV → {team: mark}; marks outside 0..maximum or unreadable rows are errors."""
    import csv
    from pathlib import Path

    from fercomp.errors import UsageError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such report-marks file")
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"team", "mark"} <= {f.strip() for f in reader.fieldnames}:
            raise UsageError(f"{path}: expected columns team,mark")
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                mark = float(row["mark"])
            except ValueError:
                raise UsageError(f"{path}: line {line}: mark '{row['mark']}' is not a number") from None
            if not 0 <= mark <= maximum:
                raise UsageError(f"{path}: line {line}: mark {mark:g} is outside 0–{maximum:g}")
            if row["team"] in out:
                raise UsageError(f"{path}: line {line}: team '{row['team']}' appears twice")
            out[row["team"]] = mark
    return out

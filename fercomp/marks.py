"""Marks as pure functions of score records: sliding scales, the rank scale, tie rules, final marks.

Linear (the competition's rule), for a metric m (accuracy, or the efficiency scheme's figure):
    mark = max × (m − m_baseline) / (m_best − m_baseline), clipped to [0, max]
where m_best is the best value among the scored teams (for a lower-is-better figure, the lowest). No
improvement gives 0, the best improvement the maximum. If no team beats the baseline every mark is 0.
Rank: teams that beat the baseline are ranked (ties share the better rank); with n of them, rank r
gets max × (n − r + 1) / n; the rest get 0.
Opt-in rules that use the paired tests (plain `Comparison` values computed by fercomp.comparisons):
- `beat_baseline = "significant"`: an accuracy above the baseline's counts only when the exact McNemar
  test against the baseline is significant (Holm-corrected over the teams); otherwise the accuracy mark is 0;
- `ties = "group"`: every team in a tie group (neighbours not significantly different) gets the group's
  best accuracy mark, among the teams that beat the baseline.
No torch, no submissions: this module reads numbers only.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field

from fercomp.config import MarksSection
from fercomp.records import ScoreRecord

#: scheme → (what it is, higher is better)
EFFICIENCY_SCHEMES = {
    "acc_per_gflop": ("accuracy % ÷ GFLOPs (fvcore, 1 multiply-add = 1 FLOP)", True),
    "micronet": ("MicroNet score = parameters ÷ baseline parameters + operations ÷ baseline operations (every "
                 "multiplication and addition counts, ReLU, pooling and BN included; lower is better)", False),
    "acc_per_ms": ("accuracy % ÷ batch-1 p50 latency in ms on the grading machine", True),
}
#: flags that make a FLOP count untrustworthy, so its efficiency mark is withheld when configured
FLOP_FLAGS = ("flops_disagree", "no_gflops", "uncosted_operator", "batch_dependent_flops", "latency_inconsistent")


@dataclass(frozen=True)
class Comparison:
    """Team a against team b on the same images (a is ranked above b, or b is the baseline)."""

    a: str
    b: str
    kind: str  # neighbour (b ranked just below a), baseline (b is the baseline) or pair
    only_a: int  # images a got right and b wrong
    only_b: int  # images b got right and a wrong
    images: int
    difference: float  # accuracy a − accuracy b, a fraction
    difference_low: float  # paired percentile bootstrap, 95 %
    difference_high: float
    p_value: float  # exact McNemar, two-sided
    p_holm: float  # Holm-adjusted within its family (neighbours, or against the baseline)
    significant: bool | None  # p_holm < α; None when not adjusted (a lone pair)


@dataclass
class TeamMarks:
    team: str
    status: str  # scored | failed | missing
    accuracy: float | None = None
    gflops: float | None = None
    efficiency: float | None = None  # under the board's efficiency scheme
    accuracy_mark: float = 0.0
    efficiency_mark: float = 0.0
    report_mark: float | None = None
    final_mark: float = 0.0
    rank: int | None = None
    notes: list[str] = field(default_factory=list)
    accuracy_interval: list[float] | None = None  # Wilson 95 %
    macro_f1: float | None = None
    macro_f1_interval: list[float] | None = None  # bootstrap 95 %
    efficiency_interval: list[float] | None = None  # bootstrap 95 % (none for micronet: no accuracy in it)
    efficiency_schemes: dict = field(default_factory=dict)  # every scheme's figure, whichever marks
    tie_group: int | None = None  # consecutive teams not significantly different share a group
    p_next: float | None = None  # Holm-adjusted McNemar p against the team ranked just below
    p_baseline: float | None = None  # Holm-adjusted McNemar p against the baseline
    params_total: int | None = None
    weight_bytes: int | None = None


def efficiency_of(record: ScoreRecord, baseline: ScoreRecord, scheme: str, precision_credit: bool = False) -> float | None:
    """The record's figure under `scheme`, or None when an input is missing (no GFLOPs, no latency, …)."""
    if record.status != "scored" or record.accuracy is None:
        return None
    if scheme == "acc_per_gflop":
        return 100 * record.accuracy / record.gflops if record.gflops else None
    if scheme == "acc_per_ms":
        ms = record.latency.get("latency_ms_p50")
        return 100 * record.accuracy / ms if ms else None
    ops, base_ops = _micronet_ops(record), _micronet_ops(baseline)
    params, base_params = _micronet_params(record, precision_credit), _micronet_params(baseline, precision_credit)
    if not (ops and base_ops and params is not None and base_params):
        return None
    return params / base_params + ops / base_ops


def _micronet_ops(record: ScoreRecord) -> int | None:
    return (record.flops.get("micronet") or {}).get("ops")


def _micronet_params(record: ScoreRecord, precision_credit: bool) -> float | None:
    """Parameters, or with the precision credit their storage in 32-bit units (a 16-bit parameter counts ½)."""
    if precision_credit and record.params_bits is not None:
        return record.params_bits / 32
    return record.params_total


def efficiency_interval(record: ScoreRecord, scheme: str) -> list[float] | None:
    """The scheme's figure at the ends of the accuracy bootstrap interval (its denominator is exact)."""
    low_high = record.intervals.get("accuracy_bootstrap")
    if not low_high or scheme == "micronet":
        return None
    denominator = record.gflops if scheme == "acc_per_gflop" else record.latency.get("latency_ms_p50")
    return [100 * v / denominator for v in low_high] if denominator else None


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


def log_mark(value: float | None, baseline: float, best: float, maximum: float) -> float:
    """max × log(value / baseline) / log(best / baseline), clipped to [0, max]: each doubling of a ratio metric
    over the baseline is worth the same, so one extreme value cannot squeeze every other improver to nothing.
    For positive figures only; 0 when best ≤ baseline."""
    if value is None or best <= baseline or baseline <= 0 or value <= 0:
        return 0.0
    return min(max(maximum * math.log(value / baseline) / math.log(best / baseline), 0.0), maximum)


def _metric_marks(values: dict[str, float], baseline: float, maximum: float, scale: str) -> dict[str, float]:
    if scale == "rank":
        return rank_marks(values, baseline, maximum)
    best = max(values.values(), default=baseline)
    return {team: linear_mark(v, baseline, best, maximum) for team, v in values.items()}


def _efficiency_marks(values: dict[str, float], baseline: float, maximum: float, scale: str, higher: bool) -> dict[str, float]:
    """The efficiency marks: under `log`, of value ÷ baseline (baseline ÷ value for a lower-is-better scheme)."""
    if scale != "log":
        return _metric_marks({n: v if higher else -v for n, v in values.items()}, baseline if higher else -baseline,
                             maximum, scale)
    ratios = {n: (v / baseline if higher else baseline / v) if v > 0 and baseline > 0 else 0.0 for n, v in values.items()}
    best = max(ratios.values(), default=1.0)
    return {n: log_mark(r, 1.0, best, maximum) for n, r in ratios.items()}


def majority_rate(record: ScoreRecord) -> tuple[str, float] | None:
    """(class, share) of the split's most frequent class: the accuracy of a model that always answers it.
    From the record's per-class supports (every record of a split has the same); None without them."""
    support = {row.get("class"): int(row.get("support", 0)) for row in record.per_class}
    total = sum(support.values())
    if not total:
        return None
    top = max(support, key=lambda name: (support[name], name))
    return top, support[top] / total


def weak_baseline(baseline: ScoreRecord, figures: bool = True) -> str | None:
    """Why the baseline cannot anchor the marks (its accuracy is no better than a constant answer), or None.
    `figures=False` says it without a number (the final phase's, which a log may show before the reveal)."""
    majority = majority_rate(baseline)
    if majority is None or baseline.accuracy is None or baseline.accuracy > majority[1]:
        return None
    name, share = majority
    accuracy, rate = (f" {100 * baseline.accuracy:.2f} %", f" ({100 * share:.2f} %)") if figures else ("", "")
    return (f"the baseline's accuracy{accuracy} on {baseline.split} is not above always answering {name}{rate}: "
            "above it, a constant model outscores honest teams; train the baseline longer (on FER-2013 it should "
            "reach about 55 %) and score it again")


def efficiency_gate(settings: MarksSection, baseline: ScoreRecord) -> float | None:
    """The accuracy a team must reach for an efficiency mark (None: no gate); "baseline" means above the baseline's."""
    if settings.efficiency_gate == "none":
        return None
    return baseline.accuracy if settings.efficiency_gate == "baseline" else float(settings.efficiency_gate)


def dominance_warning(rows: list[TeamMarks], settings: MarksSection) -> str | None:
    """A warning when one team's efficiency is so far ahead that every other improving team gets under 1 mark.
    It suggests only settings not already in force (a suggestion of what is set is no help)."""
    marked = sorted((r for r in rows if r.efficiency_mark > 0), key=lambda r: -r.efficiency_mark)
    if len(marked) < 2 or marked[1].efficiency_mark >= 1.0:
        return None
    top = marked[0]
    unused = [setting for setting, in_force in (('efficiency_gate = "baseline"', settings.efficiency_gate == "baseline"),
                                                ('scale = "log"', settings.scale == "log")) if not in_force]
    advice = ("consider [marks] " + " or ".join(unused)) if unused else "review the baseline and this team's hand-in"
    return (f"efficiency: {top.team}'s {top.efficiency:.4g} is so far ahead that every other improving team gets under 1 "
            f"of {settings.efficiency:g} marks (next: {marked[1].team}, {marked[1].efficiency:.4g} → "
            f"{marked[1].efficiency_mark:.2f}); {advice}")


def board_order(teams: dict[str, ScoreRecord], baseline: ScoreRecord, settings: MarksSection) -> list[str]:
    """Scored teams in rank order: accuracy, then the efficiency scheme's figure, then name. Within equal accuracy
    a flagged FLOP count orders after every trusted one: a figure under review must not lift a team over its tie."""
    higher = EFFICIENCY_SCHEMES[settings.efficiency_scheme][1]

    def key(name: str):
        figure = efficiency_of(teams[name], baseline, settings.efficiency_scheme, settings.micronet_precision_credit)
        figure = 0.0 if figure is None else (figure if higher else -figure)
        flagged = any(f.startswith(FLOP_FLAGS) for f in teams[name].flags)
        return (-teams[name].accuracy, flagged, -figure, name)

    return sorted((n for n, r in teams.items() if r.status == "scored" and r.accuracy is not None), key=key)


def compute_marks(
    teams: dict[str, ScoreRecord], baseline: ScoreRecord, settings: MarksSection,
    report_marks: dict[str, float] | None = None, comparisons: list[Comparison] | None = None,
    withheld: dict[str, str] | None = None,
) -> list[TeamMarks]:
    """Marks for every team, in board order (failed teams last, unranked). A team in `withheld` (team → why) gets
    no accuracy or efficiency mark and does not set either scale for the others."""
    withheld = withheld or {}
    if baseline.status != "scored" or baseline.accuracy is None:
        reason = (baseline.failure or {}).get("reason", "no accuracy")
        raise ValueError(f"the baseline record is not scored ({reason}); marks need a scored baseline")
    scheme, higher = settings.efficiency_scheme, EFFICIENCY_SCHEMES[settings.efficiency_scheme][1]
    rows = {name: _row(name, record, baseline, settings) for name, record in teams.items()}
    scored = {n: r for n, r in rows.items() if r.status == "scored"}
    accuracy = _accuracy_for_marks(scored, baseline, settings, comparisons or [])
    gate = efficiency_gate(settings, baseline)
    majority = majority_rate(baseline)  # under every gate: a constant answer never earns an efficiency mark
    eligible = {}
    for n, r in scored.items():
        flagged = any(f.startswith(FLOP_FLAGS) for f in teams[n].flags)
        if n in withheld:
            r.notes.append(f"marks withheld: {withheld[n]}")
        elif r.efficiency is None:
            r.notes.append(f"no efficiency: its {scheme} figure is undefined")
        elif flagged and settings.exclude_flagged_efficiency:
            r.notes.append("efficiency mark withheld: FLOP count flagged until resolved")
        elif gate is not None and not (accuracy[n] > gate if settings.efficiency_gate == "baseline" else accuracy[n] >= gate):
            r.notes.append(f"no efficiency mark: accuracy {100 * r.accuracy:.2f} % does not pass the efficiency gate "
                           f"({_gate_words(settings, gate)})")
        elif majority is not None and r.accuracy <= majority[1]:
            r.notes.append(f"no efficiency mark: accuracy {100 * r.accuracy:.2f} % is not above always answering "
                           f"{majority[0]} ({100 * majority[1]:.2f} %)")
        else:
            eligible[n] = r.efficiency
    base_eff = efficiency_of(baseline, baseline, scheme, settings.micronet_precision_credit) or 0.0
    markable = {n: a for n, a in accuracy.items() if n not in withheld}
    for n, mark in _metric_marks(markable, baseline.accuracy, settings.accuracy, settings.scale if settings.scale != "log"
                                 else "linear").items():
        rows[n].accuracy_mark = mark
    for n, mark in _efficiency_marks(eligible, base_eff, settings.efficiency, settings.scale, higher).items():
        rows[n].efficiency_mark = mark
    for n, r in scored.items():
        if r.accuracy <= baseline.accuracy:
            r.notes.append("accuracy not above the baseline")
    order = board_order(teams, baseline, settings)
    _apply_comparisons(rows, order, comparisons or [], settings, beats={n for n, v in accuracy.items() if v > baseline.accuracy})
    if report_marks is not None:
        for n, r in rows.items():
            r.report_mark = report_marks.get(n)
            if r.report_mark is None:
                r.notes.append("no report mark")
    for r in rows.values():
        _round_marks(r, settings.decimals)
    return rank_rows(rows, order)


def _gate_words(settings: MarksSection, gate: float) -> str:
    if settings.efficiency_gate == "baseline":
        significantly = " significantly" if settings.beat_baseline == "significant" else ""
        return f"accuracy{significantly} above the baseline's {100 * gate:.2f} %"
    return f"accuracy of at least {100 * gate:.2f} %"


def _round_marks(row: TeamMarks, decimals: int) -> None:
    """Each mark to `decimals` places, and the final mark the sum of those rounded parts: what a person reads
    and a gradebook imports adds up (no 9.999999999999998, no total that differs from its parts by 0.01)."""
    row.accuracy_mark = round(row.accuracy_mark, decimals) + 0.0  # + 0.0 turns a rounded -0.0 into 0.0
    row.efficiency_mark = round(row.efficiency_mark, decimals) + 0.0
    if row.report_mark is not None:
        row.report_mark = round(row.report_mark, decimals) + 0.0
    row.final_mark = round(row.accuracy_mark + row.efficiency_mark + (row.report_mark or 0.0), decimals) + 0.0


def _accuracy_for_marks(scored: dict[str, TeamMarks], baseline: ScoreRecord, settings: MarksSection,
                        comparisons: list[Comparison]) -> dict[str, float]:
    """Accuracies as marked: with beat_baseline = significant, an improvement that is not significant counts as none."""
    values = {n: r.accuracy for n, r in scored.items()}
    if settings.beat_baseline != "significant":
        return values
    against = {c.a: c for c in comparisons if c.kind == "baseline"}
    for n, r in scored.items():
        if r.accuracy > baseline.accuracy and not (n in against and against[n].p_holm < settings.alpha):
            values[n] = baseline.accuracy
            p = f"Holm-adjusted p = {against[n].p_holm:.3g}" if n in against else "no paired test possible"
            r.notes.append(f"accuracy above the baseline but not significantly ({p}, α = {settings.alpha:g}): "
                           "no accuracy mark (beat_baseline = significant)")
    return values


def _apply_comparisons(rows: dict[str, TeamMarks], order: list[str], comparisons: list[Comparison],
                       settings: MarksSection, beats: set[str]) -> None:
    """Tie groups and p-values onto the rows; with ties = group, each group's best accuracy mark for its improvers."""
    if not comparisons:
        return
    neighbour = {c.a: c for c in comparisons if c.kind == "neighbour"}
    against = {c.a: c for c in comparisons if c.kind == "baseline"}
    group = 1
    for position, name in enumerate(order):
        row = rows[name]
        above = order[position - 1] if position else None
        if above is not None and (above not in neighbour or neighbour[above].b != name or neighbour[above].significant):
            group += 1
        row.tie_group = group
        row.p_next = neighbour[name].p_holm if name in neighbour else None
        row.p_baseline = against[name].p_holm if name in against else None
    if settings.ties != "group":
        return
    best: dict[int, float] = {}
    for name in order:
        if name in beats:
            best[rows[name].tie_group] = max(best.get(rows[name].tie_group, 0.0), rows[name].accuracy_mark)
    for name in order:
        row = rows[name]
        if name in beats and best.get(row.tie_group, 0.0) > row.accuracy_mark:
            row.notes.append(f"accuracy mark {row.accuracy_mark:.2f} raised to its tie group's best (ties = group)")
            row.accuracy_mark = best[row.tie_group]


def _row(name: str, record: ScoreRecord, baseline: ScoreRecord, settings: MarksSection) -> TeamMarks:
    if record.status != "scored":
        failure = record.failure or {}
        notes = [f"{failure.get('reason')}: {failure.get('detail', '')[:200]}"]  # the status says failed already
        if failure.get("reason") == "timeout":  # the one time that withholds marks, and load can reach it (#23)
            notes.append(f"review: load can reach a time limit; --rescore {name} on a quiet machine")
        return TeamMarks(team=name, status="failed", notes=notes)
    credit = settings.micronet_precision_credit
    schemes = {s: efficiency_of(record, baseline, s, credit) for s in EFFICIENCY_SCHEMES}
    return TeamMarks(
        team=name, status="scored", accuracy=record.accuracy, gflops=record.gflops,
        efficiency=schemes[settings.efficiency_scheme], efficiency_schemes=schemes,
        accuracy_interval=record.intervals.get("accuracy_wilson"),
        macro_f1=(record.averages.get("macro") or {}).get("f1"), macro_f1_interval=record.intervals.get("macro_f1_bootstrap"),
        efficiency_interval=efficiency_interval(record, settings.efficiency_scheme),
        params_total=record.params_total, weight_bytes=record.weight_bytes,
    )


def rank_rows(rows: dict[str, TeamMarks], order: list[str]) -> list[TeamMarks]:
    """Rows in board order; equal accuracy shares a rank; failed teams last, unranked."""
    previous, rank = None, 0
    for position, name in enumerate(order, start=1):
        row = rows[name]
        if row.accuracy != previous:
            rank, previous = position, row.accuracy
        row.rank = rank
    return [rows[n] for n in order] + sorted((r for r in rows.values() if r.status != "scored"), key=lambda r: r.team)


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

"""The leaderboard as rows: one place decides the columns every text format shows."""

from __future__ import annotations

from fercomp.board import Leaderboard
from fercomp.records import ScoreRecord

COLUMNS = ["rank", "team", "accuracy %", "GFLOPs", "efficiency", "params M", "latency p50 ms",
           "accuracy mark", "efficiency mark", "report mark", "final mark", "sandbox", "status"]
#: sandbox layer → its short name in the "sandbox" column (the CSV lists the full names)
_LAYERS = {"namespaces": "ns", "audit": "audit", "rlimits": "rl"}


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _measures(record: ScoreRecord) -> dict[str, str]:
    return {
        "accuracy %": _fmt(None if record.accuracy is None else 100 * record.accuracy, ".2f"),
        "GFLOPs": _fmt(record.gflops, ".4f") + (" ⚑" if any(f.startswith("flops_disagree") for f in record.flags) else ""),
        "efficiency": _fmt(record.efficiency, ".2f"),
        "params M": _fmt(None if record.params_total is None else record.params_total / 1e6, ".2f"),
        "latency p50 ms": _fmt(record.latency.get("latency_ms_p50"), ".2f"),
        "sandbox": "+".join(_LAYERS.get(layer, layer) for layer in record.isolation),
    }


def rows(board: Leaderboard) -> list[dict[str, str]]:
    """Display rows: the baseline first (badged, unranked), then teams in rank order."""
    base = {"rank": "—", "team": f"{board.baseline.name} (baseline)", **_measures(board.baseline),
            "accuracy mark": "", "efficiency mark": "", "report mark": "", "final mark": "", "status": "baseline"}
    out = [base]
    with_report = any(m.report_mark is not None for m in board.marks)
    for m in board.marks:
        record = board.teams[m.team]
        status = m.status if not m.notes else f"{m.status}: " + "; ".join(m.notes)
        out.append({
            "rank": _fmt(m.rank, "d"), "team": m.team, **_measures(record),
            "accuracy mark": f"{m.accuracy_mark:.2f}", "efficiency mark": f"{m.efficiency_mark:.2f}",
            "report mark": _fmt(m.report_mark, ".1f"), "final mark": f"{m.final_mark:.2f}" if with_report else "",
            "status": status,
        })
    return out


def columns(board: Leaderboard) -> list[str]:
    with_report = any(m.report_mark is not None for m in board.marks)
    return [c for c in COLUMNS if with_report or c not in ("report mark", "final mark")]

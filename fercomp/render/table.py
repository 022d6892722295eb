"""The leaderboard as rows: one place decides the columns every text format shows."""

from __future__ import annotations

from fercomp.board import Leaderboard
from fercomp.marks import EFFICIENCY_SCHEMES, efficiency_interval, efficiency_of
from fercomp.records import ScoreRecord
from fercomp.render.numbers import cell, interval

COLUMNS = ["rank", "tie group", "team", "accuracy %", "95 % CI", "macro-F1 (95 % CI)", "GFLOPs", "efficiency",
           "params M", "weights MB", "latency p50 ms", "accuracy mark", "efficiency mark", "report mark", "final mark",
           "sandbox", "status"]
#: the efficiency column's header under each scheme
EFFICIENCY_HEADERS = {"acc_per_gflop": "efficiency", "micronet": "MicroNet score (lower better)", "acc_per_ms": "accuracy %/ms"}
#: sandbox layer → its short name in the "sandbox" column (the CSV lists the full names)
_LAYERS = {"nsjail": "jail", "seccomp": "sc", "namespaces": "ns", "audit": "audit", "rlimits": "rl"}
_FLOP_FLAGS = ("flops_disagree", "uncosted_operator", "batch_dependent_flops")  # the GFLOPs figure is in doubt


def _with_interval(value, bounds, spec: str) -> str:
    text = cell(value, spec)
    return f"{text} ({interval(bounds, spec)})" if text and bounds else text


def _measures(record: ScoreRecord, board: Leaderboard) -> dict[str, str]:
    marks = board.config.marks
    scheme = marks.efficiency_scheme
    efficiency = efficiency_of(record, board.baseline, scheme, marks.micronet_precision_credit)
    macro = (record.averages.get("macro") or {}).get("f1")
    return {
        "accuracy %": cell(None if record.accuracy is None else 100 * record.accuracy, ".2f"),
        "95 % CI": interval(record.intervals.get("accuracy_wilson"), ".2f", 100),
        "macro-F1 (95 % CI)": _with_interval(macro, record.intervals.get("macro_f1_bootstrap"), ".3f"),
        "GFLOPs": cell(record.gflops, ".4f") + (" ⚑" if any(f.startswith(_FLOP_FLAGS) for f in record.flags) else ""),
        "efficiency": _with_interval(efficiency, efficiency_interval(record, scheme), ".3f" if scheme == "micronet" else ".2f"),
        "params M": cell(None if record.params_total is None else record.params_total / 1e6, ".2f"),
        "weights MB": cell(None if record.weight_bytes is None else record.weight_bytes / 1e6, ".2f"),
        "latency p50 ms": cell(record.latency.get("latency_ms_p50"), ".2f"),
        "sandbox": sandbox_cell(record),
    }


def sandbox_cell(record: ScoreRecord) -> str:
    """The layers a record was scored under, short; "no jail" for a row scored without one (`auto` where nsjail
    could not run), which the board must show."""
    layers = "+".join(_LAYERS.get(layer, layer) for layer in record.isolation)
    return layers or ("no jail" if (record.sandbox or {}).get("kind") == "none" else "")


def rows(board: Leaderboard) -> list[dict[str, str]]:
    """Display rows: the baseline first (badged, unranked), then teams in rank order."""
    base = {"rank": "—", "tie group": "", "team": f"{board.baseline.name} (baseline)", **_measures(board.baseline, board),
            "accuracy mark": "", "efficiency mark": "", "report mark": "", "final mark": "", "status": "baseline"}
    out = [base]
    with_report = any(m.report_mark is not None for m in board.marks)
    for m in board.marks:
        record = board.teams[m.team]
        status = m.status if not m.notes else f"{m.status}: " + "; ".join(m.notes)
        out.append({
            "rank": cell(m.rank, "d"), "tie group": cell(m.tie_group, "d"), "team": m.team, **_measures(record, board),
            "accuracy mark": f"{m.accuracy_mark:.2f}", "efficiency mark": f"{m.efficiency_mark:.2f}",
            "report mark": cell(m.report_mark, ".1f"), "final mark": f"{m.final_mark:.2f}" if with_report else "",
            "status": status,
        })
    return out


def columns(board: Leaderboard) -> list[str]:
    """Column keys shown: the report and final marks only when report marks were given."""
    with_report = any(m.report_mark is not None for m in board.marks)
    return [c for c in COLUMNS if with_report or c not in ("report mark", "final mark")]


def header(board: Leaderboard, column: str) -> str:
    """A column's printed header: the efficiency column is named for the board's scheme."""
    return EFFICIENCY_HEADERS[board.config.marks.efficiency_scheme] if column == "efficiency" else column


def scheme_sentence(board: Leaderboard) -> str:
    """The efficiency scheme and its formula, for every format's explanation."""
    scheme = board.config.marks.efficiency_scheme
    credit = " (16-bit parameters count ½)" if scheme == "micronet" and board.config.marks.micronet_precision_credit else ""
    return f"Efficiency scheme {scheme}: {EFFICIENCY_SCHEMES[scheme][0]}{credit}."

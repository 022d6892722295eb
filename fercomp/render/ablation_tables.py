"""Ablation tables (Markdown and LaTeX): methods as Y/N columns, accuracy and efficiency with deltas.

Rows with several seeds show mean ± std. The best accuracy and efficiency are bold. For factorial
designs, a second table gives each method's main effect: mean(metric with it) − mean(without it).
No torch: reads records only.
"""

from __future__ import annotations

import statistics

from fercomp.records import ScoreRecord
from fercomp.render import tables
from fercomp.render.numbers import with_spread


def summarize(methods: list[str], results: list[tuple[tuple[bool, ...], ScoreRecord]]) -> list[dict]:
    """One entry per distinct method pattern, in first-seen order, averaging seeds."""
    groups: dict[tuple[bool, ...], list[ScoreRecord]] = {}
    for flags, record in results:
        groups.setdefault(tuple(flags), []).append(record)
    out = []
    for flags, records in groups.items():
        ok = [r for r in records if r.status == "scored"]
        acc = [100 * r.accuracy for r in ok]
        eff = [r.efficiency for r in ok if r.efficiency is not None]
        out.append({
            "flags": flags, "n": len(ok), "failed": len(records) - len(ok),
            "accuracy": statistics.mean(acc) if acc else None, "accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "efficiency": statistics.mean(eff) if eff else None, "efficiency_std": statistics.stdev(eff) if len(eff) > 1 else 0.0,
            "gflops": ok[0].gflops if ok else None, "params": ok[0].params_total if ok else None,
        })
    first = out[0] if out else None
    for entry in out:
        for key in ("accuracy", "efficiency"):
            missing = first is None or None in (entry[key], first[key])
            entry[f"d_{key}"] = None if missing else entry[key] - first[key]
    return out


def main_effects(methods: list[str], summary: list[dict]) -> list[dict]:
    """Each method's main effect on accuracy and efficiency over the factorial rows."""
    effects = []
    for i, name in enumerate(methods):
        row = {"method": name}
        for metric in ("accuracy", "efficiency"):
            on = [s[metric] for s in summary if s["flags"][i] and s[metric] is not None]
            off = [s[metric] for s in summary if not s["flags"][i] and s[metric] is not None]
            row[metric] = statistics.mean(on) - statistics.mean(off) if on and off else None
        effects.append(row)
    return effects


def _cells(summary: list[dict], symbols: tuple[str, str]) -> tuple[list[str], list[list[str]], dict]:
    best_acc = max((s["accuracy"] for s in summary if s["accuracy"] is not None), default=None)
    best_eff = max((s["efficiency"] for s in summary if s["efficiency"] is not None), default=None)
    body = []
    for s in summary:
        body.append([*(symbols[0] if f else symbols[1] for f in s["flags"]),
                     with_spread(s["accuracy"], ".2f", s["accuracy_std"]), with_spread(s["d_accuracy"], "+.2f"),
                     with_spread(s["gflops"], ".4f"), with_spread(None if s["params"] is None else s["params"] / 1e6, ".3f"),
                     with_spread(s["efficiency"], ".1f", s["efficiency_std"]), with_spread(s["d_efficiency"], "+.1f")])
    return ["accuracy %", "Δ accuracy", "GFLOPs", "params M", "efficiency", "Δ efficiency"], body, {"acc": best_acc, "eff": best_eff}


def _bold(summary: list[dict], best: dict, k: int) -> set[tuple[int, int]]:
    """(row, column) of the best accuracy and the best efficiency."""
    marked = set()
    for i, s in enumerate(summary):
        if s["accuracy"] is not None and s["accuracy"] == best["acc"]:
            marked.add((i, k))
        if s["efficiency"] is not None and s["efficiency"] == best["eff"]:
            marked.add((i, k + 4))
    return marked


def _effects(methods: list[str], summary: list[dict]) -> tuple[list[str], list[list[str]]]:
    headers = ["method", "main effect on accuracy (pp)", "main effect on efficiency"]
    return headers, [[e["method"], with_spread(e["accuracy"], "+.2f"), with_spread(e["efficiency"], "+.1f")]
                     for e in main_effects(methods, summary)]


def to_markdown(methods: list[str], summary: list[dict], design: str, symbols: tuple[str, str] = ("Y", "N")) -> str:
    metrics, body, best = _cells(summary, symbols)
    text = tables.markdown([*methods, *metrics], body, _bold(summary, best, len(methods)))
    if design == "factorial":
        text += "\n" + tables.markdown(*_effects(methods, summary))
    return text


def to_latex(methods: list[str], summary: list[dict], design: str, symbols: tuple[str, str] = ("Y", "N")) -> str:
    metrics, body, best = _cells(summary, symbols)
    k = len(methods)
    text = tables.latex([*methods, *metrics], body, "c" * k + "r" * len(metrics), _bold(summary, best, k))
    if design == "factorial":
        text += "\n" + tables.latex(*_effects(methods, summary), "lrr")
    return text

"""Ablation tables (Markdown and LaTeX): methods as Y/N columns, accuracy and efficiency with deltas.

Rows with several seeds show mean ± std. The best accuracy (and efficiency) is bold only when it is
clearly the best: its 95 % interval (Wilson, from the records) lies above every other row's; rows within
noise of each other leave nothing bold. Negative numbers carry a real minus sign (−, LaTeX $-$). The
LaTeX is a floating `table` with a caption and a label. For factorial designs, a second table gives each
method's main effect: mean(metric with it) − mean(without it). No torch: reads records only.
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
        bounds = [r.intervals.get("accuracy_wilson") for r in ok]
        acc_interval = None
        if bounds and all(bounds):  # seeds: the mean of their interval ends, in %
            acc_interval = (100 * statistics.mean(b[0] for b in bounds), 100 * statistics.mean(b[1] for b in bounds))
        gflops = ok[0].gflops if ok else None
        out.append({
            "accuracy_interval": acc_interval,
            "efficiency_interval": tuple(a / gflops for a in acc_interval) if acc_interval and gflops else None,
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


def _signed(value, spec: str, spread: float | None = None) -> str:
    """A number as with_spread writes it, its minus a real minus sign (U+2212; LaTeX $-$), not a hyphen."""
    return with_spread(value, spec, spread).replace("-", "\u2212")


def _cells(summary: list[dict], symbols: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
    body = []
    for s in summary:
        body.append([*(symbols[0] if f else symbols[1] for f in s["flags"]),
                     _signed(s["accuracy"], ".2f", s["accuracy_std"]), _signed(s["d_accuracy"], "+.2f"),
                     with_spread(s["gflops"], ".4f"), with_spread(None if s["params"] is None else s["params"] / 1e6, ".3f"),
                     _signed(s["efficiency"], ".1f", s["efficiency_std"]), _signed(s["d_efficiency"], "+.1f")])
    return ["accuracy %", "Δ accuracy", "GFLOPs", "params M", "efficiency", "Δ efficiency"], body


def clearly_best(summary: list[dict], metric: str) -> int | None:
    """The row whose `metric` is best and whose 95 % interval lies wholly above every other row's; None when
    the best is within noise of another row (or a row has no interval to compare)."""
    rows = [(i, s) for i, s in enumerate(summary) if s[metric] is not None]
    if len(rows) < 2:
        return None
    best, top = max(rows, key=lambda r: r[1][metric])
    others = [s for i, s in rows if i != best]
    low = (top.get(f"{metric}_interval") or (None, None))[0]
    highs = [(s.get(f"{metric}_interval") or (None, None))[1] for s in others]
    if low is None or None in highs:
        return None
    return best if all(low > high for high in highs) else None


def _bold(summary: list[dict], k: int) -> set[tuple[int, int]]:
    """(row, column) of the accuracy and the efficiency that are clearly the best (clearly_best)."""
    marked = set()
    for metric, column in (("accuracy", k), ("efficiency", k + 4)):
        row = clearly_best(summary, metric)
        if row is not None:
            marked.add((row, column))
    return marked


def _effects(methods: list[str], summary: list[dict]) -> tuple[list[str], list[list[str]]]:
    headers = ["method", "main effect on accuracy (pp)", "main effect on efficiency"]
    return headers, [[e["method"], _signed(e["accuracy"], "+.2f"), _signed(e["efficiency"], "+.1f")]
                     for e in main_effects(methods, summary)]


def to_markdown(methods: list[str], summary: list[dict], design: str, symbols: tuple[str, str] = ("Y", "N")) -> str:
    metrics, body = _cells(summary, symbols)
    bold = _bold(summary, len(methods))
    text = tables.markdown([*methods, *metrics], body, bold)
    text += ("\nBold: clearly the best (its 95 % interval above every other row's).\n" if bold else
             "\nNo row is clearly the best: the rows' 95 % intervals overlap.\n")
    if design == "factorial":
        text += "\n" + tables.markdown(*_effects(methods, summary))
    return text


def caption(methods: list[str], design: str, summary: list[dict], name: str = "") -> str:
    """What the table shows, for its LaTeX caption: the design, what Δ, the units and bold mean."""
    kind = "each row adds the next method" if design == "cumulative" else "every combination of the methods"
    bold = ("Bold: clearly the best (its 95~\\% interval above every other row's)" if _bold(summary, len(methods))
            else "No row is clearly the best: the 95~\\% intervals overlap")
    return (f"Ablation{' ' + tables.escape_latex(name) if name else ''} ({design}: {kind}). $\\Delta$: change from the "
            f"first row; accuracy in \\%, GFLOPs by fvcore (one multiply-add = one FLOP), efficiency = accuracy "
            f"\\% $\\div$ GFLOPs. {bold}.")


def to_latex(methods: list[str], summary: list[dict], design: str, symbols: tuple[str, str] = ("Y", "N"),
             name: str = "") -> str:
    """The table as a floating `table` with a caption and a label (tab:ablation-<name>), booktabs inside."""
    metrics, body = _cells(summary, symbols)
    k = len(methods)
    label = "tab:ablation" + (f"-{tables.label_slug(name)}" if name else "")
    text = tables.latex([*methods, *metrics], body, "c" * k + "r" * len(metrics), _bold(summary, k))
    if design == "factorial":
        text += "\\medskip\n" + tables.latex(*_effects(methods, summary), "lrr")
    return (f"\\begin{{table}}[htbp]\n\\centering\n\\caption{{{caption(methods, design, summary, name)}}}\n"
            f"\\label{{{label}}}\n{text}\\end{{table}}\n")

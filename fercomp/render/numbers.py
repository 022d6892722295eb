"""How fercomp writes a number, in one place: display cells (fixed decimals, blank or a word for none),
intervals, and exact values for machine-read exports (repr of the float: nothing rounded away)."""

from __future__ import annotations


def cell(value, spec: str, missing: str = "") -> str:
    """`value` formatted with `spec` (e.g. ".2f"), or `missing` when there is none."""
    return missing if value is None else format(value, spec)


def interval(bounds, spec: str, scale: float = 1.0) -> str:
    """'59.61–62.80': an interval's two ends, scaled (100 for a percentage); blank when unknown."""
    if not bounds:
        return ""
    low, high = bounds
    return f"{format(scale * low, spec)}–{format(scale * high, spec)}"


def with_spread(value, spec: str, spread: float | None = None, missing: str = "failed") -> str:
    """'61.20 ± 0.40' (a mean and its standard deviation over seeds), or `missing`."""
    if value is None:
        return missing
    text = format(value, spec)
    return f"{text} ± {format(spread, spec)}" if spread else text


def exact(value) -> str:
    """For CSV exports: the float's shortest exact repr, blank for none."""
    return "" if value is None else repr(float(value))

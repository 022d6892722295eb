"""Accuracy vs GFLOPs scatter (log GFLOPs), 95 % Wilson error bars, the Pareto front drawn and the baseline marked."""

from __future__ import annotations

import io

from fercomp.board import Leaderboard


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points (gflops, accuracy, name) no other point beats on both: fewer GFLOPs and more accuracy."""
    front, best = [], -1.0
    for g, a, name in sorted(points, key=lambda p: (p[0], -p[1])):
        if a > best:
            front.append((g, a, name))
            best = a
    return front


def _error_bars(records) -> tuple[list[float], list[float]]:
    """Distances below and above each accuracy (in %) to its Wilson interval's ends; 0 where none is recorded."""
    low, high = [], []
    for r in records:
        bounds = r.intervals.get("accuracy_wilson") or [r.accuracy, r.accuracy]
        low.append(100 * (r.accuracy - bounds[0]))
        high.append(100 * (bounds[1] - r.accuracy))
    return low, high


def scatter(board: Leaderboard, fmt: str = "png") -> bytes:
    """The figure as PNG or SVG bytes."""
    import matplotlib.pyplot as plt

    fig = figure(board)
    buffer = io.BytesIO()
    # No date in the file: the same records always give the same bytes.
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buffer.getvalue()


def figure(board: Leaderboard):
    """The matplotlib figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(r.gflops, 100 * r.accuracy, name) for name, r in board.teams.items()
              if r.status == "scored" and r.gflops]
    fig, ax = plt.subplots(figsize=(8.5, 4.5), dpi=110)
    if points:
        low, high = _error_bars([board.teams[name] for _, _, name in points])
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[low, high], fmt="o", color="#1f77b4",
                    ecolor="#9ecae1", elinewidth=1.5, capsize=3, zorder=3, label="teams (95 % CI)")
        for g, a, name in points:
            ax.annotate(name, (g, a), textcoords="offset points", xytext=(4, 4), fontsize=8)
        front = pareto_front(points)
        ax.plot([p[0] for p in front], [p[1] for p in front], "--", color="#2ca02c", label="Pareto front")
    base = board.baseline
    if base.gflops:
        ax.scatter([base.gflops], [100 * base.accuracy], marker="*", s=180, color="#d62728", zorder=4, label="baseline")
    ax.set_xscale("log")
    ax.set_xlabel("GFLOPs (fvcore, log scale)")
    ax.set_ylabel(f"accuracy on {board.split} (%)")
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes, right of them: inside, it sat on the baseline's star (large GFLOPs, low accuracy:
    # the lower right) or on a team, wherever the data happened to fall.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig

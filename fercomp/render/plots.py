"""Accuracy vs GFLOPs scatter (log GFLOPs), the Pareto front drawn and the baseline marked."""

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


def scatter(board: Leaderboard, fmt: str = "png") -> bytes:
    """The figure as PNG or SVG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(r.gflops, 100 * r.accuracy, name) for name, r in board.teams.items()
              if r.status == "scored" and r.gflops]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    if points:
        ax.scatter([p[0] for p in points], [p[1] for p in points], color="#1f77b4", zorder=3, label="teams")
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
    ax.legend(loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    # No date in the file: the same records always give the same bytes.
    fig.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buffer.getvalue()

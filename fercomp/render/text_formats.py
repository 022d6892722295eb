"""Leaderboard as Markdown, CSV (the grade export), LaTeX (booktabs) and JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from fercomp.board import Leaderboard
from fercomp.render import tables
from fercomp.render.table import columns, rows

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "⚑": r"$^\dagger$",
                  "÷": r"$\div$", "×": r"$\times$", "−": r"$-$", "→": r"$\to$"}  # pdflatex has no − or → in text


def explanation(board: Leaderboard) -> str:
    """How every number was obtained, in one paragraph under each table."""
    m = board.config.marks
    scale = ("linear: max × (value − baseline) / (best − baseline), clipped to [0, max]" if m.scale == "linear"
             else "rank: improvers ranked, rank r of n gets max × (n − r + 1) / n")
    return (f"{board.phase.capitalize()} phase, split {board.split}. Accuracy pooled over the split; "
            "GFLOPs by fvcore on one preprocessed input (1 multiply-add = 1 FLOP); efficiency = accuracy % ÷ GFLOPs. "
            "Sandbox = the worker's layers (ns namespaces, audit hook, rl rlimits). "
            f"Marks /{m.accuracy:g} and /{m.efficiency:g}, {scale}. "
            "⚑ = FLOP counters disagree" + (" (efficiency mark withheld)" if m.exclude_flagged_efficiency else "") + ".")


def to_markdown(board: Leaderboard) -> str:
    cols = columns(board)
    table = tables.markdown(cols, [[r[c] for c in cols] for r in rows(board)]).rstrip("\n")
    notes = "".join(f"\n- {n}" for n in board.notes) + "".join(f"\n- refused: {r}" for r in board.refused)
    return f"## Leaderboard — {board.phase} phase ({board.split})\n\n{table}\n\n{explanation(board)}\n{notes}\n"


def to_csv(board: Leaderboard) -> str:
    """The grade export: one row per team, every input to its marks and the marks themselves."""
    teams = board.teams
    scored = [r for r in board.marks if r.status == "scored"]
    best_acc = max((r.accuracy for r in scored), default=None)
    best_eff = max((r.efficiency for r in scored if r.efficiency is not None), default=None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["team", "status", "rank", "accuracy", "baseline_accuracy", "best_accuracy", "gflops",
                     "efficiency", "baseline_efficiency", "best_efficiency", "scale", "accuracy_mark",
                     "efficiency_mark", "report_mark", "final_mark", "submission_sha256", "notes", "phase", "split",
                     "sandbox_layers"])
    for m in board.marks:
        writer.writerow([m.team, m.status, m.rank or "", _num(m.accuracy), _num(board.baseline.accuracy), _num(best_acc),
                         _num(m.gflops), _num(m.efficiency), _num(board.baseline.efficiency), _num(best_eff),
                         board.config.marks.scale, _num(m.accuracy_mark), _num(m.efficiency_mark), _num(m.report_mark),
                         _num(m.final_mark), teams[m.team].submission.get("sha256", ""), "; ".join(m.notes),
                         board.phase, board.split, " ".join(teams[m.team].isolation)])
    return out.getvalue()


def to_grades_csv(board: Leaderboard) -> str:
    """Per-student grades for a gradebook import: one row per roster student, their team's marks."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student_id", "name", "email", "team", "status", "accuracy_mark", "efficiency_mark",
                     "report_mark", "final_mark", "phase", "split"])
    for g in board.grades:
        s = g.student
        writer.writerow([s.student_id, s.name, s.email, s.team, g.status, _num(g.accuracy_mark), _num(g.efficiency_mark),
                         _num(g.report_mark), _num(g.final_mark), board.phase, board.split])
    return out.getvalue()


def _num(value) -> str:
    return "" if value is None else repr(float(value))


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def to_latex(board: Leaderboard) -> str:
    cols = [c for c in columns(board) if c != "status"]
    body = tables.latex(cols, [[row[c] for c in cols] for row in rows(board)], "ll" + "r" * (len(cols) - 2))
    return (r"\begin{table}[ht]" + "\n" + r"\centering" + "\n" + body
            + r"\caption{" + latex_escape(explanation(board)) + "}\n" + r"\end{table}" + "\n")


def to_json(board: Leaderboard) -> str:
    return json.dumps({
        "phase": board.phase, "split": board.split, "baseline": board.baseline.name, "config": asdict(board.config),
        "marks": [asdict(m) for m in board.marks], "notes": board.notes, "refused": board.refused,
        "grades": [asdict(g) for g in board.grades],
    }, indent=2) + "\n"

"""Leaderboard as Markdown, CSV (the grade export), LaTeX (booktabs) and JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from fercomp.board import Leaderboard
from fercomp.render import tables
from fercomp.render.numbers import exact
from fercomp.marks import EFFICIENCY_SCHEMES
from fercomp.render.table import columns, header, rows, scheme_sentence

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "⚑": r"$^\dagger$",
                  "÷": r"$\div$", "×": r"$\times$", "−": r"$-$", "→": r"$\to$",
                  "α": r"$\alpha$"}  # pdflatex has no − or → in text


def supplement_sentence(board: Leaderboard) -> str:
    """What a final board's accuracy says about memorised public faces: the supplement's part in it, or nothing."""
    if board.phase != "final":
        return ""
    if not board.config.competition.private_supplement:
        return ("No private supplement: memorisation of public faces cannot be excluded (every FER-2013 label is "
                "public). ")
    pooled = board.baseline.data.get("supplement_images")
    if board.config.marks.held_out_includes_supplement and pooled is not None:
        return (f"Held-out accuracy includes the course's private supplement: {pooled} of its "
                f"{board.baseline.data.get('size')} images, one image one vote. ")
    return "The audit scored the course's private supplement (not in the marks). "


def explanation(board: Leaderboard) -> str:
    """How every number was obtained, in one paragraph under each table."""
    m = board.config.marks
    scale = {"linear": "linear: max × (value − baseline) / (best − baseline), clipped to [0, max]",
             "rank": "rank: improvers ranked, rank r of n gets max × (n − r + 1) / n",
             "log": "accuracy linear: max × (value − baseline) / (best − baseline); efficiency log: max × log(value / "
                    "baseline) / log(best / baseline); both clipped to [0, max]"}[m.scale]
    intervals = board.baseline.intervals
    resampling = (f"{intervals.get('resamples', 2000)} resamples of the images, seed {intervals.get('seed', 0)}")
    rules = []
    if m.beat_baseline == "significant":
        rules.append("an accuracy above the baseline's earns a mark only when it is significantly above it "
                     "(exact McNemar against the baseline, Holm-corrected over the teams)")
    if m.efficiency_gate != "none":
        gate = "accuracy above the baseline's" if m.efficiency_gate == "baseline" else f"accuracy ≥ {100 * float(m.efficiency_gate):g} %"
        rules.append(f"an efficiency mark needs {gate} (efficiency gate; the teams it held back say so in their notes)")
    if m.ties == "group":
        rules.append("every team in a tie group that beats the baseline gets the group's best accuracy mark")
    return (f"{board.phase.capitalize()} phase, split {board.split}. " + supplement_sentence(board)
            + "Accuracy pooled over the split, 95 % CI by the "
            f"Wilson score interval; macro-F1 and efficiency intervals by percentile bootstrap ({resampling}). "
            "GFLOPs by fvcore on the exported graph, one preprocessed input (1 multiply-add = 1 FLOP). " + scheme_sentence(board) + " "
            "Tie group: teams ranked next to each other whose accuracies do not differ significantly (exact McNemar "
            f"test on per-image correctness, Holm-corrected along the board, α = {m.alpha:g}) share a group. "
            "Sandbox = the layers that held the hand-in (jail nsjail, sc its seccomp policy). "
            f"Marks /{m.accuracy:g} and /{m.efficiency:g}, {scale}" + ("; " + "; ".join(rules) if rules else "") + "; "
            f"each mark rounded to {m.decimals} decimals, the final mark the sum of the rounded parts. "
            "⚑ = the FLOP counters disagree on the exported graph, or it hides products as elementwise work"
            + (" (efficiency mark withheld)" if m.exclude_flagged_efficiency else "") + ".")


def to_markdown(board: Leaderboard) -> str:
    cols = columns(board)
    table = tables.markdown([header(board, c) for c in cols], [[r[c] for c in cols] for r in rows(board)]).rstrip("\n")
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
                     "sandbox_layers", "accuracy_low", "accuracy_high", "macro_f1", "macro_f1_low", "macro_f1_high",
                     "efficiency_scheme", "efficiency_low", "efficiency_high", "acc_per_gflop", "micronet", "acc_per_ms",
                     "tie_group", "p_next_holm", "p_baseline_holm", "params_total", "weight_bytes", "flags"])
    for m in board.marks:
        writer.writerow([m.team, m.status, m.rank or "", exact(m.accuracy), exact(board.baseline.accuracy), exact(best_acc),
                         exact(m.gflops), exact(m.efficiency), exact(board.baseline.efficiency), exact(best_eff),
                         board.config.marks.scale, exact(m.accuracy_mark), exact(m.efficiency_mark), exact(m.report_mark),
                         exact(m.final_mark), teams[m.team].submission.get("sha256", ""), "; ".join(m.notes),
                         board.phase, board.split, " ".join(teams[m.team].isolation), *_pair(m.accuracy_interval),
                         exact(m.macro_f1), *_pair(m.macro_f1_interval), board.config.marks.efficiency_scheme,
                         *_pair(m.efficiency_interval), *(exact(m.efficiency_schemes.get(k)) for k in EFFICIENCY_SCHEMES),
                         m.tie_group or "", exact(m.p_next), exact(m.p_baseline), m.params_total or "", m.weight_bytes or "",
                         "; ".join(teams[m.team].flags)])
    return out.getvalue()


def to_grades_csv(board: Leaderboard) -> str:
    """Per-student grades for a gradebook import: one row per roster student, their team's marks, and what the
    final mark is out of (a gradebook needs the maximum to turn points into a grade)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student_id", "name", "email", "team", "status", "accuracy_mark", "efficiency_mark",
                     "report_mark", "final_mark", "final_mark_max", "phase", "split"])
    maximum = exact(board.final_mark_maximum)
    for g in board.grades:
        s = g.student
        writer.writerow([s.student_id, s.name, s.email, s.team, g.status, exact(g.accuracy_mark), exact(g.efficiency_mark),
                         exact(g.report_mark), exact(g.final_mark), maximum, board.phase, board.split])
    return out.getvalue()


def _pair(bounds) -> list[str]:
    return [exact(b) for b in bounds] if bounds else ["", ""]


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def to_latex(board: Leaderboard) -> str:
    cols = [c for c in columns(board) if c != "status"]
    align = "".join("l" if c in ("rank", "team") else "r" for c in cols)
    body = tables.latex([header(board, c) for c in cols], [[row[c] for c in cols] for row in rows(board)], align)
    return (r"\begin{table}[ht]" + "\n" + r"\centering" + "\n" + body
            + r"\caption{" + latex_escape(explanation(board)) + "}\n" + r"\end{table}" + "\n")


def to_json(board: Leaderboard) -> str:
    return json.dumps({
        "phase": board.phase, "split": board.split, "baseline": board.baseline.name, "config": asdict(board.config),
        "efficiency_scheme": {"name": board.config.marks.efficiency_scheme, "formula": scheme_sentence(board)},
        "explanation": explanation(board),
        "marks": [asdict(m) for m in board.marks], "comparisons": [asdict(c) for c in board.comparisons],
        "notes": board.notes, "refused": board.refused,
        "grades": [asdict(g) for g in board.grades], "under_review": board.under_review,
    }, indent=2) + "\n"

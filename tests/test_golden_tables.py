"""Every table fercomp writes, byte for byte against golden files: leaderboard (Markdown, LaTeX, CSV),
ablation (cumulative and factorial, Markdown and LaTeX) and the report pack (Markdown, LaTeX).
All go through fercomp/render/tables.py (tabulate). After an intended change, regenerate with
FERCOMP_UPDATE_GOLDEN=1 and review the diff."""

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from fercomp.config import CompetitionConfig
from fercomp.leaderboard import build
from fercomp.render import ablation_tables, report_pack, text_formats
from fercomp.render.ablation_tables import summarize
from tests.test_marks import first, record, with_predictions

GOLDEN = Path(__file__).parent / "golden"


def leaderboard():
    # 200 images: alpha right on 0–141, beta on 20–151 (20 vs 10 discordant: p ≈ 0.099, a tie), the baseline on 0–109
    teams = {"alpha & co": with_predictions(record("alpha & co", 0.71, gflops=0.30), first(142)),
             "beta_2": with_predictions(record("beta_2", 0.66, gflops=0.02, flags=["flops_disagree: fvcore 1 vs FlopCounterMode 2"]),
                                        first(132, start=20)),
             "gamma": record("gamma", status="failed")}
    base = with_predictions(record("baseline_cnn", 0.55, gflops=0.3275), first(110))
    return build({**teams, "baseline_cnn": base}, "baseline_cnn", CompetitionConfig(), "PrivateTest", phase="final")


def ablation(design: str):
    flags = [(False, False), (True, False), (False, True), (True, True)] if design == "factorial" else \
        [(False, False), (True, False), (True, True)]
    # cumulative: narrow intervals (±1 pp), so the best accuracy and efficiency are clearly the best (bold);
    # factorial: wide ones (±5 pp), so the rows are within noise and nothing is bold
    half = 0.01 if design == "cumulative" else 0.05
    data = []
    for k, f in enumerate(flags):
        acc = 0.50 + 0.04 * k
        r = replace(record(f"row{k}", acc, gflops=0.2 + 0.05 * k), params_total=1_000_000 + 50_000 * k,
                    intervals={"accuracy_wilson": [acc - half, acc + half]})
        data.append((f, r))
    return ["flip", "batch_norm"], summarize(["flip", "batch_norm"], data)


def report():
    classes = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    r = replace(record("team_a", 0.6252438, gflops=0.098198528), top2_accuracy=0.8, params_total=11_170_000,
                params_trainable=11_170_000, data={"split": "PrivateTest", "size": 3589},
                flops={"input_shape": [1, 3, 48, 48]},
                per_class=[{"class": c, "precision": 0.5, "recall": 0.25 * (i % 4), "f1": 0.3, "support": 100 + i}
                           for i, c in enumerate(classes)],
                averages={"macro": {"precision": 0.5, "recall": 0.4, "f1": 0.3},
                          "weighted": {"precision": 0.55, "recall": 0.45, "f1": 0.35}})
    layers = [{"name": "conv1", "type": "Conv2d", "output_shape": [1, 64, 24, 24], "params": 9408, "flops": 5_419_008},
              {"name": "fc", "type": "Linear", "output_shape": [1, 7], "params": 3591, "flops": 3584}]
    return r, layers


def outputs() -> dict[str, str]:
    board = leaderboard()
    rec, layers = report()
    out = {"leaderboard.md": text_formats.to_markdown(board), "leaderboard.tex": text_formats.to_latex(board),
           "leaderboard.csv": text_formats.to_csv(board), "report.md": report_pack.markdown(rec, layers, None, ["confusion.png"]),
           "report.tex": report_pack.latex(rec, layers)}
    for design in ("cumulative", "factorial"):
        methods, summary = ablation(design)
        out[f"ablation-{design}.md"] = ablation_tables.to_markdown(methods, summary, design)
        out[f"ablation-{design}.tex"] = ablation_tables.to_latex(methods, summary, design, ("✓", "✗"))
    return out


@pytest.mark.parametrize("name", sorted(outputs()))
def test_table_matches_its_golden_file(name):
    text = outputs()[name]
    path = GOLDEN / name
    if os.environ.get("FERCOMP_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


def test_latex_tables_are_balanced_and_escaped():
    for name, text in outputs().items():
        if name.endswith(".tex"):
            assert text.count(r"\begin{tabular}") == text.count(r"\end{tabular}") == text.count(r"\toprule")
            if name.startswith("ablation"):  # a float with a caption and a label; real minus signs
                assert text.startswith("\\begin{table}") and "\\caption{" in text and "\\label{tab:ablation" in text
                assert not re.search(r"(?<![\w$])-\d", text)
            assert "_" not in text.replace(r"\_", "") and "&" not in text.replace(" & ", "").replace(r"\&", "")


def test_the_terminal_board_in_a_log_keeps_every_word_whole():
    """Piped (a CI or Slurm log), the board has no right edge: a status is one line, never folded mid-word."""
    import subprocess
    import sys

    code = ("from tests.test_golden_tables import leaderboard\nfrom fercomp.render.terminal import print_leaderboard\n"
            "print_leaderboard(leaderboard())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).parents[1]).stdout
    row = next(line for line in out.splitlines() if "gamma" in line)
    assert "failed: timeout: no answer within 600 s; review: load can reach a time limit; --rescore gamma on a quiet " \
           "machine" in row and "failed: failed" not in out

"""The flow's one-way rule: marking and rendering read records; they never import torch or submissions."""

import subprocess
import sys


def test_marks_leaderboard_and_renderers_import_no_torch_and_no_submission_code():
    probe = (
        "import sys\n"
        "import fercomp.marks, fercomp.leaderboard, fercomp.records, fercomp.config\n"
        "import fercomp.render.table, fercomp.render.text_formats, fercomp.render.html, fercomp.render.files\n"
        "import fercomp.render.ablation_tables, fercomp.render.report_pack, fercomp.render.terminal\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('fercomp.submission')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_scoring_parent_does_not_import_torch():
    probe = "import sys, fercomp.scoring, fercomp.checking; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"

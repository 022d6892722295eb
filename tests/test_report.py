"""The report pack, exactly right: the printed division is exact to its digits, every leaf module is in
the model summary, no figure is linked that was not written, and the submission never runs in this process."""

import builtins
import re
import shutil

import pytest

from fercomp.errors import UsageError
from fercomp.render.report_pack import exact_division
from fercomp.report import build_report
from fercomp.scoring import score_submission
from fercomp.training.recipe import Recipe
from fercomp.training.run import train_file
from tests.scoring_helpers import FIXTURES, fast_config
from tests.conftest import cells
from tests.test_demo import assert_division_exact

SIDE_EFFECT = "\nimport builtins\nbuiltins.fercomp_report_ran_submission = True  # would show if imported in-process\n"


@pytest.mark.parametrize("n, d", [(16.666666, 0.0017345), (55.0, 0.327505392), (62.52438, 0.098198528),
                                  (14.2857, 0.0000023041), (99.99, 12.3456789)])
def test_the_printed_division_is_exact_to_its_digits(n, d):
    a, b, q = exact_division(n, d)
    assert f"{float(a) / float(b):,.2f}" == q == f"{n / d:,.2f}"


@pytest.fixture(scope="module")
def scored(tmp_path_factory, small_csv):
    root = tmp_path_factory.mktemp("report")
    (root / "team.py").write_text((FIXTURES / "small_cnn.py").read_text() + SIDE_EFFECT)
    train_file(root / "team.py", small_csv, Recipe(epochs=1, batch_size=64, device="cpu",
               model_kwargs=(("batchnorm", True),)), out_dir=root / "train", progress=False)
    record = score_submission(root / "team.py", fast_config(small_csv, root / "results", model_kwargs=(("batchnorm", True),)))
    assert record.status == "scored", record.failure
    return root, record


@pytest.mark.jail
def test_report_is_built_in_the_worker_and_says_only_what_it_wrote(scored, small_csv):
    root, record = scored
    if hasattr(builtins, "fercomp_report_ran_submission"):
        del builtins.fercomp_report_ran_submission  # training ran the team's code here, as documented
    files = build_report(root / "team.py", small_csv, root / "results", root / "no-history", root / "pack")
    assert not hasattr(builtins, "fercomp_report_ran_submission")  # the report never imported the submission
    text = (root / "pack" / "summary.md").read_text()
    assert "curves.png" not in text and not (root / "pack" / "curves.png").exists()  # no history: no link
    assert "![confusion matrix](confusion.png)" in text and "![sample predictions](samples.png)" in text
    assert_division_exact(text, record.efficiency)
    leaves = [tuple(cells(line)) for line in text.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    # small_cnn with batchnorm: 3 × (conv, bn, relu, pool) + flatten, dropout, linear = 15 leaves
    assert len(leaves) == 15 and leaves[0][:3] == ("0", "Conv2d", "1×16×48×48") and leaves[-1][:3] == ("14", "Linear", "1×7")
    assert sum(int(r[4].replace(",", "")) for r in leaves) == round(record.gflops * 1e9)
    assert sum(int(r[3].replace(",", "")) for r in leaves) == record.params_total
    assert root / "pack" / "summary.tex" in files


@pytest.mark.jail
def test_latex_is_well_formed(scored, small_csv):
    root, record = scored
    build_report(root / "team.py", small_csv, root / "results", root / "train", root / "pack2")
    tex = (root / "pack2" / "summary.tex").read_text()
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 2
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 2
    for line in tex.splitlines():
        if " & " in line:
            assert line.endswith(r"\\") and line.count("&") in (4,), line  # 5 columns each
    a, b, q = re.search(r"Efficiency \$= ([\d.e+-]+) \\div ([\d.e+-]+) = ([\d{},.]+)\$", tex).groups()
    assert f"{float(a) / float(b):,.2f}".replace(",", "{,}") == q
    assert "![training curves](curves.png)" in (root / "pack2" / "summary.md").read_text()  # history given: linked
    if shutil.which("pdflatex"):
        import subprocess

        doc = root / "doc.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + tex + "\\end{document}\n")
        assert subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=root, capture_output=True).returncode == 0


def test_a_grid_of_three_faces_is_three_slots_wide_and_names_each_file():
    import matplotlib.pyplot as plt
    import numpy as np

    from fercomp.render.report_pack import samples_figure

    faces = np.zeros((3, 48, 48), np.uint8)
    names = ["photos/anna.jpg", "photos/ben.png", "photos/a_very_long_file_name_from_a_phone_camera.jpeg"]
    fig = samples_figure(faces, None, [3, 4, 6], np.array([0.9, 0.5, 0.4]), names)
    try:
        shown = [ax for ax in fig.axes if ax.images]
        assert len(fig.axes) == 3 and len(shown) == 3  # no empty slots beside them
        titles = [ax.get_title() for ax in shown]
        assert titles[0] == "anna.jpg\n→ Happy 90 %" and titles[1] == "ben.png\n→ Sad 50 %"
        assert titles[2].startswith("a_very_long_f…") and titles[2].split("\n")[0].endswith(".jpeg")
    finally:
        plt.close(fig)


@pytest.mark.jail
def test_a_forged_layer_table_is_one_line_not_a_traceback(tmp_path, small_csv, cli):
    """The worker runs the hand-in, which can rewrite what the worker answers: the parent checks the layer table
    field by field, so `fercomp report` ends in one line and writes nothing."""
    from tests.hostile.test_hostile import CASES

    shutil.copy(CASES / "forged_layer_table.py", tmp_path / "team.py")
    record = score_submission(tmp_path / "team.py", fast_config(small_csv, tmp_path / "results", sandbox="required"))
    assert record.status == "scored", record.failure
    code, out, err = cli("report", tmp_path / "team.py", "--data", small_csv, "--results", tmp_path / "results",
                         "--split", "PrivateTest", "--out", tmp_path / "pack")  # the library scored the held-out split
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err, err
    assert "protocol_error: the worker's layer table is malformed" in err
    assert not (tmp_path / "pack").exists()


@pytest.mark.jail
def test_a_record_of_another_version_of_the_hand_in_is_refused(scored, small_csv, tmp_path):
    """A record scored before the .py (or its weights) changed would sit beside a layer table of the new file."""
    root, _ = scored
    shutil.copy(root / "team.pt", tmp_path / "team.pt")
    (tmp_path / "team.py").write_text((root / "team.py").read_text() + "\n# one more comment\n")
    with pytest.raises(UsageError, match=r"out of date: the \.py changed since it was scored; run `fercomp score .*team\.py"):
        build_report(tmp_path / "team.py", small_csv, root / "results", root / "train", tmp_path / "pack")
    assert not (tmp_path / "pack").exists()  # nothing half-written

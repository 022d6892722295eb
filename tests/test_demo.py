"""The demo end to end on a tiny plan: every promised file exists and a re-run reuses everything."""

import json
from pathlib import Path

import pytest

from fercomp.data.synth import SynthSpec
from fercomp.demo import DemoPlan, run_demo
from fercomp.training.recipe import Recipe


@pytest.mark.jail
def test_demo_writes_everything_and_reruns_from_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a relative output folder, as `make demo` uses
    quick = Recipe(epochs=1, batch_size=64)
    plan = DemoPlan(out=Path("reports/demo"), data=SynthSpec(n_train=300, n_public=80, n_private=80, seed=2),
                    teams=(("small_cnn", quick), ("depthwise_net", quick)), baseline=quick,
                    ablation_epochs=1)
    said = []
    written = run_demo(plan, say=said.append)
    for step in ("data", "training", "leaderboard", "ablation", "report"):
        assert written[step] and all(p.exists() for p in written[step]), step
    suffixes = {p.suffix for p in written["leaderboard"]}
    assert suffixes == {".md", ".csv", ".tex", ".html", ".json", ".png"}
    board = json.loads(next(p for p in written["leaderboard"] if p.suffix == ".json").read_text())
    assert board["baseline"] == "baseline_cnn" and {m["team"] for m in board["marks"]} == {"small_cnn", "depthwise_net"}
    _check_report_pack(plan.out / "report" / "small_cnn", plan.out / "results" / "small_cnn.PrivateTest.json")
    steps = [line[:5] for line in said if line.startswith("[")]
    assert steps == [f"[{n}/6]" for n in range(1, 7)]  # each step once, in order
    scoring = said[said.index(next(line for line in said if line.startswith("[3/6]"))) + 1:][:3]
    assert sorted(line.split()[0] for line in scoring) == ["baseline_cnn", "depthwise_net", "small_cnn"]  # a line per hand-in
    printed = capsys.readouterr().out
    assert printed.index("row 1/4: baseline recipe — training 1 epoch(s)") < printed.index("row 4/4: batchnorm + flip + label smoothing")
    from fercomp.records import read_record

    report = read_record(plan.out / "results" / "small_cnn.PrivateTest.json")
    rows = plan.out / "ablation" / "small_cnn" / "rows"
    (all_on,) = [d for d in rows.iterdir() if all(json.loads((d / "row.json").read_text())["flags"])]
    ablated = read_record(all_on / "results" / "small_cnn.PrivateTest.json")
    notes = [line for line in said if line.startswith("note: small_cnn is at")]
    if f"{100 * ablated.accuracy:.2f}" != f"{100 * report.accuracy:.2f}":
        assert notes == [f"note: small_cnn is at {100 * report.accuracy:.2f} % in the leaderboard and report (the demo's team "
                         f"recipe: 1 epoch, batch 64, adam lr 0.001 (constant)) and at {100 * ablated.accuracy:.2f} % in the "
                         "ablation's all-methods row (1 epoch, batch 64, adam lr 0.001 (constant), every method on): "
                         "two recipes, two trainings"]
    else:
        assert notes == []
    again = []
    run_demo(plan, say=again.append)
    assert sum("reusing" in line for line in again) == 4  # the data and three sets of weights


def assert_division_exact(text: str, efficiency: float) -> None:
    """The printed efficiency line divides to its printed result, which is the record's efficiency."""
    import re

    a, b, q = re.search(r"efficiency = accuracy % ÷ GFLOPs = ([\d.e+-]+) ÷ ([\d.e+-]+) = ([\d,.]+)", text).groups()
    assert f"{float(a) / float(b):,.2f}" == q == f"{efficiency:,.2f}", (a, b, q)


def _check_report_pack(folder, record_file):
    """The figures open as real images of a sensible size, and the text quotes the record's numbers."""
    import numpy as np
    from PIL import Image

    from fercomp.records import read_record

    record = read_record(record_file)
    for name, min_size in (("confusion.png", (400, 300)), ("samples.png", (400, 300)), ("curves.png", (400, 200))):
        image = Image.open(folder / name)
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], name
        assert np.asarray(image.convert("L")).std() > 5, name  # not blank
    text = (folder / "summary.md").read_text()
    assert_division_exact(text, 100 * record.accuracy / record.gflops)
    from tests.conftest import cells

    happy = next(cells(line) for line in text.splitlines() if line.startswith("| Happy"))
    assert happy[1] == f"{record.per_class[3]['precision']:.3f}" and "### Ablation study" in text
    assert r"\toprule" in (folder / "summary.tex").read_text()


def test_report_without_a_record_is_a_clear_error(cli, tmp_path, small_csv):
    import shutil

    from tests.scoring_helpers import FIXTURES

    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "team.py")
    code, _, err = cli("report", tmp_path / "team.py", "--data", small_csv, "--results", tmp_path / "none")
    assert code == 2 and "no score record; run `fercomp score" in err

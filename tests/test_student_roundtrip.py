"""A student team's round trip, as a notebook runs it: a model with a helper class is saved, trained with a
model keyword argument, checked, scored, asked for predictions; a torchvision model is trained from ImageNet
weights (a cache written here: nothing is downloaded); one study ablates pretrained against scratch; the
report pack is built with its table; and the LaTeX compiles (pdflatex when installed, a strict LaTeX parse
with only known commands otherwise). No step needs an error message read or a file edited by hand.
Tiny on purpose: 1 epoch on 64 synthetic faces, 48×48."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import torch
from torchvision import models

import fercomp
from fercomp.training import pretrained

FAST = ("--latency-queries", "2", "--latency-seconds", "0")
TRAIN = ("--epochs", "1", "--train-limit", "64", "--batch-size", "32", "--threads", "1", "--device", "cpu")

NOTEBOOK_CELL = '''
import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, batchnorm):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm = nn.BatchNorm2d(cout) if batchnorm else nn.Identity()

    def forward(self, x):
        return F.max_pool2d(F.relu(self.norm(self.conv(x))), 2)


class Net(nn.Module):
    def __init__(self, width=8, batchnorm=False):
        super().__init__()
        self.features = nn.Sequential(Block(1, width, batchnorm), Block(width, 2 * width, batchnorm))
        self.head = nn.Linear(2 * width, 7)

    def forward(self, x):
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))
'''

GRAY_RESNET18 = '''"""ResNet18 from torchvision with a 1-channel stem and a 7-way head, for 48×48 gray faces."""
from torch import nn
from torchvision.models import resnet18


def build_model(num_classes: int = 7) -> nn.Module:
    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
    return model
'''

STUDY = '''name = "transfer"
submission = "gray18.py"
data = "{data}"
[recipe]
epochs = 1
train_limit = 64
batch_size = 32
threads = 1
device = "cpu"
[[method]]
name = "pretrained"
pretrained = "imagenet"
'''

#: every command the report pack's and the ablation's LaTeX may use: article's, booktabs' and amssymb's
KNOWN_MACROS = {"caption", "label", "centering", "textbf", "toprule", "midrule", "bottomrule", "medskip", "Delta",
                "div", "times", "pm", "to", "checkmark", "dagger", "alpha", "textbackslash", "textasciitilde",
                "textasciicircum", "%", "&", "_", "#", "$", "{", "}", "\\", ","}


def _notebook_cell(code: str) -> dict:
    """Run `code` as IPython runs a cell: its source in linecache, its classes in a module without a file."""
    import linecache

    linecache.cache["<cell 1>"] = (len(code), None, code.splitlines(True), "<cell 1>")
    cell = {"__name__": "__main__"}
    exec(compile(code, "<cell 1>", "exec"), cell)
    return cell


def assert_latex_compiles(body: str, folder) -> None:
    """pdflatex on a minimal document when it is installed; else a strict parse that knows every command used."""
    if shutil.which("pdflatex"):
        doc = folder / "doc.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{amssymb}\\begin{document}\n"
                       + body + "\\end{document}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=folder,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-3000:]
        return
    from pylatexenc.latexwalker import (LatexEnvironmentNode, LatexGroupNode, LatexMacroNode, LatexMathNode,
                                        LatexWalker)

    assert body.isascii(), sorted({c for c in body if not c.isascii()})  # pdflatex would need each spelled out
    nodes, _, _ = LatexWalker(body, tolerant_parsing=False).get_latex_nodes()
    todo, macros, environments = list(nodes), set(), set()
    while todo:
        node = todo.pop()
        if isinstance(node, LatexMacroNode):
            macros.add(node.macroname)
            todo += [a for a in (node.nodeargd.argnlist if node.nodeargd else []) if a is not None]
        elif isinstance(node, LatexEnvironmentNode):
            environments.add(node.environmentname)
            todo += list(node.nodelist)
        elif isinstance(node, (LatexGroupNode, LatexMathNode)):
            todo += list(node.nodelist)
    assert macros <= KNOWN_MACROS, macros - KNOWN_MACROS
    assert environments <= {"table", "tabular"}, environments


@pytest.fixture
def imagenet_cache(tmp_path, monkeypatch):
    """torchvision's cache ($TORCH_HOME/hub/checkpoints) holding a stand-in for ResNet18's ImageNet file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    torch.manual_seed(0)
    return pretrained.store_in_cache(models.ResNet18_Weights.IMAGENET1K_V1, models.resnet18().state_dict())


@pytest.mark.jail
def test_a_notebook_team_goes_from_a_cell_to_a_report_with_transfer_learning(tmp_path, small_csv, imagenet_cache,
                                                                            cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # 1. a notebook cell defines a model with a helper class; save_submission writes both (and its weights)
    cell = _notebook_cell(NOTEBOOK_CELL)
    team = fercomp.save_submission(cell["Net"](), tmp_path / "team.py")
    assert "class Block(nn.Module)" in team.read_text()
    # 2. train it with a model keyword argument: the hand-in records it, so every later command builds the same model
    result = fercomp.train(team, small_csv, epochs=1, batch_size=32, train_limit=64, threads=1, device="cpu",
                           model_kwargs={"batchnorm": True}, report_dir=tmp_path / "train" / "team", progress=False)
    assert "BUILD_KWARGS = {'batchnorm': True}" in team.read_text() and result.weights_path.is_file()
    report = fercomp.check(team)
    assert report.passed, report.reason
    # 3. score on the student's machine: the public split by default, said so
    code, out, err = cli("score", team, "--data", small_csv, "--out", tmp_path / "results", *FAST)
    assert code == 0, err
    assert "scored PublicTest, the public split" in err
    record = json.loads((tmp_path / "results" / "team.PublicTest.json").read_text())
    assert record["submission"]["model_kwargs"] == {"batchnorm": True}
    code, out, err = cli("predict", team, "--data", small_csv, "--n", "3", "--json", "--grid", tmp_path / "grid.png")
    assert code == 0 and len(json.loads(out)["predictions"]) == 3, err
    # 4. transfer learning: a torchvision ResNet18 from ImageNet weights, its RGB stem summed to one channel
    (tmp_path / "gray18.py").write_text(GRAY_RESNET18)
    code, out, err = cli("train", tmp_path / "gray18.py", "--data", small_csv, "--pretrained", "imagenet",
                         "--body-lr", "1e-4", *TRAIN, "--report-dir", tmp_path / "train" / "gray18", "--json")
    assert code == 0, err
    started = json.loads((tmp_path / "train" / "gray18" / "history.json").read_text())["ran_on"]["started_from"]
    assert started["adapted"] == ["conv1.weight"] and started["new"] == ["fc.weight", "fc.bias"]
    # 5. one study: scratch against pretrained; the dry run builds every row first
    (tmp_path / "study.toml").write_text(STUDY.format(data=small_csv))
    code, out, err = cli("ablate", tmp_path / "study.toml", "--dry-run")
    assert code == 0 and "starts from ResNet18_Weights.IMAGENET1K_V1 (in the cache)" in out, err
    code, out, err = cli("ablate", tmp_path / "study.toml", "--out", tmp_path / "ablation", "--split", "PublicTest", *FAST)
    assert code == 0, err
    study = tmp_path / "ablation" / "transfer"
    rows = [line for line in (study / "ablation.md").read_text().splitlines() if line.startswith("| N") or line.startswith("| Y")]
    assert len(rows) == 2  # scratch, pretrained
    # 6. the report pack, with the study's table, from the records alone (the hand-in runs only in the worker)
    code, out, err = cli("report", team, "--data", small_csv, "--results", tmp_path / "results",
                         "--history", tmp_path / "train" / "team", "--ablation", study, "--out", tmp_path / "pack")
    assert code == 0, err
    summary = (tmp_path / "pack" / "summary.md").read_text()
    assert "### Ablation study" in summary and "![training curves](curves.png)" in summary
    for tex in (tmp_path / "pack" / "summary.tex", study / "ablation.tex"):
        assert_latex_compiles(tex.read_text(), tmp_path)
    table = (study / "ablation.tex").read_text()
    assert table.startswith("\\begin{table}") and "\\label{tab:ablation-transfer}" in table
    assert not re.search(r"(?<![\w$])-\d", table)  # minus signs, not hyphens


def test_the_latex_check_catches_what_pdflatex_would_refuse(tmp_path, monkeypatch):
    """The fallback parse is not a rubber stamp: an unknown command, a stray hyphen-free unicode sign and
    unbalanced environments all fail it."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for bad in ("\\begin{table}\\begin{tabular}{c}a\\end{table}", "\\textminus 3", "a ± b", "\\textbf{a"):
        with pytest.raises(Exception):
            assert_latex_compiles(bad, tmp_path)
    assert_latex_compiles("\\begin{table}\\centering\\caption{x \\% y}\\label{t}\\begin{tabular}{c}\\toprule "
                          "$-$1 \\\\ \\bottomrule\\end{tabular}\\end{table}", tmp_path)

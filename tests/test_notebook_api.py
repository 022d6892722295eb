"""The students' guide's notebook section runs as printed (paths pointed at a temporary folder), and `predict`
gives score's predictions for data-set faces, through the worker."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import fercomp
from fercomp.data.source import load_data
from fercomp.errors import UsageError
from fercomp.prediction import face
from tests.scoring_helpers import FIXTURES, expected_rule_predictions

STUDENTS = Path(__file__).parents[1] / "docs" / "students.md"


@pytest.mark.jail
def test_readme_notebook_section_runs(tmp_path, small_csv, monkeypatch, capsys):
    block = re.search(r"## In a notebook: the Python API.*?```python\n(.*?)```", STUDENTS.read_text(), re.S).group(1)
    (tmp_path / "submissions").mkdir()
    monkeypatch.chdir(tmp_path)
    code = block.replace("reports/demo/fer2013.csv", str(small_csv))
    import linecache

    # As IPython does for each cell: the source is in linecache, the class's module has no file.
    linecache.cache["<notebook cell>"] = (len(code), None, code.splitlines(True), "<notebook cell>")
    cell = {"__name__": "__main__notebook"}
    exec(compile(code, "<notebook cell>", "exec"), cell)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "True"  # the saved submission passes every check
    assert out[1].startswith("epoch 1: train loss ")  # training says how it goes, in a notebook too
    assert re.match(r"\d+\.\d\d % at \d\.\d{6} GFLOPs: efficiency \d", out[2])
    assert len(out) == 6 and all(line.startswith("PublicTest#") for line in out[3:])
    assert (tmp_path / "submissions" / "tiny.pt").is_file()
    record = cell["record"]  # the cell's own score of submissions/tiny.py
    assert record.status == "scored" and record.params_total == 8 * 9 + 8 + 8 * 16 * 7 + 7


@pytest.mark.jail
def test_predict_equals_the_rule_the_scorer_sees(cli, tmp_path, small_csv):
    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    result = fercomp.predict(tmp_path / "rule.py", data=small_csv, split="PrivateTest", n=40, seed=5)
    subset = load_data(small_csv).select("PrivateTest")
    picked = subset.images[result.source["indices"]]
    assert np.array_equal(result.probabilities.argmax(1), expected_rule_predictions(picked))
    assert np.allclose(result.probabilities.sum(1), 1.0)
    assert [r["true"] for r in result.rows()][:3] == [fercomp.prediction.CLASS_NAMES[k] for k in result.labels[:3]]


@pytest.mark.jail
def test_predict_on_a_folder_of_jpegs_prints_and_writes_the_grid(cli, tmp_path):
    from PIL import Image

    shutil.copy(FIXTURES / "rule_model.py", tmp_path / "rule.py")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((120, 90, 3)) * 255).astype("uint8")).save(photos / "wide.jpg")
    Image.fromarray((rng.random((30, 30)) * 255).astype("uint8")).save(photos / "small.png")
    code, out, err = cli("predict", tmp_path / "rule.py", photos, "--grid", tmp_path / "grid.png")
    assert code == 0, err
    assert "wide.jpg" in out and "small.png" in out and " %" in out
    assert Image.open(tmp_path / "grid.png").size[0] > 300
    code, out, _ = cli("predict", tmp_path / "rule.py", photos / "wide.jpg", "--json", "--top-k", "7",
                       "--grid", tmp_path / "g.png")
    import json

    doc = json.loads(out)
    top = doc["predictions"][0]["top"]
    assert code == 0 and len(top) == 7 and abs(sum(t["probability"] for t in top) - 1) < 1e-5
    want = expected_rule_predictions(face(photos / "wide.jpg")[None])[0]
    assert top[0]["class"] == fercomp.prediction.CLASS_NAMES[want]


def test_faces_are_prepared_like_the_data_set(tmp_path):
    from PIL import Image

    wide = np.zeros((40, 80), dtype=np.uint8)
    wide[:, 20:60] = 200  # the centre square is all 200
    Image.fromarray(wide).save(tmp_path / "w.png")
    out = face(tmp_path / "w.png")
    assert out.shape == (48, 48) and out.dtype == np.uint8 and (out == 200).all()
    (tmp_path / "bad.jpg").write_text("not an image")
    with pytest.raises(UsageError, match="bad.jpg: not an image PIL can read"):
        face(tmp_path / "bad.jpg")


def test_save_submission_needs_source_and_a_py(tmp_path):
    from torch import nn

    with pytest.raises(UsageError, match="a submission is a .py file"):
        fercomp.save_submission(nn.Linear(2, 2), tmp_path / "x.txt")


def _cell(code: str, name: str = "<cell 1>") -> dict:
    """Run `code` as IPython runs a notebook cell: its source in linecache, its module without a file."""
    import linecache

    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    cell = {"__name__": "__main__"}
    exec(compile(code, name, "exec"), cell)
    return cell


HELPERS = '''
import math
import torch
from torch import nn
from torch.nn import functional as F

WIDTH = 8


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout))


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = conv_bn(channels, channels)

    def forward(self, x):
        return F.relu(x + self.body(x)) * math.sqrt(1.0)


class Net(nn.Module):
    def __init__(self, width=WIDTH, blocks=1):
        super().__init__()
        self.stem = conv_bn(1, width)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(blocks)])
        self.head = nn.Linear(width, 7)

    def forward(self, x):
        return self.head(torch.flatten(F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1), 1))
'''


def test_save_submission_writes_every_helper_the_model_needs(tmp_path):
    import torch

    from fercomp.training.run import build_from_file

    cell = _cell(HELPERS)
    model = cell["Net"](blocks=2)
    path = fercomp.save_submission(model, tmp_path / "team.py", build_kwargs={"blocks": 2})
    text = path.read_text()
    for needed in ("class Block(nn.Module)", "def conv_bn(cin, cout)", "WIDTH = 8", "import math",
                   "from torch.nn import functional as F", "BUILD_KWARGS = {'blocks': 2}"):
        assert needed in text
    assert text.index("def conv_bn") < text.index("class Block") < text.index("class Net")
    built, _, kwargs = build_from_file(path, {})  # the file alone, in a fresh module, with its BUILD_KWARGS
    built.load_state_dict(torch.load(tmp_path / "team.pt", weights_only=True))
    x = torch.randn(2, 1, 48, 48)
    assert kwargs == {"blocks": 2} and torch.equal(built.eval()(x), model.eval()(x))


def test_save_submission_refuses_by_name_what_cannot_be_written(tmp_path):
    cell = _cell(HELPERS + '''
MASK = torch.ones(7)


class Masked(Net):
    def forward(self, x):
        return super().forward(x) * MASK
''', "<cell 2>")
    with pytest.raises(UsageError, match=r"cannot write Masked as a file: MASK \(a Tensor that Masked reads"):
        fercomp.save_submission(cell["Masked"](), tmp_path / "m.py")
    with pytest.raises(UsageError, match="pass build_kwargs= with the arguments Net was made with"):
        fercomp.save_submission(cell["Net"](blocks=3), tmp_path / "n.py")  # the file would build blocks=1
    assert not (tmp_path / "n.py").exists() and not (tmp_path / "n.pt").exists()  # nothing half-written
    from torchvision.models import resnet18

    with pytest.raises(UsageError, match="torchvision.models.resnet.ResNet is a library's class"):
        fercomp.save_submission(resnet18(num_classes=7), tmp_path / "r.py")


def test_check_says_why_it_failed(tmp_path):
    (tmp_path / "bad.py").write_text("BUILD_KWARGS = [1]\n")
    report = fercomp.check(tmp_path / "bad.py")
    assert not report.passed and report.reason.startswith("file and metadata: bad_metadata: ")
    assert "BUILD_KWARGS must be a dict" in repr(report)

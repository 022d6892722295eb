"""The contract's rules, checked in-process on the trusted side and on the worker side's functions."""

import io
import textwrap

import pytest
import torch
from torch import nn

from fercomp.errors import SubmissionError, UsageError
from fercomp.submission import build
from fercomp.submission.contract import read_submission

NET = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, num_classes=7):
        super().__init__()
        self.fc = nn.Linear(48 * 48, num_classes)
    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def write(tmp_path, text, name="team.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def module_of(path):
    return build.import_source(path.read_text(), str(path), "sub_" + path.stem)


@pytest.mark.parametrize(
    "extra,expected",
    [
        ("\ndef build_model(width=7):\n    return Net(num_classes=width)\n", 7),
        ("\nmodel = Net(num_classes=7)\n", 7),
        ("", 7),
    ],
    ids=["build_model", "model instance", "single class"],
)
def test_model_forms(tmp_path, extra, expected):
    model = build.build_model(module_of(write(tmp_path, NET + extra)), {})
    assert model(torch.zeros(2, 1, 48, 48)).shape == (2, expected)


def test_build_model_kwargs_and_bad_forms(tmp_path):
    module = module_of(write(tmp_path, NET + "\ndef build_model(dropout=0.0):\n    m = Net()\n    m.p = dropout\n    return m\n"))
    assert build.build_model(module, {"dropout": 0.3}).p == 0.3
    two = module_of(write(tmp_path, NET + "\nclass Other(nn.Module):\n    pass\n", "two.py"))
    with pytest.raises(build.ContractError, match=r"several nn.Module classes could be the model \(Net, Other\); say which"):
        build.build_model(two, {})
    none = module_of(write(tmp_path, "x = 1\n", "none.py"))
    with pytest.raises(build.ContractError, match="expected build_model"):
        build.build_model(none, {})
    wrong = module_of(write(tmp_path, "def build_model():\n    return 3\n", "wrong.py"))
    with pytest.raises(build.ContractError, match="returned int, not an nn.Module"):
        build.build_model(wrong, {})


HELPER_AND_NET = """import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 7)

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = ConvBlock(1, 8)
        self.head = Head()

    def forward(self, x):
        return self.head(self.block(x))
"""


def test_a_network_with_helper_blocks_is_found(tmp_path):
    """The commonest way to write a model: a block that takes arguments, a no-argument helper, and the network
    that builds them. Net is the only class no other class builds."""
    model = build.build_model(module_of(write(tmp_path, HELPER_AND_NET, "blocks.py")), {})
    assert type(model).__name__ == "Net" and model(torch.zeros(2, 1, 48, 48)).shape == (2, 7)
    alone = module_of(write(tmp_path, HELPER_AND_NET.split("class Head")[0], "block_only.py"))
    with pytest.raises(build.ContractError, match=r"ConvBlock\(\) needs arguments \['cin', 'cout'\]; add a build_model"):
        build.build_model(alone, {})


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_weights_nested_and_dataparallel_prefix():
    model = nn.Linear(3, 7)
    state = {"module." + k: v for k, v in nn.Linear(3, 7).state_dict().items()}
    for wrapped in (state, {"state_dict": state}, {"model": state}):
        build.load_weights(model, build.read_state_dict(_bytes(wrapped), "torch", False))
        assert torch.equal(model.weight, state["module.weight"])


def test_initialisers_skipped_only_while_weights_will_overwrite():
    originals = {n: getattr(nn.init, n) for n in ("kaiming_uniform_", "uniform_", "ones_", "trunc_normal_")}
    with build.initialisers_skipped(True):
        skipped = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 7))
        nn.init.trunc_normal_(skipped[2].weight)
    assert all(int(torch.count_nonzero(p)) == 0 for p in skipped.parameters())
    assert {n: getattr(nn.init, n) for n in originals} == originals
    trained = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 7))
    build.load_weights(skipped, trained.state_dict())
    x = torch.randn(2, 1, 5, 5)
    assert torch.equal(skipped[0](x), trained[0](x))
    with build.initialisers_skipped(False):
        random = nn.Linear(4, 7)
    assert int(torch.count_nonzero(random.weight)) > 0


def test_weights_problems_are_listed_by_name():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 7))
    state = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 10)).state_dict()
    state["extra.bias"] = torch.zeros(1)
    del state["0.bias"]
    with pytest.raises(build.ContractError) as info:
        build.load_weights(model, state)
    message = str(info.value)
    assert "missing keys: 0.bias" in message and "unexpected keys: extra.bias" in message
    assert "1.weight (10, 4) vs model (7, 4)" in message and info.value.reason == "weights_mismatch"
    assert "built as build_model() with its defaults (no BUILD_KWARGS)" in message
    assert message.endswith("belong to another architecture or an older version of this one: retrain, or pass --weights")


def test_a_weights_mismatch_names_the_keyword_arguments_the_model_was_built_with():
    """Weights trained with --model-kwarg batchnorm=true but built without it: the message names the cause."""
    model = nn.Sequential(nn.Linear(3, 4))
    state = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).state_dict()
    with pytest.raises(build.ContractError) as info:
        build.load_weights(model, state, {"batchnorm": False})
    assert "built as build_model(**{'batchnorm': False})" in str(info.value)
    assert "set BUILD_KWARGS in the .py to those" in str(info.value)


def test_pickled_whole_model_refused_unless_trusted():
    data = _bytes(nn.Linear(3, 7))
    with pytest.raises(build.ContractError, match=r"torch.save\(model.state_dict\(\), path\)") as info:
        build.read_state_dict(data, "torch", False)
    assert info.value.reason == "pickled_model_refused"
    assert set(build.read_state_dict(data, "torch", True)) == {"weight", "bias"}


def test_safetensors_weights():
    from safetensors.torch import save

    state = nn.Linear(3, 7).state_dict()
    loaded = build.read_state_dict(save(state), "safetensors", False)
    assert torch.equal(loaded["weight"], state["weight"])


def test_static_metadata_and_weight_discovery(tmp_path):
    path = write(tmp_path, NET + '\nPREPROCESS = {"size": 64, "channels": 3, "mean": [0.5], "std": 0.25}\n'
                 'CLASS_ORDER = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]\n')
    (tmp_path / "team.pth").write_bytes(b"x")
    files = read_submission(path)
    assert files.preprocess.size == 64 and files.preprocess.mean == (0.5, 0.5, 0.5) and files.preprocess.std == (0.25,) * 3
    assert files.class_order[4] == "Neutral" and files.weights_path.name == "team.pth"
    declared = write(tmp_path, NET + '\nWEIGHTS = "declared/best.safetensors"\n', "declared.py")
    (tmp_path / "declared").mkdir()
    (tmp_path / "declared" / "best.safetensors").write_bytes(b"x")
    assert read_submission(declared).weights_path == (tmp_path / "declared" / "best.safetensors").resolve()
    assert read_submission(declared, weights=tmp_path / "team.pth").weights_path.name == "team.pth"


@pytest.mark.parametrize(
    "text,reason,message",
    [
        ("def f(:\n", "syntax_error", "line 1: syntax error"),
        (NET + "\nPREPROCESS = dict(size=64)\n", "bad_metadata", "PREPROCESS must be a literal"),
        (NET + '\nPREPROCESS = {"size": 48, "colour": 1}\n', "bad_preprocess", "unknown key"),
        (NET + '\nPREPROCESS = {"channels": 2}\n', "bad_preprocess", "channels must be 1 or 3"),
        (NET + '\nCLASS_ORDER = ["happy", "sad"]\n', "bad_class_order", "must name each of the 7 classes"),
        (NET + '\nWEIGHTS = "absent.pt"\n', "weights_missing", "does not exist"),
    ],
)
def test_contract_breaches_are_named(tmp_path, text, reason, message):
    with pytest.raises(SubmissionError, match=message) as info:
        read_submission(write(tmp_path, text))
    assert info.value.reason == reason


def test_missing_or_non_python_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such submission file"):
        read_submission(tmp_path / "absent.py")
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(UsageError, match="a submission is a .py file"):
        read_submission(tmp_path / "model.pt")


def test_oversized_weights_refused_before_reading(tmp_path):
    path = write(tmp_path, NET)
    with open(tmp_path / "team.pt", "wb") as fh:
        fh.truncate(3 << 20)  # sparse: 3 MB on paper, nothing on disk
    with pytest.raises(SubmissionError, match="over the 2 MB limit") as info:
        read_submission(path, max_weights_mb=2)
    assert info.value.reason == "weights_too_large"


def test_jail_dies_with_its_parent():
    """A grading run that is killed leaves no jail running behind it (nsjail under setpriv --pdeathsig KILL)."""
    import os
    import subprocess
    import sys
    import time

    code = ("import time\nfrom fercomp.submission.runner import JailedProcess, Limits\n"
            "p = JailedProcess('fercomp.submission.measurer', Limits(sandbox='required'), {'device': 'cpu'}, True).start()\n"
            "print(p.proc.pid, flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert os.path.exists(f"/proc/{pid}")
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        with open(f"/proc/{pid}/status") as fh:
            if "zombie" in fh.read():
                break
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read()


def test_a_pythonpath_folder_holding_the_hand_ins_is_not_bound_into_the_jail(tmp_path, monkeypatch):
    """PYTHONPATH=$PWD in a course repository must not bind submissions/ into the jail."""
    import os

    from fercomp.submission import jail

    course, libs = tmp_path / "course", tmp_path / "libs"
    (course / "submissions").mkdir(parents=True)
    libs.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(course), str(libs)]))
    roots = jail.library_roots([str(course / "submissions")])
    assert str(libs) in roots and str(course) not in roots
    spec = jail.JailSpec(argv=("true",), home=str(tmp_path), private=(str(course / "submissions"),))
    binds = [arg for arg in jail.command(spec) if arg.startswith(str(tmp_path))]
    assert str(libs) in binds and not any(b.startswith(str(course)) for b in binds)


def test_weight_files_are_memory_mapped_where_the_format_allows(tmp_path, monkeypatch):
    import torch

    from fercomp.submission import build

    state = {"weight": torch.arange(6.0).reshape(2, 3)}
    torch.save(state, tmp_path / "zip.pt")
    torch.save(state, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw.get("mmap")) or real(*a, **kw))
    for name in ("zip.pt", "legacy.pt"):
        assert torch.equal(build.read_state_dict(tmp_path / name, "torch", False)["weight"], state["weight"])
    assert calls == [True, False]  # torch.save's zip archive is mapped; a legacy pickle cannot be
    assert set(build.read_state_dict((tmp_path / "zip.pt").read_bytes(), "torch", False)) == {"weight"}

"""The measurer decides every figure: it never imports submitted code and loads an exported program safely."""

import json
import os
import pickle
import subprocess
import sys
import zipfile

import pytest
import torch
from torch import nn
from torch.export import Dim

from fercomp.submission import measurer, protocol


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)

    def forward(self, x):
        return self.fc(x.flatten(1))


def exported(tmp_path, model=None, low: int = 1, high: int = protocol.MAX_BATCH, example: int = 2):
    program = torch.export.export((model or Tiny()).eval(), (torch.zeros(example, 1, 48, 48),),
                                  dynamic_shapes=({0: Dim("batch", min=low, max=high)},), strict=False)
    path = tmp_path / "model.pt2"
    torch.export.save(program, path)
    return path


class Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_clean_export_loads_and_runs(tmp_path):
    program = measurer.load_program(str(exported(tmp_path)))
    out = measurer.runnable(program)(torch.zeros(3, 1, 48, 48))
    assert out.shape == (3, 7)


def test_a_batch_range_other_than_the_one_fercomp_asked_for_is_refused(tmp_path):
    with pytest.raises(measurer.MeasureError, match="batch") as refused:
        measurer.load_program(str(exported(tmp_path, high=64)))
    assert refused.value.reason == "artifact_refused"


class FirstRows(nn.Module):
    def __init__(self):
        super().__init__()
        self.head, self.body = nn.Linear(48 * 48, 7), nn.Linear(48 * 48, 7)

    def forward(self, x):
        return torch.cat([self.head(x[:16].flatten(1)), self.body(x[16:].flatten(1))])


def test_a_size_that_is_not_a_whole_number_of_batches_is_refused(tmp_path):
    """Exported for batches of 18 and more, its range widened back to what fercomp asks for (as a hand-in that
    replaces torch.export.export in the worker can): `x[16:]` has the size batch - 16, empty at batch 1."""
    from torch.export import load, save
    from torch.utils._sympy.value_ranges import ValueRanges

    path = exported(tmp_path, FirstRows(), low=18, example=32)
    program = load(path)
    for symbol in list(program.range_constraints):
        program.range_constraints[symbol] = ValueRanges(1, protocol.MAX_BATCH)
    save(program, path)
    with pytest.raises(measurer.MeasureError, match="whole number of batches") as refused:
        measurer.load_program(str(path))
    assert refused.value.reason == "artifact_refused" and "- 16" in str(refused.value)


def plant(path, payload) -> None:
    """Doctor an exported archive as a worker could: an "opaque object" constant, which torch.export.load
    reads with plain pickle.loads (a weight flagged use_pickle goes through torch.load)."""
    from torch.export.pt2_archive.constants import OPAQUE_OBJ_FILENAME_PREFIX

    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    name = next(n for n in entries if n.endswith("model_constants_config.json"))
    config = json.loads(entries[name])
    config["config"]["planted"] = {"path_name": f"{OPAQUE_OBJ_FILENAME_PREFIX}0", "is_param": False, "use_pickle": True,
                                   "tensor_meta": None}
    entries[name] = json.dumps(config).encode()
    entries[f"{name.rsplit('/', 1)[0]}/{OPAQUE_OBJ_FILENAME_PREFIX}0"] = payload
    with zipfile.ZipFile(path, "w") as archive:
        for key, data in entries.items():
            archive.writestr(key, data)


LOAD = "import sys\nfrom fercomp.submission import measurer\n" + \
       "try:\n    measurer.load_program(sys.argv[1])\nexcept measurer.MeasureError as e:\n    print(e.reason)\n"
PLAIN = "import sys, torch\ntry:\n    torch.export.load(sys.argv[1])\nexcept Exception:\n    pass\n"


def test_a_pickle_planted_in_the_archive_is_refused_and_never_runs(tmp_path):
    path = exported(tmp_path)
    marker = tmp_path / "ran"
    plant(path, pickle.dumps(Marker(marker)))
    done = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "artifact_refused", done.stderr[-2000:]
    assert not marker.exists()
    subprocess.run([sys.executable, "-c", PLAIN, str(path)], capture_output=True, timeout=120)
    assert marker.exists()  # what a plain torch.export.load of the same file does


def test_only_aten_operators_may_be_measured(tmp_path):
    class Reads(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :7] + torch.ops.aten.scalar_tensor(1.0)

    program = measurer.load_program(str(exported(tmp_path, Reads())))  # plain ATen: fine
    node = next(n for n in program.graph.nodes if n.op == "call_function")
    node.target = torch.ops.aten.from_file.default
    with pytest.raises(measurer.MeasureError, match="aten.from_file, which a model may not use"):
        measurer.check_graph(program)
    node.target = print
    with pytest.raises(measurer.MeasureError, match="not an ATen operator"):
        measurer.check_graph(program)


class Remembers(nn.Module):
    """Changes its state in place: a buffer through a view of it, the input, or (as every ResNet) only its own
    intermediate results, which is no state."""

    def __init__(self, target: str):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)
        self.register_buffer("seen", torch.zeros(7))
        self.target = target

    def forward(self, x):
        out = self.fc(x.flatten(1)).relu_()
        if self.target == "buffer":
            self.seen.view(1, 7).add_(out[:1].detach())
        if self.target == "input":
            x.mul_(0.5)
        return out.add_(self.seen)


@pytest.mark.parametrize("target", ["buffer", "input", "nothing"])
def test_a_graph_that_changes_its_state_is_refused(tmp_path, target):
    path = str(exported(tmp_path, Remembers(target)))
    if target == "nothing":
        program = measurer.load_program(path)  # its checks passed
        assert any(n.target == torch.ops.aten.relu_.default for n in program.graph.nodes)
        return
    with pytest.raises(measurer.MeasureError, match=r"changes (b_seen|x) in place \(aten\.(add_|mul_)\)"):
        measurer.load_program(path)


def test_a_write_through_an_alias_its_schema_does_not_declare_is_refused_when_run():
    """aten._unsafe_view shares its argument's memory, though its schema does not say so: a graph written by hand
    that adds to a buffer through one passes the schema check, and is refused on its check run, before it writes."""
    program = torch.export.export(Remembers("buffer").eval(), (torch.zeros(2, 1, 48, 48),), strict=False)
    view = next(n for n in program.graph.nodes if n.target == torch.ops.aten.view.default and n.args[0].name == "b_seen")
    view.target = torch.ops.aten._unsafe_view.default
    measurer.check_graph(program)
    with pytest.raises(measurer.MeasureError, match=r"writes into its weights or its input \(aten\.add_\)"):
        measurer.no_hidden_writes(program, torch.ones(1, 1, 48, 48))
    assert not program.state_dict["seen"].any()  # refused before the write
    honest = torch.export.export(Remembers("nothing").eval(), (torch.zeros(2, 1, 48, 48),), strict=False)
    measurer.no_hidden_writes(honest, torch.ones(1, 1, 48, 48))


def test_the_measurer_never_imports_the_code_that_runs_hand_ins():
    """Nor does its template, which forks measurers."""
    code = ("import sys\nfrom fercomp.submission import measurer, seccomp_filter, template\n"
            "measurer.Measurer({'threads': 1, 'device': 'cpu'}, None)\n"
            "print(sorted(m for m in sys.modules if m in ('fercomp.submission.build', 'fercomp.submission.worker')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]


class Attention(nn.Module):
    """Reshapes by `batch * heads`, as torchvision's ViT and Swin do: the exporter writes operator.mul on sizes."""

    def forward(self, x):
        b = x.shape[0]
        tokens = x.reshape(b, 4, 576).reshape(b * 4, 24, 24)
        return tokens.mean(dim=(1, 2)).reshape(b, 4)[:, :1].expand(b, 7)


def test_shape_arithmetic_on_sizes_is_allowed_and_on_a_tensor_refused(tmp_path):
    import operator

    program = measurer.load_program(str(exported(tmp_path, Attention())))  # accepted: arithmetic on the batch size
    shape_nodes = [n for n in program.graph.nodes if n.target in measurer.shape_arithmetic_targets()]
    assert shape_nodes and all(n.target is operator.mul for n in shape_nodes)
    assert measurer.runnable(program)(torch.zeros(3, 1, 48, 48)).shape == (3, 7)
    tensor_op = next(n for n in program.graph.nodes if n.target == torch.ops.aten.mean.dim)
    tensor_op.target = operator.mul  # the same Python operator on a tensor: uncounted compute
    with pytest.raises(measurer.MeasureError, match="allowed only as arithmetic on sizes, never on a tensor"):
        measurer.check_graph(program)


def test_getitem_only_picks_from_a_tuple_output(tmp_path):
    import operator

    program = measurer.load_program(str(exported(tmp_path, Attention())))
    node = next(n for n in program.graph.nodes if n.target == torch.ops.aten.mean.dim)
    node.target = operator.getitem  # on a tensor: an indexing no counter sees
    with pytest.raises(measurer.MeasureError, match="not an ATen operator"):
        measurer.check_graph(program)

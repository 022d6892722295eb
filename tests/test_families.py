"""torchvision's classification families are accepted: they export the way the worker exports, pass the measurer's
graph check, their FLOP counters agree, and the transformers (whose graphs do arithmetic on the symbolic batch
size) pass `fercomp check --allow-random-init` end to end. Random init, 7-way head, 3 channels at 48 pixels.
All of torchvision's families, at full size and through `check`, are in benchmarks/bench_families.py."""

import os

import pytest
import torch

from fercomp.measure.flops import count_all
from fercomp.submission import measurer, preprocess
from fercomp.submission.protocol import MAX_BATCH
from fercomp.submission.worker import ARTIFACT, Worker

#: One cheap member of each convolutional family, at torchvision's own size (the transformers follow); DenseNet
#: at a small depth (below).
FAMILIES = ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "regnet_x_400mf",
            "shufflenet_v2_x0_5", "squeezenet1_1", "densenet", "mnasnet0_5", "googlenet"]


def _build(name: str) -> torch.nn.Module:
    from torchvision.models import DenseNet, get_model

    if name == "densenet":
        # torchvision's DenseNet class with four blocks of two layers: the family's concatenations, bottlenecks and
        # transitions. DenseNet-121's 58 dense layers took 3-4 times any other family here (bench_families runs it).
        return DenseNet(growth_rate=16, block_config=(2, 2, 2, 2), num_init_features=32, num_classes=7)
    return get_model(name, weights=None, num_classes=7)

#: ViT and Swin at a small width: the same torchvision classes (the same exported shape arithmetic) at a
#: fraction of the cost of a ViT-B/16's 86 M parameters.
TRANSFORMERS = {
    "vit": "VisionTransformer(image_size=48, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, "
           "num_classes=num_classes)",
    "swin": "SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 2], window_size=[4, 4], "
            "num_classes=num_classes)",
}

HANDIN = '''from torch import nn
from torchvision.models import SwinTransformer, VisionTransformer

PREPROCESS = {{"size": 48, "channels": 3, "mean": [0.5], "std": [0.5]}}


def build_model(num_classes: int = 7) -> nn.Module:
    return {call}
'''


@pytest.mark.parametrize("name", FAMILIES)
def test_family_exports_passes_the_graph_check_and_counts(name, tmp_path, monkeypatch):
    torch.manual_seed(0)
    worker = Worker({"threads": torch.get_num_threads()})
    worker.model = _build(name).eval()
    worker.spec = preprocess.parse({"size": 48, "channels": 3, "mean": [0.5], "std": [0.5]}, name)
    monkeypatch.chdir(tmp_path)  # the worker writes its artifact into its home
    worker.export({}, b"")
    exported = measurer.runnable(measurer.load_program(str(tmp_path / ARTIFACT)))
    faces = preprocess.apply(torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8), worker.spec)
    with torch.no_grad():
        assert torch.equal(exported(faces), worker.model(faces))
    flops = count_all(exported, faces[:1])
    assert flops["check"] == "agree", flops["check_detail"]


@pytest.mark.jail
@pytest.mark.parametrize("family", sorted(TRANSFORMERS))
def test_a_transformer_passes_check(family, tmp_path, cli):
    path = tmp_path / f"{family}.py"
    path.write_text(HANDIN.format(call=TRANSFORMERS[family]))
    code, out, _ = cli("check", path, "--allow-random-init")
    assert code == 0, out
    assert "PASS exports with torch.export" in out and "PASS FLOP counters agree" in out


def test_the_exported_transformer_graph_does_arithmetic_on_sizes(tmp_path):
    """What the check above relies on: the graph holds Python operators on the batch size (without them this
    file would test nothing new), every one of them on sizes."""
    from torch.export import Dim
    from torchvision.models import VisionTransformer

    model = VisionTransformer(image_size=48, patch_size=16, num_layers=1, num_heads=2, hidden_dim=32, mlp_dim=64,
                              num_classes=7).eval()
    program = torch.export.export(model, (torch.zeros(2, 3, 48, 48),), dynamic_shapes=({0: Dim("batch", min=1, max=MAX_BATCH)},),
                                  strict=False)
    torch.export.save(program, os.fspath(tmp_path / "vit.pt2"))
    loaded = measurer.load_program(os.fspath(tmp_path / "vit.pt2"))
    shape_nodes = [n for n in loaded.graph.nodes if n.target in measurer.shape_arithmetic_targets()]
    assert shape_nodes and all(isinstance(n.meta["val"], torch.SymInt) for n in shape_nodes)

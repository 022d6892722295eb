"""Transfer learning: torchvision's ImageNet weights (from a cache written here: nothing is downloaded),
the 1-channel stem and the new head, --freeze, --body-lr, --init; and the hand-in it leaves."""

from __future__ import annotations

import json
import urllib.error

import pytest
import torch
from torch import nn
from torchvision import models

from fercomp.errors import UsageError
from fercomp.training import loop, pretrained
from fercomp.training.recipe import Recipe

GRAY_RESNET18 = '''"""ResNet18 with a 1-channel stem and a 7-way head."""
from torch import nn
from torchvision.models import resnet18


def build_model(num_classes: int = 7, dropout: float = 0.0) -> nn.Module:
    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    if dropout:
        model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(512, num_classes))
    return model
'''


def gray_resnet18() -> nn.Module:
    model = models.resnet18(num_classes=7)
    model.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    return model


@pytest.fixture(scope="module")
def imagenet_state():
    """A stand-in for ResNet18's ImageNet file: a seeded 1000-class ResNet18's state dict."""
    torch.manual_seed(123)
    return models.resnet18().state_dict()


@pytest.fixture
def torch_home(tmp_path, monkeypatch, imagenet_state):
    """torchvision's cache ($TORCH_HOME/hub/checkpoints) holding that file under its real name."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = pretrained.store_in_cache(models.ResNet18_Weights.IMAGENET1K_V1, imagenet_state)
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    return path


def test_imagenet_weights_fill_the_body_sum_the_stem_and_leave_a_new_head(torch_home, imagenet_state):
    model = gray_resnet18()
    fresh_head = model.fc.weight.detach().clone()
    started = pretrained.start_from(model, "imagenet", "", "")
    state = model.state_dict()
    assert torch.equal(state["layer3.1.conv2.weight"], imagenet_state["layer3.1.conv2.weight"])
    assert torch.equal(state["bn1.running_var"], imagenet_state["bn1.running_var"])
    # timm's adapt_input_conv for one channel: the RGB kernel summed, so a gray face (R = G = B) gives the same output
    assert torch.allclose(state["conv1.weight"], imagenet_state["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(state["fc.weight"], fresh_head)
    assert started.adapted == ("conv1.weight",) and started.new == ("fc.weight", "fc.bias")
    assert "ResNet18_Weights.IMAGENET1K_V1" in started.source and "resnet18-f37072fd.pth" in started.source


def test_the_architecture_is_found_among_torchvision_builders():
    assert pretrained.torchvision_architecture(gray_resnet18()) == "resnet18"
    assert pretrained.torchvision_architecture(models.resnet34(num_classes=7)) == "resnet34"
    b0 = models.efficientnet_b0(num_classes=7)
    b0.features[0][0] = nn.Conv2d(1, 32, 3, 2, 1, bias=False)  # report 003's 1-channel stem
    assert pretrained.torchvision_architecture(b0) == "efficientnet_b0"
    with pytest.raises(UsageError, match="not a torchvision model.*--init FILE"):
        pretrained.torchvision_architecture(nn.Sequential(nn.Conv2d(1, 4, 3)))


def test_an_uncached_file_that_cannot_be_downloaded_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UsageError) as info:
        pretrained.start_from(gray_resnet18(), "imagenet", "", "")
    message = info.value.message
    assert "\n" not in message and "resnet18-f37072fd.pth" in message and "no route to host" in message


def test_freeze_body_leaves_only_the_head_and_body_lr_makes_two_groups(torch_home):
    model = gray_resnet18()
    started = pretrained.start_from(model, "imagenet", "", "body")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
    model = gray_resnet18()
    started = pretrained.start_from(model, "imagenet", "", "layer1,conv1")
    assert not model.conv1.weight.requires_grad and not model.layer1[0].conv1.weight.requires_grad
    assert model.layer2[0].conv1.weight.requires_grad
    groups = loop.param_groups(model, Recipe(lr=1e-3, body_lr=1e-4, pretrained="imagenet"), started.body)
    assert [g["lr"] for g in groups] == [1e-3, 1e-4]
    assert [id(p) for p in groups[0]["params"]] == [id(model.fc.weight), id(model.fc.bias)]
    with pytest.raises(UsageError, match="--freeze layer9: the model has no parameters under that name"):
        pretrained.start_from(gray_resnet18(), "imagenet", "", "layer9")


def test_init_takes_any_state_dict_and_refuses_another_architectures(tmp_path):
    source = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8, 10))
    path = tmp_path / "mine.pt"
    torch.save({"state_dict": source.state_dict()}, path)
    target = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.Linear(8, 10))
    started = pretrained.start_from(target, "", str(path), "")
    assert started.adapted == ("0.weight",) and torch.equal(target[2].weight, source[2].weight)
    with pytest.raises(UsageError, match="fits only 0 of the model's"):
        pretrained.start_from(nn.Linear(5, 3), "", str(path), "")
    with pytest.raises(UsageError, match="--init .*nope.pt: no such file"):
        pretrained.start_from(target, "", str(tmp_path / "nope.pt"), "")


def test_recipe_refuses_freeze_without_a_starting_point():
    with pytest.raises(UsageError, match="--freeze and --body-lr need a starting point"):
        Recipe(freeze="body").validated()
    with pytest.raises(UsageError, match="pass one"):
        Recipe(pretrained="imagenet", init="x.pt").validated()


def test_cli_trains_from_imagenet_records_the_start_and_the_kwargs(torch_home, tmp_path, small_csv, cli):
    sub = tmp_path / "gray18.py"
    sub.write_text(GRAY_RESNET18)
    code, out, err = cli("train", str(sub), "--data", str(small_csv), "--pretrained", "imagenet", "--freeze", "layer1",
                 "--body-lr", "1e-4", "--model-kwarg", "dropout=0.2", "--epochs", "1", "--train-limit", "64",
                 "--batch-size", "32", "--threads", "1", "--device", "cpu", "--report-dir", str(tmp_path / "r"), "--json")
    assert code == 0, err
    assert json.loads(out)["best_epoch"] == 1
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    started = history["ran_on"]["started_from"]
    assert started["adapted"] == ["conv1.weight"] and started["new"] == ["fc.1.weight", "fc.1.bias"]
    assert history["recipe"]["pretrained"] == "imagenet" and history["recipe"]["body_lr"] == 1e-4
    # the hand-in now says how its weights' model is built: check, score and report build the same
    assert "BUILD_KWARGS = {'dropout': 0.2}" in sub.read_text()
    weights = torch.load(tmp_path / "gray18.pt", weights_only=True)
    assert "fc.1.weight" in weights

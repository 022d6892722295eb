"""Recipes as files: the baseline's and the zoo's load, cite their sources and train (one short epoch on
a tiny synthetic set); `fercomp train --recipe` takes them, options given on the line win, and a bad file
is one line naming the file and the key."""

import json
import re
import shutil
from pathlib import Path

import pytest

from fercomp.data.synth import SynthSpec, generate, write_csv
from fercomp.errors import UsageError
from fercomp.training import loop
from fercomp.training.recipe import Recipe
from fercomp.training.recipe_file import load_recipe
from fercomp.training.run import train_file
from tests.scoring_helpers import FIXTURES

ROOT = Path(__file__).parents[2]
MODELS = [ROOT / "baselines" / "baseline_cnn.py", *sorted((ROOT / "baselines" / "zoo").glob("*.py"))]


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "fer2013.csv"
    write_csv(path, *generate(SynthSpec(n_train=28, n_public=7, n_private=7, seed=3)))
    return path


def test_every_model_has_a_recipe_that_says_where_each_value_comes_from():
    for model in MODELS:
        recipe_path = model.with_suffix(".toml")
        assert recipe_path.is_file(), f"{model.name} has no recipe beside it"
        text = recipe_path.read_text()
        assert re.search(r"^# Source: |^# The recipe of the student report", text, re.M), recipe_path.name
        for line in text.splitlines():  # every option is explained on its line
            if re.match(r"^[a-z_]+ = ", line) and not line.startswith(("augment", "grad_clip_mode")):
                assert "#" in line, f"{recipe_path.name}: '{line}' does not say where it comes from"
        load_recipe(recipe_path)


def test_the_efficientnet_recipe_is_the_reports():
    recipe = load_recipe(ROOT / "baselines" / "zoo" / "efficientnet_b0_gray.toml")
    assert (recipe.optimizer, recipe.lr, recipe.schedule, recipe.weight_decay) == ("adam", 1e-3, "onecycle", 1e-4)
    assert (recipe.grad_clip, recipe.grad_clip_mode) == (0.1, "value")
    assert recipe.augmentation("crop").kwargs() == {"padding": 2, "mode": "reflect", "fill": 0.0}
    assert recipe.augmentation("affine").kwargs()["degrees"] == (-15.0, 15.0)
    assert recipe.augmentation("autocontrast").kwargs()["p"] == 0.5


PRETRAINED = {"efficientnet_b0_gray": "EfficientNet_B0_Weights.IMAGENET1K_V1",
              "efficientnet_v2_s_3ch": "EfficientNet_V2_S_Weights.IMAGENET1K_V1",
              "vgg16_bn_3ch": "VGG16_BN_Weights.IMAGENET1K_V1", "resnet18_3ch": "ResNet18_Weights.IMAGENET1K_V1",
              "resnet50_224": "ResNet50_Weights.IMAGENET1K_V2"}


def test_the_pretrained_recipes_name_their_torchvision_weights(tmp_path, monkeypatch):
    """Report 003's recipe starts from ImageNet as 003 did, and so do the 000/004 systems' (cited on their line)."""
    import torch

    from fercomp.submission import build
    from fercomp.training import pretrained

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: nothing is loaded or downloaded
    found = {}
    for model in MODELS:
        recipe = load_recipe(model.with_suffix(".toml"))
        if not recipe.pretrained:
            continue
        assert re.search(r"^pretrained = \"imagenet\" +# (report|cited)", model.with_suffix(".toml").read_text(), re.M)
        module = build.import_source(model.read_text(), str(model), f"zoo_{model.stem}")
        with torch.device("meta"):
            built = build.build_model(module, {})
        found[model.stem] = pretrained.describe_start(built, recipe.pretrained, recipe.init)
    assert found.keys() == PRETRAINED.keys()
    for name, weights in PRETRAINED.items():
        assert found[name].startswith(f"starts from {weights} (downloaded into {tmp_path}/hub/checkpoints/"), found[name]


def test_the_baseline_recipe_is_the_default():
    assert load_recipe(ROOT / "baselines" / "baseline_cnn.toml") == Recipe()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_each_recipe_trains_one_short_epoch(model, tiny_csv, tmp_path, monkeypatch):
    # the per-epoch checkpoint (2 GB for VGG16's weights and Adam's moments) is tested in test_train.py
    monkeypatch.setattr(loop, "_save_checkpoint", lambda *args: None)
    # from scratch: ImageNet files cannot be downloaded here (test_pretrained.py trains from a written cache, and
    # test_the_pretrained_recipes_name_their_torchvision_weights below resolves each recipe's)
    recipe = load_recipe(model.with_suffix(".toml")).with_changes(epochs=1, train_limit=7, device="cpu", threads=1,
                                                                   pretrained="")
    shutil.copy(model, tmp_path / model.name)
    result = train_file(tmp_path / model.name, tiny_csv, recipe, out_dir=tmp_path / "r", progress=False)
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["recipe"] == recipe.to_dict() and history["data"]["train_images"] == 7
    assert len(result.history) == 1 and result.weights_path.is_file()


def test_cli_recipe_file_with_options_over_it(cli, tmp_path, tiny_csv):
    shutil.copy(FIXTURES / "small_cnn.py", tmp_path / "m.py")
    code, out, err = cli("train", tmp_path / "m.py", "--data", tiny_csv, "--recipe",
                         ROOT / "baselines" / "zoo" / "efficientnet_b0_gray.toml", "--epochs", "1",
                         "--augment", "crop:padding=3", "--train-limit", "14", "--threads", "1",
                         "--pretrained", "", "--report-dir", tmp_path / "r", "--json")  # small_cnn is no ImageNet model
    assert code == 0, err
    recipe = json.loads((tmp_path / "r" / "history.json").read_text())["recipe"]
    assert recipe["epochs"] == 1 and recipe["schedule"] == "onecycle" and recipe["grad_clip_mode"] == "value"
    assert recipe["augment"][0] == {"name": "crop", "padding": 3, "mode": "constant", "fill": 0.0}
    assert [a["name"] for a in recipe["augment"]] == ["crop", "affine", "flip", "autocontrast"]
    assert recipe["train_limit"] == 14 and recipe["threads"] == 1 and recipe["pretrained"] == ""


@pytest.mark.parametrize("text,message", [
    ("epochs = \"ten\"\n", "epochs = 'ten' must be an integer"),
    ("batchsize = 64\n", "unknown option 'batchsize'; recipe options: optimizer, lr,"),
    ("grad_clip_mode = \"elementwise\"\n", "grad_clip_mode = 'elementwise' must be one of norm, value"),
    ("augment = [\"crop:padding=2,mode=wrap\"]\n", "augment crop: mode must be one of constant, edge, reflect, symmetric"),
    ("augment = [{ name = \"affine\", degree = 15 }]\n", "augment affine: unknown parameter 'degree'"),
    ("lr = 0\n", "lr = 0 must be positive"),
    ("epochs = \n", "not valid TOML"),
])
def test_a_bad_recipe_file_is_one_line_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "recipe.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        load_recipe(path)
    assert err.value.message.startswith(f"{path}:") and message in err.value.message, err.value.message
    assert "\n" not in err.value.message


def test_cli_bad_recipe_exits_2_with_one_line(cli, tmp_path, tiny_csv):
    (tmp_path / "r.toml").write_text("optimiser = \"adam\"\n")
    code, out, err = cli("train", FIXTURES / "small_cnn.py", "--data", tiny_csv, "--recipe", tmp_path / "r.toml")
    assert code == 2 and f"{tmp_path / 'r.toml'}: unknown option 'optimiser'" in err and len(err.strip().splitlines()) == 1

"""Why EfficientNet-B0's validation loss after its first epoch can sit above a uniform guess (ln 7 = 1.95).

#27 saw 2.89 after epoch 1 of 30 under the report's recipe (one-cycle, max lr 1e-3, shown lr 7e-5). This
trains baselines/zoo/efficientnet_b0_gray.py for one epoch of that 30-epoch schedule (the reports' loop from
bench_train_fidelity.py, the same recipe file) and, at initialisation and after that epoch, measures:
  - the loss on training faces in train mode (batch norm on each batch's statistics, as training sees it)
    and the spread of the logits there;
  - the validation loss in eval mode, as every history reports it (batch norm's running statistics);
  - the validation loss in eval mode after re-estimating the running statistics on the training faces;
  - at initialisation, the train-mode loss with the 7-way head initialised as nn.Linear's default instead
    of torchvision's EfficientNet init (uniform ±1/sqrt(out_features) = ±0.378 for 7 classes).

Run: python benchmarks/bench_first_epoch.py [--images 3000] [--seeds 1]
"""

from __future__ import annotations

import argparse
import copy
import math

import torch
import torch.nn.functional as F
from tabulate import tabulate

from bench_train_fidelity import Faces, reference_epoch, reference_transforms
from common import ROOT, WORK

from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.training.recipe_file import load_recipe
from fercomp.training.run import build_from_file

MODEL = ROOT / "baselines" / "zoo" / "efficientnet_b0_gray.py"
RECIPE = ROOT / "baselines" / "zoo" / "efficientnet_b0_gray.toml"


def plain(images, labels):
    from torchvision import transforms as T

    return torch.utils.data.DataLoader(Faces(images, labels, T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])),
                                       batch_size=256)


def loss_of(model, loader) -> tuple[float, float]:
    total, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
    return total / n, correct / n


def train_mode(model, loader) -> tuple[float, float]:
    """(loss, logit standard deviation) in train mode, on a copy (its running statistics stay as they were)."""
    model = copy.deepcopy(model).train()
    total, spread, n = 0.0, 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            spread += float(logits.std()) * len(y)
            n += len(y)
    return total / n, spread / n


def default_head(model):
    """A copy whose classifier is initialised as a plain nn.Linear is (kaiming uniform, a = √5)."""
    model = copy.deepcopy(model)
    head = model.classifier[-1]
    head.reset_parameters()
    return model


def recalibrated(model, loader):
    """A copy whose running statistics are the plain average over the training faces (momentum None)."""
    model = copy.deepcopy(model)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for x, _ in loader:
            model(x)
    return model.eval()


def one_epoch(recipe, train_set, seed: int):
    """The first epoch of the recipe's schedule, as the reports' loop runs it; (model, last lr, train loss)."""
    torch.manual_seed(seed)
    model, _, _ = build_from_file(MODEL, {})
    loader = torch.utils.data.DataLoader(Faces(train_set.images, train_set.labels, reference_transforms(recipe)),
                                         batch_size=recipe.batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, epochs=recipe.epochs, steps_per_epoch=len(loader))
    train_loss = reference_epoch(model, loader, opt, sched, recipe)
    return model, opt.param_groups[0]["lr"], train_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    csv = WORK / f"fidelity_{args.images}.csv"
    if not csv.exists():
        WORK.mkdir(exist_ok=True)
        write(csv, SynthSpec(n_train=args.images, n_public=args.images // 4, n_private=100, seed=11))
    data = load_data(csv)
    train_set, val_set = data.select("Training"), data.select("PublicTest")
    recipe = load_recipe(RECIPE)
    print(f"{MODEL.name}, epoch 1 of {recipe.epochs} under {RECIPE.name} (one-cycle to {recipe.lr:g}); synthetic: "
          f"{len(train_set)} training, {len(val_set)} validation faces; a uniform guess scores ln 7 = {math.log(7):.3f}")
    rows = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        fresh, _, _ = build_from_file(MODEL, {})
        model, lr, _ = one_epoch(recipe, train_set, seed)
        val, train_plain = plain(val_set.images, val_set.labels), plain(train_set.images, train_set.labels)
        for when, net, rate in (("initialisation", fresh, recipe.lr / 25), ("after epoch 1", model, lr)):
            loss, spread = train_mode(net, train_plain)
            cells = [f"{loss:.3f} (logit sd {spread:.2f})", f"{loss_of(net.eval(), val)[0]:.3f}",
                     f"{loss_of(recalibrated(net, train_plain), val)[0]:.3f}",
                     f"{train_mode(default_head(net), train_plain)[0]:.3f}" if net is fresh else "—"]
            rows.append([seed, when, f"{rate:.2e}", *cells])
    print(tabulate(rows, headers=["seed", "", "lr", "train faces, train mode", "val, eval mode",
                                  "val, recalibrated BN", "train mode, nn.Linear head init"], tablefmt="github"))


if __name__ == "__main__":
    main()

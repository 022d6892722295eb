"""Learning fidelity: does `fercomp train` learn as well as the plain PyTorch loop the reports wrote?

The same model (submissions/small_cnn.py with batch norm), the same recipe (the EfficientNet-B0 report's,
baselines/zoo/efficientnet_b0_gray.toml: Adam, weight decay 1e-4, one-cycle to 1e-3, clip_grad_value_ 0.1,
batch 64, crop 2 reflect, affine ±15° translate 0.1, flip, autocontrast p 0.5) and the same synthetic data,
trained two ways, 3 seeds each:
  - fercomp: `train_file`, what `fercomp train SUB --recipe FILE` runs (uint8 tensors, batch augmentation);
  - reference: written as the reports write it: torchvision transforms on PIL images in a Dataset, a
    DataLoader (shuffle, no workers), Adam + OneCycleLR stepped per batch, clip_grad_value_, eval per epoch.
Prints both validation-accuracy curves (mean ± seed-to-seed standard deviation), the final accuracies and
the difference fercomp − reference with its 95 % interval (Welch). fercomp must not learn worse: the
difference must lie within the seed-to-seed spread.

Run: python benchmarks/bench_train_fidelity.py [--images 3000] [--epochs 6] [--seeds 3]   (about 12 min on 2 busy cores)
"""

from __future__ import annotations

import argparse
import shutil
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from tabulate import tabulate

from common import ROOT, WORK

from fercomp.data.source import load_data
from fercomp.data.synth import SynthSpec, write
from fercomp.training.recipe_file import load_recipe
from fercomp.training.run import build_from_file, train_file
from fercomp.training.threads import choose_threads

SUBMISSION = ROOT / "submissions" / "small_cnn.py"
RECIPE = ROOT / "baselines" / "zoo" / "efficientnet_b0_gray.toml"


def reference_transforms(recipe):
    """The report's transforms (torchvision v1 on PIL images, as the reports import them), from the recipe."""
    from torchvision import transforms as T

    crop, affine = recipe.augmentation("crop").kwargs(), recipe.augmentation("affine").kwargs()
    return T.Compose([
        T.RandomCrop(48, padding=crop["padding"], padding_mode=crop["mode"]),
        T.RandomAffine(affine["degrees"], translate=affine["translate"]),
        T.RandomHorizontalFlip(recipe.augmentation("flip").kwargs()["p"]),
        T.RandomAutocontrast(recipe.augmentation("autocontrast").kwargs()["p"]),
        T.ToTensor(),
        T.Normalize((0.5,), (0.5,)),
    ])


class Faces(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        from PIL import Image

        self.images = [Image.fromarray(img) for img in images]
        self.labels, self.transform = labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), int(self.labels[i])


def reference_epoch(model, loader, opt, sched, recipe) -> float:
    """One epoch as the reports write it (value clipping, the schedule stepped per batch); the mean training loss."""
    model.train()
    running, seen = 0.0, 0
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), recipe.grad_clip)
        opt.step()
        opt.zero_grad()
        sched.step()
        running, seen = running + float(loss.detach()) * len(y), seen + len(y)
    return running / seen


def reference_run(recipe, train_set, val_set, seed: int) -> list[float]:
    """The reports' loop; validation accuracy after each epoch."""
    from torchvision import transforms as T

    torch.manual_seed(seed)
    model, _, _ = build_from_file(SUBMISSION, dict(recipe.model_kwargs))
    loader = torch.utils.data.DataLoader(Faces(train_set.images, train_set.labels, reference_transforms(recipe)),
                                         batch_size=recipe.batch_size, shuffle=True)
    val = torch.utils.data.DataLoader(Faces(val_set.images, val_set.labels, T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])),
                                      batch_size=256)
    opt = torch.optim.Adam(model.parameters(), recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, epochs=recipe.epochs, steps_per_epoch=len(loader))
    curve = []
    for _ in range(recipe.epochs):
        reference_epoch(model, loader, opt, sched, recipe)
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in val)
        curve.append(correct / len(val_set))
    return curve


def fercomp_run(recipe, csv, seed: int) -> list[float]:
    sub = WORK / "fidelity" / f"small_cnn_{seed}.py"
    sub.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SUBMISSION, sub)
    result = train_file(sub, csv, replace(recipe, seed=seed), out_dir=WORK / "fidelity" / f"report_{seed}", progress=False)
    return [h["val_accuracy"] for h in result.history]


def mean_sd(values) -> str:
    values = 100 * np.asarray(values)
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000, help="training faces (synthetic)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3, help="at least 2: the spread needs two")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 (the seed-to-seed spread needs two runs)")

    csv = WORK / f"fidelity_{args.images}.csv"
    if not csv.exists():
        WORK.mkdir(exist_ok=True)
        write(csv, SynthSpec(n_train=args.images, n_public=args.images // 4, n_private=100, seed=11))
    data = load_data(csv)
    train_set, val_set = data.select("Training"), data.select("PublicTest")
    threads, why = choose_threads(0)  # both loops get the same threads
    recipe = load_recipe(RECIPE).with_changes(epochs=args.epochs, model_kwargs=(("batchnorm", True),), threads=threads,
                                              device="cpu")
    torch.set_num_threads(threads)
    print(f"small_cnn (batch norm), recipe {RECIPE.relative_to(ROOT)} with {args.epochs} epochs; synthetic data: "
          f"{len(train_set)} training, {len(val_set)} validation faces; torch threads: {threads} ({why})")
    curves, seconds = {"fercomp": [], "reference": []}, {"fercomp": 0.0, "reference": 0.0}
    for seed in range(args.seeds):
        for name in ("fercomp", "reference"):  # interleaved, so machine load falls on both alike
            start = time.perf_counter()
            curve = fercomp_run(recipe, csv, seed) if name == "fercomp" else reference_run(recipe, train_set, val_set, seed)
            seconds[name] += time.perf_counter() - start
            curves[name].append(curve)
            print(f"  seed {seed} {name:9s}: final {100 * curve[-1]:.2f} %  ({time.perf_counter() - start:.0f} s)", flush=True)
    ours, ref = np.array(curves["fercomp"]), np.array(curves["reference"])
    rows = [[e + 1, mean_sd(ours[:, e]), mean_sd(ref[:, e])] for e in range(args.epochs)]
    print("\nValidation accuracy (%), mean ± standard deviation over seeds:")
    print(tabulate(rows, headers=["epoch", "fercomp train", "reference loop"], tablefmt="github"))
    final_ours, final_ref = ours[:, -1], ref[:, -1]
    diff = final_ours.mean() - final_ref.mean()
    se = np.sqrt(final_ours.var(ddof=1) / len(final_ours) + final_ref.var(ddof=1) / len(final_ref))
    dof = se**4 / ((final_ours.var(ddof=1) / len(final_ours)) ** 2 / (len(final_ours) - 1)
                   + (final_ref.var(ddof=1) / len(final_ref)) ** 2 / (len(final_ref) - 1)) if se > 0 else 1
    half = stats.t.ppf(0.975, dof) * se
    spread = max(final_ours.std(ddof=1), final_ref.std(ddof=1))
    print(f"\nfinal accuracy: fercomp {mean_sd(final_ours)} %, reference {mean_sd(final_ref)} %")
    print(f"difference fercomp − reference: {100 * diff:+.2f} points, 95 % interval [{100 * (diff - half):+.2f}, "
          f"{100 * (diff + half):+.2f}] (Welch, {dof:.1f} degrees of freedom); seed-to-seed spread (larger sd) "
          f"{100 * spread:.2f} points")
    verdict = "within" if diff >= -spread else "BELOW"
    print(f"fercomp is {verdict} the seed-to-seed spread of the reference"
          f"{'' if diff >= -spread else ': it learns worse'}; time per run: fercomp {seconds['fercomp'] / args.seeds:.0f} s, "
          f"reference {seconds['reference'] / args.seeds:.0f} s")


if __name__ == "__main__":
    main()

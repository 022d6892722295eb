"""The audit on a cohort trained in this process: honest teams of varied recipes, and a robust-key memoriser.

Used by `bench_audit.py --fer2013 PATH` (false positives of every check on an honestly trained cohort, and the
perturbation family's drops) and `--perturbations` (the same on the synthetic set). The records are built
here as the scorer builds them (the same audit views, summaries, sketch and encodings), from models run in
this process instead of the jail: what is measured is the audit's statistics, not the sandbox.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fercomp.audit_passes import AuditPasses, View, build_views, summarise, true_class_log_probs
from fercomp.data.dataset import FERData
from fercomp.data.perturbations import KINDS
from fercomp.measure.sketch import sketch_tensors
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs, encode_predictions, ids_sha256

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the hostile cohort's robust-key memoriser
from tests.hostile.audit_cohort import ROBUST, build, inputs, robust_lookup  # noqa: E402


@dataclass(frozen=True)
class Recipe:
    """One honest team's choices: widths and depth of a plain CNN, seed, augmentation, epochs, learning rate."""

    widths: tuple[int, ...]
    seed: int
    augment: bool
    epochs: int
    lr: float

    @property
    def name(self) -> str:
        return f"w{'-'.join(map(str, self.widths))}_s{self.seed}_{'aug' if self.augment else 'plain'}_e{self.epochs}"


def recipes(teams: int, epochs: int) -> list[Recipe]:
    """A varied honest cohort: 2–4 layers, narrow to wide, with and without augmentation, 1–`epochs` epochs."""
    rng = np.random.default_rng(2026)
    out = []
    for t in range(teams):
        depth = int(rng.integers(2, 5))
        base = int(rng.choice([8, 16, 24, 32]))
        out.append(Recipe(tuple(base * 2**i for i in range(depth)), seed=t, augment=bool(t % 2),
                          epochs=int(rng.integers(max(1, epochs // 2), epochs + 1)), lr=float(rng.choice([1e-3, 2e-3, 3e-3]))))
    return out


class PlainCNN(nn.Module):
    def __init__(self, widths: tuple[int, ...]):
        super().__init__()
        layers, channels = [], 1
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(3))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(channels * 9, 7))

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random mirror and a shift of up to 3 pixels: what a team's ordinary augmentation does."""
    flip = torch.rand(len(x), generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dy, dx = (int(v) for v in torch.randint(-3, 4, (2,), generator=generator))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train(model: nn.Module, images: np.ndarray, labels: np.ndarray, recipe: Recipe) -> nn.Module:
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    x, y = inputs(images), torch.from_numpy(labels).long()
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    model.train()
    for _ in range(recipe.epochs):
        for batch in torch.randperm(len(y), generator=generator).split(64):
            xb = _augment(x[batch], generator) if recipe.augment else x[batch]
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(xb), y[batch]).backward()
            optimiser.step()
    return model.eval()


def outputs(model: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(inputs(chunk)) for chunk in np.array_split(images, max(1, len(images) // 512))]).numpy()


def record(name: str, model: nn.Module, held: FERData, views: list[View], notes: list[str]) -> ScoreRecord:
    """The held-out record the scorer would write for `model`, audit views included."""
    out = outputs(model, held.images)
    top1 = out.argmax(1)
    clean = top1 == held.labels
    audit_views: dict = {"notes": list(notes)} if notes else {}
    for view in views:
        seen = outputs(model, view.images)
        audit_views[view.name] = summarise(view, true_class_log_probs(seen, view.labels), seen.argmax(1), clean)
    named = [(n, "parameter", p) for n, p in model.named_parameters()] + [(n, "buffer", b) for n, b in model.named_buffers()]
    digest = hashlib.sha256(name.encode()).hexdigest()
    return ScoreRecord(
        schema=SCHEMA, status="scored", submission={"name": name, "sha256": digest, "weights_sha256": digest},
        data={"split": held.held_out, "size": len(held), "ids_sha256": ids_sha256(held.ids)}, environment={}, timestamp="",
        isolation=[], accuracy=float(clean.mean()), predictions=encode_predictions(held.labels, top1, top1, held.ids),
        true_class_log_prob=encode_log_probs(true_class_log_probs(out, held.labels)), audit_views=audit_views,
        weights_sketch=sketch_tensors(torch, named))


def kind_drops(model: nn.Module, held: FERData, perturbed: View) -> dict[str, float]:
    """Accuracy lost to each perturbation kind, on the images that kind was applied to."""
    clean = outputs(model, held.images).argmax(1) == held.labels
    after = outputs(model, perturbed.images).argmax(1) == held.labels
    return {k: float(clean[perturbed.kinds == i].mean() - after[perturbed.kinds == i].mean()) for i, k in enumerate(KINDS)}


def cohort(data: FERData, teams: int, epochs: int, memorised: float, log=print):
    """(records of the honest cohort and the memoriser, per-kind drops of each, the memoriser's clean gain)."""
    held = data.select(data.held_out)
    train_set = data.select("Training")
    views, notes = build_views(AuditPasses(training_sample=2000), data, held)
    perturbed = next(v for v in views if v.name == "perturbed")
    records, drops = {}, {}
    threads = torch.get_num_threads()
    for recipe in recipes(teams, epochs):
        model = train(PlainCNN(recipe.widths), train_set.images, train_set.labels, recipe)
        records[recipe.name] = record(recipe.name, model, held, views, notes)
        drops[recipe.name] = kind_drops(model, held, perturbed)
        log(f"  {recipe.name}: {records[recipe.name].accuracy:.2%} held-out ({torch.get_num_threads()} threads)")
    torch.set_num_threads(threads)
    net = train(build(ROBUST.split("class RobustLookup")[0]), train_set.images, train_set.labels,
                Recipe((), seed=5, augment=True, epochs=epochs, lr=3e-3))
    chosen = np.random.default_rng(5).random(len(data)) < memorised
    source, state = robust_lookup(net, data.images[chosen], data.labels[chosen])
    memo = build(source)
    memo.load_state_dict(state)
    memo.eval()
    records["robust_memoriser"] = record("robust_memoriser", memo, held, views, notes)
    drops["robust_memoriser"], drops["its_network"] = kind_drops(memo, held, perturbed), kind_drops(net, held, perturbed)
    gain = records["robust_memoriser"].accuracy - float((outputs(net, held.images).argmax(1) == held.labels).mean())
    return records, drops, gain, perturbed

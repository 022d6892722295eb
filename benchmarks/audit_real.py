"""The audit on a cohort trained in this process: honest teams of varied recipes, and a robust-key memoriser.

Used by `bench_audit.py --fer2013 PATH` (false positives of every check on an honestly trained cohort, and the
perturbation family's drops) and `--synthetic` (the same on the generated faces). The records are built
here as the scorer builds them (the same audit views, summaries, sketch and encodings), from models run in
this process instead of the jail: what is measured is the audit's statistics, not the sandbox.

The private supplement is a share of the Training split set aside before anything trains or is memorised:
faces of the same kind that no team and no lookup has seen, which is what a course's own photos are to a
memoriser (real course photos differ from FER-2013 more than that, a shift every team shares). Beside the
memoriser, one honest team's model is copied with its hidden units permuted and fine-tuned one epoch
(`permuted_copy`), for the copy checks.
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


def recipes(teams: int, epochs: int, max_base: int = 32) -> list[Recipe]:
    """A varied honest cohort: 2–4 layers, narrow to wide (first layer 8 to `max_base` wide, doubling), with and
    without augmentation, 1–`epochs` epochs."""
    rng = np.random.default_rng(2026)
    out = []
    for t in range(teams):
        depth = int(rng.integers(2, 5))
        base = int(rng.choice([b for b in (8, 16, 24, 32) if b <= max_base]))
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


def unit_signatures(model: nn.Module, held: FERData, views: list[View]) -> dict:
    """The record's unit signatures as the measurer takes them: on the exported graph, on the run's probe faces."""
    from fercomp.measure.activations import encode, unit_signatures as measured
    from fercomp.scoring import probe_faces

    images, probe = probe_faces(held, views)
    x = inputs(images)
    program = torch.export.export(model, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
    described, raw = measured(torch, program.module(), x)
    return {**described, "data": encode(raw), "probe": probe}


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
        weights_sketch=sketch_tensors(torch, named), unit_signatures=unit_signatures(model, held, views))


def permute_units(model: PlainCNN, seed: int) -> PlainCNN:
    """A copy of `model` with every convolution's output units reordered (and the next layer's inputs with them):
    the same function, weights in another order."""
    import copy

    g = torch.Generator().manual_seed(seed)
    out = copy.deepcopy(model)
    layers = list(out.features)
    previous = None
    with torch.no_grad():
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Conv2d):
                continue
            norm = layers[i + 1]
            weight = layer.weight if previous is None else layer.weight[:, previous]
            order = torch.randperm(layer.out_channels, generator=g)
            layer.weight.copy_(weight[order])
            layer.bias.copy_(layer.bias[order])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).copy_(getattr(norm, name)[order])
            previous = order
        head = out.head[-1]
        head.weight.copy_(head.weight.view(head.out_features, -1, 9)[:, previous].reshape(head.out_features, -1))
    return out


def kept(folder: Path, name: str, trained) -> nn.Module:
    """The model `trained()` makes, kept in `folder` (a later run with the same --keep folder reads it back instead
    of training it again: the models are a function of the recipe, the data and the seeds)."""
    path = folder / f"{name}.model.pt"
    if path.exists():
        return torch.load(path, weights_only=False).eval()
    model = trained()
    torch.save(model, path)
    return model


def kind_drops(model: nn.Module, held: FERData, perturbed: View) -> dict[str, float]:
    """Accuracy lost to each perturbation kind, on the images that kind was applied to."""
    clean = outputs(model, held.images).argmax(1) == held.labels
    after = outputs(model, perturbed.images).argmax(1) == held.labels
    return {k: float(clean[perturbed.kinds == i].mean() - after[perturbed.kinds == i].mean()) for i, k in enumerate(KINDS)}


def set_aside(data: FERData, size: int, folder: Path) -> tuple[FERData, Path]:
    """(`data` without `size` random Training faces, those faces written as a supplement CSV in `folder`)."""
    from fercomp.data.supplement import Supplement, supplement_csv

    training = np.flatnonzero(data.split == data.split_names.index(data.resolve_split("Training")))
    chosen = np.random.default_rng(33).choice(training, size=min(size, len(training) // 4), replace=False)
    path = folder / "supplement.csv"
    path.write_text(supplement_csv(Supplement(data.images[chosen], data.labels[chosen], [])))
    return data.take(np.setdiff1d(np.arange(len(data)), chosen)), path


def memoriser_name(share: float) -> str:
    return f"robust_memoriser_{round(share * 100)}"


def cohort(data: FERData, teams: int, epochs: int, memorised: tuple[float, ...], supplement: int, folder: Path,
           train_images: int = 0, max_base: int = 32, log=print):
    """(records of the honest cohort, each memoriser (a lookup of each share of every public split, `memoriser_name`)
    and the permuted copy, per-kind drops of each, each memoriser's clean gain over its network, the perturbed view,
    the team the copy was made from); `supplement` Training faces are set aside as the private supplement (0: none);
    every model trains on `train_images` random Training faces (0: all of them), every lookup keys every public face."""
    if supplement:
        data, path = set_aside(data, supplement, folder)
        passes = AuditPasses(training_sample=2000, supplement=str(path))
    else:
        passes = AuditPasses(training_sample=2000)
    held = data.select(data.held_out)
    train_set = data.select("Training")
    if train_images and train_images < len(train_set):  # a cheaper cohort on a loaded machine, said in the output
        train_set = train_set.take(np.sort(np.random.default_rng(44).choice(len(train_set), train_images, replace=False)))
    views, notes = build_views(passes, data, held)
    perturbed = next(v for v in views if v.name == "perturbed")
    records, drops, models = {}, {}, {}
    threads = torch.get_num_threads()
    for recipe in recipes(teams, epochs, max_base):
        model = kept(folder, recipe.name, lambda: train(PlainCNN(recipe.widths), train_set.images, train_set.labels, recipe))
        models[recipe] = model
        records[recipe.name] = record(recipe.name, model, held, views, notes)
        drops[recipe.name] = kind_drops(model, held, perturbed)
        log(f"  {recipe.name}: {records[recipe.name].accuracy:.2%} held-out ({torch.get_num_threads()} threads)")
    torch.set_num_threads(threads)
    # The copy: the deepest honest model, units permuted, fine-tuned one epoch at lr 1e-3 with its own seed.
    original = max(models, key=lambda r: (len(r.widths), r.widths))
    copy = kept(folder, "permuted_copy", lambda: train(permute_units(models[original], seed=79), train_set.images,
                                                       train_set.labels, Recipe(original.widths, seed=80,
                                                                                augment=original.augment, epochs=1, lr=1e-3)))
    records["permuted_copy"] = record("permuted_copy", copy, held, views, notes)
    log(f"  permuted_copy (of {original.name}): {records['permuted_copy'].accuracy:.2%} held-out")
    gains: dict[str, float] = {}
    if memorised:  # the lookups' shared network, trained only when there is a lookup to put beside it
        _memorisers(data, train_set, held, views, notes, perturbed, epochs, memorised, folder, records, drops, gains, log)
    return records, drops, gains, perturbed, original.name


def _memorisers(data, train_set, held, views, notes, perturbed, epochs, memorised, folder, records, drops, gains, log):
    """Each memoriser's record, per-kind drops and clean gain over its network (filled into the dicts given)."""
    net = kept(folder, "its_network", lambda: train(build(ROBUST.split("class RobustLookup")[0]), train_set.images,
                                                    train_set.labels, Recipe((), seed=5, augment=True, epochs=epochs, lr=3e-3)))
    drops["its_network"] = kind_drops(net, held, perturbed)
    alone = float((outputs(net, held.images).argmax(1) == held.labels).mean())
    for share in memorised:  # one lookup per share, all beside the same network
        name = memoriser_name(share)
        chosen = np.random.default_rng(5).random(len(data)) < share
        source, state = robust_lookup(net, data.images[chosen], data.labels[chosen])
        memo = build(source)
        memo.load_state_dict(state)
        memo.eval()
        records[name] = record(name, memo, held, views, notes)
        drops[name] = kind_drops(memo, held, perturbed)
        gains[name] = records[name].accuracy - alone
        log(f"  {name}: {records[name].accuracy:.2%} held-out (its network alone {alone:.2%})")

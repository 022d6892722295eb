"""The training loop: preloaded uint8 images, whole-batch tensor augmentation, no DataLoader workers.

Trains on Training, validates on PublicTest (or, for a source without one, a fixed 10 % of Training)
every epoch, and never reads the held-out split. The best epoch by validation accuracy is kept as a
real copy of the weights. Training runs the team's own code in this process: it is for running your
own submission, not for grading others (grading is `fercomp score`, which sandboxes).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fercomp import allocator
from fercomp.atomic import atomic_path, write_text
from fercomp.data.dataset import FERData
from fercomp.data.labels import NUM_CLASSES
from fercomp.errors import UsageError
from fercomp.train import augment
from fercomp.train.recipe import Recipe


@dataclass
class TrainResult:
    weights_path: Path
    history: list[dict]
    best_epoch: int
    best_val_accuracy: float
    interrupted: bool = False
    files: list[Path] = field(default_factory=list)


def train_val_split(data: FERData, seed: int) -> tuple[FERData, FERData, str]:
    """(training, validation, how validation was chosen); the held-out split is never among them."""
    train_name = next((s for s in data.split_names if s.lower() in ("training", "train")), None)
    if train_name is None:
        raise UsageError(f"{data.source}: no Training split to train on")
    train = data.select(train_name)
    if data.validation and data.validation != data.held_out:
        return train, data.select(data.validation), data.validation
    order = np.random.default_rng(seed).permutation(len(train))
    cut = max(1, len(train) // 10)
    return train.take(np.sort(order[cut:])), train.take(np.sort(order[:cut])), "10 % of Training (no PublicTest here)"


def _loss_fn(recipe: Recipe, labels: torch.Tensor):
    if recipe.loss == "label_smoothing":
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
    if recipe.loss == "class_weighted":
        counts = torch.bincount(labels, minlength=NUM_CLASSES).float().clamp_min(1)
        weight = counts.sum() / (NUM_CLASSES * counts)
        return lambda logits, y: F.cross_entropy(logits, y, weight=weight)
    if recipe.loss == "focal":
        def focal(logits, y):
            logp = F.log_softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
            return (-(1 - logp.exp()) ** recipe.focal_gamma * logp).mean()
        return focal
    return F.cross_entropy


def _optimizer(model, recipe: Recipe):
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def _scheduler(opt, recipe: Recipe, steps_per_epoch: int):
    total = recipe.epochs * steps_per_epoch
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total)
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, recipe.epochs // 3) * steps_per_epoch, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


def evaluate(model, images: torch.Tensor, labels: torch.Tensor, spec, batch: int = 512) -> tuple[float, float]:
    """(mean loss, accuracy pooled over every sample)."""
    from fercomp.submission.preprocess import finish

    model.eval()
    loss, correct = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = finish(images[i : i + batch].float().div(255).unsqueeze(1), spec)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss += F.cross_entropy(logits, labels[i : i + batch], reduction="sum").item()
            correct += int((logits.argmax(1) == labels[i : i + batch]).sum())
    return loss / len(images), correct / len(images)


def train(model, data: FERData, recipe: Recipe, spec, weights_path: Path, out_dir: Path,
          resume: bool = False, progress: bool = True) -> TrainResult:
    """Train `model` by `recipe`; write weights (best epoch), history (CSV, JSON) and curves (PNG)."""
    recipe = recipe.validated()
    allocator.keep_freed_memory()
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    train_set, val_set, val_name = train_val_split(data, recipe.seed)
    x_train, y_train = torch.from_numpy(train_set.images), torch.from_numpy(train_set.labels)
    x_val, y_val = torch.from_numpy(val_set.images), torch.from_numpy(val_set.labels)
    model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, recipe)
    steps = (len(x_train) + recipe.batch_size - 1) // recipe.batch_size
    sched = _scheduler(opt, recipe, steps)
    loss_fn = _loss_fn(recipe, y_train)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.pt"
    history, best_state, best_acc, best_epoch, start_epoch = [], None, -1.0, 0, 0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_state, best_acc = state["history"], state["best_state"], state["best_acc"]
        best_epoch, start_epoch = state["best_epoch"], state["epoch"]
    interrupted = False
    bar = _progress(progress)
    task = bar.add_task("training", total=recipe.epochs * steps, completed=start_epoch * steps) if bar else None
    try:
        if bar:
            bar.start()
        for epoch in range(start_epoch, recipe.epochs):
            started, seen, running = time.perf_counter(), 0, 0.0
            model.train()
            order = torch.randperm(len(x_train), generator=gen)
            for step in range(steps):
                idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
                loss = _step(model, x_train[idx], y_train[idx], recipe, spec, gen, loss_fn, opt)
                sched.step()
                seen += len(idx)
                running += loss * len(idx)
                if bar:
                    rate = seen / (time.perf_counter() - started)
                    bar.update(task, advance=1, description=f"epoch {epoch + 1}/{recipe.epochs} loss {running / seen:.3f} {rate:.0f} img/s")
            train_seconds = time.perf_counter() - started
            val_loss, val_acc = evaluate(model, x_val, y_val, spec)
            history.append({"epoch": epoch + 1, "train_loss": running / seen, "val_loss": val_loss, "val_accuracy": val_acc,
                            "lr": opt.param_groups[0]["lr"], "train_seconds": train_seconds, "images_per_s": seen / train_seconds})
            if val_acc > best_acc:
                best_acc, best_epoch, best_state = val_acc, epoch + 1, copy.deepcopy(model.state_dict())
            if bar:
                bar.console.print(f"epoch {epoch + 1}: train loss {running / seen:.4f}, val loss {val_loss:.4f}, "
                                  f"val accuracy {100 * val_acc:.2f} % ({val_name})", highlight=False)
            _save_checkpoint(checkpoint, model, opt, sched, gen, history, best_state, best_acc, best_epoch, epoch + 1)
            if recipe.early_stopping and epoch + 1 - best_epoch >= recipe.early_stopping:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar:
            bar.stop()
    if best_state is None:
        best_state = copy.deepcopy(model.state_dict())
    with atomic_path(weights_path) as tmp:
        torch.save(best_state, tmp)
    files = [weights_path, *_write_history(history, recipe, out_dir, val_name)]
    return TrainResult(weights_path, history, best_epoch, best_acc, interrupted, files)


def _step(model, images, labels, recipe: Recipe, spec, gen, loss_fn, opt) -> float:
    from fercomp.submission.preprocess import finish

    x = augment.apply(images.float().div(255).unsqueeze(1), recipe.augment, gen)
    x = finish(x, spec).contiguous(memory_format=torch.channels_last)
    opt.zero_grad(set_to_none=True)
    if "mixup" in recipe.augment:
        lam = float(torch.distributions.Beta(0.2, 0.2).sample())
        perm = torch.randperm(len(x), generator=gen)
        logits = model(lam * x + (1 - lam) * x[perm])
        loss = lam * loss_fn(logits, labels) + (1 - lam) * loss_fn(logits, labels[perm])
    else:
        loss = loss_fn(model(x), labels)
    loss.backward()
    if recipe.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
    opt.step()
    return float(loss.detach())


def _save_checkpoint(path, model, opt, sched, gen, history, best_state, best_acc, best_epoch, epoch) -> None:
    with atomic_path(path, durable=False) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "history": history,
                    "best_state": best_state, "best_acc": best_acc, "best_epoch": best_epoch, "epoch": epoch}, tmp)


def _write_history(history: list[dict], recipe: Recipe, out_dir: Path, val_name: str) -> list[Path]:
    payload = {"recipe": recipe.to_dict(), "validation": val_name, "epochs": history}
    write_text(out_dir / "history.json", json.dumps(payload, indent=2) + "\n")
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    write_text(out_dir / "history.csv", buf.getvalue())
    return [out_dir / "history.json", out_dir / "history.csv", _curves(history, out_dir / "curves.png")]


def _curves(history: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fercomp.atomic import write_bytes

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=100)
    left.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    left.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation loss")
    right.plot(epochs, [100 * h["val_accuracy"] for h in history], "o-", color="#2ca02c", label="validation accuracy")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes(path, buf.getvalue())
    return path


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), transient=True)

"""The training loop: preloaded uint8 images, whole-batch tensor augmentation, no DataLoader workers.

Trains on Training, validates on PublicTest (or, for a source without one, a fixed 10 % of Training)
every epoch, and never reads the held-out split. The best epoch by validation accuracy is kept as a
real copy of the weights. Training runs the team's own code in this process: it is for running your
own submission, not for grading others (grading is `fercomp score`, which sandboxes).
"""

from __future__ import annotations

import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from fercomp import allocator
from fercomp.atomic import atomic_path
from fercomp.data.dataset import FERData
from fercomp.data.labels import NUM_CLASSES
from fercomp.errors import UsageError
from fercomp.submission.preprocess import finish
from fercomp.training import augment, threads
from fercomp.training.history import write_history
from fercomp.training.progress import Progress
from fercomp.training.recipe import Recipe


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


def param_groups(model, recipe: Recipe, body: frozenset[str] = frozenset()) -> list[dict]:
    """The trainable parameters in one group at lr, or, with --body-lr, two: the tensors a starting point
    filled (the body) at body_lr and the rest (the new head) at lr."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not recipe.body_lr or recipe.body_lr == recipe.lr:
        return [{"params": [p for _, p in trainable], "lr": recipe.lr}]
    head = [p for n, p in trainable if n not in body]
    rest = [p for n, p in trainable if n in body]
    return [g for g in ({"params": head, "lr": recipe.lr}, {"params": rest, "lr": recipe.body_lr}) if g["params"]]


def _optimizer(groups: list[dict], recipe: Recipe):
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=recipe.lr, weight_decay=recipe.weight_decay)


def _scheduler(opt, recipe: Recipe, steps_per_epoch: int):
    total = recipe.epochs * steps_per_epoch
    if recipe.schedule == "onecycle":  # each group peaks at its own rate (the body's lower one too)
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=total)
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, recipe.epochs // 3) * steps_per_epoch, gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)


@dataclass(frozen=True)
class Placement:
    """Where and how training computes: the device, autocast's dtype (None for fp32), gradient scaling."""

    device: torch.device
    dtype: torch.dtype | None = None
    scaler: object = None  # torch.amp.GradScaler for fp16

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype is not None)

    def batch(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step's uint8 images and labels on the device, moved once (pinned memory makes it asynchronous)."""
        return images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)


def placement(recipe: Recipe) -> Placement:
    """The recipe's device and precision, or a one-line UsageError (no CUDA, no bf16 on this GPU)."""
    from fercomp import devices

    try:
        device = torch.device(devices.resolve(torch, recipe.device))
    except devices.DeviceUnavailable as exc:
        raise UsageError(str(exc)) from None
    if device.type == "cuda":
        torch.cuda.set_device(device)
        if recipe.precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise UsageError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use fp16")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[recipe.precision]
    scaler = torch.amp.GradScaler(device.type) if recipe.precision == "fp16" else None
    return Placement(device, dtype, scaler)


@contextmanager
def _deterministic(recipe: Recipe):
    """Deterministic kernels while training, when asked (CUDA needs a fixed cuBLAS workspace, set before
    cuBLAS starts); the process's previous setting comes back afterwards (a notebook goes on with it)."""
    previous = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if recipe.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]


def _compiled(model, recipe: Recipe, probe: torch.Tensor, place: Placement):
    """(what to call, how it went): torch.compile'd when asked and it works on a first batch, else eager."""
    if not recipe.compile:
        return model, "off"
    try:
        runner = torch.compile(model)
        with place.autocast():
            runner(probe)
        return runner, "on"
    except Exception as exc:  # noqa: BLE001 - any compiler failure falls back to eager, loudly
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        warnings.warn(f"--compile: torch.compile failed ({reason}); training in eager mode", stacklevel=2)
        return model, f"fell back to eager ({reason})"


def evaluate(model, images: torch.Tensor, labels: torch.Tensor, spec, batch: int = 512,
             place: Placement | None = None) -> tuple[float, float]:
    """(mean loss, accuracy pooled over every sample)."""
    place = place or Placement(torch.device("cpu"))
    model.eval()
    loss, correct = 0.0, 0
    with torch.inference_mode(), place.autocast():
        for i in range(0, len(images), batch):
            x, y = place.batch(images[i : i + batch], labels[i : i + batch])
            x = finish(x.float().div(255).unsqueeze(1), spec)
            logits = model(x.contiguous(memory_format=torch.channels_last)).float()
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
    return loss / len(images), correct / len(images)


def train(model, data: FERData, recipe: Recipe, spec, weights_path: Path, out_dir: Path,
          resume: bool = False, progress: bool = True, started_from: dict | None = None,
          body: frozenset[str] = frozenset()) -> TrainResult:
    """Train `model` by `recipe`; write weights (best epoch), history (CSV, JSON) and curves (PNG).
    `started_from` says where the initial weights came from (training/pretrained.py), `body` which tensors
    it filled (they train at recipe.body_lr)."""
    recipe = recipe.validated()
    count, why = threads.choose_threads(recipe.threads)
    ran_on = {"threads": count, "threads_chosen": why, **({"started_from": started_from} if started_from else {})}
    with _deterministic(recipe), threads.torch_threads(count):
        return _train(model, data, recipe, spec, weights_path, out_dir, resume, progress, ran_on, body)


def stratified_subset(data: FERData, limit: int, seed: int) -> FERData:
    """A fixed, seeded subset of `limit` images with the classes in their proportions in `data`
    (largest remainders decide the last images), kept in the data's order; all of `data` when it is smaller."""
    if not limit or limit >= len(data):
        return data
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(data.labels, return_counts=True)
    share = counts * limit / len(data)
    take = np.floor(share).astype(int)
    take[np.argsort(-(share - take), kind="stable")[: limit - take.sum()]] += 1
    chosen = [rng.permutation(np.flatnonzero(data.labels == c))[:k] for c, k in zip(classes, take)]
    return data.take(np.sort(np.concatenate(chosen)))


def _train(model, data: FERData, recipe: Recipe, spec, weights_path: Path, out_dir: Path, resume: bool,
           progress: bool, ran_on: dict, body: frozenset[str] = frozenset()) -> TrainResult:
    place = placement(recipe)
    allocator.keep_freed_memory()
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)
    full_train, val_set, val_name = train_val_split(data, recipe.seed)
    train_set = stratified_subset(full_train, recipe.train_limit, recipe.seed)
    used = {"validation": val_name, "validation_images": len(val_set), "train_images": len(train_set),
            "train_images_available": len(full_train),
            "train_subset": f"class-stratified, seed {recipe.seed}" if len(train_set) < len(full_train) else "all"}
    x_train, y_train = torch.from_numpy(train_set.images), torch.from_numpy(train_set.labels)
    x_val, y_val = torch.from_numpy(val_set.images), torch.from_numpy(val_set.labels)
    if place.device.type == "cuda":
        x_train, y_train, x_val, y_val = (t.pin_memory() for t in (x_train, y_train, x_val, y_val))
    model = model.to(place.device, memory_format=torch.channels_last)
    opt = _optimizer(param_groups(model, recipe, body), recipe)
    steps = (len(x_train) + recipe.batch_size - 1) // recipe.batch_size
    sched = _scheduler(opt, recipe, steps)
    loss_fn = _loss_fn(recipe, y_train.to(place.device))
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.pt"
    history, best_state, best_acc, best_epoch, start_epoch = [], None, -1.0, 0, 0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=place.device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, best_state, best_acc = state["history"], state["best_state"], state["best_acc"]
        best_epoch, start_epoch = state["best_epoch"], state["epoch"]
    interrupted = False
    probe = finish(place.batch(x_train[:2], y_train[:2])[0].float().div(255).unsqueeze(1), spec)
    runner, compile_status = _compiled(model, recipe, probe.contiguous(memory_format=torch.channels_last), place)
    bar = Progress(progress, recipe.epochs * steps, start_epoch * steps)
    try:
        for epoch in range(start_epoch, recipe.epochs):
            started, seen, running = time.perf_counter(), 0, 0.0
            model.train()
            order = torch.randperm(len(x_train), generator=gen)
            for step in range(steps):
                idx = order[step * recipe.batch_size : (step + 1) * recipe.batch_size]
                images, labels = place.batch(x_train[idx], y_train[idx])
                loss = _step(runner, model, images, labels, recipe, spec, gen, loss_fn, opt, place)
                sched.step()  # per batch, as OneCycleLR's total_steps = epochs × batches assumes
                seen += len(idx)
                running += loss * len(idx)
                rate = seen / (time.perf_counter() - started)
                bar.step(f"epoch {epoch + 1}/{recipe.epochs} loss {running / seen:.3f} {rate:.0f} img/s")
            train_seconds = time.perf_counter() - started
            val_loss, val_acc = evaluate(runner, x_val, y_val, spec, place=place)
            history.append({"epoch": epoch + 1, "train_loss": running / seen, "val_loss": val_loss, "val_accuracy": val_acc,
                            "lr": opt.param_groups[0]["lr"], "train_seconds": train_seconds, "images_per_s": seen / train_seconds})
            if val_acc > best_acc:
                best_acc, best_epoch, best_state = val_acc, epoch + 1, _cpu_copy(model.state_dict())
            bar.line(f"epoch {epoch + 1}: train loss {running / seen:.4f}, val loss {val_loss:.4f}, "
                     f"val accuracy {100 * val_acc:.2f} % ({val_name})")
            _save_checkpoint(checkpoint, model, opt, sched, gen, history, best_state, best_acc, best_epoch, epoch + 1)
            if recipe.early_stopping and epoch + 1 - best_epoch >= recipe.early_stopping:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if best_state is None:
        best_state = _cpu_copy(model.state_dict())
    with atomic_path(weights_path) as tmp:
        torch.save(best_state, tmp)
    ran_on.update(device=str(place.device), precision=recipe.precision, compile=compile_status,
                  deterministic=recipe.deterministic)
    if place.device.type == "cuda":
        ran_on.update(gpu_name=torch.cuda.get_device_name(place.device),
                      gpu_peak_memory_mb=torch.cuda.max_memory_allocated(place.device) / 2**20)
    files = [weights_path, *write_history(history, recipe, out_dir, used, ran_on)]
    return TrainResult(weights_path, history, best_epoch, best_acc, interrupted, files)


def _step(runner, model, images, labels, recipe: Recipe, spec, gen, loss_fn, opt, place: Placement) -> float:
    """One optimisation step on the device: augment, normalise, forward under autocast, backward, step."""
    x = augment.apply(images.float().div(255).unsqueeze(1), recipe.augment, gen)
    x = finish(x, spec).contiguous(memory_format=torch.channels_last)
    opt.zero_grad(set_to_none=True)
    mixup = recipe.augmentation("mixup")
    with place.autocast():
        if mixup:
            alpha = mixup.kwargs()["alpha"]
            lam = float(torch.distributions.Beta(alpha, alpha).sample())
            perm = torch.randperm(len(x), generator=gen).to(place.device)
            logits = runner(lam * x + (1 - lam) * x[perm]).float()
            loss = lam * loss_fn(logits, labels) + (1 - lam) * loss_fn(logits, labels[perm])
        else:
            loss = loss_fn(runner(x).float(), labels)
    scaler = place.scaler
    (scaler.scale(loss) if scaler else loss).backward()
    if scaler:
        scaler.unscale_(opt)
    clip_gradients(model.parameters(), recipe)
    if scaler:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return float(loss.detach())


def clip_gradients(parameters, recipe: Recipe) -> None:
    """The recipe's clipping: the whole gradient's norm (clip_grad_norm_) or each element (clip_grad_value_)."""
    if not recipe.grad_clip:
        return
    if recipe.grad_clip_mode == "value":
        torch.nn.utils.clip_grad_value_(parameters, recipe.grad_clip)
    else:
        torch.nn.utils.clip_grad_norm_(parameters, recipe.grad_clip)


def _cpu_copy(state: dict) -> dict:
    """A real copy of the weights on the CPU: saved weights load on any machine."""
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _save_checkpoint(path, model, opt, sched, gen, history, best_state, best_acc, best_epoch, epoch) -> None:
    with atomic_path(path, durable=False) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "generator": gen.get_state(), "torch_rng": torch.get_rng_state(), "history": history,
                    "best_state": best_state, "best_acc": best_acc, "best_epoch": best_epoch, "epoch": epoch}, tmp)

"""A training recipe: every knob of `fercomp train`, defaulting to the competition's baseline recipe
(Adam, lr 1e-3, batch 400, 10 epochs, no augmentation, cross-entropy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fercomp import devices
from fercomp.errors import UsageError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "onecycle", "cosine", "step")
LOSSES = ("ce", "label_smoothing", "class_weighted", "focal")
PRECISIONS = ("fp32", "bf16", "fp16")
AUGMENTATIONS = ("flip", "rotate", "crop", "affine", "autocontrast", "brightness", "erasing", "mixup")


@dataclass(frozen=True)
class Recipe:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    batch_size: int = 400
    epochs: int = 10
    early_stopping: int = 0  # stop after this many epochs without a better validation accuracy; 0 = off
    loss: str = "ce"
    label_smoothing: float = 0.1  # used by loss = label_smoothing
    focal_gamma: float = 2.0  # used by loss = focal
    augment: tuple[str, ...] = field(default=())
    seed: int = 0
    model_kwargs: tuple[tuple[str, object], ...] = field(default=())  # passed to build_model(**kwargs)
    device: str = "auto"  # auto, cpu, cuda, cuda:N (auto: CUDA when there is one)
    precision: str = "fp32"  # fp32, bf16 (autocast), fp16 (autocast + gradient scaling)
    compile: bool = False  # torch.compile the model; falls back to eager with a warning where it cannot
    deterministic: bool = False  # torch.use_deterministic_algorithms (CUDA: slower kernels, fixed cuBLAS workspace)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["augment"], out["model_kwargs"] = list(self.augment), dict(self.model_kwargs)
        return out

    def validated(self) -> "Recipe":
        """This recipe, or a UsageError naming the option that is out of range."""
        for name, value, allowed in (("optimizer", self.optimizer, OPTIMIZERS), ("schedule", self.schedule, SCHEDULES),
                                     ("loss", self.loss, LOSSES)):
            if value not in allowed:
                raise UsageError(f"--{name} {value}: expected one of {', '.join(allowed)}")
        unknown = [a for a in self.augment if a not in AUGMENTATIONS]
        if unknown:
            raise UsageError(f"--augment {unknown[0]}: expected any of {', '.join(AUGMENTATIONS)}")
        if self.precision not in PRECISIONS:
            raise UsageError(f"--precision {self.precision}: expected one of {', '.join(PRECISIONS)}")
        devices.validate(self.device)
        if self.lr <= 0 or self.batch_size < 1 or self.epochs < 1:
            raise UsageError("--lr must be positive, --batch-size and --epochs at least 1")
        return self

    def with_changes(self, **changes) -> "Recipe":
        if "augment" in changes:
            changes["augment"] = tuple(dict.fromkeys(tuple(self.augment) + tuple(changes["augment"])))
        if "model_kwargs" in changes:
            changes["model_kwargs"] = tuple(sorted({**dict(self.model_kwargs), **dict(changes["model_kwargs"])}.items()))
        return replace(self, **changes)

"""A training recipe: every knob of `fercomp train`, defaulting to the competition's baseline recipe
(Adam, lr 1e-3, batch 400, 10 epochs, no augmentation, cross-entropy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from fercomp import devices
from fercomp.errors import UsageError
from fercomp.training import augment_spec
from fercomp.training.augment_spec import AUGMENTATIONS, Augmentation

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "onecycle", "cosine", "step")
LOSSES = ("ce", "label_smoothing", "class_weighted", "focal")
PRECISIONS = ("fp32", "bf16", "fp16")
GRAD_CLIP_MODES = ("norm", "value")
CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "loss": LOSSES, "precision": PRECISIONS,
           "grad_clip_mode": GRAD_CLIP_MODES}
__all__ = ["AUGMENTATIONS", "CHOICES", "Recipe"]


@dataclass(frozen=True)
class Recipe:
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    schedule: str = "constant"
    grad_clip: float = 0.0  # the clipping threshold; 0 = off
    # norm: clip_grad_norm_(params, grad_clip) (the whole gradient's norm);
    # value: clip_grad_value_(params, grad_clip) (each element into ±grad_clip), as the Jovian-style reports do
    grad_clip_mode: str = "norm"
    batch_size: int = 400
    epochs: int = 10
    early_stopping: int = 0  # stop after this many epochs without a better validation accuracy; 0 = off
    loss: str = "ce"
    label_smoothing: float = 0.1  # used by loss = label_smoothing
    focal_gamma: float = 2.0  # used by loss = focal
    # pixel augmentations in the order applied, each with every parameter (see augment_spec); strings such as
    # "crop:padding=2,mode=reflect" or {"name": "crop", ...} are parsed on construction
    augment: tuple[Augmentation, ...] = field(default=())
    seed: int = 0
    train_limit: int = 0  # train on a fixed, seeded, class-stratified subset of this many images; 0 = all
    model_kwargs: tuple[tuple[str, object], ...] = field(default=())  # passed to build_model(**kwargs)
    device: str = "auto"  # auto, cpu, cuda, cuda:N (auto: CUDA when there is one)
    precision: str = "fp32"  # fp32, bf16 (autocast), fp16 (autocast + gradient scaling)
    compile: bool = False  # torch.compile the model; falls back to eager with a warning where it cannot
    deterministic: bool = False  # torch.use_deterministic_algorithms (CUDA: slower kernels, fixed cuBLAS workspace)
    threads: int = 0  # torch CPU threads while training; 0 = as many as there are idle cores now (training.threads)
    # transfer learning (training/pretrained.py): the starting point, what stays fixed, the body's rate
    pretrained: str = ""  # "imagenet" (the torchvision architecture's default weights) or e.g. "ResNet18_Weights.IMAGENET1K_V1"
    init: str = ""  # a state dict file to start from instead
    freeze: str = ""  # "body" (all but the new head) or comma-separated module names, e.g. "features.0,features.1"
    body_lr: float = 0.0  # learning rate of the tensors the starting point filled; 0 = lr (the head always trains at lr)

    def __post_init__(self) -> None:
        augs = tuple(augment_spec.parse(a) for a in ((self.augment,) if isinstance(self.augment, str) else self.augment))
        object.__setattr__(self, "augment", augs)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["augment"], out["model_kwargs"] = [a.to_dict() for a in self.augment], dict(self.model_kwargs)
        return out

    def augmentation(self, name: str) -> Augmentation | None:
        return next((a for a in self.augment if a.name == name), None)

    def validated(self) -> "Recipe":
        """This recipe, or a UsageError naming the option that is out of range."""
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise UsageError(f"--{name.replace('_', '-')} {value}: expected one of {', '.join(allowed)}")
        devices.validate(self.device)
        if self.lr <= 0 or self.batch_size < 1 or self.epochs < 1:
            raise UsageError("--lr must be positive, --batch-size and --epochs at least 1")
        if self.train_limit < 0 or self.threads < 0 or self.grad_clip < 0 or self.body_lr < 0:
            raise UsageError("--train-limit, --threads, --grad-clip and --body-lr must not be negative")
        if self.pretrained and self.init:
            raise UsageError("--pretrained and --init both give a starting point; pass one")
        if (self.freeze or self.body_lr) and not (self.pretrained or self.init):
            raise UsageError("--freeze and --body-lr need a starting point: pass --pretrained imagenet or --init FILE")
        return self

    def with_changes(self, **changes) -> "Recipe":
        """This recipe changed; `augment` adds to the list (an augmentation named again takes the new
        parameters) and `model_kwargs` adds to the keyword arguments."""
        if "augment" in changes:
            more = tuple(augment_spec.parse(a) for a in changes["augment"])
            changes["augment"] = augment_spec.merged(self.augment, more)
        if "model_kwargs" in changes:
            changes["model_kwargs"] = tuple(sorted({**dict(self.model_kwargs), **dict(changes["model_kwargs"])}.items()))
        return replace(self, **changes)

"""PREPROCESS: how uint8 48×48 faces become the tensor a submission's model receives."""

from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULT = {"size": 48, "channels": 1, "mean": [0.5], "std": [0.5]}


@dataclass(frozen=True)
class Preprocess:
    """Resize to `size`, replicate gray to `channels`, then (x/255 - mean) / std per channel."""

    size: int = 48
    channels: int = 1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def parse(value: object, where: str) -> Preprocess:
    """Validate a PREPROCESS literal; raise ValueError naming the bad field."""
    if value is None:
        return Preprocess()
    if not isinstance(value, dict):
        raise ValueError(f"{where}: PREPROCESS must be a dict like {DEFAULT}")
    unknown = set(value) - set(DEFAULT)
    if unknown:
        raise ValueError(f"{where}: PREPROCESS has unknown key(s) {sorted(unknown)}; allowed: {sorted(DEFAULT)}")
    merged = {**DEFAULT, **value}
    size, channels = merged["size"], merged["channels"]
    if not isinstance(size, int) or not 8 <= size <= 512:
        raise ValueError(f"{where}: PREPROCESS size must be an integer 8–512, got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"{where}: PREPROCESS channels must be 1 or 3, got {channels!r}")
    stats = {}
    for key in ("mean", "std"):
        v = merged[key]
        v = [v] if isinstance(v, (int, float)) else v
        if not isinstance(v, (list, tuple)) or not all(isinstance(x, (int, float)) for x in v):
            raise ValueError(f"{where}: PREPROCESS {key} must be a number or a list of numbers")
        if len(v) == 1:
            v = list(v) * channels
        if len(v) != channels:
            raise ValueError(f"{where}: PREPROCESS {key} has {len(v)} values for {channels} channel(s)")
        if key == "std" and any(x <= 0 for x in v):
            raise ValueError(f"{where}: PREPROCESS std must be positive")
        stats[key] = tuple(float(x) for x in v)
    return Preprocess(size=size, channels=channels, mean=stats["mean"], std=stats["std"])


def apply(images, spec: Preprocess):
    """uint8 N×48×48 (numpy or tensor) → float32 N×C×S×S, exactly what the model is measured on."""
    import torch

    return finish(torch.as_tensor(images).to(torch.float32).div_(255.0).unsqueeze(1), spec)


def finish(x, spec: Preprocess):
    """N×1×48×48 floats in [0, 1] (augmented or not) → the model's input: resize, channels, normalise."""
    import torch
    import torch.nn.functional as F

    if spec.size != x.shape[-1]:
        x = F.interpolate(x, size=(spec.size, spec.size), mode="bilinear", align_corners=False)
    if spec.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous()

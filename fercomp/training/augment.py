"""Augmentations applied to whole batches as tensors (no per-image PIL or Python on the hot path).

Each takes x: N×C×H×W float in [0, 1] (before normalisation) and a torch.Generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rand(n: int, gen: torch.Generator, device) -> torch.Tensor:
    """Draws come from the CPU generator whatever the device: the same seed augments alike on CPU and CUDA."""
    return torch.rand(n, generator=gen).to(device, non_blocking=True)


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device="cpu") -> torch.Tensor:
    return low + (high - low) * _rand(n, gen, device)


def flip(x, gen):
    mask = _rand(len(x), gen, x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def _warp(x, angle_deg, scale, shift_x, shift_y):
    angle = angle_deg * math.pi / 180
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rotate(x, gen, degrees: float = 15.0):
    n = len(x)
    zero = torch.zeros(n, device=x.device)
    return _warp(x, _uniform(n, -degrees, degrees, gen, x.device), torch.ones(n, device=x.device), zero, zero)


def crop(x, gen, padding: int = 4):
    """Random crop with zero padding, as a whole-pixel shift of up to `padding` pixels."""
    n, size = len(x), x.shape[-1]
    padded = F.pad(x, (padding,) * 4)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen).to(x.device)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen).to(x.device)
    steps = torch.arange(size, device=x.device)
    rows = (dy[:, None] + steps)[:, :, None].expand(n, size, size)
    cols = (dx[:, None] + steps)[:, None, :].expand(n, size, size)
    index = (rows * padded.shape[-1] + cols).reshape(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, index).reshape_as(x)


def affine(x, gen):
    n = len(x)
    d = x.device
    return _warp(x, _uniform(n, -10, 10, gen, d), _uniform(n, 0.9, 1.1, gen, d), _uniform(n, -0.1, 0.1, gen, d),
                 _uniform(n, -0.1, 0.1, gen, d))


def autocontrast(x, gen):
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - low) / (high - low).clamp_min(1e-6)


def brightness(x, gen):
    return (x * _uniform(len(x), 0.7, 1.3, gen, x.device)[:, None, None, None]).clamp(0, 1)


def erasing(x, gen, p: float = 0.5):
    n, _, h, w = x.shape
    d = x.device
    eh, ew = (_uniform(n, 0.1, 0.4, gen, d) * h).long(), (_uniform(n, 0.1, 0.4, gen, d) * w).long()
    top, left = (_rand(n, gen, d) * (h - eh)).long(), (_rand(n, gen, d) * (w - ew)).long()
    r, c = torch.arange(h, device=d)[None, :, None], torch.arange(w, device=d)[None, None, :]
    box = (r >= top[:, None, None]) & (r < (top + eh)[:, None, None]) & (c >= left[:, None, None]) & (c < (left + ew)[:, None, None])
    box &= (_rand(n, gen, d) < p)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)


PIXEL_AUGMENTATIONS = {"flip": flip, "rotate": rotate, "crop": crop, "affine": affine,
                       "autocontrast": autocontrast, "brightness": brightness, "erasing": erasing}


def apply(x: torch.Tensor, names: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """The recipe's pixel augmentations in a fixed order (mixup is applied by the loop, on labels too)."""
    for name in names:
        if name in PIXEL_AUGMENTATIONS:
            x = PIXEL_AUGMENTATIONS[name](x, gen)
    return x

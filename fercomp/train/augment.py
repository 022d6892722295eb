"""Augmentations applied to whole batches as tensors (no per-image PIL or Python on the hot path).

Each takes x: N×C×H×W float in [0, 1] (before normalisation) and a torch.Generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def flip(x, gen):
    mask = torch.rand(len(x), generator=gen) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def _warp(x, angle_deg, scale, shift_x, shift_y):
    angle = angle_deg * math.pi / 180
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def rotate(x, gen, degrees: float = 15.0):
    n = len(x)
    zero = torch.zeros(n)
    return _warp(x, _uniform(n, -degrees, degrees, gen), torch.ones(n), zero, zero)


def crop(x, gen, padding: int = 4):
    """Random crop with zero padding, as a whole-pixel shift of up to `padding` pixels."""
    n, size = len(x), x.shape[-1]
    padded = F.pad(x, (padding,) * 4)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(size))[:, :, None].expand(n, size, size)
    cols = (dx[:, None] + torch.arange(size))[:, None, :].expand(n, size, size)
    index = (rows * padded.shape[-1] + cols).reshape(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, index).reshape_as(x)


def affine(x, gen):
    n = len(x)
    return _warp(x, _uniform(n, -10, 10, gen), _uniform(n, 0.9, 1.1, gen), _uniform(n, -0.1, 0.1, gen), _uniform(n, -0.1, 0.1, gen))


def autocontrast(x, gen):
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - low) / (high - low).clamp_min(1e-6)


def brightness(x, gen):
    return (x * _uniform(len(x), 0.7, 1.3, gen)[:, None, None, None]).clamp(0, 1)


def erasing(x, gen, p: float = 0.5):
    n, _, h, w = x.shape
    eh, ew = (_uniform(n, 0.1, 0.4, gen) * h).long(), (_uniform(n, 0.1, 0.4, gen) * w).long()
    top, left = (torch.rand(n, generator=gen) * (h - eh)).long(), (torch.rand(n, generator=gen) * (w - ew)).long()
    r, c = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    box = (r >= top[:, None, None]) & (r < (top + eh)[:, None, None]) & (c >= left[:, None, None]) & (c < (left + ew)[:, None, None])
    box &= (torch.rand(n, generator=gen) < p)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)


PIXEL_AUGMENTATIONS = {"flip": flip, "rotate": rotate, "crop": crop, "affine": affine,
                       "autocontrast": autocontrast, "brightness": brightness, "erasing": erasing}


def apply(x: torch.Tensor, names: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """The recipe's pixel augmentations in a fixed order (mixup is applied by the loop, on labels too)."""
    for name in names:
        if name in PIXEL_AUGMENTATIONS:
            x = PIXEL_AUGMENTATIONS[name](x, gen)
    return x

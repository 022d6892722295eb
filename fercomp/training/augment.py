"""Augmentations applied to whole batches as tensors, each the batch form of a `torchvision.transforms.v2`
transform: the same parameter draws (per image) and, for the same drawn parameters, the same image as the
torchvision functional op. A recipe that names `crop:padding=2,mode=reflect` means what the report's
`RandomCrop(48, padding=2, padding_mode="reflect")` means (tests/train/test_augment_torchvision.py).

Each augmentation has `draw(n, height, width, gen)` → its parameters per image (tensors of length n) and
`apply(x, drawn)`; x is N×C×H×W float in [0, 1], before normalisation. Draws come from the seeded CPU
generator whatever the device, so the same seed augments alike on CPU and CUDA.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from fercomp.training.augment_spec import Augmentation


def _rand(n: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen)


def _uniform(n: int, bounds, gen: torch.Generator) -> torch.Tensor:
    low, high = bounds
    return low + (high - low) * _rand(n, gen)


def _randint(n: int, high: torch.Tensor | int, gen: torch.Generator) -> torch.Tensor:
    """Uniform integers in [0, high) per image (`high` may differ per image)."""
    return (_rand(n, gen).double() * high).floor().long().clamp_max(torch.as_tensor(high) - 1)


# --- flip ------------------------------------------------------------------------------------------

def _draw_flip(n, h, w, gen, p):
    return {"applied": _rand(n, gen) < p}


def _apply_flip(x, drawn, **_):
    return torch.where(drawn["applied"].to(x.device)[:, None, None, None], x.flip(-1), x)


# --- crop: RandomCrop(size, padding, fill, padding_mode) --------------------------------------------

def _draw_crop(n, h, w, gen, padding, **_):
    return {"top": _randint(n, 2 * padding + 1, gen), "left": _randint(n, 2 * padding + 1, gen)}


def _source_index(shifted: torch.Tensor, size: int, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(index into the unpadded image, whether the pixel is inside it) for positions in padded-minus-padding
    coordinates: the padding modes of torchvision's `pad` as index maps (valid while padding < size)."""
    inside = (shifted >= 0) & (shifted < size)
    if mode == "edge":
        index = shifted.clamp(0, size - 1)
    elif mode == "reflect":  # … 2 1 | 0 1 2 … (the edge pixel not repeated)
        index = torch.where(shifted < 0, -shifted, torch.where(shifted >= size, 2 * (size - 1) - shifted, shifted))
    elif mode == "symmetric":  # … 1 0 | 0 1 … (the edge pixel repeated)
        index = torch.where(shifted < 0, -shifted - 1, torch.where(shifted >= size, 2 * size - 1 - shifted, shifted))
    else:  # constant: outside pixels take the fill
        index = shifted.clamp(0, size - 1)
    return index, inside


def _apply_crop(x, drawn, padding, mode, fill):
    n, _, h, w = x.shape
    d = x.device
    rows, row_in = _source_index(drawn["top"].to(d)[:, None] - padding + torch.arange(h, device=d), h, mode)
    cols, col_in = _source_index(drawn["left"].to(d)[:, None] - padding + torch.arange(w, device=d), w, mode)
    out = x[torch.arange(n, device=d)[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if mode == "constant":
        out = out.masked_fill(~(row_in[:, :, None] & col_in[:, None, :])[:, None], float(fill))
    return out


# --- affine and rotate: RandomAffine / RandomRotation on tensors ----------------------------------

def _inverse_affine(angle, tx, ty, scale, shear_x, shear_y) -> torch.Tensor:
    """torchvision's `_get_inverse_affine_matrix` (centre at the image centre), per image, in float64 as
    torchvision computes it in Python floats; N×2×3."""
    rot, sx, sy = torch.deg2rad(angle), torch.deg2rad(shear_x), torch.deg2rad(shear_y)
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -(a * torch.tan(sx) + torch.sin(rot))
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = torch.cos(rot) - c * torch.tan(sx)
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    m2, m5 = -m0 * tx - m1 * ty, -m3 * tx - m4 * ty
    return torch.stack([m0, m1, m2, m3, m4, m5], 1).reshape(-1, 2, 3)


def _grid_transform(x, matrix, interpolation, fill):
    """torchvision's `_affine_grid` + `_apply_grid_transform` for a batch with one matrix per image."""
    n, c, h, w = x.shape
    theta = matrix.to(x.dtype).to(x.device)
    base = torch.empty(1, h, w, 3, dtype=x.dtype, device=x.device)
    base[..., 0].copy_(torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, steps=w, device=x.device))
    base[..., 1].copy_(torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, steps=h, device=x.device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    scaled = theta.transpose(1, 2).div(torch.tensor([0.5 * w, 0.5 * h], dtype=x.dtype, device=x.device))
    grid = base.view(1, h * w, 3).expand(n, -1, -1).bmm(scaled).view(n, h, w, 2)
    # a mask channel marks where the image was sampled, so the rest takes the fill (as torchvision does)
    sampled = F.grid_sample(torch.cat([x, torch.ones_like(x[:, :1])], 1), grid, mode=interpolation,
                            padding_mode="zeros", align_corners=False)
    out, mask = sampled[:, :c], sampled[:, c:].expand(-1, c, -1, -1)
    if interpolation == "nearest":
        return torch.where(mask < 0.5, torch.full_like(out, float(fill)), out)
    return (out - fill) * mask + fill


def _draw_rotate(n, h, w, gen, degrees, **_):
    return {"angle": _uniform(n, degrees, gen)}


def _apply_rotate(x, drawn, interpolation, fill, **_):
    zero = torch.zeros(len(x), dtype=torch.float64)
    # torchvision's rotate turns the other way from its affine: it passes -angle (see rotate_image)
    matrix = _inverse_affine(-drawn["angle"].double(), zero, zero, torch.ones_like(zero), zero, zero)
    return _grid_transform(x, matrix, interpolation, fill)


def _draw_affine(n, h, w, gen, degrees, translate, scale, shear, **_):
    angle = _uniform(n, degrees, gen)
    max_dx, max_dy = translate[0] * w, translate[1] * h
    # whole pixels, rounded half to even as Python's round() in RandomAffine.make_params
    tx = torch.round(_uniform(n, (-max_dx, max_dx), gen).double())
    ty = torch.round(_uniform(n, (-max_dy, max_dy), gen).double())
    return {"angle": angle, "tx": tx, "ty": ty, "scale": _uniform(n, scale, gen),
            "shear_x": _uniform(n, shear[:2], gen), "shear_y": _uniform(n, shear[2:], gen)}


def _apply_affine(x, drawn, interpolation, fill, **_):
    matrix = _inverse_affine(*(drawn[k].double() for k in ("angle", "tx", "ty", "scale", "shear_x", "shear_y")))
    return _grid_transform(x, matrix, interpolation, fill)


# --- colour ----------------------------------------------------------------------------------------

def _apply_autocontrast(x, drawn, **_):
    """torchvision's autocontrast_image: each channel stretched to [0, 1]; a flat channel left alone."""
    low = x.amin(dim=(-2, -1), keepdim=True)
    high = x.amax(dim=(-2, -1), keepdim=True)
    flat = high == low
    stretched = ((x - low.masked_fill(flat, 0.0)) / (high - low).masked_fill(flat, 1.0)).clamp(0, 1)
    return torch.where(drawn["applied"].to(x.device)[:, None, None, None], stretched, x)


def _draw_brightness(n, h, w, gen, brightness):
    return {"factor": _uniform(n, brightness, gen)}


def _apply_brightness(x, drawn, **_):
    return (x * drawn["factor"].to(x.device)[:, None, None, None]).clamp(0, 1)


# --- erasing: RandomErasing(p, scale, ratio, value) ------------------------------------------------

def _draw_erasing(n, h, w, gen, p, scale, ratio, **_):
    """Up to 10 tries per image for a box inside it, as RandomErasing.make_params; none fits → not erased."""
    applied = _rand(n, gen) < p
    area = h * w * _uniform(n * 10, scale, gen).double().view(n, 10)
    aspect = torch.exp(_uniform(n * 10, (math.log(ratio[0]), math.log(ratio[1])), gen)).double().view(n, 10)
    bh, bw = torch.round(torch.sqrt(area * aspect)).long(), torch.round(torch.sqrt(area / aspect)).long()
    fits = (bh < h) & (bw < w)
    first = fits.long().argmax(1)
    pick = lambda t: t.gather(1, first[:, None]).squeeze(1)  # noqa: E731 - the first try that fits
    bh, bw = pick(bh), pick(bw)
    top, left = _randint(n, (h - bh + 1).clamp_min(1), gen), _randint(n, (w - bw + 1).clamp_min(1), gen)
    return {"applied": applied & fits.any(1), "top": top, "left": left, "height": bh, "width": bw}


def _apply_erasing(x, drawn, value, **_):
    n, _, h, w = x.shape
    d = x.device
    top, left = drawn["top"].to(d)[:, None, None], drawn["left"].to(d)[:, None, None]
    bottom, right = top + drawn["height"].to(d)[:, None, None], left + drawn["width"].to(d)[:, None, None]
    r, c = torch.arange(h, device=d)[None, :, None], torch.arange(w, device=d)[None, None, :]
    box = (r >= top) & (r < bottom) & (c >= left) & (c < right) & drawn["applied"].to(d)[:, None, None]
    return x.masked_fill(box[:, None], float(value))


_OPS = {"flip": (_draw_flip, _apply_flip), "crop": (_draw_crop, _apply_crop),
        "affine": (_draw_affine, _apply_affine), "rotate": (_draw_rotate, _apply_rotate),
        "autocontrast": (_draw_flip, _apply_autocontrast), "brightness": (_draw_brightness, _apply_brightness),
        "erasing": (_draw_erasing, _apply_erasing)}
PIXEL_AUGMENTATIONS = tuple(_OPS)


def draw(aug: Augmentation, n: int, height: int, width: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The parameters `aug` draws for n images (one value per image per parameter)."""
    return _OPS[aug.name][0](n, height, width, gen, **aug.kwargs())


def augment_batch(x: torch.Tensor, aug: Augmentation, gen: torch.Generator) -> torch.Tensor:
    """One augmentation on a batch: draw, then apply."""
    return apply_drawn(x, aug, draw(aug, len(x), x.shape[-2], x.shape[-1], gen))


def apply_drawn(x: torch.Tensor, aug: Augmentation, drawn: dict) -> torch.Tensor:
    """`aug` on a batch with parameters already drawn (by `draw`, or given to compare with torchvision)."""
    return _OPS[aug.name][1](x, drawn, **aug.kwargs())


def apply(x: torch.Tensor, augs: tuple[Augmentation, ...], gen: torch.Generator) -> torch.Tensor:
    """The recipe's pixel augmentations in the recipe's order, as a torchvision Compose would apply them
    (mixup is applied by the loop, on labels too)."""
    for aug in augs:
        if aug.name in _OPS:
            x = augment_batch(x, aug, gen)
    return x

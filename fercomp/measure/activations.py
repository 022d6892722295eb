"""What each hidden unit computes, on a fixed set of probe faces: how the audit lines up a permuted copy's units.

A copy of a model with its hidden units permuted and then fine-tuned has weights in another order that have also
moved, so no statistic of the weights alone lines its units up with its original's (fercomp/measure/sketch.py's
canonical order stops working after about one epoch). What a unit responds to moves far less: its activations
on the same faces stay correlated with those of the unit it was copied from. So for every convolution and linear
layer of the exported graph the measurer records, per output unit (channel), its spatially averaged output on each
of the run's probe faces (the same faces for every team of a run, chosen by the trusted parent) averaged over each
cell of a coarse GRID × GRID grid, so where on the face a unit responds counts as well as how much (a unit's mean
alone is much the same in every model: faces' brightness and contrast drive it), less its average map, scaled per unit and quantised
to int8; the audit (fercomp/audit/activations.py) matches units across two teams by the correlation
of these signatures.

Deterministic whatever the jobs, shards or start mode: the graph runs on the CPU with one thread, before the model
ever moves to a device or to channels-last, so the same exported program gives the same bytes.
Runs in the measurer on the exported graph; the audit reads the result from the record.
"""

from __future__ import annotations

import base64
import zlib

PROBE_IMAGES = 32  # faces per signature
GRID = 4  # a unit's output averaged over GRID × GRID cells of the image (fewer where the map is smaller)
MAX_BYTES = 1 << 18  # int8 values kept over every layer (whole layers in graph order): at most about 0.35 MB in a record
CLIP = 4.0  # z-scores beyond ±4 are clipped before quantising
SCALE = 127 / CLIP
ENCODING = (f"fercomp.activations/2: base64 of zlib of int8, per layer in `layers` order a units × images × cells "
            f"block of each unit's output averaged over `cells` cells of a {GRID}×{GRID} grid (1 for a linear layer: "
            f"over every position), less each cell's mean over the images, over the unit's spread, clipped to ±{CLIP:g} and scaled by "
            f"127/{CLIP:g} (a unit constant on every face is all zeros)")

#: operators whose output units are channels (dim 1) and operators whose output units are the last dimension
CHANNEL_OPS = ("conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")
FEATURE_OPS = ("linear", "addmm")


def _layer_kind(node) -> str | None:
    """"channel", "feature" or None: how a node's output is split into units, if it is a layer's output."""
    import torch

    target = node.target
    if node.op != "call_function" or not isinstance(target, torch._ops.OpOverload) or target.namespace != "aten":
        return None
    name = target._opname
    return "channel" if name in CHANNEL_OPS else "feature" if name in FEATURE_OPS else None


def _unit_cells(torch, value, kind: str):
    """images × units × cells (float64): each unit's output averaged over each grid cell (a linear layer: over
    every position, one cell)."""
    value = value.detach().to(torch.float64)
    if kind == "feature":
        return value.reshape(value.shape[0], -1, value.shape[-1]).mean(1)[:, :, None]
    if value.dim() == 2:
        return value[:, :, None]
    if value.dim() == 3:
        return torch.nn.functional.adaptive_avg_pool1d(value, min(GRID * GRID, value.shape[2]))
    if value.dim() > 4:  # a 3-D convolution: depth averaged, then the grid
        value = value.flatten(4).mean(4) if value.dim() > 5 else value.mean(2)
    return torch.nn.functional.adaptive_avg_pool2d(value, (min(GRID, value.shape[2]), min(GRID, value.shape[3]))).flatten(2)


def layer_outputs(torch, graph_module, x) -> list[tuple[str, str, object]]:
    """(node name, operator, images × units × cells) for every layer of `graph_module` (a torch.fx GraphModule, the
    exported program's module) run on `x`, in graph order."""
    found = []

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            value = super().run_node(node)
            kind = _layer_kind(node)
            if (kind and isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() >= 2
                    and value.shape[0] == x.shape[0]):
                found.append((node.name, node.target._opname, _unit_cells(torch, value, kind)))
            return value

    with torch.inference_mode():
        Recorder(graph_module).run(x)
    return found


def _quantised(torch, cells):
    """units × images × cells int8: each unit's values less its average map (each cell's mean over the images: the
    same in every model, from the faces' common layout), over their spread, clipped and scaled."""
    centred = (cells - cells.mean(0, keepdim=True)).transpose(0, 1).flatten(1)  # units × (images · cells), image-major
    spread = centred.pow(2).mean(1, keepdim=True).sqrt()
    alive = spread > 1e-12 * (1 + cells.abs().amax((0, 2))[:, None])
    z = torch.where(alive, centred / torch.where(alive, spread, torch.ones_like(spread)), torch.zeros_like(centred))
    return (z.clamp(-CLIP, CLIP) * SCALE).round().to(torch.int8).contiguous()


def unit_signatures(torch, graph_module, x) -> tuple[dict, bytes]:
    """(what the signatures are, their int8 bytes) for every layer's units on the probe faces `x` (already
    preprocessed), computed on the CPU with one thread; whole layers in graph order while they fit in MAX_BYTES
    (a layer that does not is left out and counted)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a convolution's sums in one fixed order: the same bytes under any --jobs
    try:
        outputs = layer_outputs(torch, graph_module, x.to("cpu", torch.float32).contiguous())
    finally:
        torch.set_num_threads(threads)
    layers, blocks, cut, size = [], [], [], 0
    for name, op, cells in outputs:
        if size + cells.numel() > MAX_BYTES:  # left out, and counted; the layers after it may still fit
            cut.append(cells)
            continue
        size += cells.numel()
        layers.append({"node": name, "op": op, "units": int(cells.shape[1]), "cells": int(cells.shape[2])})
        blocks.append(_quantised(torch, cells).numpy().tobytes())
    return ({"encoding": ENCODING, "images": int(x.shape[0]), "layers": layers, "layers_cut": len(cut),
             "units_cut": int(sum(c.shape[1] for c in cut))}, b"".join(blocks))


def encode(raw: bytes) -> str:
    """The signatures' bytes as the record keeps them."""
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")

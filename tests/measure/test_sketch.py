"""The weight sketch: every tensor kind, and a canonical order that a permutation of hidden units cannot change."""

import base64
import zlib

import numpy as np
import torch
from torch import nn

from fercomp.audit.pairs import sketch_cosine
from fercomp.measure.sketch import canonical, sketch_tensors


def _rows(blob: dict, field: str) -> list:
    raw = zlib.decompress(base64.b64decode(blob[field]))
    rows = np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(len(blob["tensors"]), blob["width"])
    return [(tuple(t["shape"]), t["elements"], r) for t, r in zip(blob["tensors"], rows)]


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 12, 3), nn.BatchNorm2d(12), nn.ReLU(), nn.Conv2d(12, 10, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(10, 7))


def _named(model: nn.Module) -> list:
    return [(n, "parameter", p) for n, p in model.named_parameters()] + [(n, "buffer", b) for n, b in model.named_buffers()]


def _permuted(model: nn.Sequential, seed: int) -> nn.Sequential:
    """The same function with both hidden layers' units reordered."""
    out = _net()
    out.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(seed)
    p1, p2 = torch.randperm(12, generator=g), torch.randperm(10, generator=g)
    with torch.no_grad():
        out[0].weight.copy_(model[0].weight[p1]), out[0].bias.copy_(model[0].bias[p1])
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(out[1], name).copy_(getattr(model[1], name)[p1])
        out[3].weight.copy_(model[3].weight[p2][:, p1]), out[3].bias.copy_(model[3].bias[p2])
        out[7].weight.copy_(model[7].weight[:, p2])
    return out.eval()


def test_canonical_order_is_the_same_for_any_permutation_of_units():
    torch.manual_seed(0)
    w = torch.randn(10, 6, 3, 3, dtype=torch.float64)
    moved = w[torch.randperm(10)][:, torch.randperm(6)]
    assert torch.equal(canonical(torch, w), canonical(torch, moved))
    assert not torch.equal(w, moved)


def test_buffers_are_sketched_and_marked():
    torch.manual_seed(0)
    model = _net().eval()
    model[1].running_mean.normal_()
    blob = sketch_tensors(torch, _named(model))
    kinds = {t["name"]: t["kind"] for t in blob["tensors"]}
    assert kinds["1.running_mean"] == "buffer" and kinds["0.weight"] == "parameter"
    assert "1.num_batches_tracked" not in kinds  # an integer counter says nothing about copying


def test_a_permuted_copy_matches_in_canonical_order_only():
    torch.manual_seed(0)
    model = _net().eval()
    torch.manual_seed(1)
    other = _net().eval()
    copy = _permuted(model, seed=3)
    x = torch.randn(4, 1, 12, 12)
    assert torch.allclose(model(x), copy(x), atol=1e-5)  # the same function
    a, c, o = (sketch_tensors(torch, _named(m)) for m in (model, copy, other))
    plain, _ = sketch_cosine(_rows(a, "data"), _rows(c, "data"))
    canon, _ = sketch_cosine(_rows(a, "canonical"), _rows(c, "canonical"))
    unrelated, _ = sketch_cosine(_rows(a, "canonical"), _rows(o, "canonical"))
    assert plain < 0.5 and canon > 0.95 and unrelated < 0.5


def _literal_sketch(flat: torch.Tensor) -> torch.Tensor:
    """The encoding's own words, one generator per sketch: buckets, then signs, drawn a chunk at a time."""
    from fercomp.measure.sketch import CHUNK, WIDTH

    generator = torch.Generator().manual_seed(flat.numel())
    out = torch.zeros(WIDTH, dtype=torch.float64)
    for start in range(0, flat.numel(), CHUNK):
        part = flat[start:start + CHUNK].to(torch.float64)
        buckets = torch.randint(0, WIDTH, (part.numel(),), generator=generator)
        signs = torch.randint(0, 2, (part.numel(),), generator=generator).to(torch.float64) * 2 - 1
        out.index_add_(0, buckets, part * signs)
    return out


def test_shared_draws_give_the_encodings_bytes_across_chunks_and_dtypes(monkeypatch):
    """Both sketches of a tensor draw their buckets and signs once; the bytes must stay those of the encoding
    (`fercomp.sketch/2`), so records scored before and after compare."""
    from fercomp.measure import sketch

    monkeypatch.setattr(sketch, "CHUNK", 1000)  # several chunks, and a last partial one, on small tensors
    torch.manual_seed(3)
    named = [("a", "parameter", torch.randn(40, 30, 3)), ("b", "buffer", torch.randn(2501).half()),
             ("c", "constant", torch.randn(17, 9, dtype=torch.float64))]
    blob = sketch_tensors(torch, named)
    plain, permuted = _rows(blob, "data"), _rows(blob, "canonical")
    for (_, _, tensor), (_, _, row), (_, _, crow) in zip(named, plain, permuted):
        assert np.array_equal(row, _literal_sketch(tensor.flatten()).to(torch.float32).numpy())
        assert np.array_equal(crow, _literal_sketch(canonical(torch, tensor).flatten()).to(torch.float32).numpy())

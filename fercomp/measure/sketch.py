"""A sketch of a model's weights, so the audit can find near-copies without keeping or loading any weights.

Each tensor becomes a count sketch of `WIDTH` numbers: element i is added, with a sign, to one of WIDTH
buckets. The buckets and signs come from a generator seeded by the tensor's size only, so two tensors of
the same shape are sketched with the same hash functions and the cosine of their sketches estimates the
cosine of the tensors (exactly 1 for identical ones; for unrelated ones about 0 ± 1/√WIDTH). A fine-tuned
copy keeps most of its original's direction, an independently trained model does not.
Runs in the measurer on the exported program's tensors; the audit reads the result from the record.
"""

from __future__ import annotations

import base64
import zlib

WIDTH = 128
ENCODING = (f"fercomp.sketch/1: base64 of zlib of little-endian float32, {WIDTH} per tensor in `tensors` order: a count "
            "sketch with buckets and signs drawn by torch.Generator().manual_seed(number of elements)")
MIN_ELEMENTS = 8  # biases of a few elements say nothing about copying
MAX_TENSORS = 1000  # keeps the answer under the protocol's header limit (about 0.7 MB at most)


def sketch_tensors(torch, named: list[tuple[str, object]]) -> dict:
    """The sketch of every floating tensor with at least MIN_ELEMENTS elements, in the given order."""
    rows, tensors = [], []
    for name, tensor in named:
        if not tensor.is_floating_point() or tensor.numel() < MIN_ELEMENTS:
            continue
        if len(rows) == MAX_TENSORS:
            break
        flat = tensor.detach().to("cpu", torch.float64).flatten()
        generator = torch.Generator().manual_seed(flat.numel())
        buckets = torch.randint(0, WIDTH, (flat.numel(),), generator=generator)
        signs = torch.randint(0, 2, (flat.numel(),), generator=generator).to(torch.float64) * 2 - 1
        rows.append(torch.zeros(WIDTH, dtype=torch.float64).index_add_(0, buckets, flat * signs))
        tensors.append({"name": name, "shape": list(tensor.shape), "elements": int(flat.numel())})
    raw = torch.stack(rows).to(torch.float32).numpy().astype("<f4").tobytes() if rows else b""
    return {"encoding": ENCODING, "width": WIDTH, "tensors": tensors,
            "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}

"""A sketch of a model's tensors, so the audit can find near-copies without keeping or loading any weights.

Every floating tensor of the exported program is sketched: parameters, buffers (a lookup table kept as a buffer
is weights all the same) and lifted constants, each marked with its kind.
Each tensor becomes a count sketch of `WIDTH` numbers: element i is added, with a sign, to one of WIDTH
buckets. The buckets and signs come from a generator seeded by the tensor's size only, so two tensors of
the same shape are sketched with the same hash functions and the cosine of their sketches estimates the
cosine of the tensors (exactly 1 for identical ones; for unrelated ones about 0 ± 1/√WIDTH). A fine-tuned
copy keeps most of its original's direction, an independently trained model does not.
A second sketch (`canonical`) is taken of each tensor of two or more dimensions in a canonical unit order: its
rows (dim 0, the output units) sorted by their absolute sums, then its columns (dim 1, the input units) by
theirs. A row's absolute sum is the same whichever order its inputs come in, and a column's whichever order the
rows come in, so permuting a model's hidden units (rows of one layer, columns of the next) gives the same
canonical tensors: a permuted copy is sketched as its original. Fine-tuning moves units whose sums are close
past each other, so a permuted and fine-tuned copy keeps only part of its canonical cosine (the audit's
`weights_permuted` threshold is set for that).
Runs in the measurer on the exported program's tensors; the audit reads the result from the record.
"""

from __future__ import annotations

import base64
import zlib

WIDTH = 128
ENCODING = (f"fercomp.sketch/2: base64 of zlib of little-endian float32, {WIDTH} per tensor in `tensors` order: a count "
            "sketch with buckets and signs drawn by torch.Generator().manual_seed(number of elements); `canonical`: "
            "the same of the tensor with dim 0, then dim 1, stably sorted by absolute sums (tensors of 2+ dimensions)")
MIN_ELEMENTS = 8  # biases of a few elements say nothing about copying
MAX_TENSORS = 500  # two sketches of 500 tensors keep the answer under the protocol's 1 MiB header limit (about 0.7 MB)
KINDS = ("parameter", "buffer", "constant")


def canonical(torch, tensor):
    """`tensor` with its rows, then its columns, in the order of their absolute sums: the same for any
    permutation of its output or input units."""
    if tensor.dim() < 2:
        return tensor
    tensor = tensor[torch.sort(tensor.abs().flatten(1).sum(1, dtype=torch.float64), stable=True).indices]
    return tensor[:, torch.sort(tensor.abs().transpose(0, 1).flatten(1).sum(1, dtype=torch.float64), stable=True).indices]


#: elements sketched at a time: a VGG16's 103 M-element layer in float64 at once (values, buckets, signs, products)
#: took the measurer past its 6 GB memory limit; in chunks the sketch costs a few tens of MB beside the tensor
CHUNK = 1 << 22


def _count_sketches(torch, flats: list) -> list:
    """The count sketch of each of `flats`, flat tensors of one size: their buckets and signs come from the same
    generator, so each chunk's are drawn once and used for all (the draws took half the measurer's load phase)."""
    numel = flats[0].numel()
    generator = torch.Generator().manual_seed(numel)
    sketches = [torch.zeros(WIDTH, dtype=torch.float64) for _ in flats]
    for start in range(0, numel, CHUNK):
        size = min(CHUNK, numel - start)
        buckets = torch.randint(0, WIDTH, (size,), generator=generator)
        # drawn as float64 (the same draws as int64: tests/measure/test_sketch.py), made ±1 in place
        signs = torch.randint(0, 2, (size,), generator=generator, dtype=torch.float64).mul_(2).sub_(1)
        for sketch, flat in zip(sketches, flats):
            sketch.index_add_(0, buckets, flat[start:start + size].to(torch.float64) * signs)
    return sketches


def _encode(torch, rows: list) -> str:
    raw = torch.stack(rows).to(torch.float32).numpy().astype("<f4").tobytes() if rows else b""
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def sketch_tensors(torch, named: list[tuple[str, str, object]]) -> dict:
    """The sketch of every floating tensor with at least MIN_ELEMENTS elements, in the given (name, kind, tensor)
    order; each tensor's entry says its kind (KINDS), so the audit can point at data kept outside the parameters."""
    rows, canonical_rows, tensors = [], [], []
    for name, kind, tensor in named:
        if not tensor.is_floating_point() or tensor.numel() < MIN_ELEMENTS:
            continue
        if len(rows) == MAX_TENSORS:
            break
        values = tensor.detach().to("cpu")  # in its own dtype: _count_sketches widens a chunk at a time
        plain, permuted = _count_sketches(torch, [values.flatten(), canonical(torch, values).flatten()])
        rows.append(plain)
        canonical_rows.append(permuted)
        tensors.append({"name": name, "kind": kind, "shape": list(tensor.shape), "elements": int(values.numel())})
    return {"encoding": ENCODING, "width": WIDTH, "tensors": tensors, "data": _encode(torch, rows),
            "canonical": _encode(torch, canonical_rows)}

"""A copy whose hidden units were permuted and then fine-tuned: units lined up by what they compute.

activations_aligned, per pair: the records' unit signatures (fercomp/measure/activations.py: each unit's output on
the run's probe faces, on a coarse grid) are compared layer by layer. Layers of the same shape are paired in graph
order (a longest common sequence, so an inserted layer does not shift the rest); within a pair of layers every unit
of one model is matched to one of the other by the correlation of their signatures (an optimal assignment, scipy's
linear_sum_assignment). A copy's units find their originals again whatever order they were put in and however far
fine-tuning moved their weights. Independently trained models learn similar features too (convergent learning:
edge detectors in the first layer, the classes in the last, mixtures of shared directions in between), so the
matched correlation is high for honest pairs too (0.5–0.7 on average on real faces, where a copy's is 0.9). What
separates them is how many units have a match that computes nearly the same thing: the statistic is the share of
units whose matched correlation is at least MATCHED_R, over the units of every paired layer but the first (edge
detectors in every model); the logits (fewer than MIN_UNITS units) are left out.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from fercomp.audit.model import Finding
from fercomp.audit.pairs import _check, _pairs
from fercomp.records import ScoreRecord

MIN_UNITS = 8  # narrower layers (the 7 logits) say more about the task than about who trained the model
#: a unit and its match compute nearly the same thing at this correlation: on real faces 82 % of a permuted copy's
#: units (one epoch of fine-tuning) did, at most 47 % of an honest pair's (docs/audit-memorisation.md)
MATCHED_R = 0.8


def signatures(record: ScoreRecord) -> tuple[str, int, list[np.ndarray]] | None:
    """(the probe faces' pixels sha256, their number, per layer a units × (images · cells) float array of z-scores,
    image-major), or None when the record has no readable signatures."""
    blob = record.unit_signatures
    try:
        raw = np.frombuffer(zlib.decompress(base64.b64decode(blob["data"], validate=True)), dtype=np.int8)
        images, layers, probe = int(blob["images"]), blob["layers"], str(blob["probe"]["pixels_sha256"])
        sizes = [int(layer["units"]) * images * int(layer["cells"]) for layer in layers]
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if sum(sizes) != raw.size or images < 2 or min(sizes, default=1) <= 0:
        return None
    blocks = np.split(raw.astype(np.float64), np.cumsum(sizes)[:-1]) if sizes else []
    return probe, images, [block.reshape(int(layer["units"]), -1) for block, layer in zip(blocks, layers)]


def paired_layers(a: list[np.ndarray], b: list[np.ndarray]) -> list[tuple[int, int]]:
    """(index in a, index in b) for a longest sequence of layers of equal shape (units, at least MIN_UNITS, and
    cells) in order."""
    wa = [x.shape if len(x) >= MIN_UNITS else -1 for x in a]
    wb = [x.shape if len(x) >= MIN_UNITS else -2 for x in b]
    table = np.zeros((len(wa) + 1, len(wb) + 1), dtype=int)
    for i in range(len(wa) - 1, -1, -1):
        for j in range(len(wb) - 1, -1, -1):
            table[i, j] = table[i + 1, j + 1] + 1 if wa[i] == wb[j] else max(table[i + 1, j], table[i, j + 1])
    pairs, i, j = [], 0, 0
    while i < len(wa) and j < len(wb):
        if wa[i] == wb[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1, j] >= table[i, j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def matched_units(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The absolute correlation of each pair of units matched one to one (an optimal assignment) between two layers'
    signatures (units × values, the same images in order). Absolute: a unit negated before a normalisation whose
    scale is negated too computes the same."""
    from scipy.optimize import linear_sum_assignment

    def unit_rows(z: np.ndarray) -> np.ndarray:
        z = z - z.mean(1, keepdims=True)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)

    r = np.abs(unit_rows(x) @ unit_rows(y).T)
    rows, cols = linear_sum_assignment(r, maximize=True)
    return r[rows, cols]


def aligned_statistic(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[float, list[tuple[int, float, float]]] | None:
    """(the share of units whose match correlates at least MATCHED_R, over the paired layers but either model's
    first; per such layer (units, mean matched correlation, that share)), or None when no such layer pairs up."""
    inner = [(i, j) for i, j in paired_layers(a, b) if i and j]  # first layers: edge detectors in every model
    if not inner:
        return None
    rows = []
    for i, j in inner:
        matched = matched_units(a[i], b[j])
        rows.append((len(matched), float(matched.mean()), float((matched >= MATCHED_R).mean())))
    units = sum(n for n, _, _ in rows)
    return sum(n * share for n, _, share in rows) / units, rows


def lower_bound(share: float, units: int, z: float = 1.645) -> float:
    """The one-sided 95 % Wilson lower bound of a share of `units`: a layer of 16 units at 62 % says less than
    200 units at 62 % (units are not independent, so this only sizes the evidence, it is no test)."""
    centre = share + z * z / (2 * units)
    spread = z * np.sqrt(share * (1 - share) / units + z * z / (4 * units * units))
    return float((centre - spread) / (1 + z * z / units))


def activations_aligned(records: dict[str, ScoreRecord], baseline: ScoreRecord, threshold: float):
    """Each pair's share of units matched at r ≥ MATCHED_R, flagged when its lower bound reaches `threshold`; not
    when both teams are that close to the baseline."""
    sig = {team: signatures(r) for team, r in records.items()}
    if not any(sig.values()):
        return _check("activations_aligned", [], [], "no record has unit signatures (scored by an older fercomp)")
    base = signatures(baseline)

    def bounded(x, y) -> tuple[float, float, list] | None:
        """(share, its lower bound, per layer) for two records' signatures on the same probe faces."""
        found = aligned_statistic(x[2], y[2]) if x is not None and y is not None and x[:2] == y[:2] else None
        if found is None:
            return None
        return found[0], lower_bound(found[0], sum(n for n, _, _ in found[1])), found[1]

    near_base = {team: (found := bounded(s, base)) is not None and found[1] >= threshold for team, s in sig.items()}
    rows, values = [], []
    for a, b in _pairs(records):
        found = bounded(sig[a], sig[b])
        if found is None:
            continue
        value, bound, layers = found
        values.append(value)
        both_baseline = near_base[a] and near_base[b]
        flagged = bound >= threshold and not both_baseline
        per_layer = "; ".join(f"{n} units: mean r {r:.2f}, {share:.0%} at r ≥ {MATCHED_R}" for n, r, share in layers)
        note = "; both are as near the baseline, so not flagged" if both_baseline and bound >= threshold else ""
        units = sum(n for n, _, _ in layers)
        rows.append(Finding((a, b), value, None, flagged,
                            f"{value:.0%} of {units} hidden units matched one to one by their outputs on the probe faces "
                            f"correlate at r ≥ {MATCHED_R} (lower 95 % bound {bound:.0%}), over {len(layers)} layer(s): "
                            f"{per_layer}{note}"))
    if not rows:
        return _check("activations_aligned", [], [], "no two records have unit signatures on the same probe faces "
                      "with a hidden layer of equal width")
    return _check("activations_aligned", rows, values)

"""A copy whose hidden units were permuted and then fine-tuned: units lined up by what they compute.

activations_aligned, per pair: the records' unit signatures (fercomp/measure/activations.py: each unit's averaged
output on the run's probe faces) are compared layer by layer. Layers of the same width are paired in graph order
(a longest common sequence of widths, so an inserted layer does not shift the rest); within a pair of layers every
unit of one model is matched to one of the other by the correlation of their signatures (an optimal assignment,
scipy's linear_sum_assignment). A copy's units find their originals again whatever order they were put in and
however far one epoch of fine-tuning moved their weights. Independently trained models learn some similar
features as well (convergent learning: edge detectors in the first layer, the classes themselves in the last), so
the first layer and the output layer are left out, and so is the chance level: the same matching with one model's
faces shuffled. The statistic is the mean matched correlation above that chance level, over the layers in between.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from fercomp.audit.model import Finding
from fercomp.audit.pairs import _check, _pairs
from fercomp.records import ScoreRecord

MIN_UNITS = 8  # narrower layers (the 7 logits) say more about the task than about who trained the model
SHUFFLE_SEED = 33


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


def matched_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """The mean absolute correlation of units matched one to one (units × values z-scores, the same images in
    order). Absolute: a unit negated before a normalisation whose scale is negated too computes the same."""
    from scipy.optimize import linear_sum_assignment

    def unit_rows(z: np.ndarray) -> np.ndarray:
        z = z - z.mean(1, keepdims=True)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)

    r = np.abs(unit_rows(x) @ unit_rows(y).T)
    rows, cols = linear_sum_assignment(r, maximize=True)
    return float(r[rows, cols].mean())


def aligned_statistic(a: list[np.ndarray], b: list[np.ndarray], images: int) -> tuple[float, list[tuple[int, float, float]]] | None:
    """(mean matched correlation above chance over the paired layers but either model's first, weighted by units;
    per such layer (units, matched correlation, its chance level)), or None when no such layer pairs up."""
    inner = [(i, j) for i, j in paired_layers(a, b) if i and j]  # first layers: edge detectors in every model
    if not inner:
        return None
    rng = np.random.default_rng(SHUFFLE_SEED)
    rows = []
    for i, j in inner:
        observed = matched_correlation(a[i], b[j])
        shuffled = b[j].reshape(len(b[j]), images, -1)[:, rng.permutation(images)].reshape(len(b[j]), -1)
        chance = matched_correlation(a[i], shuffled)
        rows.append((len(a[i]), observed, chance))
    units = sum(n for n, _, _ in rows)
    return sum(n * (r - c) for n, r, c in rows) / units, rows


def activations_aligned(records: dict[str, ScoreRecord], baseline: ScoreRecord, threshold: float):
    """Each pair's aligned statistic against `threshold`; not flagged when both are that close to the baseline."""

    sig = {team: signatures(r) for team, r in records.items()}
    if not any(sig.values()):
        return _check("activations_aligned", [], [], "no record has unit signatures (scored by an older fercomp)")
    base = signatures(baseline)

    def statistic(x, y):
        if x is None or y is None or x[:2] != y[:2]:
            return None
        return aligned_statistic(x[2], y[2], x[1])

    near_base = {}
    for team, s in sig.items():
        found = statistic(s, base)
        near_base[team] = found is not None and found[0] >= threshold
    rows, values = [], []
    for a, b in _pairs(records):
        found = statistic(sig[a], sig[b])
        if found is None:
            continue
        value, layers = found
        values.append(value)
        both_baseline = near_base[a] and near_base[b]
        flagged = value >= threshold and not both_baseline
        per_layer = ", ".join(f"{n} units r {r:.2f} (chance {c:.2f})" for n, r, c in layers)
        note = "; both are as near the baseline, so not flagged" if both_baseline and value >= threshold else ""
        rows.append(Finding((a, b), value, None, flagged,
                            f"matched units' correlation {value:.3f} above chance over {len(layers)} layer(s): "
                            f"{per_layer}{note}"))
    if not rows:
        return _check("activations_aligned", [], [], "no two records have unit signatures on the same probe faces "
                      "with a hidden layer of equal width")
    return _check("activations_aligned", rows, values)

"""Copies the plain weight sketch cannot see: hidden units permuted, and data kept in buffers.

- weights_permuted, per pair: the cosine of the sketches taken in canonical unit order (fercomp/measure/sketch.py),
  which a permutation of hidden units does not change. Independently trained models stay far below the
  threshold (the sort lines up units of similar size, not the same units); a permuted copy fine-tuned briefly
  keeps most of it.
- large_buffers, per team: buffers and lifted constants big enough to hold data (a lookup of faces, a copied
  model): not a finding by itself, but a note, since the copy checks now compare them like weights.
"""

from __future__ import annotations

from fercomp.audit.model import Check, Finding
from fercomp.audit.pairs import _check, _pairs, sketch_cosine, sketches
from fercomp.records import ScoreRecord

#: elements: a buffer at least this big could hold about 28 faces of 48×48; BatchNorm statistics are far smaller
DATA_BUFFER_ELEMENTS = 65_536


def weights_permuted(records: dict[str, ScoreRecord], baseline: ScoreRecord, threshold: float,
                     plain_threshold: float) -> Check:
    plain = {team: sketches(r) for team, r in records.items()}
    canon = {team: sketches(r, "canonical") for team, r in records.items()}
    if not any(canon.values()):
        return _check("weights_permuted", [], [], "no record has a canonical weights sketch (scored by an older fercomp)")
    base = sketches(baseline, "canonical")
    near_base = {t: s is not None and base is not None and sketch_cosine(s, base)[0] >= threshold for t, s in canon.items()}
    rows, values = [], []
    for a, b in _pairs(records):
        if canon[a] is None or canon[b] is None:
            continue
        cosine, share = sketch_cosine(canon[a], canon[b])
        if share == 0:
            continue
        values.append(cosine)
        # Already named by weights_cosine in the plain order: this check is for what that one cannot see.
        same_order = plain[a] is not None and plain[b] is not None and sketch_cosine(plain[a], plain[b])[0] >= plain_threshold
        both_baseline = near_base[a] and near_base[b]
        flagged = cosine >= threshold and share >= 0.5 and not both_baseline and not same_order
        why = ("; both are near the baseline's weights, so not flagged" if both_baseline and cosine >= threshold else
               "; near in the plain order too (weights_cosine)" if same_order and cosine >= threshold else "")
        rows.append(Finding((a, b), cosine, None, flagged,
                            f"cosine {cosine:.3f} in canonical unit order over {share:.0%} of the weights{why}"))
    return _check("weights_permuted", rows, values)


def large_buffers(records: dict[str, ScoreRecord]) -> list[str]:
    """A note per team whose buffers or constants are big enough to hold data."""
    notes = []
    for team in sorted(records):
        held = [t for t in (records[team].weights_sketch or {}).get("tensors") or []
                if t.get("kind") in ("buffer", "constant")]
        total = sum(int(t["elements"]) for t in held)
        if total >= DATA_BUFFER_ELEMENTS:
            largest = max(held, key=lambda t: t["elements"])
            notes.append(f"{team} keeps {total:,} numbers outside its parameters (largest: {largest['kind']} "
                         f"'{largest['name']}', {'×'.join(map(str, largest['shape']))}): enough to hold data; the copy "
                         "checks compare them like weights")
    return notes

"""Copied or colluding: checks over every pair of teams (the baseline is left out of every pair).

Inputs: the records' hashes, weight sketches and per-image predictions, and the hand-ins' .py files as text
(read, never run). Pairs are listed when flagged or among the closest few, so a report stays readable.
"""

from __future__ import annotations

import base64
import itertools
import zlib
from pathlib import Path

import numpy as np

from fercomp.audit.model import CHECKS, Check, Finding
from fercomp.audit.statistics import cohort, error_consistency, fewer_disagreements, holm
from fercomp.errors import RecordError
from fercomp.records import ScoreRecord, decode_predictions

KAPPA_BOUND_MAX = 0.95  # the behaviour check's null never claims more than this κ is ordinary
SHOWN = 5  # unflagged pairs listed per check, closest first, beside every flagged one


def _pairs(records: dict[str, ScoreRecord]):
    return itertools.combinations(sorted(records), 2)


def _check(check_id: str, rows: list[Finding], values: list[float], not_run: str | None = None) -> Check:
    title, statistic, rule = CHECKS[check_id]
    if not_run:
        return Check(check_id, title, statistic, rule, not_run=not_run)
    ranked = sorted(rows, key=lambda f: (not f.flagged, -(f.value or 0.0), f.teams))
    shown = [f for f in ranked if f.flagged] + [f for f in ranked if not f.flagged][:SHOWN]
    return Check(check_id, title, statistic, rule, tuple(shown), cohort(values))


def identical_files(records: dict[str, ScoreRecord], baseline: ScoreRecord, starters: frozenset[str] = frozenset()) -> Check:
    """`starters`: sha256 of the course's example and starter files, which teams share without copying each other."""
    shared = starters | {baseline.submission.get("sha256")}
    rows = []
    for a, b in _pairs(records):
        sa, sb = records[a].submission, records[b].submission
        same = []
        if sa.get("sha256") and sa.get("sha256") == sb.get("sha256") and sa.get("sha256") not in shared:
            same.append(".py")
        if sa.get("weights_sha256") and sa.get("weights_sha256") == sb.get("weights_sha256"):
            same.append("weights")
        elif _same_tensors(records[a], records[b]) and not _same_tensors(records[a], baseline):
            same.append("weight tensors (files differ, every tensor's sketch is equal)")
        if same:
            rows.append(Finding((a, b), 1.0, None, True, f"byte-identical {' and '.join(same)}"))
    return _check("identical_files", rows, [])


def _same_tensors(a: ScoreRecord, b: ScoreRecord) -> bool:
    """Every weight tensor equal: the sketches are a deterministic function of the tensors, so equal tensors give
    equal bytes (two different tensors giving equal sketches is vanishingly unlikely)."""
    sa, sb = a.weights_sketch or {}, b.weights_sketch or {}
    shapes = [[t["shape"] for t in s.get("tensors") or []] for s in (sa, sb)]  # names may be renamed: not compared
    return bool(shapes[0]) and shapes[0] == shapes[1] and sa.get("data") == sb.get("data")


def sketches(record: ScoreRecord, field: str = "data") -> list[tuple[tuple, int, np.ndarray]] | None:
    """(shape, elements, sketch row) per tensor, or None when the record has no readable sketch; `field` "canonical"
    reads the sketch taken in canonical unit order (fercomp/measure/sketch.py)."""
    blob = record.weights_sketch
    try:
        raw = zlib.decompress(base64.b64decode(blob[field], validate=True))
        rows = np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(len(blob["tensors"]), blob["width"])
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    return [(tuple(t["shape"]), int(t["elements"]), row) for t, row in zip(blob["tensors"], rows)]


def sketch_cosine(a: list, b: list) -> tuple[float, float]:
    """(size-weighted mean cosine over tensors of the same shape paired in order, share of the weights paired)."""
    by_shape: dict[tuple, list] = {}
    for shape, elements, row in b:
        by_shape.setdefault(shape, []).append((elements, row))
    total = sum(e for _, e, _ in a) + sum(e for _, e, _ in b)
    weighted, paired = 0.0, 0
    for shape, elements, row in a:
        if not by_shape.get(shape):
            continue
        _, other = by_shape[shape].pop(0)
        norms = np.linalg.norm(row) * np.linalg.norm(other)
        if norms > 0:
            weighted += elements * float(row @ other / norms)
            paired += elements
    return (weighted / paired if paired else 0.0), (2 * paired / total if total else 0.0)


def weights_cosine(records: dict[str, ScoreRecord], baseline: ScoreRecord, threshold: float) -> Check:
    sk = {team: sketches(r) for team, r in records.items()}
    if not any(sk.values()):
        return _check("weights_cosine", [], [], "no record has a weights sketch (scored by an older fercomp)")
    base = sketches(baseline)
    from_baseline = {t: s is not None and base is not None and sketch_cosine(s, base)[0] >= threshold for t, s in sk.items()}
    rows, values = [], []
    for a, b in _pairs(records):
        if sk[a] is None or sk[b] is None:
            continue
        cosine, share = sketch_cosine(sk[a], sk[b])
        if share == 0:
            continue
        values.append(cosine)
        both_baseline = from_baseline[a] and from_baseline[b]
        flagged = cosine >= threshold and share >= 0.5 and not both_baseline
        note = "; both are near the baseline's weights, so not flagged" if both_baseline and cosine >= threshold else ""
        rows.append(Finding((a, b), cosine, None, flagged, f"cosine {cosine:.3f} over {share:.0%} of the weights{note}"))
    return _check("weights_cosine", rows, values)


def behaviour(records: dict[str, ScoreRecord], alpha: float) -> Check:
    correct, ids = {}, {}
    for team, record in records.items():
        try:
            rows = decode_predictions(record)
        except RecordError:
            continue
        correct[team], ids[team] = rows[:, 0] == rows[:, 1], (record.predictions or {}).get("ids_sha256")
    stats = {}
    for a, b in itertools.combinations(sorted(correct), 2):
        found = error_consistency(correct[a], correct[b]) if ids[a] == ids[b] else None
        if found is not None:
            stats[(a, b)] = (*found, len(correct[a]))
    if not stats:
        return _check("behaviour", [], [], "fewer than two records with per-image predictions of the same images")
    centre = cohort([k for k, _, _, _ in stats.values()])
    # What the cohort makes unremarkable: its median κ plus three spreads (below a perfect 1, so a copy stands out).
    bound = min(centre["median"] + 3 * centre["spread"], KAPPA_BOUND_MAX)
    raw = {pair: fewer_disagreements(observed, expected, n, bound) for pair, (_, observed, expected, n) in stats.items()}
    adjusted = dict(zip(raw, holm(list(raw.values()))))
    rows = [Finding(pair, k, adjusted[pair], adjusted[pair] < alpha,
                    f"κ {k:.3f} against the cohort's median {centre['median']:.3f} (spread {centre['spread']:.3f}); "
                    f"tested against κ = {bound:.3f}; same right/wrong on {observed:.1%} of {n} images")
            for pair, (k, observed, _, n) in stats.items()]
    return _check("behaviour", rows, [k for k, _, _, _ in stats.values()])


def code_similarity(records: dict[str, ScoreRecord], submissions: Path | None, baseline_py: Path | None,
                    threshold: float, starters: tuple[Path, ...] = ()) -> Check:
    """`starters`: the course's example and starter files, removed as boilerplate like the baseline's code."""
    if submissions is None:
        return _check("code_similarity", [], [], "no submissions folder given")
    from fercomp.audit.fingerprint import CodeFingerprint, compare_files

    # copydetect's defaults: noise threshold 25 tokens, guarantee threshold 30 → winnowing window 6
    k, window = 25, 6
    shared_hashes: set = set()
    for shared in (baseline_py, *starters):
        if shared is not None and shared.is_file():
            shared_hashes |= set(CodeFingerprint(str(shared), k, 1).hashes)
    boilerplate = sorted(shared_hashes)  # copydetect takes the list as unique (np.intersect1d(assume_unique=True))
    prints = {}
    for team in sorted(records):
        path = Path(submissions) / f"{team}.py"
        if path.is_file():
            prints[team] = CodeFingerprint(str(path), k, window, boilerplate=boilerplate)
    rows, values = [], []
    for a, b in itertools.combinations(sorted(prints), 2):
        _, (share_a, share_b), _ = compare_files(prints[a], prints[b])
        value = float(min(share_a, share_b))
        values.append(value)
        rows.append(Finding((a, b), value, None, value >= threshold,
                            f"{share_a:.0%} of {a}.py and {share_b:.0%} of {b}.py in common fingerprints"))
    return _check("code_similarity", rows, values)

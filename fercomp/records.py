"""The score record: the one thing that crosses from measuring to marking and rendering.

One JSON file per submission × split, written atomically. Readers check `schema` before anything
else; a record of another schema version is refused with a clear message, never half-read. Version 2
added `higher_is_better`, `precision`, `weights_dtype`, `settings`, `settings_sha256` and
`isolation_notes`, and fercomp's git revision in `environment`. Version 3 added the per-image
`predictions` (so paired tests need no re-scoring), `intervals`, `params_bits` and `roofline`, and the
MicroNet count in `flops`. Version 4 measures the exported graph: `measured` says how (and the
graph's sha256), `sandbox` which jail and seccomp policy held the hand-in. Version 5 (this one) adds what
the audit reads: each image's true-class log-probability, a sketch of the weights, and the final phase's
audit passes (the same graph on the public split, a Training sample, the private supplement, perturbed
copies). Older records still read (new fields take their defaults) and are stale.
Records are immutable: scoring builds one with `dataclasses.replace`. The published JSON Schema is
generated from this class (fercomp/schema.py).
No torch, no submissions: marks, leaderboards and renderers import only this.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fercomp.atomic import write_text
from fercomp.errors import RecordError
from fercomp.hashing import sha256_bytes, sha256_text

SCHEMA = "fercomp.score/5"
READABLE_SCHEMAS = ("fercomp.score/1", "fercomp.score/2", "fercomp.score/3", "fercomp.score/4", SCHEMA)

#: Which direction is better for each headline metric (so every reader ranks the same way).
HIGHER_IS_BETTER = {"accuracy": True, "top2_accuracy": True, "efficiency": True, "gflops": False,
                    "latency_ms_p50": False, "params_total": False, "macro_f1": True}
PREDICTIONS_ENCODING = ("fercomp.predictions/1: base64 of zlib of uint8 rows [true class, top-1, top-2], one per image "
                        "in the split's sample order, classes in the canonical order 0 Angry … 6 Neutral")
LOG_PROB_ENCODING = ("fercomp.logprob/1: base64 of zlib of little-endian float16, one per image in the split's sample "
                     "order: the natural log of the softmax probability the model gave the true class")


@dataclass(frozen=True)
class ScoreRecord:
    schema: str  # always SCHEMA
    status: str  # "scored" or "failed"
    submission: dict  # name, path, sha256, weights_path, weights_sha256, preprocess, class_order
    data: dict  # source, sha256, layout, split, size (images scored)
    environment: dict  # fercomp, torch, python versions; device, cpu model, threads, gpu name
    timestamp: str  # UTC, ISO 8601, when scoring finished
    isolation: list[str]  # sandbox layers that were active: nsjail, seccomp (older records: namespaces, rlimits, audit)
    accuracy: float | None = None  # correct / total over the whole split, as a fraction 0–1
    top2_accuracy: float | None = None  # true class among the two highest outputs
    per_class: list[dict] = field(default_factory=list)  # class, precision, recall, f1, support
    averages: dict = field(default_factory=dict)  # macro and weighted precision/recall/f1
    confusion_matrix: list[list[int]] = field(default_factory=list)  # rows true, columns predicted
    params_total: int | None = None  # every parameter element
    params_trainable: int | None = None  # those with requires_grad
    weight_bytes: int | None = None  # parameters + buffers in memory, bytes
    gflops: float | None = None  # official: fvcore total on one preprocessed input / 1e9 (1 MAC = 1 FLOP)
    flops: dict = field(default_factory=dict)  # every counter's figure, unsupported ops, check, check_detail
    efficiency: float | None = None  # accuracy % ÷ gflops
    efficiency_inputs: dict = field(default_factory=dict)  # accuracy_percent, gflops, formula
    latency: dict = field(default_factory=dict)  # latency_ms_p50/p90, queries, throughput, config, check, clock_check (advisory)
    flags: list[str] = field(default_factory=list)  # reasons to distrust a figure (FLOP disagreement, …)
    failure: dict | None = None  # reason, detail, phase, log_tail (bounded) when status == "failed"
    peak_rss_mb: float | None = None  # worker's peak resident memory
    higher_is_better: dict = field(default_factory=lambda: dict(HIGHER_IS_BETTER))  # per headline metric
    precision: str = "fp32"  # what the evaluation computed in (float32 inputs; TF32 off on CUDA)
    weights_dtype: str | None = None  # the dtype most of the model's parameters have (e.g. float32, bfloat16)
    settings: dict = field(default_factory=dict)  # device, threads, batch size, latency, limits, sandbox, fercomp version …
    settings_sha256: str | None = None  # sha256 of `settings`: a record scored under other settings is stale
    isolation_notes: list[str] = field(default_factory=list)  # why a layer was weaker or missing (namespaces unavailable, …)
    params_bits: int | None = None  # parameter storage: elements × bits of their dtype (MicroNet's precision credit)
    # per image, for paired statistics without re-scoring (see PREDICTIONS_ENCODING): encoding, images,
    # ids_sha256 (the sample ids in order), sha256 (of the decoded bytes, checked on every read), data.
    # It holds the split's true classes: keep records as private as the data.
    predictions: dict | None = None
    intervals: dict = field(default_factory=dict)  # confidence, resamples, seed, accuracy_wilson, macro_f1_bootstrap …
    # time per image × this machine's multiply-add rate against the counted multiply-adds (fercomp/measure/roofline.py)
    roofline: dict = field(default_factory=dict)
    # wall seconds per phase: worker_ready_wait (after the data load), load, signatures, flops, predict, latency
    timings: dict = field(default_factory=dict)
    # how the figures were measured: "exported" (torch.export), torch version, the exported program's sha256,
    # whether it came from the cache of exported programs (keyed by the hand-in's content), graph operators
    measured: dict = field(default_factory=dict)
    # the jail: kind ("nsjail", or "none" with why_not), the seccomp policy's sha256, the uid inside
    sandbox: dict = field(default_factory=dict)
    # per image, the log-probability of the true class (LOG_PROB_ENCODING): the audit's per-image loss
    true_class_log_prob: dict | None = None
    # every tensor of the exported program (parameters, buffers, constants), sketched in its own order and in a
    # canonical unit order (fercomp/measure/sketch.py): how the audit finds near-copies, permuted ones too
    weights_sketch: dict | None = None
    # final phase only: the same graph on other images, by view (public, training_sample, supplement, perturbed):
    # images, correct, accuracy, nll_mean, nll_sd, log_prob_counts (the confidence histogram) and what the view is;
    # perturbed also by_kind (fercomp/audit_passes.py)
    audit_views: dict = field(default_factory=dict)
    # per layer (convolution, linear) of the exported graph, each unit's spatially averaged output on the run's probe
    # faces, z-scored and quantised (fercomp/measure/activations.py), and `probe`: which faces (the private supplement's
    # or the scored split's first ones) and their pixels' sha256: how the audit lines up a permuted copy's units.
    # Final phase only (None where no audit is scored)
    unit_signatures: dict | None = None

    @property
    def name(self) -> str:
        return self.submission["name"]

    @property
    def split(self) -> str:
        return self.data["split"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"


def encode_predictions(labels: np.ndarray, top1: np.ndarray, top2: np.ndarray, ids: np.ndarray) -> dict:
    """The per-image facts of a scored record, compactly: about 5 KB for 3,589 images."""
    rows = np.stack([labels, top1, top2], axis=1).astype(np.uint8)
    raw = rows.tobytes()
    return {"encoding": PREDICTIONS_ENCODING, "images": len(rows), "ids_sha256": ids_sha256(ids),
            "sha256": sha256_bytes(raw), "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def encode_log_probs(values: np.ndarray) -> dict:
    """Per-image true-class log-probabilities as float16 (about 5 KB for 3,589 images)."""
    raw = np.asarray(values, dtype="<f2").tobytes()
    return {"encoding": LOG_PROB_ENCODING, "images": len(values), "sha256": sha256_bytes(raw),
            "data": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def decode_log_probs(record: "ScoreRecord") -> np.ndarray | None:
    """The per-image true-class log-probabilities, or None when the record has none or they were altered."""
    blob = record.true_class_log_prob
    try:
        raw = zlib.decompress(base64.b64decode(blob["data"], validate=True))
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if sha256_bytes(raw) != blob.get("sha256"):
        return None
    return np.frombuffer(raw, dtype="<f2").astype(np.float64)


def ids_sha256(ids) -> str:
    """One hash of the sample ids in order: two records are paired only when theirs are equal."""
    return sha256_text("\n".join(map(str, ids)))


def decode_predictions(record: "ScoreRecord") -> np.ndarray:
    """images × 3 uint8 (true, top-1, top-2); a RecordError if the record has none or they were altered."""
    blob = record.predictions
    if not blob:
        raise RecordError(f"record of '{record.name}' has no per-image predictions (scored by an older fercomp); "
                          "re-score it")
    try:
        raw = zlib.decompress(base64.b64decode(blob["data"], validate=True))
    except (KeyError, ValueError, zlib.error) as exc:
        raise RecordError(f"record of '{record.name}': predictions are not readable ({exc}); re-score it") from None
    if sha256_bytes(raw) != blob.get("sha256") or len(raw) != 3 * blob.get("images", -1):
        raise RecordError(f"record of '{record.name}': predictions do not match their sha256; the record was altered, "
                          "re-score it")
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)


def record_path(out_dir: Path, name: str, split: str) -> Path:
    """<out>/<name>.<split>.json: the public and private phases never overwrite each other."""
    return Path(out_dir) / f"{name}.{split}.json"


def write_record(record: ScoreRecord, out_dir: Path, private: bool = False) -> Path:
    """Write atomically: a reader sees the previous record or the whole new one (0600 when `private`: the final
    phase's held-out figures)."""
    path = record_path(out_dir, record.name, record.split)
    write_text(path, record.to_json(), private=private)
    return path


def read_record(path: Path) -> ScoreRecord:
    """Parse a record, refusing other schemas and malformed files with a one-line error."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: not a valid JSON record ({exc}); re-score the submission") from None
    if not isinstance(raw, dict) or raw.get("schema") not in READABLE_SCHEMAS:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise RecordError(f"{path}: record schema {found!r}, expected {SCHEMA!r}; re-score with this fercomp")
    problem = _malformed(raw)
    if problem:
        raise RecordError(f"{path}: malformed record: {problem}; re-score the submission")
    try:
        return ScoreRecord(**raw)
    except TypeError as exc:
        raise RecordError(f"{path}: malformed record ({exc}); re-score the submission") from None


_NUMBER = (int, float)
#: field path → (accepted types, required); "a.b" is key b of the object at a.
_FIELDS = {
    "status": (str, True), "submission": (dict, True), "submission.name": (str, True),
    "submission.sha256": ((str, type(None)), True), "data": (dict, True), "data.split": (str, True),
    "data.sha256": ((str, type(None)), False), "data.size": (int, True), "environment": (dict, True),
    "timestamp": (str, True), "isolation": (list, True), "flags": (list, False),
}
_SCORED = {"accuracy": _NUMBER, "confusion_matrix": list, "gflops": (*_NUMBER, type(None)),
           "efficiency": (*_NUMBER, type(None)), "per_class": list}


def _malformed(raw: dict) -> str | None:
    """The first field that is missing or of the wrong type, named; None for a well-formed record."""
    for name, (types, required) in _FIELDS.items():
        parent, _, key = name.rpartition(".")
        owner = raw.get(parent) if parent else raw
        if not isinstance(owner, dict) or key not in owner:
            if required:
                return f"field {name} is missing"
            continue
        value = owner[key]
        if not isinstance(value, types) or isinstance(value, bool) and types in (int, _NUMBER):
            return f"field {name} is {type(value).__name__}, not {_type_words(types)}"
    if raw["status"] not in ("scored", "failed"):
        return f"field status is {raw['status']!r}, not 'scored' or 'failed'"
    name = raw["submission"]["name"]
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return f"field submission.name {name!r} is not a team name"
    if raw["status"] == "scored":
        for key, types in _SCORED.items():
            if not isinstance(raw.get(key), types) or isinstance(raw.get(key), bool):
                return f"field {key} is {type(raw.get(key)).__name__} in a scored record"
        if not 0.0 <= raw["accuracy"] <= 1.0:
            return f"field accuracy is {raw['accuracy']}, outside 0–1"
    return None


def _type_words(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)

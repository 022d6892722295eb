"""The score record: the one thing that crosses from measuring to marking and rendering.

One JSON file per submission × split, written atomically. Readers check `schema` before anything
else; a record of another schema version is refused with a clear message, never half-read.
No torch, no submissions: marks, leaderboards and renderers import only this.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fercomp.atomic import write_text
from fercomp.errors import RecordError

SCHEMA = "fercomp.score/1"

#: Which direction is better for each headline metric (so every reader ranks the same way).
HIGHER_IS_BETTER = {"accuracy": True, "top2_accuracy": True, "efficiency": True, "gflops": False,
                    "latency_ms_p50": False, "params_total": False}


@dataclass
class ScoreRecord:
    schema: str  # always SCHEMA
    status: str  # "scored" or "failed"
    submission: dict  # name, path, sha256, weights_path, weights_sha256, preprocess, class_order
    data: dict  # source, sha256, layout, split, size (images scored)
    environment: dict  # fercomp, torch, python versions; device, cpu model, threads, gpu name
    timestamp: str  # UTC, ISO 8601, when scoring finished
    isolation: list[str]  # sandbox layers that were active: namespaces, rlimits, audit
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
    latency: dict = field(default_factory=dict)  # latency_ms_p50/p90, queries, throughput, config, check
    flags: list[str] = field(default_factory=list)  # reasons to distrust a figure (FLOP disagreement, …)
    failure: dict | None = None  # reason, detail, phase, log_tail (bounded) when status == "failed"
    peak_rss_mb: float | None = None  # worker's peak resident memory
    isolation_notes: list[str] = field(default_factory=list)  # why a layer was weaker or missing (namespaces unavailable, …)
    timings: dict = field(default_factory=dict)  # wall seconds per phase: worker_ready_wait (after the data load), load, flops, predict, latency

    @property
    def name(self) -> str:
        return self.submission["name"]

    @property
    def split(self) -> str:
        return self.data["split"]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"


def record_path(out_dir: Path, name: str, split: str) -> Path:
    """<out>/<name>.<split>.json: the public and private phases never overwrite each other."""
    return Path(out_dir) / f"{name}.{split}.json"


def write_record(record: ScoreRecord, out_dir: Path) -> Path:
    """Write atomically: a reader sees the previous record or the whole new one."""
    path = record_path(out_dir, record.name, record.split)
    write_text(path, record.to_json())
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
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
        raise RecordError(f"{path}: record schema {found!r}, expected {SCHEMA!r}; re-score with this fercomp")
    try:
        return ScoreRecord(**raw)
    except TypeError as exc:
        raise RecordError(f"{path}: malformed record ({exc})") from None

"""One typed session over a sandboxed worker: the only way the trusted side uses a submission.

Requests (each answered by fercomp/submission/worker.py, framed by protocol.py):
- load(files, …)     build the model from the staged .py, memory-map the staged weights → parameter counts
- flops(tolerance)   every FLOP counter on one preprocessed input → counts and the cross-check
- predict(images)    uint8 N×48×48 → validated float32 N×7 outputs in the canonical class order
- latency(config)    batch-1 timings on a few images → percentiles and their outputs
- summary()          every leaf module: output shape, own parameters, fvcore FLOPs
- probe()            this machine's fp32 multiply-add rate (before load only: no submitted code has run)

scoring, checking, report and predict all go through here, so each request is spelled once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fercomp.data.labels import CLASS_NAMES, NUM_CLASSES
from fercomp.submission.contract import SubmissionFiles
from fercomp.submission.runner import Limits, WorkerFailure, WorkerProcess


def load(worker: WorkerProcess, files: SubmissionFiles, *, trust_pickle: bool = False, require_weights: bool = True,
         build_kwargs: dict | None = None) -> dict:
    """Build the submission in the worker and load its weights; the worker's answer (parameter counts)."""
    hint = (f"no weights found for {files.path.name}: put {files.path.stem}.pt beside it, set WEIGHTS = \"…\" "
            "(or WEIGHTS_URL and WEIGHTS_SHA256) in the file, or pass --weights")
    answer, _ = worker.call("load", {
        "source": files.source, "filename": str(worker.submission_file), "module": f"submission_{files.name}",
        "preprocess": files.preprocess.to_dict(), "weights_format": files.weights_format,
        "trust_pickle": trust_pickle, "require_weights": require_weights, "weights_hint": hint,
        "build_kwargs": dict(build_kwargs or {}), "weights_file": str(worker.weights_file) if worker.weights_file else None,
    }, max_payload=0)
    return answer


def to_canonical(outputs: np.ndarray, files: SubmissionFiles) -> np.ndarray:
    """Columns in the canonical class order (Angry … Neutral) for a model that declared CLASS_ORDER."""
    if not files.class_order:
        return outputs
    return outputs[:, [files.class_order.index(name) for name in CLASS_NAMES]]


def predict_all(worker: WorkerProcess, images: np.ndarray, batch_size: int,
                files: SubmissionFiles) -> tuple[np.ndarray, list[float]]:
    """The submission's outputs for every image, checked, in canonical class order, and each batch's forward time."""
    chunks, seconds = [], []
    for start in range(0, len(images), batch_size):
        batch = np.ascontiguousarray(images[start : start + batch_size])
        header, raw = worker.call("predict", {"shape": list(batch.shape)}, batch.tobytes(),
                                  max_payload=len(batch) * NUM_CLASSES * 4)
        chunks.append(validated_outputs(header, raw, len(batch), worker))
        seconds.append(float(header.get("forward_s") or 0.0))
    return to_canonical(np.concatenate(chunks), files), seconds


def validated_outputs(header: dict, raw: bytes, n: int, worker: WorkerProcess) -> np.ndarray:
    """The raw float32 answer as N×7, or a WorkerFailure naming what is wrong with it."""
    shape = header.get("shape")
    if shape != [n, NUM_CLASSES] or len(raw) != n * NUM_CLASSES * 4:
        raise WorkerFailure("wrong_output_shape", f"forward returned shape {shape} for a batch of {n}; expected [{n}, 7]",
                            worker.log_tail(), "predict")
    out = np.frombuffer(raw, dtype="<f4").reshape(n, NUM_CLASSES)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).any(axis=1).sum())
        raise WorkerFailure("non_finite_output", f"{bad} of {n} outputs contain NaN or infinity", worker.log_tail(), "predict")
    return out


def flops(worker: WorkerProcess, tolerance: float) -> dict:
    """Every FLOP counter's figure on one preprocessed input, the official GFLOPs and the cross-check."""
    return worker.call("flops", {"tolerance": tolerance}, max_payload=0)[0]


def latency(worker: WorkerProcess, config: dict, probes: np.ndarray) -> tuple[dict, bytes]:
    """Batch-1 timings over `probes` (uint8 N×48×48) under `config`; (results, their raw float32 outputs)."""
    probes = np.ascontiguousarray(probes)
    return worker.call("latency", {"config": config, "shape": list(probes.shape)}, probes.tobytes(),
                       max_payload=len(probes) * 4096 * 4)


def summary(worker: WorkerProcess) -> list[dict]:
    """Every leaf module: name, type, output shape on one input, own parameters, fvcore FLOPs."""
    answer, _ = worker.call("summary", {}, max_payload=0)
    return list(answer["layers"])


def probe(worker: WorkerProcess) -> float:
    """The worker's CPU multiply-adds per second (a short fp32 matrix product at the scoring thread count)."""
    return float(worker.call("probe", {}, max_payload=0)[0]["macs_per_s"])


class Session:
    """A worker holding one loaded submission, for the commands that only predict (report, predict)."""

    def __init__(self, files: SubmissionFiles, limits: Limits, device: str, protected: list[Path],
                 trust_pickle: bool = False, build_kwargs: dict | None = None) -> None:
        self.files, self.trust_pickle, self.build_kwargs = files, trust_pickle, build_kwargs
        self.worker = WorkerProcess(limits, device, protected, files.handin())

    def __enter__(self) -> "Session":
        self.worker.__enter__()
        try:
            self.loaded = load(self.worker, self.files, trust_pickle=self.trust_pickle, require_weights=True,
                               build_kwargs=self.build_kwargs)
        except BaseException:
            self.worker.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.worker.__exit__(*exc)

    def predict(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        return predict_all(self.worker, images, batch_size, self.files)[0]

    def summary(self) -> list[dict]:
        return summary(self.worker)

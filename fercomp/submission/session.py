"""One typed session over a hand-in's two jails: the only way the trusted side uses a submission.

Requests:
- load(files, …)     worker: build the model from the staged .py, load the staged weights, torch.export it;
                     measurer: load that exported program → parameter counts. The exported program is cached
                     by the hand-in's content, so a re-score runs no submitted code at all.
- flops(tolerance)   measurer: every FLOP counter on the exported graph, one preprocessed input
- predict(images)    measurer: uint8 N×48×48 → validated float32 N×7 outputs in the canonical class order
- latency(config)    measurer: batch-1 timings on a few images → percentiles and their outputs
- summary()          worker: every leaf module's output shape and parameters (advisory, for check and report)
- probe()            measurer: this machine's fp32 multiply-add rate (before load)

scoring, checking, report and predict all go through here, so each request is spelled once.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from fercomp.atomic import write_bytes
from fercomp.data.labels import CLASS_NAMES, NUM_CLASSES
from fercomp.hashing import sha256_file, sha256_json
from fercomp.measure import activations
from fercomp.submission import export_cache
from fercomp.submission.contract import SubmissionFiles
from fercomp.submission.runner import HandinJails, Limits, WorkerFailure
from fercomp.version import __version__


def artifact_key(files: SubmissionFiles, build_kwargs: dict, trust_pickle: bool, require_weights: bool) -> str:
    """Everything the exported program depends on: the hand-in's bytes, how it is built, fercomp and torch."""
    from importlib.metadata import version

    extra = {name: sha256_file(files.path.parent / name) for name in files.extra_files}
    return sha256_json({"py": files.sha256, "weights": files.weights_sha256, "files": extra, "kwargs": build_kwargs,
                        "preprocess": files.preprocess.to_dict(), "trust_pickle": trust_pickle,
                        "require_weights": require_weights, "fercomp": __version__, "torch": version("torch")})


def exported_cache() -> Path:
    """Exported programs by artifact key (fercomp.submission.export_cache: where, and its bound)."""
    return export_cache.folder()


def prestart(jails: HandinJails, files: SubmissionFiles, *, trust_pickle: bool = False, require_weights: bool = True,
             build_kwargs: dict | None = None) -> None:
    """Start the worker's jail now when its export will be needed, so its imports overlap the measurer's."""
    key = artifact_key(files, dict(build_kwargs or {}), trust_pickle, require_weights)
    if not (exported_cache() / f"{key}.pt2").exists():
        jails.worker()


def load(jails: HandinJails, files: SubmissionFiles, *, trust_pickle: bool = False, require_weights: bool = True,
         build_kwargs: dict | None = None) -> dict:
    """Export the hand-in in the worker (unless cached) and load the exported program in the measurer."""
    kwargs = dict(build_kwargs or {})
    key = artifact_key(files, kwargs, trust_pickle, require_weights)
    cached = exported_cache() / f"{key}.pt2"
    export = {"artifact_sha256": None, "cached": cached.exists(), "key": key}
    if not cached.exists():
        _export(jails, files, trust_pickle, require_weights, kwargs, cached)
    export_cache.mark_used(cached)
    try:
        artifact = os.open(cached, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:  # a parallel job's pruning took it between the check and the open: export it again
        export["cached"] = False
        _export(jails, files, trust_pickle, require_weights, kwargs, cached)
        artifact = os.open(cached, os.O_RDONLY | os.O_NOFOLLOW)
    try:  # the measurer reads the program through this read-only descriptor: pruning cannot take it from under it
        export["artifact_sha256"] = sha256_file(Path(f"/proc/self/fd/{artifact}"))
        jails.measurer.send_descriptor(artifact)
    finally:
        os.close(artifact)
    kept = export_cache.figures(cached, export["artifact_sha256"])
    answer, _ = jails.measurer.call("load", {"preprocess": files.preprocess.to_dict(), "sketch": "weights_sketch" not in kept},
                                    max_payload=0)
    if "weights_sketch" in kept:  # the same bytes, sketched by the same code on an earlier score
        answer["weights_sketch"] = kept["weights_sketch"]
    else:
        export_cache.keep(cached, export["artifact_sha256"], "weights_sketch", answer["weights_sketch"])
    export["figures_kept"] = ["weights_sketch"] if "weights_sketch" in kept else []  # flops adds "flops"
    trainable = answer["params_trainable"]
    return {**answer, "random_init": not files.weights_format and trainable > 0, "export": export}


def _export(jails: HandinJails, files: SubmissionFiles, trust_pickle: bool, require_weights: bool, kwargs: dict,
            cached: Path) -> None:
    worker = _build_in_worker(jails, files, trust_pickle, require_weights, kwargs)
    worker.call("export", {}, max_payload=0)
    write_bytes(cached, _artifact_bytes(Path(worker.home) / "model.pt2", worker, jails.limits.artifact_limit_mb << 20))
    export_cache.prune(export_cache.limit_bytes(), cached.parent, keep=cached)  # the cache stays bounded


def _build_in_worker(jails: HandinJails, files: SubmissionFiles, trust_pickle: bool, require_weights: bool, kwargs: dict):
    """The worker, with the hand-in imported, built and its weights loaded."""
    hint = (f"no weights found for {files.path.name}: put {files.path.stem}.pt beside it, set WEIGHTS = \"…\" "
            "(or WEIGHTS_URL and WEIGHTS_SHA256) in the file, or pass --weights")
    worker = jails.worker()
    worker.call("load", {
        "source": files.source, "filename": jails.inside_submission, "module": f"submission_{files.name}",
        "preprocess": files.preprocess.to_dict(), "weights_format": files.weights_format,
        "trust_pickle": trust_pickle, "require_weights": require_weights, "weights_hint": hint,
        "build_kwargs": files.kwargs_with(kwargs), "weights_file": jails.inside_weights,
    }, max_payload=0)
    return worker


def _artifact_bytes(path: Path, worker, max_bytes: int) -> bytes:
    """The worker's exported program: a regular file in its home (never a link it planted, nor a FIFO that
    would block the parent: opened non-blocking and checked before a byte is read), bounded in size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise WorkerFailure("not_exportable", f"the worker left no exported program ({exc.strerror})", worker.log_tail(),
                            "export") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            raise WorkerFailure("artifact_refused", "the exported program is not a regular file of a sane size",
                                worker.log_tail(), "export")
        return fh.read(max_bytes + 1)


def to_canonical(outputs: np.ndarray, files: SubmissionFiles) -> np.ndarray:
    """Columns in the canonical class order (Angry … Neutral) for a model that declared CLASS_ORDER."""
    if not files.class_order:
        return outputs
    return outputs[:, [files.class_order.index(name) for name in CLASS_NAMES]]


def predict_all(jails: HandinJails, images: np.ndarray, batch_size: int,
                files: SubmissionFiles) -> tuple[np.ndarray, list[float]]:
    """The exported model's outputs for every image, checked, in canonical class order, and each batch's forward time."""
    chunks, seconds = [], []
    for start in range(0, len(images), batch_size):
        batch = np.ascontiguousarray(images[start : start + batch_size])
        header, raw = jails.measurer.call("predict", {"shape": list(batch.shape)}, batch.tobytes(),
                                          max_payload=len(batch) * NUM_CLASSES * 4)
        chunks.append(validated_outputs(header, raw, len(batch), jails))
        seconds.append(float(header.get("forward_s") or 0.0))
    return to_canonical(np.concatenate(chunks), files), seconds


def validated_outputs(header: dict, raw: bytes, n: int, jails: HandinJails) -> np.ndarray:
    """The raw float32 answer as N×7, or a WorkerFailure naming what is wrong with it."""
    shape = header.get("shape")
    if shape != [n, NUM_CLASSES] or len(raw) != n * NUM_CLASSES * 4:
        raise WorkerFailure("wrong_output_shape", f"forward returned shape {shape} for a batch of {n}; expected [{n}, 7]",
                            jails.log_tail(), "predict")
    out = np.frombuffer(raw, dtype="<f4").reshape(n, NUM_CLASSES)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).any(axis=1).sum())
        raise WorkerFailure("non_finite_output", f"{bad} of {n} outputs contain NaN or infinity", jails.log_tail(), "predict")
    return out


def flops(jails: HandinJails, tolerance: float, batch_sizes: list[int] = (), export: dict | None = None) -> dict:
    """Every FLOP counter's figure on the exported graph, the official GFLOPs and the cross-check; the cost table
    counts the graph at batch 1 and at `batch_sizes` (those the accuracy pass uses) as well. Counted on a fixed
    input, so they depend on the program alone: kept beside a cached program (`export`, from load) per request."""
    request = {"tolerance": tolerance, "batch_sizes": list(batch_sizes)}
    program, sha = (exported_cache() / f"{export['key']}.pt2", export["artifact_sha256"]) if export else (None, None)
    name = sha256_json(request)
    kept = export_cache.figures(program, sha).get("flops", {}) if program else {}
    if name in kept:
        export["figures_kept"] = sorted({*export.get("figures_kept", []), "flops"})  # the record says so
        return kept[name]
    counted = jails.measurer.call("flops", request, max_payload=0)[0]
    if program:
        export_cache.keep(program, sha, "flops", {name: counted})
    return counted


def unit_signatures(jails: HandinJails, probes: np.ndarray) -> dict:
    """Each layer's units on `probes` (uint8 N×48×48, the run's probe faces), as the record keeps them
    (fercomp/measure/activations.py). Asked right after load, so the graph runs as loaded, on the CPU."""
    probes = np.ascontiguousarray(probes)
    answer, raw = jails.measurer.call("signatures", {"shape": list(probes.shape)}, probes.tobytes(),
                                      max_payload=activations.MAX_BYTES)
    described = answer["unit_signatures"]
    return {**described, "data": activations.encode(raw)}


def latency(jails: HandinJails, config: dict, probes: np.ndarray, max_seconds: float = 0.0) -> tuple[dict, bytes]:
    """Batch-1 timings over `probes` (uint8 N×48×48) under `config`, the pass bounded by `max_seconds` (0: not);
    (results, their raw float32 outputs)."""
    probes = np.ascontiguousarray(probes)
    return jails.measurer.call("latency", {"config": config, "shape": list(probes.shape), "max_seconds": max_seconds},
                               probes.tobytes(),
                               max_payload=len(probes) * 4096 * 4)


MAX_LAYERS = 10_000  # leaf modules in a layer table: a ResNet-152 has about 400


def summary(jails: HandinJails) -> list[dict]:
    """Every leaf module: name, type, output shape on one input, own parameters (from the worker: advisory).
    The worker runs submitted code, so its table is checked field by field before a renderer sees it."""
    answer, _ = jails.worker().call("summary", {}, max_payload=0)
    layers = answer.get("layers")
    if not (isinstance(layers, list) and len(layers) <= MAX_LAYERS and all(map(_layer_row, layers))):
        raise WorkerFailure("protocol_error", "the worker's layer table is malformed (each row: name and type as text, "
                            f"output shape, parameters and FLOPs as whole numbers; at most {MAX_LAYERS:,} rows)",
                            jails.log_tail(), "summary")
    return layers


def _layer_row(row: object) -> bool:
    def count(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 62

    shape = row.get("output_shape") if isinstance(row, dict) else None
    return (isinstance(row, dict) and set(row) == {"name", "type", "output_shape", "params", "flops"}
            and all(isinstance(row[k], str) and len(row[k]) <= 200 for k in ("name", "type"))
            and count(row["params"]) and count(row["flops"])
            and (shape is None or (isinstance(shape, str) and len(shape) <= 200)
                 or (isinstance(shape, list) and len(shape) <= 8 and all(map(count, shape)))))


def reference_seconds(jails: HandinJails) -> float:
    """Seconds per image of fercomp's own reference graph, timed by the measurer in this run."""
    return float(jails.measurer.call("reference", {}, max_payload=0)[0]["seconds_per_image"])


def probe(jails: HandinJails) -> float:
    """The measurer's CPU multiply-adds per second (a short fp32 matrix product at the scoring thread count)."""
    return float(jails.measurer.call("probe", {}, max_payload=0)[0]["macs_per_s"])


class Session:
    """A hand-in's jails holding its exported program, for the commands that only predict (report, predict)."""

    def __init__(self, files: SubmissionFiles, limits: Limits, device: str, protected: list[Path] = (),
                 trust_pickle: bool = False, build_kwargs: dict | None = None) -> None:
        self.files, self.trust_pickle, self.build_kwargs = files, trust_pickle, build_kwargs
        self.jails = HandinJails(limits, device, files.handin(), protected=[str(p) for p in protected])

    def __enter__(self) -> "Session":
        self.jails.__enter__()
        try:
            self.loaded = load(self.jails, self.files, trust_pickle=self.trust_pickle, require_weights=True,
                               build_kwargs=self.build_kwargs)
        except BaseException:
            self.jails.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.jails.__exit__(*exc)

    def predict(self, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
        return predict_all(self.jails, images, batch_size, self.files)[0]

    def summary(self) -> list[dict]:
        """The layer table; on a cached export the worker is started for it (it builds the model again)."""
        if not self.jails.worker_running:
            _build_in_worker(self.jails, self.files, self.trust_pickle, True, dict(self.build_kwargs or {}))
        return summary(self.jails)

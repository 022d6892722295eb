"""Score one submission: data → sandboxed worker → measurements → score record.

The trusted parent holds the labels and sample ids; the worker receives uint8 images only, in
batches, and returns raw float32 outputs that the parent validates and turns into metrics.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from fercomp import devices
from fercomp.audit_passes import AuditPasses, View, cohort_views, for_phase, score_views, true_class_log_probs
from fercomp.config import DEFAULT_MEMORY_MB, DEFAULT_TIME_S, LatencyConfig, check_supplement
from fercomp.data.cache import cache_dir
from fercomp.data.dataset import FERData
from fercomp.data.labels import CLASS_NAMES, NUM_CLASSES
from fercomp.data.source import load_data
from fercomp.errors import SubmissionError, UsageError
from fercomp.hashing import sha256_bytes, sha256_file, sha256_json
from fercomp.measure import metrics, roofline, stats
from fercomp.measure.activations import PROBE_IMAGES
from fercomp.measure.flops import DEFAULT_TOLERANCE
from fercomp.phases import guard_public
from fercomp.provenance import cpu_model, environment, package_version
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs, encode_predictions, write_record
from fercomp.submission import session
from fercomp.submission.contract import SubmissionFiles, read_submission
from fercomp.submission.runner import HandinJails, Limits, WorkerFailure, use_jail
from fercomp.version import __version__

LATENCY_PROBES = 16


@dataclass(frozen=True)
class ScoreConfig:
    """Everything that decides a score; recorded alongside it."""

    data: Path
    split: str | None = None  # default: the source's held-out split
    held_out: str | None = None
    device: str = "auto"
    out_dir: Path | None = Path("reports/results")
    batch_size: int = 128
    limits: Limits = field(default_factory=Limits)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    flops_tolerance: float = DEFAULT_TOLERANCE
    weights: Path | None = None
    trust_pickle: bool = False
    require_weights: bool = True
    max_weights_mb: int = 1024
    model_kwargs: tuple[tuple[str, object], ...] = ()  # passed to build_model(**kwargs), e.g. by an ablation row
    phase: str | None = None  # "public" refuses the held-out split (see fercomp.phases)
    audit: AuditPasses | None = None  # the final phase's extra views for the audit (fercomp/audit_passes.py)
    # final phase with [marks] held_out_includes_supplement: (path, sha256) of the supplement pooled into held-out
    held_out_supplement: tuple[str, str] | None = None

    @classmethod
    def from_options(cls, *, data, device: str = "auto", out=None, split: str | None = None, held_out: str | None = None,
                     batch_size: int = 128, time_limit: float = DEFAULT_TIME_S, memory_limit: int = DEFAULT_MEMORY_MB,
                     sandbox: str = "auto", threads: int = 0, latency_queries: int = 100, latency_seconds: float = 1.0,
                     latency_warmup: int | None = None, weights=None, trust_pickle: bool = False,
                     allow_random_init: bool = False, phase: str | None = None, **ignored) -> "ScoreConfig":
        """The settings the command-line options ask for (each validated, a one-line error otherwise)."""
        devices.validate(device)
        if sandbox not in ("auto", "required", "off"):
            raise UsageError(f"--sandbox {sandbox}: expected auto, required or off")
        limits = Limits(time_limit_s=time_limit, memory_limit_mb=memory_limit, sandbox=sandbox,
                        **({"threads": threads} if threads else {}))
        latency = LatencyConfig(min_queries=latency_queries, min_seconds=latency_seconds,
                                **({"warmup_queries": latency_warmup} if latency_warmup is not None else {}))
        return cls(data=data, split=split, held_out=held_out, device=device, out_dir=out, batch_size=batch_size,
                   limits=limits, latency=latency, weights=weights, trust_pickle=trust_pickle,
                   require_weights=not allow_random_init, phase=phase)

    @classmethod
    def from_competition(cls, cfg, data: Path, split: str, phase: str | None = None) -> "ScoreConfig":
        """The scoring settings a `fercomp.toml` (CompetitionConfig) asks for, on `split` of `data`."""
        comp = cfg.competition
        limits = Limits(time_limit_s=cfg.limits.time_s, memory_limit_mb=cfg.limits.memory_mb, sandbox=cfg.limits.sandbox)
        return cls(data=Path(data), split=split, device=comp.device, out_dir=Path(comp.results), limits=limits,
                   latency=cfg.latency, phase=phase, **final_phase_settings(cfg, phase))


def final_phase_settings(cfg, phase: str | None) -> dict:
    """What the final phase adds to scoring: the audit's views, and the supplement pooled into held-out where the
    course asks for it. `fercomp leaderboard --phase final` and the CI/Slurm shards both take these."""
    pooled = None
    if phase == "final" and cfg.marks.held_out_includes_supplement:
        check_supplement(cfg)  # an empty private_supplement: one line naming the setting
        path = Path(cfg.competition.private_supplement)
        if not path.is_file():
            raise UsageError(f"[competition] private_supplement = {str(path)!r}: no such file (the held-out accuracy "
                             "includes it: [marks] held_out_includes_supplement = true)")
        pooled = (str(path), sha256_file(path))
    return {"audit": for_phase(cfg, phase), "held_out_supplement": pooled}


def settings_of(config: ScoreConfig) -> dict:
    """Everything besides the hand-in and the data that can change a record's numbers; hashed into it."""
    limits = config.limits
    return {"fercomp": __version__, "device": config.device, "threads": limits.threads, "batch_size": config.batch_size,
            "latency": config.latency.to_dict(), "time_limit_s": limits.time_limit_s, "memory_limit_mb": limits.memory_limit_mb,
            "sandbox": limits.sandbox, "flops_tolerance": config.flops_tolerance, "max_weights_mb": config.max_weights_mb,
            "trust_pickle": config.trust_pickle, "require_weights": config.require_weights,
            "model_kwargs": dict(config.model_kwargs), **({"audit": config.audit.settings()} if config.audit else {}),
            **({"held_out_supplement": {"path": config.held_out_supplement[0], "sha256": config.held_out_supplement[1]}}
               if config.held_out_supplement else {})}


def settings_sha256(settings: dict) -> str:
    return sha256_json(settings)


def score_submission(path: str | Path, config: ScoreConfig, data: FERData | None = None,
                     cores: list[int] | None = None, latency_lock: threading.Lock | None = None) -> ScoreRecord:
    """Score `path` on the configured split; a failing submission gives a failed record, not an error.

    DataError and UsageError (the user's mistakes, not the submission's) are raised. The measurer's jail
    is started before the data is read, so its imports overlap the parent's. `cores` pins the measurer to
    those CPUs; `latency_lock`, shared by parallel jobs, runs their latency phases one at a time.
    """
    try:
        files = read_submission(path, config.weights, config.max_weights_mb)
    except SubmissionError as exc:
        data, subset, split = _held_subset(config, data)
        base = _base_record(path, subset, split, config)
        return _finish(_failed(base, exc.reason, exc.message, "contract"), config)
    protected = _protected_paths(config, data)
    try:
        with HandinJails(config.limits, config.device, files.handin(), cores, [str(p) for p in protected]) as jails:
            session.prestart(jails, files, trust_pickle=config.trust_pickle, require_weights=config.require_weights,
                             build_kwargs=dict(config.model_kwargs))
            data, subset, split = _held_subset(config, data)
            stats.draw_ahead(len(subset))
            base = _base_record(path, subset, split, config)
            built_with = files.kwargs_with(dict(config.model_kwargs))  # BUILD_KWARGS, an ablation row's over them
            base = replace(base, submission={**base.submission, **_identity(files), "model_kwargs": built_with},
                           sandbox=jails.sandbox)
            try:
                measured = _measure(jails, files, subset, config, latency_lock, cohort_views(config.audit, data, subset))
            finally:
                started = {"start_mode": jails.start_mode, "cpu_affinity": jails.cores,
                           "worker_start_mode": jails.worker_start_mode}
                if jails.worker_fresh_because:
                    started["worker_fresh_because"] = jails.worker_fresh_because
                base = replace(base, environment=environment(config.device, config.limits.threads, {**started, **jails.info}))
    except WorkerFailure as exc:
        if exc.reason == "device_unavailable":
            raise UsageError(exc.detail) from None
        return _finish(_failed(base, exc.reason, exc.detail, exc.phase, exc.log_tail), config)
    return _finish(_scored(base, subset, measured), config)


def scoring_split(config: ScoreConfig, data: FERData) -> str:
    """The one rule for which split a score uses: --split, else the data's held-out split (PrivateTest, or
    test for a folder), refused in the public phase when it is the held-out one."""
    split = data.resolve_split(config.split or data.held_out or "")
    guard_public(config.phase, split, data.held_out)
    return split


def public_split(data: FERData) -> tuple[str, str]:
    """(split, a sentence saying so) that `fercomp score` and `fercomp report` use on a student's machine when
    neither --split nor --phase is given: the public split (PublicTest), which the live board ranks, not the
    held-out one the course grades; a source without a public split has only its held-out one to offer."""
    held = data.resolve_split(data.held_out) if data.held_out else None
    if data.validation and data.validation != data.held_out:
        return data.validation, (f"scored {data.validation}, the public split (the live board's); the course grades "
                                 f"{held} in its final phase: --split {held} scores that here")
    split = held or data.split_names[0]
    return split, f"scored {split}: {Path(data.source).name} has no public split"


def _held_subset(config: ScoreConfig, data: FERData | None) -> tuple[FERData, FERData, str]:
    data = data or load_data(config.data, held_out=config.held_out)
    split = scoring_split(config, data)
    subset = data.select(split)
    if config.held_out_supplement and split == data.held_out:
        subset = _with_supplement(subset, data, config.held_out_supplement[0])
    return data, subset, split


def _with_supplement(held: FERData, data: FERData, path: str) -> FERData:
    """The held-out split with the private supplement appended (ids `supplement:<id>`), duplicates of `data` dropped."""
    from fercomp.audit_passes import read_supplement_setting

    faces = read_supplement_setting(Path(path), data).data
    return replace(held, images=np.concatenate([held.images, faces.images]),
                   labels=np.concatenate([held.labels, faces.labels]),
                   split=np.concatenate([held.split, np.full(len(faces), held.split[0], dtype=held.split.dtype)]),
                   ids=np.concatenate([held.ids.astype(str), np.char.add("supplement:", faces.ids.astype(str))]))


def _identity(files: SubmissionFiles) -> dict:
    return {"name": files.name, "path": str(files.path), "sha256": files.sha256,
            "weights_path": str(files.weights_path) if files.weights_path else None,
            "weights_sha256": files.weights_sha256, "weights_url": files.weights_url,
            "extra_files": list(files.extra_files), "preprocess": files.preprocess.to_dict(),
            "class_order": list(files.class_order) if files.class_order else None}


def _base_record(path, subset: FERData, split: str, config: ScoreConfig) -> ScoreRecord:
    return ScoreRecord(
        schema=SCHEMA, status="failed",
        submission={"name": Path(path).stem, "path": str(Path(path).resolve()),
                    "sha256": sha256_file(Path(path)) if Path(path).is_file() else None},
        data={"source": str(Path(subset.source).resolve()), "sha256": subset.source_sha256, "layout": subset.layout,
              "split": split, "size": len(subset), "held_out": split == subset.held_out,
              **({"supplement_images": int(np.char.startswith(subset.ids.astype(str), "supplement:").sum())}
                 if config.held_out_supplement else {})},
        environment=environment(config.device, config.limits.threads),
        timestamp="", isolation=[], settings=settings_of(config), settings_sha256=settings_sha256(settings_of(config)),
    )


def _protected_paths(config: ScoreConfig, data: FERData | None) -> list[Path]:
    """What the worker must never see: the data source, the private supplement, the data cache, the results folder
    (created here, once `sandbox = required` is known to hold: a refused run leaves no folder behind)."""
    use_jail(config.limits.sandbox)
    paths = [Path(data.source if data is not None else config.data), cache_dir()]
    supplements = {config.audit.supplement if config.audit else "", (config.held_out_supplement or ("",))[0]} - {""}
    paths += [Path(p) for p in sorted(supplements) if Path(p).exists()]
    if config.out_dir is not None:
        Path(config.out_dir).mkdir(parents=True, exist_ok=True)
        paths.append(Path(config.out_dir))
    return paths


def _measure(worker: HandinJails, files: SubmissionFiles, subset: FERData, config: ScoreConfig,
             latency_lock: threading.Lock | None = None, views: tuple[list[View], list[str]] = ([], [])) -> dict:
    """Run the worker through load → flops → predict → latency; return what it measured."""
    clock, timings = time.monotonic(), {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = now - clock
        clock = now

    worker.ready()
    lap("worker_ready_wait_s")
    machine_rate = _machine_rate(worker)
    reference = session.reference_seconds(worker) if machine_rate is not None else None
    lap("probe_s")
    loaded = session.load(worker, files, trust_pickle=config.trust_pickle, require_weights=config.require_weights,
                          build_kwargs=dict(config.model_kwargs))
    worker.close_worker()  # the exported program is all the measuring needs
    lap("load_s")
    signatures = None
    if config.audit is not None:  # only the final phase's audit compares them: a public board does not pay for them
        probes, probe = probe_faces(subset, views[0])
        signatures = {**session.unit_signatures(worker, probes), "probe": probe}
        lap("signatures_s")
    sizes = [len(subset.images[i : i + config.batch_size]) for i in range(0, len(subset.images), config.batch_size)]
    flops = session.flops(worker, config.flops_tolerance, sorted(set(sizes)), loaded.get("export"))
    lap("flops_s")
    outputs, forward_s = session.predict_all(worker, subset.images, config.batch_size, files)
    lap("predict_s")
    audit_views = score_views(worker, files, subset, outputs, config.batch_size, views)
    lap("audit_views_s")
    rate = throughput(sizes, forward_s, timings["predict_s"])
    rate["batch_forward_seconds"] = [[n, t] for n, t in zip(sizes, forward_s)]
    rng = np.random.default_rng(_consistency_seed(files, subset))
    probes_at = rng.choice(len(subset.images), min(LATENCY_PROBES, len(subset.images)), replace=False)
    compared = _other_batches(worker, files, subset.images, rng)
    lap("consistency_s")
    probes = subset.images[probes_at]
    with latency_lock or contextlib.nullcontext():
        lap("latency_wait_s")
        worker.measurer.queued(timings["latency_wait_s"])
        latency, raw = session.latency(worker, config.latency.to_dict(), probes)
        lap("latency_s")
    wall = timings["latency_s"]
    layers, peak = list(worker.layers), worker.peak_rss_mb
    notes = list(worker.notes)
    latency["check"], latency["check_detail"] = _latency_check(latency, raw, probes_at, compared, outputs, files)
    latency["clock_check"] = _clock_check(latency, wall, rate)
    latency.update(rate)
    latency["parent_wall_seconds"] = wall
    latency["config"] = config.latency.to_dict()
    latency["threads"], latency["device"] = worker.info.get("threads"), worker.info.get("device")
    return {"loaded": loaded, "flops": flops, "outputs": outputs, "latency": latency, "layers": layers, "notes": notes,
            "peak_rss_mb": peak, "timings": timings, "machine_rate": machine_rate, "reference_seconds": reference,
            "audit_views": audit_views, "unit_signatures": signatures}


def probe_faces(subset: FERData, views: list[View]) -> tuple[np.ndarray, dict]:
    """(the faces every team's unit signatures are taken on, what they are): the private supplement's first
    PROBE_IMAGES when the run scores one (faces no student has), else the scored split's first PROBE_IMAGES in its
    order. The same for every team of a run, so the audit can compare any two records whose `pixels_sha256` agree."""
    supplement = next((v for v in views if v.name == "supplement"), None)
    images = (supplement.images if supplement is not None else subset.images)[:PROBE_IMAGES]
    images = np.ascontiguousarray(images, dtype=np.uint8)
    return images, {"source": "private supplement" if supplement is not None else "scored split",
                    "images": len(images), "pixels_sha256": sha256_bytes(images.tobytes())}


def _machine_rate(worker: HandinJails) -> float | None:
    """The CPU's multiply-add rate for the roofline check: cached per machine, else probed (before load)."""
    if not str(worker.info.get("device", "")).startswith("cpu"):
        return None
    cache = cache_dir() / "machine"
    key = roofline.machine_key(worker.info, cpu_model())
    rate = roofline.cached_rate(cache, key)
    if rate is None:
        rate = session.probe(worker)
        roofline.store_rate(cache, key, rate)
    return rate


def _roofline(measured: dict) -> dict | None:
    """The roofline check of the batched accuracy pass against the largest count any counter found."""
    rate, lat, flops = measured["machine_rate"], measured["latency"], measured["flops"]
    batches = lat.get("batch_forward_seconds") or []
    seconds = roofline.marginal_seconds_per_image([n for n, _ in batches], [t for _, t in batches],
                                                  (lat.get("latency_ms_p50") or 0.0) / 1e3)
    if rate is None or seconds is None:
        return None
    counts = [flops.get("fvcore_flops"), flops.get("ptflops_macs"), (flops.get("flop_counter_mode_flops") or 0) // 2]
    return roofline.check(rate, seconds, max(c or 0 for c in counts), measured.get("reference_seconds") or 0.0)


def throughput(batch_sizes: list[int], seconds: list[float], wall: float) -> dict:
    """Images/s of the accuracy pass's forward calls, the first batch left out as warm-up when there are more."""
    skip = 1 if len(seconds) > 1 else 0
    images, spent = sum(batch_sizes[skip:]), sum(seconds[skip:])
    return {"throughput_images_per_s": images / spent if spent > 0 else None, "throughput_batch": batch_sizes[0],
            "throughput_images": images, "throughput_seconds": spent, "forward_seconds": sum(seconds),
            "predict_wall_seconds": wall,
            "throughput_source": "forward calls of the accuracy pass" + (", first batch excluded as warm-up" if skip else "")}


#: Batch sizes besides the accuracy pass's at which a seeded sample of images is answered again, each image at a
#: random position: a graph that treats some rows of a batch differently answers them differently here.
CONSISTENCY_BATCHES = (3, 11, 29)
#: Largest difference allowed between two answers for one image, in log-probabilities (log-softmax, each clipped
#: at log 1e-6 so a vanishing probability's rounding is not a difference). Honest models differ between batch
#: sizes by rounding alone: at most 1.2e-6 over batch 1, a shuffled batch of 7 and one of 32 for the samples, the
#: baseline, five zoo models and ten torchvision families (ConvNeXt-T the largest); 1e-2 is a 1 % change of a
#: probability. Raw logits would not do: adding 10⁴ to every logit leaves the answer unchanged.
LOG_PROB_TOLERANCE = 1e-2


def _consistency_seed(files: SubmissionFiles, subset: FERData) -> int:
    """A seed from the hand-in's and the data's hashes: a re-score draws the same sample, in the same places."""
    return int(sha256_json([files.sha256, files.weights_sha256, subset.source_sha256, len(subset)])[:15], 16)


def _other_batches(worker: HandinJails, files: SubmissionFiles, images: np.ndarray, rng) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, sample indices, outputs) for each CONSISTENCY_BATCHES size: random images at random positions."""
    found = []
    for size in CONSISTENCY_BATCHES:
        if size > len(images):
            continue
        chosen = rng.choice(len(images), size, replace=False)
        out, _ = session.predict_all(worker, images[chosen], size, files)
        found.append((f"a batch of {size}", chosen, out))
    return found


def log_probabilities(outputs: np.ndarray) -> np.ndarray:
    """log-softmax of each row (in float64), clipped below at log 1e-6."""
    z = outputs.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return np.maximum(z - np.log(np.exp(z).sum(axis=1, keepdims=True)), np.log(1e-6))


def _latency_check(latency: dict, raw: bytes, probes_at: np.ndarray, compared: list, outputs: np.ndarray,
                   files: SubmissionFiles):
    """Every phase must compute what the accuracy pass did: the batch-1 timing phase's outputs, and batches of other
    sizes holding a seeded sample of images at random positions, against the batched answers, as log-probabilities."""
    problems = []
    shape = latency.get("outputs_shape")
    answers = list(compared)
    if shape and len(raw) == int(np.prod(shape)) * 4 and shape[1:] == [NUM_CLASSES] and shape[0] <= len(probes_at):
        seen = session.to_canonical(np.frombuffer(raw, dtype="<f4").reshape(shape), files)
        answers.insert(0, ("batch 1 in the latency phase", probes_at[: len(seen)], seen))
    else:
        problems.append(f"latency-phase outputs have shape {shape}, expected [N, 7]")
    for label, chosen, seen in answers:
        gap = float(np.abs(log_probabilities(seen) - log_probabilities(outputs[chosen])).max()) if len(chosen) else 0.0
        if gap > LOG_PROB_TOLERANCE:
            problems.append(f"{label} answers differently from the batched accuracy pass (log-probabilities differ by "
                            f"up to {gap:.3g}, more than {LOG_PROB_TOLERANCE:g})")
    return ("consistent" if not problems else "inconsistent"), problems


def _clock_check(latency: dict, wall: float, rate: dict) -> dict:
    """Whether the measurer's clock agrees with the parent's in both timed phases. Advisory, for review, never a
    flag: the parent's wall time includes its own scheduling, which a loaded machine stretches (#23)."""
    problems = []
    claimed = latency.get("timed_seconds", 0)
    if claimed > wall * 1.05 + 0.05 or claimed < 0.5 * wall - 0.5:
        problems.append(f"the measurer's clock says {claimed:.2f} s of batch-1 queries; the parent saw {wall:.2f} s")
    # Only an upper bound here: with a tiny model, moving the images costs more than the forward calls.
    claimed, seen = rate["forward_seconds"], rate["predict_wall_seconds"]
    if claimed > seen * 1.05 + 0.05:
        problems.append(f"the measurer's clock says {claimed:.2f} s of batched forward calls; the parent saw {seen:.2f} s")
    return {"verdict": "disagree" if problems else "agree", "detail": problems, "advisory": True}


def flags_of(loaded: dict, flops: dict, latency: dict) -> list[str]:
    """Reasons to distrust a figure. Each is a fact of the exported graph or of its outputs, so no load, thread count
    or shard can raise one; what is timed (record.roofline, latency.clock_check) is kept for review instead (#23)."""
    flags = []
    if loaded.get("random_init"):
        flags.append("random_init: scored without weights")
    if flops.get("check") != "agree":
        flags.append("flops_disagree: " + "; ".join(flops.get("check_detail", [])))
    if flops.get("uncosted_operators"):
        flags.append("uncosted_operator: the cost table has no rule for " + ", ".join(
            f"{name} ×{n}" for name, n in sorted(flops["uncosted_operators"].items())))
    if flops.get("batch_check_detail"):
        flags.append("batch_dependent_flops: " + "; ".join(flops["batch_check_detail"]))
    if not flops.get("gflops"):
        flags.append("no_gflops: efficiency is undefined when no multiply-adds are counted")
    if latency.get("check") != "consistent":
        flags.append("latency_inconsistent: " + "; ".join(latency.get("check_detail", [])))
    return flags


def _failed(record: ScoreRecord, reason: str, detail: str, phase: str, log_tail: str = "") -> ScoreRecord:
    return replace(record, status="failed",
                   failure={"reason": reason, "detail": detail[:2000], "phase": phase, "log_tail": log_tail[-2000:]})


def _scored(record: ScoreRecord, subset: FERData, measured: dict) -> ScoreRecord:
    outputs = measured["outputs"]
    top = np.argsort(-outputs, axis=1, kind="stable")[:, :2]
    cm = metrics.confusion_matrix(subset.labels, top[:, 0], NUM_CLASSES)
    pc = metrics.per_class(cm)
    loaded, flops = measured["loaded"], measured["flops"]
    accuracy = metrics.accuracy(cm)
    gflops = flops.get("gflops")
    latency = {k: v for k, v in measured["latency"].items() if k != "outputs_shape"}
    flags = flags_of(loaded, flops, latency)
    check = _roofline(measured)  # advisory only (record.roofline): a timing depends on the machine's load, and no mark may
    intervals = stats.record_intervals(subset.labels, top[:, 0], NUM_CLASSES)
    if gflops:
        intervals["efficiency_bootstrap"] = [100 * a / gflops for a in intervals["accuracy_bootstrap"]]
    return replace(
        record, status="scored", isolation=measured["layers"], isolation_notes=measured["notes"], accuracy=accuracy,
        top2_accuracy=metrics.top_k_accuracy(subset.labels, outputs, 2),
        per_class=[{"class": CLASS_NAMES[i], **{k: (int(v[i]) if k == "support" else float(v[i])) for k, v in pc.items()}}
                   for i in range(NUM_CLASSES)],
        averages=metrics.averages(cm), confusion_matrix=cm.tolist(), params_total=loaded["params_total"],
        params_trainable=loaded["params_trainable"], weight_bytes=loaded["weight_bytes"],
        weights_dtype=loaded.get("weights_dtype"), params_bits=loaded.get("params_bits"), gflops=gflops, flops=flops,
        predictions=encode_predictions(subset.labels, top[:, 0], top[:, 1], subset.ids), intervals=intervals,
        true_class_log_prob=encode_log_probs(true_class_log_probs(outputs, subset.labels)),
        weights_sketch=loaded.get("weights_sketch"), audit_views=measured.get("audit_views") or {},
        unit_signatures=measured.get("unit_signatures"),
        roofline=check or {},
        efficiency=100 * accuracy / gflops if gflops else None,
        efficiency_inputs={"accuracy_percent": 100 * accuracy, "gflops": gflops,
                           "formula": "efficiency = accuracy_percent / gflops"},
        latency=latency, peak_rss_mb=measured["peak_rss_mb"], timings=measured["timings"], flags=flags,
        measured=_how_measured(loaded),
    )


def _how_measured(loaded: dict) -> dict:
    export = loaded.get("export") or {}
    return {"graph": "exported", "exporter": "torch.export (dynamic batch, eval mode, non-strict)",
            "torch": package_version("torch"), "exported_sha256": export.get("artifact_sha256"), "export_cached": export.get("cached"),
            "figures_kept": export.get("figures_kept", []), "export_key": export.get("key"), "graph_operators": loaded.get("graph_nodes"),
            "constant_elements": loaded.get("constant_elements")}


def _finish(record: ScoreRecord, config: ScoreConfig) -> ScoreRecord:
    record = replace(record, timestamp=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if config.out_dir is not None:
        write_record(record, config.out_dir, private=config.phase == "final")
    return record

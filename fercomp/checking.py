"""`fercomp check`: a student's pre-submission check, with no held-out data involved.

The submission still runs only in the sandboxed worker. It is fed a few synthetic faces (never the
competition's data), and each contract rule becomes a named pass/fail line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fercomp.data.cache import cache_dir
from fercomp.data.synth import SynthSpec, generate
from fercomp.errors import SubmissionError, UsageError
from fercomp.measure.latency import LatencyConfig
from fercomp.scoring import ScoreConfig
from fercomp.submission import session
from fercomp.submission.contract import read_submission
from fercomp.submission.runner import HandinJails, WorkerFailure

QUICK_LATENCY = LatencyConfig(min_queries=20, min_seconds=0.3, warmup_queries=3)
#: The quick latency pass stops here (after one warm-up and one timed query): a MaxViT at 224 pixels takes seconds
#: a query on a busy 2-core machine, and 23 of them left the check no answer within its time limit.
QUICK_LATENCY_MAX_S = 10.0
#: Synthetic faces run through the model twice (one batch) for the output and determinism checks, and the first
#: CHECK_SINGLES of them one at a time: enough to see each rule, few enough for a big model's check to finish.
CHECK_IMAGES, CHECK_SINGLES = 16, 4


@dataclass
class CheckReport:
    submission: str
    items: list[tuple[str, bool, str]] = field(default_factory=list)  # (check, passed, detail)
    facts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(ok for _, ok, _ in self.items)

    @property
    def reason(self) -> str | None:
        """Why it failed, in one line (the first failed check and its detail); None when it passed."""
        failed = next(((n, d) for n, ok, d in self.items if not ok), None)
        if failed is None:
            return None if self.items else "nothing was checked"
        return f"{failed[0]}: {failed[1].splitlines()[0] if failed[1] else 'failed'}"

    def __repr__(self) -> str:  # what a notebook shows for `fercomp.check(path)`
        return f"CheckReport({self.submission!r}, passed={self.passed}" + (f", reason={self.reason!r})" if self.reason else ")")

    def to_dict(self) -> dict:
        return {"submission": self.submission, "passed": self.passed, "reason": self.reason,
                "checks": [{"check": n, "passed": ok, "detail": d} for n, ok, d in self.items], "facts": self.facts}

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.items.append((name, ok, detail))
        return ok


def check_submission(path: str | Path, config: ScoreConfig) -> CheckReport:
    """Run every contract check that needs no labels; stop at the first check later ones depend on."""
    report = CheckReport(submission=str(path))
    try:
        files = read_submission(path, config.weights, config.max_weights_mb)
    except SubmissionError as exc:
        report.add("file and metadata", False, f"{exc.reason}: {exc.message}")
        return report
    order = list(files.class_order) if files.class_order else "canonical"
    report.add("file and metadata", True, f"PREPROCESS {files.preprocess.to_dict()}, CLASS_ORDER {order}")
    if files.weights_path is not None:
        report.add("weights file", True, str(files.weights_path) + (f" (from {files.weights_url})" if files.weights_url else ""))
    images = generate(SynthSpec(n_train=0, n_public=0, n_private=CHECK_IMAGES, seed=1))[0]
    jails = HandinJails(config.limits, config.device, files.handin(), protected=[str(cache_dir())])
    try:
        with jails as worker:
            device = worker.ready().get("device", config.device)
            if not _load(report, worker, files, config):
                return report
            if files.weights_path is None:
                _no_weights(report, config.require_weights)
            _outputs(report, worker, images, files)
            flops = session.flops(worker, config.flops_tolerance, export=report.facts.get("export"))  # kept on a re-check
            report.facts.update(gflops=flops.get("gflops"), flops=flops)
            report.add("FLOP counters agree", flops.get("check") == "agree",
                       f"{(flops.get('gflops') or 0):.4f} GFLOPs (fvcore; the cost table at batch 1 only, scoring "
                       "also counts the graph at its batch sizes)"
                       + ("; " + "; ".join(flops["check_detail"]) if flops.get("check_detail") else ""))
            uncosted = flops.get("uncosted_operators") or {}
            report.add("every operator costed", not uncosted, "the cost table has no rule for " + ", ".join(sorted(uncosted))
                       + " (see docs/measurer-costs.md): the efficiency mark is withheld" if uncosted else "")
            latency, _ = session.latency(worker, QUICK_LATENCY.to_dict(), images[:8], QUICK_LATENCY_MAX_S)
            report.facts["latency_ms_p50"] = latency["latency_ms_p50"]
            report.add("latency estimate", True, f"batch-1 p50 {latency['latency_ms_p50']:.2f} ms on {device} "
                       f"(quick estimate, {latency['queries']} queries)")
    except WorkerFailure as exc:
        if exc.reason == "device_unavailable":
            raise UsageError(exc.detail) from None
        report.add(f"runs in the sandbox ({exc.phase})", False, f"{exc.reason}: {exc.detail}")
    report.facts["peak_rss_mb"] = jails.peak_rss_mb  # the worker's or the measurer's, whichever was larger
    return report


def _no_weights(report: CheckReport, required: bool) -> None:
    """Without a weights file a model is only acceptable when it has nothing to train (as scoring decides)."""
    if not report.facts.get("params_trainable"):
        report.add("weights file", True, "none needed: the model has no trainable parameters")
    elif required:
        report.add("weights file", False, "none found: scoring will refuse an untrained model "
                   "(--allow-random-init to check the architecture only)")
    else:
        report.add("weights file", True, "none: random init, architecture check only (--allow-random-init)")


def _load(report: CheckReport, worker: HandinJails, files, config: ScoreConfig) -> bool:
    started = time.monotonic()
    try:
        loaded = session.load(worker, files, trust_pickle=config.trust_pickle, require_weights=False)
    except WorkerFailure as exc:
        if exc.phase == "start":  # a jail died in fercomp's own imports, before a line of the hand-in ran
            report.add("runs in the sandbox (start)", False, f"{exc.reason}: {exc.detail}")
        elif exc.reason in ("not_exportable", "artifact_refused"):
            report.add("model builds and weights load", True, "")
            report.add("exports with torch.export", False, f"{exc.reason}: {exc.detail} — every figure is measured on "
                       "the exported graph: no Python `if` on tensor values (use torch.where), no .numpy()/.item() in "
                       "forward, no branch on the batch size, no custom C++ operator")
        else:
            report.add("model builds and weights load", False, f"{exc.reason}: {exc.detail}")
        return False
    report.facts.update(loaded, load_s=time.monotonic() - started)  # build, export (unless cached) and load
    report.add("model builds and weights load", True,
               f"{loaded['params_total'] / 1e6:.2f} M parameters" + (" (random init)" if loaded["random_init"] else ""))
    report.add("exports with torch.export", True, f"{loaded['graph_nodes']} operators; every figure is measured on "
               "this exported graph" + (" (cached)" if loaded["export"]["cached"] else ""))
    return True


def _outputs(report: CheckReport, worker: HandinJails, images: np.ndarray, files) -> None:
    try:
        first, _ = session.predict_all(worker, images, CHECK_IMAGES, files)
        second, _ = session.predict_all(worker, images, CHECK_IMAGES, files)
        single, _ = session.predict_all(worker, images[:CHECK_SINGLES], 1, files)
    except WorkerFailure as exc:
        report.add("output is [N, 7] finite logits", False, f"{exc.reason}: {exc.detail}")
        return
    report.add("output is [N, 7] finite logits", True, f"shape {list(first.shape)}")
    report.add("deterministic in eval mode", np.array_equal(first, second), "two identical batches gave identical outputs"
               if np.array_equal(first, second) else "the same batch gave different outputs twice: call model.eval()-safe layers only")
    same = np.array_equal(single.argmax(1), first[:CHECK_SINGLES].argmax(1))
    report.add("batch-1 agrees with batched", same, "" if same else "predictions change with the batch size")

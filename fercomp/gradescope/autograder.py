"""What the zip's run_autograder does on Gradescope: check the hand-in, score it on the public split (and the
held-out one, hidden until published, when the course ships it), and write /autograder/results/results.json.

The hostile view: Gradescope runs run_autograder as root, in the same container as the student's code. So the
hand-in runs only in fercomp's jails (sandbox "required"), which see nothing of /autograder: not results/,
not source/ (the data, the baseline's record), not the submission metadata. Where the jail cannot start
(Docker often refuses the namespaces nsjail needs), the hand-in is not run at all: results.json says why
and the run does not count. There is no fallback to a plain process, which would run as root.

Every path is under one root, /autograder, or $FERCOMP_AUTOGRADER_ROOT (the tests lay Gradescope's folders
out under a temporary one). Whatever goes wrong, a readable results.json is written, atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from fercomp.gradescope import results as gs
from fercomp.submission.worker_forks import fresh_workers

ROOT_ENV = "FERCOMP_AUTOGRADER_ROOT"
MANIFEST = "fercomp-gradescope.json"  # written by `fercomp gradescope build`: splits, baseline records, data file
PARENT_RESERVE_MB = 200  # what run_autograder itself holds (Python, numpy, the public split), below the container's memory


class Refused(Exception):
    """A hand-in refused before any of it runs (no .py, two .py files): the student's message."""


@dataclass(frozen=True)
class Layout:
    """Gradescope's folders (its autograder specification, "File hierarchy")."""

    root: Path

    @property
    def source(self) -> Path:  # the unzipped autograder
        return self.root / "source"

    @property
    def submission(self) -> Path:  # the student's files
        return self.root / "submission"

    @property
    def results_file(self) -> Path:
        return self.root / "results" / "results.json"

    @property
    def metadata(self) -> Path:
        return self.root / "submission_metadata.json"


def layout(root: Path | None = None) -> Layout:
    return Layout(Path(root or os.environ.get(ROOT_ENV) or "/autograder"))


def run(root: Path | None = None) -> dict:
    """Grade the submission under `root` and write results.json; return what was written."""
    from fercomp.atomic import write_text

    lay = layout(root)
    started = time.monotonic()
    window: list[str] = []
    try:
        metadata = _metadata(lay)
        window = gs.rate_limit(metadata, 0)[1]  # first: even a run that fails must carry the runs that counted
        # One hand-in per container: a worker template would save nothing, and a fresh worker jail that dies in its
        # imports is how a container too small for the jail is told from a hand-in's fault (a fork finds them done)
        with fresh_workers("one hand-in per Gradescope container"):
            results, window = _grade(lay, metadata)
    except Refused as exc:
        results = gs.failure(f"Your hand-in was not run: {exc}. This run does not count towards the daily limit.",
                             earlier=window)
    except Exception as exc:  # noqa: BLE001 - anything at all must still end as a readable results.json
        print(traceback.format_exc())  # /autograder/results/stdout: the instructors' view
        results = gs.failure("The autograder failed on its own side (not your hand-in's fault); this run does not "
                             f"count. Course staff can see the details in the autograder's output. ({type(exc).__name__})",
                             earlier=window)
    results["execution_time"] = round(time.monotonic() - started, 1)
    write_text(lay.results_file, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def _metadata(lay: Layout) -> dict:
    try:
        data = json.loads(lay.metadata.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def _grade(lay: Layout, metadata: dict) -> tuple[dict, list[str]]:
    from fercomp.config import load_config
    from fercomp.submission import jail

    manifest = json.loads((lay.source / MANIFEST).read_text(encoding="utf-8"))
    cfg = load_config(lay.source / "fercomp.toml")
    allowed, window, note = gs.rate_limit(metadata, cfg.gradescope.daily_limit)
    if not allowed:
        return gs.rate_limited(metadata, window, note), window
    why = jail.unavailable()
    if why:
        print(f"nsjail cannot run in this container: {why}")
        return gs.failure("This autograder could not start its jail, so your hand-in was not run (it never runs "
                          "unconfined here). This run does not count; course staff have been told why in the "
                          "autograder's output.", detail=f"jail unavailable: {why}", earlier=window), window
    work = Path(tempfile.mkdtemp(prefix="fercomp-gradescope-"))  # 0700, root's: the jails never see it
    try:
        path = stage(lay.submission, work / "handin")
        return _check_and_score(lay, cfg, manifest, path, work, metadata, window, note), window
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stage(submission: Path, dest: Path) -> Path:
    """Copy the hand-in's regular files (never a link, a FIFO or a device) into `dest`; return its one .py."""
    top = sorted(p.name for p in submission.iterdir() if p.suffix == ".py" and p.is_file() and not p.is_symlink()) \
        if submission.is_dir() else []
    if len(top) != 1:
        found = ", ".join(top) or "none"
        raise Refused(f"hand in exactly one .py file at the top of your submission (found: {found}), with its weights "
                      "beside it")
    for folder, dirs, files in os.walk(submission):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            source = Path(folder) / name
            if source.is_symlink() or not source.is_file():
                continue
            target = dest / source.relative_to(submission)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target, follow_symlinks=False)
    return dest / top[0]


def _check_and_score(lay: Layout, cfg, manifest: dict, path: Path, work: Path, metadata: dict, window: list[str],
                     note: str) -> dict:
    from dataclasses import replace

    from fercomp.checking import check_submission
    from fercomp.records import read_record
    from fercomp.scoring import ScoreConfig, score_submission
    from fercomp.submission.runner import Limits

    g = cfg.gradescope
    splits = [manifest["public_split"]] + ([manifest["held_out"]] if manifest.get("held_out") else [])
    limits = Limits(time_limit_s=g.time_s / (len(splits) + 1), memory_limit_mb=max(256, g.memory_mb - PARENT_RESERVE_MB),
                    sandbox="required", threads=1)  # half a vCPU: one thread, or torch oversubscribes the quota
    config = ScoreConfig(data=lay.source / manifest["data"], split=splits[0], device="cpu", out_dir=work / "results",
                         limits=limits, latency=cfg.latency, phase="public")
    report = check_submission(path, config)
    if any(name == "runs in the sandbox (start)" and detail.startswith("memory_limit") for name, _, detail in report.items):
        # The jail died importing fercomp and torch, before any of the hand-in ran: the container is too small.
        print(f"the jails need more memory than [gradescope] memory_mb = {g.memory_mb} leaves them "
              f"({limits.memory_limit_mb} MB): raise it and the container's memory in Gradescope (see the fercomp README)")
        return gs.failure("The autograder's container has too little memory to start its jail (not your hand-in's "
                          "fault); this run does not count. Course staff can see why in the autograder's output.",
                          detail=f"the jail needed more than {limits.memory_limit_mb} MB before your hand-in ran",
                          earlier=window)
    tests = gs.check_tests(report.items)
    created = metadata.get("created_at")
    lines = [f"Rate limit: {note}.", "Your hand-in ran in fercomp's jail (nsjail), as in the course's own grading."]
    if not report.passed:
        lines.insert(0, "A check failed (see the tests below): your hand-in was not scored, and this run does not count.")
        return gs.assemble(tests, "\n".join(lines), False, g.points, created, window)
    baseline = {s: read_record(lay.source / manifest["baseline_records"][s]) for s in splits}
    public = score_submission(path, config)
    tests.append(gs.test(f"scored on {splits[0]}", public.status == "scored", gs.score_line(public, baseline[splits[0]])))
    if public.status != "scored":
        lines.insert(0, f"Scoring on {splits[0]} failed (see the tests below); this run does not count.")
        return gs.assemble(tests, "\n".join(lines), False, g.points, created, window)
    extra = {"public": _figures(public)}
    for split in splits[1:]:  # the held-out split: hidden from the student until grades are published
        held = score_submission(path, replace(config, split=split, phase=None))
        tests.append(gs.test(f"held-out split {split}", held.status == "scored", gs.score_line(held, baseline[split]),
                             visibility="after_published"))
        extra["held_out"] = _figures(held)
    lines.insert(0, gs.score_line(public, baseline[splits[0]]))
    board = gs.leaderboard(public, baseline[splits[0]], cfg.marks.efficiency_scheme)
    return gs.assemble(tests, "\n".join(lines), True, g.points, created, window, board, extra)


def _figures(record) -> dict:
    """What course staff may want from a run (extra_data is not shown to students)."""
    return {"split": record.split, "status": record.status, "accuracy": record.accuracy, "gflops": record.gflops,
            "efficiency": record.efficiency, "flags": list(record.flags), "submission_sha256": record.submission.get("sha256"),
            "weights_sha256": record.submission.get("weights_sha256"), "peak_rss_mb": record.peak_rss_mb,
            "timings": dict(record.timings)}

"""Every torchvision classification family as a hand-in (random init, 7-way head, 3 replicated channels): does it
export, pass the measurer's graph check, get FLOP counters that agree, fit the worker's file-size limit, and what
does it cost? With --check, each also goes through `fercomp check --allow-random-init` itself (both jails).

Per model, in a fresh process (so the peak memory is its own): build seconds, export seconds (torch.export the way
the worker calls it), save seconds and the artifact's size, the worker's file-size limit had its weights been
handed in (twice the weights and 256 MB, 512 MB to 4 GB), the measurer's graph check, the FLOP cross-check, the
largest difference between exported and eager outputs on 4 faces, and the process's peak resident memory.

Run: python benchmarks/bench_families.py [--only resnet18 vit_b_16 ...] [--check | --check-only] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT
from tabulate import tabulate

#: Input side per family where 48 is too small for its strides or windows, or no multiple of its patch (the rest are
#: scored at 48 pixels).
SIZES = {"alexnet": 64, "inception_v3": 96, "maxvit_t": 224, "vit_h_14": 56, "vit_b_32": 64, "vit_l_32": 64}
#: Keyword arguments a family needs to take that size (a ViT is built for its image size).
KWARGS = {name: {"image_size": SIZES.get(name, 48)} for name in
          ("vit_b_16", "vit_b_32", "vit_h_14", "vit_l_16", "vit_l_32")}

HANDIN = '''"""torchvision {name}, random init, 7-way head (bench_families.py)."""
from torch import nn
from torchvision.models import get_model

PREPROCESS = {{"size": {size}, "channels": 3, "mean": [0.5], "std": [0.5]}}


def build_model(num_classes: int = 7) -> nn.Module:
    return get_model("{name}", weights=None, num_classes=num_classes, **{kwargs!r})
'''


def families() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def handin(name: str, folder: Path) -> Path:
    """A hand-in file for `name` in `folder`."""
    path = folder / f"{name}.py"
    path.write_text(HANDIN.format(name=name, size=SIZES.get(name, 48), kwargs=KWARGS.get(name, {})))
    return path


def one(name: str) -> dict:
    """Build, export, save, load and count `name` in this process; the row's figures."""
    import torch
    from torch.export import Dim

    from fercomp.measure.flops import count_all
    from fercomp.submission.measurer import MeasureError, load_program, runnable
    from fercomp.submission.preprocess import apply, parse
    from fercomp.submission.runner import file_size_limit_mb
    from fercomp.submission.worker import MAX_BATCH

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    row: dict = {"family": name, "size": SIZES.get(name, 48)}
    started = time.perf_counter()
    torch.manual_seed(0)
    from torchvision.models import get_model

    model = get_model(name, weights=None, num_classes=7, **KWARGS.get(name, {})).eval()
    row["build_s"] = time.perf_counter() - started
    weights = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    row["params_M"] = sum(p.numel() for p in model.parameters()) / 1e6
    spec = parse({"size": row["size"], "channels": 3, "mean": [0.5], "std": [0.5]}, name)
    faces = apply(torch.randint(0, 256, (4, 48, 48), dtype=torch.uint8), spec)
    started = time.perf_counter()
    with torch.no_grad():
        program = torch.export.export(model, (faces[:2],), dynamic_shapes=({0: Dim("batch", min=1, max=MAX_BATCH)},),
                                      strict=False)
    row["export_s"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt2"
        started = time.perf_counter()
        torch.export.save(program, path)
        row["save_s"] = time.perf_counter() - started
        row["artifact_MB"] = path.stat().st_size / 2**20
        row["fsize_limit_MB"] = file_size_limit_mb(weights, 4096)
        del program
        try:
            exported = runnable(load_program(str(path)))
            row["graph"] = "ok"
        except MeasureError as exc:
            row["graph"] = f"{exc.reason}: {str(exc)[:80]}"
            exported = None
    if exported is not None:
        with torch.no_grad():
            row["max_abs_diff"] = float((exported(faces) - model(faces)).abs().max())
        flops = count_all(exported, faces[:1])
        row["gflops"] = flops["gflops"]
        row["flops"] = "agree" if flops["check"] == "agree" else "; ".join(flops["check_detail"])[:80]
    row["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def checked(name: str, folder: Path, timeout: float) -> dict:
    """`fercomp check --allow-random-init` on the family's hand-in: passed, and its seconds."""
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([sys.executable, "-m", "fercomp", "check", str(handin(name, folder)), "--allow-random-init",
                               "--json"], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"check": f"no answer in {timeout:g} s", "check_s": timeout}
    facts: dict = {}
    try:
        report = json.loads(done.stdout)
        failed = [f"{c['check']}: {c['detail'][:60]}" for c in report["checks"] if not c["passed"]]
        verdict = "PASS" if report["passed"] else "FAIL " + "; ".join(failed)
        facts = report.get("facts", {})
    except (json.JSONDecodeError, KeyError):
        verdict = f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-100:]}"
    # What the check itself measured, in its jails: the row's figures when --check-only skips the in-process run
    found = {"check_gflops": facts.get("gflops"), "check_load_s": facts.get("load_s"),
             "check_peak_rss_MB": facts.get("peak_rss_mb"), "params_M": (facts.get("params_total") or 0) / 1e6 or None}
    return {"check": verdict, "check_s": time.perf_counter() - started, **{k: v for k, v in found.items() if v is not None}}


def run_one_in_child(name: str, timeout: float) -> dict:
    try:
        from fercomp.submission.runner import THREAD_WAIT_ENV

        # the jails' OpenMP settings, so that the in-process export and count runs as the worker and measurer do
        done = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **THREAD_WAIT_ENV})
    except subprocess.TimeoutExpired:
        return {"family": name, "graph": f"no answer in {timeout:g} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"family": name, "graph": f"exit {done.returncode}: {done.stderr.strip()[-100:]}"}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None, help="these families (default: all of torchvision's)")
    parser.add_argument("--check", action="store_true", help="also run `fercomp check --allow-random-init` on each")
    parser.add_argument("--check-only", action="store_true", help="only `fercomp check` (its GFLOPs, build-export-load "
                        "seconds and peak memory in the jails), not the in-process export and count")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per family and step")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here (one JSON per line)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    names = args.only or families()
    args.check = args.check or args.check_only
    columns = [] if args.check_only else ["export_s", "save_s", "artifact_MB", "fsize_limit_MB", "graph", "flops",
                                          "gflops", "max_abs_diff", "peak_rss_MB"]
    columns = ["family", "size", "params_M", *columns] + (["check", "check_s", "check_gflops", "check_load_s",
                                                           "check_peak_rss_MB"] if args.check else [])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            row = {"family": name, "size": SIZES.get(name, 48)} if args.check_only else run_one_in_child(name, args.timeout)
            if args.check:
                row.update(checked(name, Path(folder), args.timeout))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if args.json:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    print(f"torchvision classification families on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end)")
    print(tabulate([[row.get(c) for c in columns] for row in rows], headers=columns, floatfmt=".3g", tablefmt="github"))
    ok = sum(1 for row in rows if row.get("graph") == "ok" and row.get("flops") == "agree"
             and row.get("artifact_MB", 1e9) <= row.get("fsize_limit_MB", 0))
    passed = f"{sum(1 for r in rows if r.get('check') == 'PASS')} of {len(rows)} pass `fercomp check`"
    print(f"\n{passed}" if args.check_only else f"\n{ok} of {len(rows)} export, pass the graph check, agree on FLOPs and "
          "fit the file-size limit" + (f"; {passed}" if args.check else ""))


if __name__ == "__main__":
    main()

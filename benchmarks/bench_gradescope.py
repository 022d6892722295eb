"""The baseline as a Gradescope hand-in, under Gradescope's default limits: how long, how much memory?

Gradescope runs each autograder in a Docker container with (by default) 768 MB of memory and half a vCPU.
Docker enforces both with cgroups; this script does the same with cgroup v1 (it must run as root where
/sys/fs/cgroup/{cpu,memory} are writable): cpu.cfs_quota_us = 50 ms per 100 ms period (0.5 CPU, as
`docker run --cpus 0.5`) and memory.limit_in_bytes (as `--memory`), with the peak read back from
memory.max_usage_in_bytes (page cache included, as the container's limit counts it).

The course: `fercomp init --gradescope`, a synthetic set with the real public split (3,589 images), the
baseline with random weights saved beside it (104 MB: what a trained baseline weighs), its record on the
public split, `fercomp gradescope build`. The hand-in: the baseline itself. Each row is one run of the zip's
run_autograder in a folder laid out as Gradescope's, with fresh caches (a container starts empty):
- "defaults": 0.5 CPU, the cgroup at 4,096 MB and fercomp's `[gradescope] memory_mb = 4096` (its jails' watchdog
  at 4096 − 200 MB): what a course that changes nothing gets (Gradescope's own default, 768 MB, cannot start the
  jails, and `gradescope build` refuses less than 3,072 MB);
- "measure": 0.5 CPU, no memory limit (`memory_mb = 8192`): the peak the run needs, and its time;
- "raised": 0.5 CPU and the cgroup and memory_mb at --raised MB (default 3072, the floor build ships): does it hold?

Run: sudo python benchmarks/bench_gradescope.py [--raised 3072] [--images 3589] [--runs defaults,measure,raised]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch
from common import ROOT, baseline
from tabulate import tabulate

CGROUP = Path("/sys/fs/cgroup")


def course(work: Path, images: int) -> Path:
    env = {**os.environ, "FERCOMP_CACHE_DIR": str(work / "cache")}
    fercomp = [sys.executable, "-m", "fercomp"]
    from fercomp.version import __version__

    # a version on an index: `gradescope build` refuses the local checkout this runs from (Gradescope cannot install it)
    subprocess.run([*fercomp, "init", str(work / "course"), "--gradescope", "--fercomp-spec", f"fercomp=={__version__}"],
                   check=True, env=env, capture_output=True)
    root = work / "course"
    subprocess.run([*fercomp, "data", "synth", "data/fer2013.csv", "--n-train", "0", "--n-public", str(images),
                    "--n-private", "10"], cwd=root, check=True, env=env, capture_output=True)
    shutil.copy(ROOT / "baselines" / "baseline_cnn.py", root / "baselines" / "baseline_cnn.py")
    torch.save(baseline().state_dict(), root / "baselines" / "baseline_cnn.pt")
    subprocess.run([*fercomp, "score", "baselines/baseline_cnn.py", "--phase", "public"], cwd=root, check=True, env=env,
                   capture_output=True)
    return root


def zip_with(root: Path, memory_mb: int) -> Path:
    toml = root / "fercomp.toml"
    text = toml.read_text()
    toml.write_text(text.replace("memory_mb = 4096 ", f"memory_mb = {memory_mb} "))
    try:
        out = root / "gradescope" / f"autograder-{memory_mb}.zip"
        subprocess.run([sys.executable, "-m", "fercomp", "gradescope", "build", "--out", str(out)], cwd=root, check=True,
                       capture_output=True)
        return out
    finally:
        toml.write_text(text)


def run(root: Path, zip_path: Path, cgroup_mb: int | None, name: str) -> dict:
    """One Gradescope-shaped run of run_autograder inside fresh cgroups; its results.json and the peaks."""
    ag = Path(tempfile.mkdtemp(prefix="fercomp-bench-gs-")) / "autograder"
    (ag / "results").mkdir(parents=True)
    (ag / "submission").mkdir()
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(ag / "source")
    for f in ("baseline_cnn.py", "baseline_cnn.pt"):
        shutil.copy(root / "baselines" / f, ag / "submission" / f)
    (ag / "submission_metadata.json").write_text(json.dumps({"created_at": "2026-11-30T10:00:00+00:00"}))
    groups = {c: CGROUP / c / f"fercomp-bench-{os.getpid()}-{name}" for c in ("cpu", "memory")}
    for g in groups.values():
        g.mkdir()
    (groups["cpu"] / "cpu.cfs_period_us").write_text("100000")
    (groups["cpu"] / "cpu.cfs_quota_us").write_text("50000")  # half a CPU
    if cgroup_mb:
        (groups["memory"] / "memory.limit_in_bytes").write_text(str(cgroup_mb * 2**20))
        swap = groups["memory"] / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(cgroup_mb * 2**20))
    env = {**os.environ, "FERCOMP_AUTOGRADER_ROOT": str(ag), "FERCOMP_PYTHON": sys.executable,
           "FERCOMP_CACHE_DIR": str(ag.parent / "cache"), "FERCOMP_EXPORT_CACHE_DIR": str(ag.parent / "exported")}
    enter = " ".join(f"echo $$ > {g}/cgroup.procs;" for g in groups.values())
    start = time.monotonic()
    done = subprocess.run(["sh", "-c", f'{enter} exec bash "$0"', str(ag / "source" / "run_autograder")], env=env,
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    peak = int((groups["memory"] / "memory.max_usage_in_bytes").read_text()) / 2**20
    oom = "oom_kill " in (groups["memory"] / "memory.oom_control").read_text() and \
        int((groups["memory"] / "memory.oom_control").read_text().split("oom_kill ")[1].split()[0]) > 0
    for g in groups.values():  # a killed jail's processes are reaped a moment after nsjail dies
        for _ in range(100):
            try:
                g.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    results = json.loads((ag / "results" / "results.json").read_text())
    shutil.rmtree(ag.parent, ignore_errors=True)
    return {"results": results, "wall": wall, "peak_mb": peak, "oom": oom, "rc": done.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raised", type=int, default=3072, help="the least memory_mb gradescope build ships")
    parser.add_argument("--images", type=int, default=3589)
    parser.add_argument("--runs", default="defaults,measure,raised", help="which rows, comma-separated")
    args = parser.parse_args()
    if not os.access(CGROUP / "cpu", os.W_OK):
        sys.exit("needs root and writable cgroup v1 controllers (/sys/fs/cgroup/cpu, /sys/fs/cgroup/memory)")
    work = Path(tempfile.mkdtemp(prefix="fercomp-bench-gradescope-"))
    try:
        root = course(work, args.images)
        rows = []
        for name, memory_mb, cgroup_mb in (("defaults", 4096, 4096), ("measure", 8192, None),
                                           ("raised", args.raised, args.raised)):
            if name not in args.runs.split(","):
                continue
            r = run(root, zip_with(root, memory_mb), cgroup_mb, name)
            res, public = r["results"], r["results"].get("extra_data", {}).get("fercomp", {}).get("public", {})
            failed = [f"{t['name']}: {t['output'][:70]}" for t in res.get("tests", []) if t["status"] == "failed"]
            rows.append([name, f"{cgroup_mb or '∞'} / {memory_mb}", res["score"], f"{r['wall']:.0f}", f"{r['peak_mb']:.0f}",
                         "yes" if r["oom"] else "no", f"{public.get('peak_rss_mb') or 0:.0f}",
                         json.dumps({k: round(v, 1) for k, v in (public.get("timings") or {}).items() if k.endswith("_s")}),
                         "; ".join(failed)[:160] or "—"])
            print(rows[-1], flush=True)
        print(f"baseline hand-in, {args.images} public images, 0.5 CPU (cfs quota 50/100 ms), fresh caches; torch "
              f"{torch.__version__}, {os.cpu_count()} host cores")
        print(tabulate(rows, headers=["run", "cgroup MB / memory_mb", "score", "wall s", "peak cgroup MB", "OOM kill",
                                      "jail peak RSS MB", "score phases (s)", "failed tests"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

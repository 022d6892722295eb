"""Where a worker's seconds go, in a fresh jail and outside one, and what `fercomp check` costs on top.

A worker is a fresh interpreter per hand-in that imports torch and torch.export's tracer, builds the model and
exports it. This measures those steps one by one, in one run, each in a fresh process (medians of ROUNDS):
- outside: `python -c PROBE` as a plain subprocess;
- inside: the same command in a fresh nsjail, as the worker runs (its environment, a home of its own, the
  seccomp policy, read-only library binds), where this machine can jail.
The steps: the interpreter's start (from launch to the first line of PROBE), `import torch`, `import
torch._dynamo`, `import torch.export` (with its serializer), building the baseline, its first torch.export (the
tracer's warm-up included), its save, and a second export of the same model in the same process (the tracer warm:
what a warm-up before the hand-in could move off the first, not remove). PROBE stamps the clock (CLOCK_MONOTONIC:
one clock inside and outside the jail's namespaces) and its own CPU time after each step; the interpreter's start
costs the CPU time it has at PROBE's first line, the whole process what the parent counts for its children (nsjail
and its child, in a jail). CPU seconds move less with the machine's load than wall seconds.

Reference, measured in the same run: a fresh `import torch` plus its export (outside: the probe's wall up to the
end of its first export). Printed: `fercomp check baselines/baseline_cnn.py --allow-random-init` (a fresh
process: the CLI, a worker jail, a measurer jail, the checks) ÷ that reference. Target: ≤ 2×.

Run: python benchmarks/bench_check.py [ROUNDS]   (default 3; the machine's load is printed with the table)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT
from tabulate import tabulate

from fercomp.submission import jail, runner

BASELINE = ROOT / "baselines" / "baseline_cnn.py"
PROBE = r"""
import time, json, sys
stamp = lambda: (time.monotonic(), time.process_time())
t = {"first_line": stamp()}
if sys.argv[2] == "jailed":  # as the worker does: torch's import would start ldconfig, which the policy kills
    from fercomp.submission import sandbox
    sandbox.libraries_found_without_processes()
import torch
t["torch"] = stamp()
import torch._dynamo
t["dynamo"] = stamp()
import torch.export, torch._export.serde.serialize
from torch.export import Dim
t["export_modules"] = stamp()
namespace = {}
exec(compile(sys.argv[1], "baseline_cnn.py", "exec"), namespace)
torch.manual_seed(0)
model = namespace["build_model"]().eval()
x = torch.zeros(2, 1, 48, 48)
t["build"] = stamp()
def export():
    with torch.no_grad():
        return torch.export.export(model, (x,), dynamic_shapes=({0: Dim("batch", min=1, max=4096)},), strict=False)
program = export()
t["export"] = stamp()
torch.export.save(program, "model.pt2")
t["save"] = stamp()
export()
t["export_again"] = stamp()
print(json.dumps(t))
"""
#: (row, stamp it ends at, stamp it starts at); "launch" is the parent's clock just before it starts the process
STEPS = [
    ("interpreter start (launch → first line; inside: nsjail's set-up too)", "first_line", "launch"),
    ("import torch", "torch", "first_line"),
    ("import torch._dynamo (after torch)", "dynamo", "torch"),
    ("import torch.export + its serializer", "export_modules", "dynamo"),
    ("build the baseline", "build", "export_modules"),
    ("first torch.export (tracer's warm-up included)", "export", "build"),
    ("torch.export.save", "save", "export"),
    ("second torch.export, same process (tracer warm)", "export_again", "save"),
    ("whole process (launch → exit)", "exit", "launch"),
]


def probe(jailed: bool) -> dict[str, float]:
    """One fresh process running PROBE: its stamps, with the parent's launch and exit times."""
    python = os.path.normpath(os.path.abspath(sys.executable))
    argv = [python, "-c", PROBE, BASELINE.read_text(), "jailed" if jailed else "plain"]
    with tempfile.TemporaryDirectory(prefix="fercomp-bench-check-") as home:
        env = runner._env(1, jail.HOME if jailed else home)
        if jailed:
            ids = jail.new_host_ids()
            jail.prepare_home(Path(home), ids)
            spec = jail.JailSpec(argv=tuple(argv), home=home, env=tuple(env.items()), time_limit_s=300, host_ids=ids)
            argv, env = jail.command(spec), {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = before.ru_utime + before.ru_stime
        launch = time.monotonic()
        done = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True, timeout=600)
        end = time.monotonic()
    if done.returncode:
        sys.exit(f"the probe failed ({'jailed' if jailed else 'plain'}): {done.stderr[-2000:]}")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = cpu.ru_utime + cpu.ru_stime - cpu_before  # the process and what it waited for (nsjail's child, in a jail)
    return {**json.loads(done.stdout.splitlines()[-1]), "launch": (launch, 0.0), "exit": (end, cpu)}


def check_seconds() -> float:
    """Wall time of a fresh `fercomp check` of the baseline (random weights: the check needs none)."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "fercomp", "check", str(BASELINE), "--allow-random-init"],
                          capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    if done.returncode:
        sys.exit(f"fercomp check failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return seconds


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    why = jail.unavailable()
    kinds = [False] + ([True] if why is None else [])
    load_before = os.getloadavg()[0]
    runs: dict[bool, list[dict]] = {k: [] for k in kinds}
    checks = []
    for _ in range(rounds):  # interleaved, so that each ratio compares figures taken minutes apart at most
        for jailed in kinds:
            runs[jailed].append(probe(jailed))
        checks.append(check_seconds())
    step = lambda r, end, start, k=0: r[end][k] - r[start][k]  # noqa: E731 - k: 0 wall, 1 CPU
    med = lambda jailed, end, start, k=0: statistics.median(step(r, end, start, k) for r in runs[jailed])  # noqa: E731
    rows = []
    for what, end, start in STEPS:
        cells = []
        for jailed in (False, True):
            if jailed in runs:
                cells += [f"{med(jailed, end, start):.2f}", f"{med(jailed, end, start, 1):.2f}"]
            else:
                cells += ["", ""]
        outside, inside = med(False, end, start, 1), med(True, end, start, 1) if True in runs else float("nan")
        rows.append([what, *cells, f"{inside / outside:.2f}×" if outside else ""])
    reference = [step(r, "export", "launch") for r in runs[False]]  # wall: the check's figure is a wall time too
    ratios = [c / ref for c, ref in zip(checks, reference)]
    print(f"baseline CNN, torch.export with a dynamic batch (the worker's call), {os.cpu_count()} cores, "
          f"medians of {rounds} interleaved rounds, load average {load_before:.1f} → {os.getloadavg()[0]:.1f}"
          + ("" if why is None else f"; no jail here: {why}"))
    print(tabulate(rows, headers=["step (fresh process)", "outside: wall s", "CPU s", "in a fresh jail: wall s", "CPU s",
                                  "jail ÷ outside (CPU)"],
                   tablefmt="github", disable_numparse=True))
    print()
    print(tabulate([["fresh `import torch` + its export (reference: the probe outside, launch → first export)",
                     f"{statistics.median(reference):.2f}", "1.00×", ""],
                    ["`fercomp check baselines/baseline_cnn.py --allow-random-init` (fresh process)",
                     f"{statistics.median(checks):.2f}", f"{statistics.median(ratios):.2f}×", "≤ 2×"]],
                   headers=["what", "wall s", "ratio", "target"], tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()

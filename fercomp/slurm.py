"""What `slurm/submit.sh` checks before it queues anything: what a cluster would otherwise say only late, or never.

`python -m fercomp.slurm --phase P [--before-reveal]` (run by submit.sh in the course folder) refuses, in one line:
- the final phase before `[phases] reveal` without the override (the rule `fercomp leaderboard` applies locally);
- no data where `[competition] data` says (every array task would fail on it);
- a request in `slurm/*.sbatch` the partition cannot meet, as `sinfo` reports its nodes and time limit: Slurm
  would queue it and leave it PENDING for ever (`PartitionConfig`, `PartitionTimeLimit`);
- a baseline that fails `fercomp check` (e.g. no weights yet), which only the merge would find, after the whole pass.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from fercomp.config import CONFIG_NAME, CompetitionConfig, load_config, reveal_time
from fercomp.errors import FercompError, UsageError
from fercomp.phases import phase_split
from fercomp.records import read_record
from fercomp.submission.contract import declared_hashes

SCRIPTS = ("slurm/score.sbatch", "slurm/merge.sbatch")
OVERRIDE = "REVEAL_OK=1"  # how submit.sh spells --before-reveal


@dataclass(frozen=True)
class Request:
    """One job's resources, as its `#SBATCH` lines ask for them."""

    script: str
    cpus: int = 1
    mem_mb: int | None = None
    minutes: int | None = None
    gpus: int = 0
    partition: str = ""


@dataclass(frozen=True)
class Node:
    """One node of a partition, as `sinfo -N` reports it (minutes: the partition's time limit, None = none)."""

    partition: str
    cpus: int
    mem_mb: int
    gpus: int
    minutes: int | None


def minutes(text: str) -> int | None:
    """Slurm's time formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in whole minutes, rounded up; None for no limit."""
    text = text.strip()
    if text.lower() in ("infinite", "unlimited", "n/a", ""):
        return None
    days, sep, rest = text.partition("-") if "-" in text else ("0", "", text)
    try:
        parts = [int(p) for p in rest.split(":")]
        if sep:
            h, m, s = (parts + [0, 0])[:3]
        elif len(parts) == 3:
            h, m, s = parts
        else:
            h, m, s = 0, parts[0], parts[1] if len(parts) == 2 else 0
        days_n = int(days)
    except ValueError:
        raise UsageError(f"time {text!r}: not a Slurm time (M, H:M:S or D-H:M:S)") from None
    return (days_n * 24 + h) * 60 + m + (1 if s else 0)


def megabytes(text: str) -> int:
    """--mem's value (a number with an optional K/M/G/T suffix; M when none) in MB."""
    match = re.fullmatch(r"(\d+)([KMGT]?)B?", text.strip().upper())
    if not match:
        raise UsageError(f"--mem={text}: not a memory size Slurm reads (e.g. 16G)")
    scale = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024, "": 1}[match.group(2)]
    return int(int(match.group(1)) * scale)


def gpu_count(gres: str) -> int:
    """GPUs in a gres string: 'gpu:2', 'gpu:a100:4(S:0-1)', 'gpu:1,mps:100'; 0 for '(null)'."""
    total = 0
    for item in gres.split(","):
        fields = re.sub(r"\(.*?\)", "", item).split(":")
        if fields[0] == "gpu":
            total += int(fields[-1]) if len(fields) > 1 and fields[-1].isdigit() else 1
    return total


def read_request(path: Path) -> Request:
    """The resources a job script asks for in its `#SBATCH` lines."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#SBATCH\s+--([a-z-]+)(?:[= ](\S+))?", line)
        if match:
            values[match.group(1)] = match.group(2) or ""
    return Request(script=str(path), cpus=int(values.get("cpus-per-task", 1)),
                   mem_mb=megabytes(values["mem"]) if "mem" in values else None,
                   minutes=minutes(values["time"]) if "time" in values else None,
                   gpus=gpu_count(values.get("gres", "")), partition=values.get("partition", ""))


def run_sinfo(partition: str) -> str:
    """`sinfo`'s node lines for `partition` (every partition when empty): partition|CPUs|MB|gres|time limit."""
    if shutil.which("sinfo") is None:
        raise UsageError("no sinfo here: run slurm/submit.sh on the cluster's login node (where sbatch works)")
    args = ["sinfo", "-h", "-N", "-o", "%P|%c|%m|%G|%l"] + (["-p", partition] if partition else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UsageError(f"sinfo failed ({last}); is Slurm reachable from here?")
    return done.stdout


def parse_nodes(text: str) -> list[Node]:
    """run_sinfo's lines as nodes; a line of another shape is refused by name rather than guessed at."""
    nodes = []
    for line in text.splitlines():
        if line.strip():
            try:
                part, cpus, mem, gres, limit = line.strip().split("|")
                nodes.append(Node(part, int(cpus.rstrip("+")), int(mem.rstrip("+")), gpu_count(gres), minutes(limit)))
            except (ValueError, UsageError):
                raise UsageError(f"sinfo printed {line.strip()!r}, not partition|CPUs|MB|gres|time limit") from None
    return nodes


def check_request(request: Request, nodes: list[Node]) -> str:
    """Refuse (UsageError) a request no node of its partition can ever run; else say what it fits."""
    wanted = f"partition {request.partition}" if request.partition else "default partition"
    nodes = [n for n in nodes if n.partition.rstrip("*") == request.partition] if request.partition else \
        [n for n in nodes if n.partition.endswith("*")]
    if not nodes:
        raise UsageError(f"{request.script}: sinfo lists no {wanted}: name one it lists in fercomp.toml [slurm] partition, "
                         "then run fercomp init . --slurm")
    name = nodes[0].partition.rstrip("*")
    fix = "lower it in fercomp.toml [slurm] (or pick another partition), then run fercomp init . --slurm"
    largest = {"cpus": max(n.cpus for n in nodes), "mem_mb": max(n.mem_mb for n in nodes), "gpus": max(n.gpus for n in nodes)}
    asks = {"cpus": (request.cpus, f"--cpus-per-task={request.cpus}", f"{largest['cpus']} CPUs"),
            "mem_mb": (request.mem_mb or 0, f"--mem={request.mem_mb} MB", f"{largest['mem_mb']} MB"),
            "gpus": (request.gpus, f"--gres=gpu:{request.gpus}", f"{largest['gpus']} GPUs")}
    for key, (value, asked, has) in asks.items():
        if value > largest[key]:
            raise UsageError(f"{request.script} asks {asked}, but partition {name}'s largest node has {has} (sinfo): {fix}")
    if not any(n.cpus >= request.cpus and n.mem_mb >= (request.mem_mb or 0) and n.gpus >= request.gpus for n in nodes):
        raise UsageError(f"{request.script}: no node of partition {name} has {request.cpus} CPUs, {request.mem_mb} MB "
                         f"and {request.gpus} GPUs together (sinfo): {fix}")
    limit = nodes[0].minutes
    if limit is not None and request.minutes is not None and request.minutes > limit:
        raise UsageError(f"{request.script} asks --time of {request.minutes} min, but partition {name}'s limit is "
                         f"{limit} min (sinfo): {fix}")
    return f"{request.script}: {request.cpus} CPUs, {request.mem_mb} MB, {request.gpus} GPUs, {request.minutes} min fit partition {name}"


def check_reveal(config: CompetitionConfig, phase: str, before_reveal: bool) -> str:
    """The phase's split by the local rule (fercomp.phases), its refusal worded with the override submit.sh reads."""
    reveal = reveal_time(config)
    if phase == "final" and not before_reveal and reveal is not None and dt.datetime.now(dt.timezone.utc) < reveal:
        raise UsageError(f"the final phase is revealed on {config.phases.reveal} ({config.source}); "
                         f"{OVERRIDE} slurm/submit.sh final builds it earlier (its outputs are private)")
    return phase_split(config, phase, None, before_reveal)


def check_baseline(config: CompetitionConfig, root: Path, records: Sequence[Path]) -> str:
    """`fercomp check` on the baseline, on this machine's CPU, unless a scored record of it in `records` (either
    phase's) shows this very file and weights scored before. The first failing item of the check is the refusal."""
    from fercomp.checking import check_submission
    from fercomp.scoring import ScoreConfig

    path = root / config.competition.baseline
    try:
        hashes = declared_hashes(path)
    except FercompError:
        hashes = None  # the check below names what is wrong
    for kept in sorted(p for folder in records for p in folder.glob(f"{path.stem}.*.json")) if hashes else ():
        try:
            record = read_record(kept)
        except FercompError:
            continue
        if record.status == "scored" and hashes == (record.submission.get("sha256"), record.submission.get("weights_sha256")):
            return f"baseline {config.competition.baseline}: unchanged since its scored record {kept}"
    score_config = ScoreConfig.from_options(data=None, device="cpu", out=None, batch_size=16, time_limit=300.0,
                                            memory_limit=config.limits.memory_mb, latency_queries=20, latency_seconds=0.3)
    report = check_submission(path, score_config)
    failed = [f"{name}: {detail}" for name, ok, detail in report.items if not ok]
    if failed:
        raise UsageError(f"the baseline {config.competition.baseline} fails fercomp check ({failed[0]}); "
                         "nothing was submitted")
    return f"baseline {config.competition.baseline}: passes fercomp check"


def preflight(root: Path, phase: str, before_reveal: bool, records: Sequence[Path] = (),
              sinfo: Callable[[str], str] = run_sinfo) -> list[str]:
    """Every check, cheapest first; a line per check passed, UsageError at the first that fails. `records`: the
    folders where the array keeps records (a scored record of this very baseline there spares its check)."""
    config = load_config(root / CONFIG_NAME)
    split = check_reveal(config, phase, before_reveal)
    early = " before the reveal date (REVEAL_OK=1)" if phase == "final" and before_reveal and config.phases.reveal else ""
    lines = [f"{phase} phase: split {split}{early}"]
    data = root / config.competition.data
    if not data.exists():
        raise UsageError(f"{data}: no data ({config.source} [competition] data); every array task would fail on it")
    for script in SCRIPTS:
        if not (root / script).is_file():
            raise UsageError(f"{root / script}: missing; run fercomp init . --slurm")
        request = read_request(root / script)
        lines.append(check_request(request, parse_nodes(sinfo(request.partition))))
    lines.append(check_baseline(config, root, [root / r for r in records]))
    return lines


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fercomp.slurm", description=__doc__.splitlines()[0])
    parser.add_argument("--phase", default="public")
    parser.add_argument("--before-reveal", action="store_true")
    parser.add_argument("--records", type=Path, action="append", default=[], help="where the array keeps records")
    parser.add_argument("--root", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    try:
        for line in preflight(args.root, args.phase, args.before_reveal, args.records):
            print(f"ok: {line}")
    except FercompError as exc:
        print(f"slurm/submit.sh: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Marks independent of how they were produced (#23): one cohort through every route a course grades by, the
boards compared field by field.

The routes: `fercomp leaderboard --jobs 1` (one job with every core's thread), `--jobs 2` (two jobs pinned to their
share of the cores, one thread each here), and shards (`fercomp score --shard I/N --threads 1` into one folder per
shard, then `fercomp leaderboard --results …`, as the CI matrix and the Slurm array of `fercomp init` run them) scored
beside busy-looping processes, one per core: a loaded machine; and a board merged from one shard's one-thread records
and the local all-core records of the other teams (two thread counts on one board). The issue also named "fresh or template" start modes:
the template mode no longer exists (every hand-in gets two fresh jails, runner.HandinJails), so there is no second
start mode to compare.

The shards are scored with one thread and the local board with every core's: their records' `settings_sha256`
differ (threads is a scoring setting, so each is stale for the other: a local `fercomp leaderboard` would score the
shards' teams again rather than reuse them), yet the marks must not — the issue's Slurm-against-local disagreement.
They do not, because a mark reads only the accuracy (the argmax of the exported graph's outputs) and counts of that
graph (fvcore, FlopCounterMode, ptflops, MicroNet): no time, no thread count. What is measured in time (latency,
throughput, the roofline and the clock cross-checks) is kept in the record for a person to review, never a flag or a
mark; the one deliberate exception is the opt-in `acc_per_ms` scheme, whose figure is a time.

The cohort: the baseline (small_cnn at random init), depthwise_net (1.7 MFLOPs: the hand-in whose roofline and
latency are borderline on a loaded machine), a single linear layer (the efficiency outlier), a linear classifier
spelled as an elementwise product (flagged `flops_disagree`: its efficiency mark is withheld) and a file that does
not parse. The networks get seeded random features (batch-norm statistics from the training split) and a
least-squares read-out, so they predict every class, at different accuracies, without a training run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fercomp.cli import main
from fercomp.cores import available_cores
from fercomp.data.source import load_data
from fercomp.scoring import _clock_check, flags_of

REPO = Path(__file__).parents[1]
#: measured, not marked: the latency-based efficiency figure (the acc_per_ms scheme's), which moves with load
MEASURED_COLUMNS = {"acc_per_ms"}
#: busy-looping processes beside the loaded route: one per core this process may use (2 here), at most 8; each
#: ends by itself when this process does or after 10 minutes, should the test be killed before it kills them
HOGS = min(8, max(2, len(os.sched_getaffinity(0))))
HOG = ("import os, time\nparent, end = os.getppid(), time.monotonic() + 600\n"
       "while os.getppid() == parent and time.monotonic() < end:\n    sum(range(100_000))\n")
TOML = """[competition]
data = "{data}"
baseline = "baselines/baseline.py"
[marks]
scale = "log"
efficiency_gate = "baseline"
allow_weak_baseline = true  # the routes must agree whatever the untrained baseline's accuracy
[latency]
min_queries = 3
min_seconds = 0.0
warmup_queries = 1
"""
LINEAR = """from torch import nn


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(48 * 48, 7))
"""
ELEMENTWISE = """import torch
from torch import nn


class Spelled(nn.Module):
    \"\"\"A 2304 → 7 linear classifier computed as an elementwise product and a sum: no counter's multiply-adds.\"\"\"

    def __init__(self):
        super().__init__()
        self.probe = nn.Conv2d(1, 1, 1, bias=False)
        self.weight = nn.Parameter(torch.zeros(7, 48 * 48))
        self.bias = nn.Parameter(torch.zeros(7))

    def forward(self, x):
        return (self.probe(x).flatten(1)[:, None, :] * self.weight[None]).sum(-1) + self.bias
"""


def _module(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fit_readout(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, seed: int, readout: bool = True):
    """Seeded random features, batch-norm statistics of `images`, then the last linear layer fitted by ridge regression."""
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the one pass
    model.train()
    with torch.no_grad():
        model(images)
    model.eval()
    if not readout:
        return model
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    features = []
    hook = last.register_forward_hook(lambda m, inputs, output: features.append(inputs[0]))
    with torch.no_grad():
        model(images)
        hook.remove()
        x = torch.cat([features[0], torch.ones(len(images), 1)], 1)
        targets = torch.nn.functional.one_hot(labels, 7).float()
        w = torch.linalg.solve(x.T @ x + torch.eye(x.shape[1]), x.T @ (targets - targets.mean(0)))
        last.weight.copy_(w[:-1].T)
        last.bias.copy_(w[-1])
    return model


def _write_course(root: Path, data: Path) -> None:
    subs = root / "submissions"
    for folder in (subs, root / "baselines"):
        folder.mkdir(parents=True)
    train = load_data(data).select("Training")
    images = (torch.tensor(train.images, dtype=torch.float32)[:, None] / 255 - 0.5) / 0.5  # PREPROCESS's defaults
    labels = torch.tensor(train.labels, dtype=torch.long)
    shutil.copy(REPO / "submissions" / "small_cnn.py", root / "baselines" / "baseline.py")
    shutil.copy(REPO / "submissions" / "depthwise_net.py", subs / "depthwise_net.py")
    (subs / "linear.py").write_text(LINEAR)
    (subs / "elementwise.py").write_text(ELEMENTWISE)
    (subs / "broken.py").write_text("def build_model(:\n")
    fitted = {"baselines/baseline": _fit_readout(_module(root / "baselines" / "baseline.py").build_model(), images, labels,
                                                 seed=1, readout=False),
              "submissions/depthwise_net": _fit_readout(_module(subs / "depthwise_net.py").build_model(), images, labels, 0),
              "submissions/linear": _fit_readout(_module(subs / "linear.py").build_model(), images, labels, 0)}
    for stem, model in fitted.items():
        torch.save(model.state_dict(), root / f"{stem}.pt")
    spelled = _module(subs / "elementwise.py").Spelled()
    with torch.no_grad():
        spelled.probe.weight.fill_(1.0)
        spelled.weight.copy_(fitted["submissions/linear"][1].weight)
        spelled.bias.copy_(fitted["submissions/linear"][1].bias)
    torch.save(spelled.state_dict(), subs / "elementwise.pt")
    (root / "fercomp.toml").write_text(TOML.format(data=data))


def _fercomp(*args: str) -> int:
    """`fercomp ARGS` in this process (the working directory is the course); its exit code."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


FINAL = ("--phase", "final", "--before-reveal")
BOARD = ("leaderboard", *FINAL, "--format", "csv", "--format", "json")


def _route_jobs(root: Path, jobs: int, name: str) -> Path:
    assert _fercomp(*BOARD, "--jobs", jobs, "--rescore", "all", "--out", f"boards/{name}") == 0
    shutil.copytree(root / "reports" / "results", root / "records" / name)
    return root / "boards" / name


def _route_shards(root: Path, name: str) -> Path:
    """What ci/score-shard.sh and slurm/score.sbatch run (Slurm gives each task its CPUs: one here), then the merge
    (ci/merge.sh, slurm/merge.sbatch)."""
    common = (*FINAL, "--threads", "1")
    assert _fercomp("score", "baselines/baseline.py", *common, "--out", "shards/1") == 0
    for shard in (1, 2):
        assert _fercomp("score", "submissions", *common, "--shard", f"{shard}/2", "--out", f"shards/{shard}") in (0, 1)  # 1: broken failed
    assert _fercomp(*BOARD, "--results", "shards/1", "--results", "shards/2", "--out", f"boards/{name}") == 0
    (root / "records" / name).mkdir(parents=True)
    for path in (root / "shards").glob("*/*.json"):
        shutil.copy(path, root / "records" / name / path.name)
    return root / "boards" / name


def _route_mixed(root: Path, name: str) -> Path:
    """Shard 2's one-thread records merged with the local board's all-core records of everyone else (a shard re-run
    on another machine): records of two thread counts, so two settings hashes, on one board."""
    local = root / "records" / "jobs1-without-shard-2"
    local.mkdir()
    shard = {p.name for p in (root / "shards" / "2").glob("*.json")}
    for path in (root / "records" / "jobs1").glob("*.json"):
        if path.name not in shard:
            shutil.copy(path, local / path.name)
    assert _fercomp(*BOARD, "--results", local, "--results", "shards/2", "--out", f"boards/{name}") == 0
    (root / "records" / name).mkdir()
    for path in [*local.glob("*.json"), *(root / "shards" / "2").glob("*.json")]:
        shutil.copy(path, root / "records" / name / path.name)
    return root / "boards" / name


@pytest.fixture(scope="module")
def routes(tmp_path_factory, small_csv, _exported_programs) -> dict[str, Path]:
    """route → the folder of its board (leaderboard-PrivateTest.csv/.json); its records in <course>/records/<route>.
    The shards are scored beside busy-looping processes, one per core: a loaded Slurm node or CI runner."""
    root = tmp_path_factory.mktemp("routes")
    _write_course(root, small_csv)
    cwd = os.getcwd()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FERCOMP_CACHE_DIR", str(tmp_path_factory.mktemp("routes-cache")))
        env.setenv("FERCOMP_EXPORT_CACHE_DIR", str(_exported_programs))
        os.chdir(root)
        try:
            boards = {"jobs 1": _route_jobs(root, 1, "jobs1"), "jobs 2": _route_jobs(root, 2, "jobs2")}
            hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(HOGS)]
            try:
                boards["loaded shards"] = _route_shards(root, "shards")
                assert all(h.poll() is None for h in hogs), "a CPU hog ended before the loaded route did"
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            boards["mixed threads"] = _route_mixed(root, "mixed")
        finally:
            os.chdir(cwd)
    return boards


def _rows(board: Path) -> dict[str, dict]:
    text = (board / "leaderboard-PrivateTest.csv").read_text()
    return {row["team"]: {k: v for k, v in row.items() if k not in MEASURED_COLUMNS} for row in csv.DictReader(io.StringIO(text))}


def _records(board: Path) -> dict[str, dict]:
    folder = board.parents[1] / "records" / board.name
    return {p.name.split(".")[0]: json.loads(p.read_text()) for p in folder.glob("*.PrivateTest.json")}


@pytest.mark.jail
def test_the_cohort_is_worth_comparing(routes):
    """Not a vacuous comparison: teams with marks, a flagged team, a failed one, and two thread counts."""
    rows = _rows(routes["jobs 1"])
    assert sorted(rows) == ["broken", "depthwise_net", "elementwise", "linear"]
    assert rows["broken"]["status"] == "failed" and "syntax_error" in rows["broken"]["notes"]
    assert rows["elementwise"]["flags"].startswith("flops_disagree") and float(rows["elementwise"]["efficiency_mark"]) == 0
    assert "efficiency mark withheld" in rows["elementwise"]["notes"]
    assert sum(float(r["accuracy_mark"]) > 0 for r in rows.values()) >= 2
    # efficiency marks are not asserted here: these synthetic teams sit near the majority-class rate, below which no
    # team earns one (marks.majority_rate); the routes' agreement on every mark is asserted below all the same
    # linear and elementwise compute the same classifier: a tie in accuracy (a shared rank) that efficiency orders
    assert rows["linear"]["rank"] == rows["elementwise"]["rank"] != rows["depthwise_net"]["rank"]
    threads = {route: {r["settings"]["threads"] for r in _records(b).values()} for route, b in routes.items()}
    assert threads["loaded shards"] == {1} and threads["jobs 1"] == {os.cpu_count()}
    assert threads["mixed threads"] == {1, os.cpu_count()} or os.cpu_count() == 1
    assert threads["jobs 2"] == {max(1, len(available_cores()) // 2)}


@pytest.mark.jail
@pytest.mark.parametrize("route", ["jobs 2", "loaded shards", "mixed threads"])
def test_every_route_gives_the_same_board(routes, route):
    """Marks, flags, ranks, accuracy, GFLOPs, efficiency, intervals, p-values, notes: every column but a time."""
    reference, other = _rows(routes["jobs 1"]), _rows(routes[route])
    assert sorted(other) == sorted(reference)
    differences = [f"{team}.{column}: jobs 1 {value!r}, {route} {other[team][column]!r}"
                   for team, row in reference.items() for column, value in row.items() if other[team][column] != value]
    assert not differences, "\n".join(differences)
    board = json.loads((routes[route] / "leaderboard-PrivateTest.json").read_text())
    first = json.loads((routes["jobs 1"] / "leaderboard-PrivateTest.json").read_text())
    assert board["comparisons"] == first["comparisons"] and board["explanation"] == first["explanation"]


@pytest.mark.jail
@pytest.mark.parametrize("route", ["jobs 2", "loaded shards", "mixed threads"])
def test_every_route_measures_the_same_graph(routes, route):
    """Beneath the board: the same per-image predictions, counts and flags in every team's record."""
    reference, other = _records(routes["jobs 1"]), _records(routes[route])
    assert sorted(other) == sorted(reference) == ["baseline", "broken", "depthwise_net", "elementwise", "linear"]
    for team, record in reference.items():
        mine = other[team]
        assert mine["status"] == record["status"], team
        assert mine["flags"] == record["flags"], team
        if record["status"] == "scored":
            assert mine["predictions"]["sha256"] == record["predictions"]["sha256"], team
            assert mine["flops"] == record["flops"], team
            assert mine["measured"]["exported_sha256"] == record["measured"]["exported_sha256"], team


# What a loaded machine changes, shown without one: each timed check is kept for review and moves no flag or mark.

LOADED_CLOCKS = {"timed_seconds": 0.1}  # the measurer timed 0.1 s of queries; a starved parent saw 5 s pass
BATCHES = {"forward_seconds": 0.2, "predict_wall_seconds": 0.9}


def test_a_clock_disagreement_is_for_review_not_a_flag():
    clocks = _clock_check(LOADED_CLOCKS, 5.0, BATCHES)
    assert clocks["verdict"] == "disagree" and clocks["advisory"] is True
    assert "the measurer's clock says 0.10 s of batch-1 queries; the parent saw 5.00 s" in clocks["detail"]
    counted = {"check": "agree", "gflops": 0.0017}
    assert flags_of({}, counted, {"check": "consistent", "clock_check": clocks}) == []
    assert _clock_check({"timed_seconds": 4.9}, 5.0, BATCHES)["verdict"] == "agree"
    # what the outputs show is not a time: batch-1 outputs that disagree with the batched pass still flag the record
    assert flags_of({}, counted, {"check": "inconsistent", "check_detail": ["batch-1 predictions … differ"]}) == [
        "latency_inconsistent: batch-1 predictions … differ"]


def test_timed_verdicts_leave_marks_flags_and_ranks_alone():
    """The same records with everything a loaded machine can change — roofline `unaccounted`, clocks that disagree,
    a latency 40× slower — give the same marks, ranks and notes (acc_per_gflop, the default scheme)."""
    from dataclasses import replace

    from fercomp.config import MarksSection
    from fercomp.marks import compute_marks
    from tests.test_marks import first, record, with_predictions

    base = with_predictions(record("base", 0.5, gflops=0.3), first(100))
    quiet = {"depthwise": with_predictions(record("depthwise", 0.6, gflops=0.0017), first(120), latency={"latency_ms_p50": 0.2},
                                           roofline={"verdict": "accounted"}),
             "cnn": with_predictions(record("cnn", 0.75, gflops=0.02), first(150), latency={"latency_ms_p50": 1.0})}
    loaded = {"depthwise": replace(quiet["depthwise"], roofline={"verdict": "unaccounted", "ratio": 40.0},
                                   latency={"latency_ms_p50": 8.0, "clock_check": _clock_check(LOADED_CLOCKS, 5.0, BATCHES)}),
              "cnn": replace(quiet["cnn"], latency={"latency_ms_p50": 40.0})}
    for settings in (MarksSection(), MarksSection(scale="log", efficiency_gate="baseline"), MarksSection(scale="rank")):
        before, after = compute_marks(quiet, base, settings), compute_marks(loaded, base, settings)
        assert [(m.team, m.rank, m.accuracy_mark, m.efficiency_mark, m.notes) for m in after] == \
               [(m.team, m.rank, m.accuracy_mark, m.efficiency_mark, m.notes) for m in before]
        assert before[0].efficiency_mark > 0

"""The end-to-end demo on synthetic data: data → train → score → leaderboard with marks → ablation →
a student's report pack.

Everything is written under one folder (default reports/demo). Each step reuses what is still fresh:
the data set if present, weights whose training history exists, records that are not stale, and
ablation rows from their cache, so a second run takes seconds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fercomp.data.synth import SynthSpec
from fercomp.training.recipe import Recipe

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class DemoPlan:
    out: Path = Path("reports/demo")
    data: SynthSpec = SynthSpec(n_train=2000, n_public=400, n_private=600, seed=0)
    # Short recipes, so the whole demo stays within minutes on two cores (the real baseline recipe is
    # `fercomp train`'s default: 10 epochs of batch 400).
    teams: tuple[tuple[str, Recipe], ...] = (
        ("small_cnn", Recipe(epochs=6, batch_size=64)),
        ("depthwise_net", Recipe(epochs=8, batch_size=64, lr=5e-3, schedule="onecycle")),
    )
    baseline: Recipe = Recipe(epochs=2, batch_size=64)
    ablation_epochs: int = 2


def run_demo(plan: DemoPlan, say=print) -> dict[str, list[Path]]:
    """Run every step; return {step: files written}."""
    from fercomp.data.synth import write
    from fercomp.training.run import train_file

    out = Path(plan.out)
    written: dict[str, list[Path]] = {}
    data = out / "fer2013.csv"
    if not data.exists():
        say(f"[1/5] generating the synthetic FER-2013 set → {data}")
        write(data, plan.data, "csv")
    else:
        say(f"[1/5] reusing {data}")
    written["data"] = [data]
    comp = out / "competition"
    (comp / "submissions").mkdir(parents=True, exist_ok=True)
    (comp / "baselines").mkdir(parents=True, exist_ok=True)
    jobs = [(REPO / "baselines" / "baseline_cnn.py", comp / "baselines" / "baseline_cnn.py", plan.baseline)]
    jobs += [(REPO / "submissions" / f"{name}.py", comp / "submissions" / f"{name}.py", recipe) for name, recipe in plan.teams]
    written["training"] = []
    for source, target, recipe in jobs:
        report = out / "train" / target.stem
        fresh = target.exists() and target.read_bytes() == source.read_bytes() and target.with_suffix(".pt").exists() \
            and (report / "history.json").exists()
        if fresh:
            say(f"[2/5] reusing the trained weights of {target.stem}")
        else:
            say(f"[2/5] training {target.stem}: {recipe.epochs} epochs, batch {recipe.batch_size}, {recipe.optimizer} "
                f"lr {recipe.lr:g} ({recipe.schedule})")
            shutil.copy(source, target)
            train_file(target, data, recipe, out_dir=report)
        written["training"] += [target.with_suffix(".pt"), report / "history.csv", report / "curves.png"]
    say("[3/5] scoring every submission on the held-out split (sandboxed) …")
    board = _leaderboard(comp, data, out)
    written["leaderboard"] = board
    say("[4/5] leaderboard written; [5/5] running a small ablation study of small_cnn and writing its report pack …")
    written["ablation"] = _ablation(comp, data, out, plan.ablation_epochs)
    from fercomp.report import build_report

    written["report"] = build_report(comp / "submissions" / "small_cnn.py", data, out / "results", out / "train" / "small_cnn",
                                     out / "report" / "small_cnn", out / "ablation" / "small_cnn")
    return written


def _leaderboard(comp: Path, data: Path, out: Path) -> list[Path]:
    from fercomp import leaderboard as lb
    from fercomp.config import CompetitionConfig, CompetitionSection
    from fercomp.measure.latency import LatencyConfig
    from fercomp.render import files
    from fercomp.render.terminal import print_leaderboard

    cfg = CompetitionConfig(
        competition=CompetitionSection(data=str(data), baseline=str(comp / "baselines" / "baseline_cnn.py"),
                                       submissions=str(comp / "submissions"), results=str(out / "results")),
        latency=LatencyConfig(min_queries=50, min_seconds=0.5),
    )
    paths = lb.discover(comp / "submissions") + [comp / "baselines" / "baseline_cnn.py"]
    from fercomp.scoring import ScoreConfig

    records, notes = lb.collect_and_score(paths, out / "results", ScoreConfig.from_competition(cfg, data, "PrivateTest", "final"))
    board = lb.build(records, "baseline_cnn", cfg, "PrivateTest", notes=notes, phase="final")
    print_leaderboard(board)
    return files.write_all(board, list(files.FORMATS), out / "leaderboard")


def _ablation(comp: Path, data: Path, out: Path, epochs: int) -> list[Path]:
    from fercomp import ablation
    from fercomp.measure.latency import LatencyConfig
    from fercomp.scoring import ScoreConfig

    spec = out / "ablation_small_cnn.toml"
    spec.write_text(
        f'name = "small_cnn"\nsubmission = "{(comp / "submissions" / "small_cnn.py").resolve()}"\ndata = "{data.resolve()}"\n'
        f'design = "cumulative"\n[recipe]\nepochs = {epochs}\nbatch_size = 64\n'
        '[[method]]\nname = "batchnorm"\nmodel_kwargs = { batchnorm = true }\n'
        '[[method]]\nname = "flip"\naugment = ["flip"]\n'
        '[[method]]\nname = "label smoothing"\nloss = "label_smoothing"\n'
    )
    study = ablation.load_spec(spec)
    folder = out / "ablation" / study.name
    config = ScoreConfig(data=study.data, latency=LatencyConfig(min_queries=20, min_seconds=0.2))
    results = ablation.run(study, folder, config, progress=True)
    ablation.write_index(study, results, folder)
    from fercomp.render.terminal import console

    md, _ = ablation.write_tables(folder)
    console.print(md, highlight=False)
    return [spec, folder / "ablation.md", folder / "ablation.tex"]

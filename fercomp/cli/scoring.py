"""`fercomp score` and `fercomp check`: thin shells over fercomp.scoring and fercomp.checking."""

from __future__ import annotations


import json
from pathlib import Path
from typing import List

import typer

from fercomp.config import DEFAULT_MEMORY_MB, DEFAULT_TIME_S
from fercomp.errors import UsageError

DATA_HELP = "A fer2013.csv or a folder with train/ and test/ (make demo writes reports/demo/fer2013.csv)."


def _config(**options):
    from fercomp.scoring import ScoreConfig

    return ScoreConfig.from_options(**options)


def _from_competition(ctx: typer.Context, competition, options: dict) -> dict:
    """With --phase, fercomp.toml supplies every setting the command line did not give, so CI shards
    score under the same settings (and settings hash) as `fercomp leaderboard` would."""
    comp, limits, latency = competition.competition, competition.limits, competition.latency
    defaults = {"device": comp.device, "out": Path(comp.results), "time_limit": limits.time_s,
                "memory_limit": limits.memory_mb, "sandbox": limits.sandbox, "latency_queries": latency.min_queries,
                "latency_seconds": latency.min_seconds}
    given = {name for name in defaults if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") not in ("DEFAULT", "DEFAULT_MAP")}
    updated = {**options, **{k: v for k, v in defaults.items() if k not in given}}
    if not given & {"latency_queries", "latency_seconds"}:
        updated["latency_warmup"] = latency.warmup_queries
    return updated


def score(
    ctx: typer.Context,
    submissions: List[Path] = typer.Argument(..., help="Submission .py files, or folders of them."),
    data: Path = typer.Option(None, help=DATA_HELP + " With --phase: default the config's data."),
    split: str = typer.Option(None, help="Split to score (default: the public split, PublicTest, and it says so; "
                                         "with --phase: that phase's split in fercomp.toml)."),
    held_out: str = typer.Option(None, help="Which split is held out, for folder layouts (default test)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    out: Path = typer.Option(Path("reports/results"), help="Folder for the score record <name>.<split>.json."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON instead of a table."),
    weights: Path = typer.Option(None, help="Weights file (default: WEIGHTS in the file, or <stem>.pt/.pth/.safetensors)."),
    trust_pickle: bool = typer.Option(False, help="Organisers only: allow weights that are a pickled whole model."),
    allow_random_init: bool = typer.Option(False, help="Score a model that has no weights file (smoke tests)."),
    batch_size: int = typer.Option(128, min=1, help="Images per evaluation batch."),
    time_limit: float = typer.Option(DEFAULT_TIME_S, min=1, help="Wall-clock seconds for the whole submission."),
    memory_limit: int = typer.Option(DEFAULT_MEMORY_MB, min=256, help="Resident memory limit of the worker, MB."),
    sandbox: str = typer.Option("auto", help="auto (namespaces where the OS allows), required, or off."),
    threads: int = typer.Option(0, min=0, help="Torch threads in the worker (0: all CPUs)."),
    latency_queries: int = typer.Option(100, min=1, help="Batch-1 latency: at least this many queries …"),
    latency_seconds: float = typer.Option(1.0, min=0, help="… and at least this many seconds."),
    shard: str = typer.Option(None, help="I/N: score only every N-th submission from the I-th (a CI matrix job)."),
    phase: str = typer.Option(None, help="public or final: that phase's split in fercomp.toml (public never scores the held-out one)."),
    config: Path = typer.Option(None, help="Competition config for --phase (default ./fercomp.toml)."),
    before_reveal: bool = typer.Option(False, help="With --phase final: score before \\[phases] reveal."),
    reuse_fresh: bool = typer.Option(False, help="Keep a record in --out that is still fresh (same file, weights, data "
                                     "and settings) instead of scoring again (the Slurm array's default)."),
) -> None:
    """Score submissions: accuracy, GFLOPs, efficiency, latency (the public split unless --split or --phase).

    Exit codes: 0 all scored, 1 a submission failed (its record says why; a kept record too), 2 usage or data error.
    """
    if phase is not None:
        from fercomp.config import load_config
        from fercomp.data import duplicates
        from fercomp.phases import phase_split

        competition = load_config(config)
        duplicates.acknowledge(competition.competition.known_duplicates)  # --config's, not ./fercomp.toml's
        split = phase_split(competition, phase, split, before_reveal)
        data = data or Path(competition.competition.data)
    final = phase == "final"  # before the reveal, a log shows counts and team names only (the records are private)
    if final and as_json:
        raise UsageError("--json prints the held-out figures, and the final phase never does: read the records in --out "
                         "(readable by you alone)")
    if data is None:
        raise UsageError("no data to score on: pass --data with a fer2013.csv or a folder with train/ and test/ "
                         "(make demo writes reports/demo/fer2013.csv)")
    from fercomp.data.source import load_data
    from fercomp.leaderboard import discover
    from fercomp.leaderboard import shard as pick_shard
    from fercomp.render.terminal import final_counts, outcome_words, print_final_record, print_score_record
    from fercomp.scoring import public_split, score_submission

    loaded, note = None, None
    if split is None and phase is None:  # a student's own run: the public split, said on stderr (--json stays clean)
        loaded = load_data(data, held_out=held_out)
        split, note = public_split(loaded)
    options = dict(data=data, split=split, held_out=held_out, device=device, out=out, batch_size=batch_size,
                   time_limit=time_limit, memory_limit=memory_limit, sandbox=sandbox, threads=threads,
                   latency_queries=latency_queries, latency_seconds=latency_seconds, weights=weights,
                   trust_pickle=trust_pickle, allow_random_init=allow_random_init)
    if phase is not None:
        options = _from_competition(ctx, competition, options)
        out = options["out"]
    config = _config(**options, phase=phase)
    if phase is not None:  # the final phase's shards score as `fercomp leaderboard` does (audit views, supplement)
        from dataclasses import replace

        from fercomp.scoring import final_phase_settings

        config = replace(config, **final_phase_settings(competition, phase))
    paths = [p for s in submissions for p in (discover(s) if s.is_dir() else [s])]
    if not paths:
        raise UsageError(f"no submissions (*.py) in {', '.join(map(str, submissions))}")
    paths = pick_shard(paths, shard)
    if loaded is None and (len(paths) > 1 or reuse_fresh):
        loaded = load_data(data, held_out=held_out)
    fresh = None
    if reuse_fresh:
        from fercomp.leaderboard import fresh_record
        from fercomp.scoring import scoring_split, settings_of

        fresh = (scoring_split(config, loaded), loaded.source_sha256, settings_of(config))
    records = []
    for path in paths:
        kept = fresh_record(path, out, *fresh)[0] if fresh else None
        records.append(kept or score_submission(path, config, data=loaded))
        if kept and not as_json:
            typer.echo(f"{path.stem}: kept its fresh record in {out} (same file, weights, data and settings; "
                       f"{outcome_words(kept) if final else kept.status}); without --reuse-fresh it is scored again")
        elif final:
            print_final_record(records[-1], out)
        elif not as_json:
            print_score_record(records[-1], out)
    if as_json:  # one JSON document: the record, or an array of them for several submissions
        docs = [json.loads(r.to_json()) for r in records]
        typer.echo(json.dumps(docs[0] if len(submissions) == 1 and submissions[0].is_file() else docs, indent=2))
    if final:
        outcomes = {"scored": [r.name for r in records if r.status == "scored"],
                    "failed": [r.name for r in records if r.status != "scored"],
                    "flagged": [r.name for r in records if r.status == "scored" and r.flags]}
        typer.echo(f"final phase: {final_counts(outcomes)}; the figures are in the records in {out} only")
    if note:
        typer.echo(note, err=True)
    raise typer.Exit(1 if any(r.status != "scored" for r in records) else 0)


def check(
    submission: Path = typer.Argument(..., help="The submission's .py file."),
    weights: Path = typer.Option(None, help="Weights file (default: WEIGHTS in the file, or <stem>.pt/.pth/.safetensors)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    trust_pickle: bool = typer.Option(False, help="Allow weights that are a pickled whole model."),
    allow_random_init: bool = typer.Option(False, help="Check the architecture alone, without a weights file."),
    time_limit: float = typer.Option(300.0, min=1, help="Wall-clock seconds for the whole check."),
    memory_limit: int = typer.Option(DEFAULT_MEMORY_MB, min=256, help="Resident memory limit of the worker, MB."),
    sandbox: str = typer.Option("auto", help="auto, required, or off."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as one JSON document."),
) -> None:
    """Check a submission before handing it in: loads, weights, output shape, determinism, FLOPs, latency.

    Needs no competition data. Exit 0 when every check passes, 1 otherwise.
    """
    from fercomp.checking import check_submission
    from fercomp.render.terminal import print_check_report

    config = _config(data=None, split=None, held_out=None, device=device, out=None, batch_size=16, time_limit=time_limit,
                     memory_limit=memory_limit, sandbox=sandbox, threads=0, latency_queries=20, latency_seconds=0.3,
                     weights=weights, trust_pickle=trust_pickle, allow_random_init=allow_random_init)
    report = check_submission(submission, config)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        print_check_report(report)
    raise typer.Exit(0 if report.passed else 1)


def register(app: typer.Typer) -> None:
    app.command()(score)
    app.command()(check)

"""Rich terminal tables."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.table import Table

from fercomp.data.info import DataSummary
from fercomp.render.numbers import interval

#: piped output's width: no right edge. A log (CI, Slurm) is read by scrolling and searched for whole words, and
#: any fixed width folds some board's team names and failure reasons mid-word; tables still fit their content.
PIPED_WIDTH = 100_000
console = Console()
if not console.is_terminal:
    console = Console(width=PIPED_WIDTH, soft_wrap=True)


def print_data_summary(summary: DataSummary) -> None:
    """The `data info` table: one row per split, one column per class, roles marked."""
    shared, known = summary.duplicates_across_splits, summary.known_duplicates
    caption = f"{shared} image(s) also in another split" + (
        "" if not shared else " (acknowledged: [competition] known_duplicates)" if known == shared
        else f" [yellow](fercomp.toml acknowledges {known or 'none'})[/]")
    table = Table(title=f"{summary.source}  ({summary.layout}, {summary.samples} images)", caption=caption)
    table.add_column("split")
    for name in summary.classes:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    table.add_column("role")
    for split, counts in summary.counts.items():
        role = "held out" if split == summary.held_out else ("validation" if split == summary.validation else "")
        if not role and split.lower() in ("training", "train"):
            role = "training"
        table.add_row(split, *map(str, counts), str(sum(counts)), role)
    console.print(table)
    console.print(f"images: all {summary.image_shape[0]}×{summary.image_shape[1]} grayscale")
    console.print(
        f"duplicates: {summary.duplicate_images} repeated images, {summary.duplicates_across_splits} shared "
        f"across splits, {summary.conflicting_labels} with conflicting labels"
    )
    console.print(f"sha256: {summary.sha256}")
    for number, group in enumerate(summary.cross_split, 1):  # what the cross-split warning points to
        console.print(f"in more than one split, {number}: " + " = ".join(f"{m['id']} ({m['split']}, {m['label']})"
                                                                       for m in group), highlight=False, markup=False)


def print_score_record(record, out_dir=None) -> None:
    """A score record as a short table: what was measured, on what, and how."""
    from fercomp.records import record_path

    title = f"{record.name} on {record.data['split']} ({record.data['size']} images of {record.data['source']})"
    if record.status != "scored":
        failure = record.failure or {}
        console.print(f"[bold red]FAILED[/] {title}")
        console.print(f"reason: {failure.get('reason')} during {failure.get('phase')}: {failure.get('detail')}")
    else:
        table = Table(title=title, show_header=True)
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_column("how")
        lat, ci = record.latency, record.intervals
        micronet, roof = record.flops.get("micronet") or {}, record.roofline
        rows = [
            ("accuracy", f"{100 * record.accuracy:.2f} %", "correct / all images of the split, pooled"
             + (f"; 95 % CI {interval(ci.get('accuracy_wilson'), '.2f', 100)} % (Wilson)" if ci else "")),
            ("top-2 accuracy", f"{100 * record.top2_accuracy:.2f} %", "true class among the two highest outputs"),
            ("macro F1", f"{record.averages['macro']['f1']:.4f}", "unweighted mean of per-class F1"
             + (f"; 95 % CI {interval(ci.get('macro_f1_bootstrap'), '.4f')} (bootstrap, {ci.get('resamples')} resamples)"
                if ci else "")),
            ("GFLOPs", f"{record.gflops:.4f}" if record.gflops else "n/a",
             f"fvcore, 1 multiply-add = 1 FLOP, input {record.flops.get('input_shape')}; check: {record.flops.get('check')}"),
            ("efficiency", f"{record.efficiency:.2f}" if record.efficiency else "n/a",
             f"{record.efficiency_inputs['accuracy_percent']:.2f} % ÷ {record.gflops or 0:.4f} GFLOPs"),
            ("parameters", f"{record.params_total / 1e6:.3f} M",
             f"{record.params_trainable / 1e6:.3f} M trainable, {record.weight_bytes / 2**20:.1f} MiB"),
            ("latency p50 / p90", f"{lat['latency_ms_p50']:.2f} / {lat['latency_ms_p90']:.2f} ms",
             f"batch 1, {lat['queries']} queries, {lat['threads']} threads, {lat['device']}; check: {lat['check']}"
             + (f"; clocks (advisory): {lat['clock_check']['verdict']}" if lat.get("clock_check") else "")),
            ("throughput", f"{lat['throughput_images_per_s']:.0f} img/s" if lat.get("throughput_images_per_s") else "n/a",
             f"batch {lat['throughput_batch']}; {lat.get('throughput_source', 'timed batches')}"),
        ]
        if "ops" in micronet:
            rows.append(("MicroNet operations", f"{micronet['ops'] / 1e9:.4f} G",
                         f"{micronet['mults'] / 1e9:.4f} G mults + {micronet['adds'] / 1e9:.4f} G adds, elementwise work included"))
        if roof:
            beyond = roof["seconds_per_image"] - roof.get("seconds_per_image_reference", 0.0)
            rows.append(("roofline (advisory)", roof["verdict"], f"{1e3 * beyond:.3f} ms/image beyond the reference graph × "
                         f"{roof['machine_macs_per_s'] / 1e9:.1f} G MAC/s = {roof['implied_macs'] / 1e9:.4f} G vs "
                         f"{roof['counted_macs'] / 1e9:.4f} G counted"))
        for row in rows:
            table.add_row(*row)
        console.print(table)
        for flag in record.flags:
            console.print(f"[yellow]flag:[/] {flag}")
        for detail in (lat.get("clock_check") or {}).get("detail", []):
            console.print(f"review (a time, never a flag): {detail}")
        why_not = (record.sandbox or {}).get("why_not")
        console.print(f"isolation: {', '.join(record.isolation) or 'none'}" + (f" (no jail: {why_not})" if why_not else ""),
                      highlight=False)
    if out_dir is not None:
        console.print(f"record: {record_path(out_dir, record.name, record.data['split'])}")


def outcome_words(record) -> str:
    """What may be said of a final-phase record before the reveal: scored, flagged (by flag name) or failed (by
    reason), never a figure."""
    if record.status != "scored":
        return f"failed ({(record.failure or {}).get('reason', 'unknown')})"
    flags = sorted({flag.split(":")[0] for flag in record.flags})
    return f"scored, flagged ({', '.join(flags)})" if flags else "scored"


def print_final_record(record, out_dir=None) -> None:
    """One final-phase record as a log may show it: the team and its outcome; the figures stay in the record."""
    where = f"; record in {out_dir} (readable by you alone)" if out_dir is not None else ""
    console.print(f"{record.name}: {outcome_words(record)}{where}", highlight=False, markup=False)


def final_counts(names_by_outcome: dict[str, list[str]]) -> str:
    """'3 scored; 1 failed: team_b; 1 flagged: team_c': counts, and the names of the teams that need a look."""
    parts = []
    for outcome, names in names_by_outcome.items():
        listed = f": {', '.join(names)}" if names and outcome != "scored" else ""
        parts.append(f"{len(names)} {outcome}{listed}")
    return "; ".join(parts)


def print_final_summary(board, written) -> None:
    """The final board as a log may show it before the reveal: counts and team names, and where the files are."""
    names = {"scored": [m.team for m in board.marks if m.status == "scored"],
             "failed": [m.team for m in board.marks if m.status != "scored"],
             "flagged": sorted(t for t, r in board.teams.items() if r.status == "scored" and r.flags),
             "under review": list(board.under_review)}
    console.print(f"Final phase ({board.split}): {final_counts(names)}; {len(board.notes)} note(s) and "
                  f"{len(board.refused)} refused record(s), in the board's files", highlight=False, markup=False)
    for refusal in board.refused:  # which file was refused and why: names and hashes, no figure
        console.print(f"- refused: {refusal}", highlight=False, markup=False)
    for path in written:
        console.print(f"wrote {path} (readable by you alone)", highlight=False, markup=False)


def print_check_report(report) -> None:
    """`fercomp check`: one line per check, then the verdict."""
    for name, ok, detail in report.items:
        mark = "[green]PASS[/]" if ok else "[red]FAIL[/]"
        console.print(f"{mark} {name}" + (f" — {detail}" if detail else ""), highlight=False)
    console.print("[bold green]ready to submit[/]" if report.passed else "[bold red]not ready: fix the FAIL lines[/]")


#: the board's headers, shortened for a terminal (the files keep the long ones)
_SHORT = {"tie group": "tie", "accuracy %": "acc %", "95 % CI": "95% CI", "macro-F1 (95 % CI)": "F1", "efficiency": "eff.",
          "params M": "M par.", "latency p50 ms": "p50 ms", "accuracy mark": "acc mk", "efficiency mark": "eff mk",
          "report mark": "rep mk", "final mark": "final"}


def print_leaderboard(board) -> None:
    """The leaderboard as a rich table, with the explanation and the notes under it."""
    from fercomp.render.table import columns, header, rows
    from fercomp.render.text_formats import explanation

    # The screen shows the figures and accuracy's interval; the files (md, csv, …) carry every interval,
    # the weight bytes and the sandbox layers, which would wrap every row of a 140-column log.
    cols = [c for c in columns(board) if c not in ("weights MB", "sandbox")]
    table = Table(title=f"Leaderboard — {board.phase} phase ({board.split})")
    for c in cols:
        scheme_named = c == "efficiency" and board.config.marks.efficiency_scheme != "acc_per_gflop"
        name = header(board, c) if scheme_named else _SHORT.get(c, header(board, c))
        text = c in ("team", "status")  # these fold; numbers and intervals stay on one line
        table.add_column(name, justify="left" if text else "right", overflow="fold", no_wrap=not text,
                         min_width=10 if text else None)
    for row in rows(board):
        style = "italic yellow" if row["status"] == "baseline" else ("red" if row["status"].startswith("failed") else None)
        cells = {**row, **{c: row[c].split(" (")[0] for c in ("macro-F1 (95 % CI)", "efficiency")}}
        table.add_row(*(cells[c] for c in cols), style=style)
    console.print(table)
    console.print("Columns: acc % accuracy, 95% CI its interval, F1 macro-F1, eff. efficiency, M par. parameters in "
                  "millions, p50 ms batch-1 latency, acc mk / eff mk the marks; the files add every interval, the weight "
                  "bytes and the sandbox layers.", highlight=False)
    console.print(explanation(board), highlight=False)
    for note in board.notes:  # soft-wrapped: one line each, so a CI log can be searched for a team
        console.print(f"- {note}", highlight=False, soft_wrap=True)
    for refusal in board.refused:
        console.print(f"[red]- refused:[/] {refusal}", highlight=False, soft_wrap=True)


@contextmanager
def scoring_progress(stream=None, force_terminal: bool | None = None):
    """A progress callback for scoring many submissions: a rich bar with ETA and the team being scored
    on a terminal, one plain line per finished team otherwise (CI logs). Written to stderr."""
    err = Console(stderr=True, file=stream, force_terminal=force_terminal)
    if not err.is_terminal:
        def plain(event: str, team: str, done: int, total: int) -> None:
            if event == "done":
                err.print(f"scored {team} ({done}/{total})", highlight=False)

        yield plain
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    running: list[str] = []
    with Progress(TextColumn("scoring {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False) as bar:
        task = None

        def draw(event: str, team: str, done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task("", total=total)
            running.append(team) if event == "start" else running.remove(team) if team in running else None
            bar.update(task, completed=done, description=", ".join(running) or "done")

        yield draw


def print_predictions(result) -> None:
    """One row per image: the top-k classes with their probabilities (and the true class when known)."""
    table = Table(title="Predictions (softmax of the outputs)")
    table.add_column("image", overflow="fold")
    if result.labels is not None:
        table.add_column("true")
    table.add_column("top classes")
    for row in result.rows():
        top = ", ".join(f"{t['class']} {100 * t['probability']:.1f} %" for t in row["top"])
        table.add_row(row["image"], *([row["true"]] if result.labels is not None else []), top)
    console.print(table)


def print_comparison(result: dict) -> None:
    """`fercomp compare`: both accuracies with their intervals, the discordant images, the test and the verdict."""
    a, b = result["a"], result["b"]
    table = Table(title=f"{a} vs {b} on {result['split']} ({result['images']} images)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for team in (a, b):
        low, high = result["accuracy_wilson_95"][team]
        table.add_row(f"accuracy {team}", f"{100 * result['accuracy'][team]:.2f} % (95 % CI {100 * low:.2f}–{100 * high:.2f})")
    table.add_row(f"right only by {a}", str(result["only_a_correct"]))
    table.add_row(f"right only by {b}", str(result["only_b_correct"]))
    low, high = result["difference_bootstrap_95"]
    table.add_row(f"difference {a} − {b}", f"{100 * result['difference']:+.2f} points (95 % CI {100 * low:+.2f} to {100 * high:+.2f})")
    table.add_row("exact McNemar p", f"{result['mcnemar_exact_p']:.4g}")
    console.print(table)
    console.print(f"{a} and {b} are {result['verdict']} at α = {result['alpha']:g}.", highlight=False)
    console.print(result["method"], highlight=False)


def print_audit(audit, notes: list[str] = ()) -> None:
    """One line per check: flagged findings with their numbers, or what the check found for the cohort."""
    from fercomp.render.audit import teams_words

    console.print(f"[bold]Audit — {audit.split}[/bold]: under review: {', '.join(audit.under_review) or 'nobody'}",
                  highlight=False)
    for check in audit.checks:
        if check.not_run:
            console.print(f"  {check.id}: not run ({check.not_run})", highlight=False)
            continue
        flagged = check.flagged
        console.print(f"  {check.id}: " + (f"[red]{len(flagged)} flagged[/red]" if flagged else "nothing flagged"),
                      highlight=False)
        for finding in flagged:
            console.print(f"    {teams_words(finding)}: {finding.detail}", highlight=False, markup=False)
    for note in [*audit.notes, *notes]:
        console.print(f"  note: {note}", highlight=False, markup=False)

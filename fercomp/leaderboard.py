"""Collect score records (scoring what is missing or stale), rank them and compute marks.

A record is stale when the hand-in's file or weights, the data, the split or the scoring settings
(device, threads, batch size, latency, limits, sandbox mode, fercomp version: `settings_sha256`) changed
since it was written. `rescore` forces named teams (or all) anyway.

Merging records from several folders (a CI matrix) takes each record once and refuses, with one named
line each, a record that is malformed or of another schema, whose file name and team disagree, whose
submission file is not in the submissions folder, or whose hashes do not match that file. The board is
still built from the rest.
"""

from __future__ import annotations

import queue
from dataclasses import replace
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from fercomp.audit import Audit
from fercomp.board import Leaderboard
from fercomp.comparisons import compare_board
from fercomp.config import CompetitionConfig, check_supplement
from fercomp.cores import split_cores
from fercomp.errors import RecordError, SubmissionError, UsageError
from fercomp.hashing import sha256_file
from fercomp.marks import board_order, compute_marks, dominance_warning, read_report_marks, weak_baseline
from fercomp.records import SCHEMA, ScoreRecord, read_record, record_path
from fercomp.roster import StudentGrade, read_roster, student_grades

#: progress(event, team, done, total): event is "start" or "done"; the CLI draws it, tests record it.
Progress = Callable[[str, str, int, int], None]


def discover(folder: Path) -> list[Path]:
    """Team submissions: every .py file in `folder` not starting with '_' or '.'."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such submissions folder")
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith(("_", ".")))


def shard(paths: list[Path], spec: str | None) -> list[Path]:
    """Paths of shard I of N (1-based, 'I/N'), round-robin over the sorted list; all when spec is None."""
    if not spec:
        return paths
    try:
        index, count = (int(x) for x in spec.split("/"))
    except ValueError:
        raise UsageError(f"--shard {spec}: expected I/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {spec}: I must be between 1 and N")
    return [p for k, p in enumerate(sorted(paths)) if k % count == index - 1]


def staleness(record: ScoreRecord, path: Path, data_sha256: str, settings_sha256: str | None = None,
              settings: dict | None = None) -> str | None:
    """Why `record` no longer describes `path` on this data under these settings, or None if it still does."""
    from fercomp.submission.contract import declared_hashes

    if record.schema != SCHEMA:
        return f"scored by an older fercomp ({record.schema}, now {SCHEMA})"
    if record.data.get("sha256") != data_sha256:
        return "the data changed"
    if settings_sha256 is not None and record.settings_sha256 != settings_sha256:
        return "settings changed: " + _settings_diff(record.settings, settings or {})
    try:
        sha, weights_sha = declared_hashes(path)
    except (SubmissionError, UsageError):
        current = sha256_file(path) if path.is_file() else None
        return None if current == record.submission.get("sha256") else "the submission file changed"
    if sha != record.submission.get("sha256"):
        return "the submission file changed"
    if weights_sha != record.submission.get("weights_sha256"):
        return "the weights changed"
    return None


def _settings_diff(old: dict, new: dict) -> str:
    """'latency.min_queries 3 → 5, threads 2 → 1': what differs between two settings dicts."""
    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    a, b = flat(old or {}), flat(new)
    changed = [f"{k} {a.get(k, '—')} → {b.get(k, '—')}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(changed[:4]) + (" …" if len(changed) > 4 else "") if changed else "recorded before settings were hashed"


def fresh_record(path: Path, results: Path, split: str, data_sha256: str, settings: dict) -> tuple[ScoreRecord | None, str]:
    """(`path`'s record of `split` in `results` if it still describes that hand-in on this data under these
    settings, else None; why it does not)."""
    from fercomp.scoring import settings_sha256

    existing = record_path(results, path.stem, split)
    if not existing.exists():
        return None, "no record yet"
    try:
        record = read_record(existing)
        reason = staleness(record, path, data_sha256, settings_sha256(settings), settings)
    except RecordError as exc:
        return None, exc.message
    return (record, "fresh") if reason is None else (None, reason)


def collect_and_score(paths: list[Path], results: Path, score_config, jobs: int = 1, rescore: set[str] | None = None,
                      progress: Progress | None = None, latency: str = "parallel") -> tuple[dict[str, ScoreRecord], list[str]]:
    """Fresh records for `paths`, scoring (in `jobs` parallel workers) those missing, stale or in `rescore`
    (team names, or {"all"}).

    With several jobs each gets its own equal share of the cores (pinned, with as many threads: the
    records' settings say how many); `latency = "serial"` runs the latency phases one at a time. Each
    hand-in gets fresh jails of its own (see fercomp/submission/runner.py)."""

    from fercomp.data.source import load_data
    from fercomp.scoring import score_submission, scoring_split, settings_of

    if latency not in ("parallel", "serial"):
        raise UsageError(f"--latency {latency}: expected parallel or serial")
    data = load_data(score_config.data, held_out=score_config.held_out)
    split = scoring_split(score_config, data)
    cores, notes = None, []
    if jobs > 1:
        cores = split_cores(jobs)
        score_config = replace(score_config, limits=replace(score_config.limits, threads=cores.threads))
    settings = settings_of(score_config)
    rescore = set(rescore or ())
    unknown = rescore - {"all"} - {p.stem for p in paths}
    if unknown:
        raise UsageError(f"--rescore {sorted(unknown)[0]}: no such team among the submissions")
    records, todo, first = {}, [], []
    for path in paths:
        if "all" in rescore or path.stem in rescore:
            record, reason = None, "--rescore"
        else:
            record, reason = fresh_record(path, results, split, data.source_sha256, settings)
        if record is not None:
            records[path.stem] = record
            continue
        if reason == "no record yet":
            first.append(path.stem)
        else:  # a record that was there and is not used: the board says why
            notes.append(f"{path.stem}: scored ({reason})")
        todo.append(path)
    if first:  # nothing wrong here: a hand-in met for the first time is simply scored
        notes.insert(0, f"scored for the first time in this run: {', '.join(first)}")
    if todo and cores and cores.note and not (cores.shared and latency == "serial"):
        notes.append(cores.note)
    lock = threading.Lock() if latency == "serial" and jobs > 1 else None
    if lock is not None:  # each other job holds the lock for at most one latency phase, inside its own time limit
        limits = score_config.limits
        score_config = replace(score_config, limits=replace(limits, queue_allowance_s=(jobs - 1) * limits.time_limit_s))
    slots: queue.Queue = queue.Queue()
    for slot in (cores.slots if cores else [None]):
        slots.put(slot)

    def score(path: Path) -> ScoreRecord:
        slot = slots.get()
        try:
            return score_submission(path, score_config, data=data, cores=slot, latency_lock=lock)
        finally:
            slots.put(slot)

    records.update(dict(_score_all(todo, score, jobs, progress)))
    # in the order of `paths`, whatever order the parallel jobs finished in: boards are reproducible
    return {p.stem: records[p.stem] for p in paths if p.stem in records}, notes


def _score_all(todo: list[Path], score: Callable, jobs: int, progress: Progress | None):
    """Yield (team, record) as each finishes, telling `progress` when each starts and ends."""
    done = 0

    def one(path: Path):
        if progress:
            progress("start", path.stem, done, len(todo))
        return path.stem, score(path)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in as_completed([pool.submit(one, p) for p in todo]):
            name, record = future.result()
            done += 1
            if progress:
                progress("done", name, done, len(todo))
            yield name, record


def merge_results(folders: list[Path], split: str, submissions: Path | None,
                  baseline: Path | None = None) -> tuple[dict[str, ScoreRecord], list[str], list[str]]:
    """Records of `split` from several folders: (records, notes, refused). Identical duplicates are fine;
    a record that cannot be trusted is refused by name and left out, and the rest are merged."""
    records: dict[str, ScoreRecord] = {}
    notes, refused = [], []
    for folder in folders:
        if not Path(folder).is_dir():
            raise UsageError(f"{folder}: no such results folder")
        for path in sorted(Path(folder).glob(f"*.{split}.json")):
            try:
                record = read_record(path)
                _verify(record, path, split, submissions, baseline)
                previous = records.get(record.name)
                if previous is not None and previous.submission.get("sha256") != record.submission.get("sha256"):
                    raise RecordError(f"{path}: a second, different record for team '{record.name}'; keep one")
            except RecordError as exc:
                refused.append(exc.message)
                continue
            if previous is None or record.timestamp > previous.timestamp:
                records[record.name] = record
    if not records:
        notes.append(f"no {split} records found in {', '.join(map(str, folders))}")
    digests = {r.settings_sha256 for r in records.values()}
    if len(digests) > 1:
        notes.append(f"records were scored under {len(digests)} different settings; compare their `settings`")
    return records, notes, refused


def _verify(record: ScoreRecord, path: Path, split: str, submissions: Path | None, baseline: Path | None) -> None:
    """Refuse a record that does not describe a hand-in that is here, byte for byte."""
    from fercomp.submission.contract import declared_hashes

    if path.name != f"{record.name}.{record.split}.json" or record.split != split:
        raise RecordError(f"{path}: the file name does not match the record's team '{record.name}' and split "
                          f"'{record.split}'; a record is <team>.<split>.json")
    if submissions is None:
        return
    candidate = Path(submissions) / f"{record.name}.py"
    if baseline is not None and Path(baseline).stem == record.name:
        candidate = Path(baseline)
    if not candidate.is_file():
        raise RecordError(f"{path}: team '{record.name}' has no {candidate}; a record without its hand-in is not merged")
    try:
        sha, weights_sha = declared_hashes(candidate)
    except (SubmissionError, UsageError):
        sha, weights_sha = sha256_file(candidate), record.submission.get("weights_sha256")
    if sha != record.submission.get("sha256"):
        raise RecordError(f"{path}: record says {record.name}.py has sha256 {str(record.submission.get('sha256'))[:12]}…, "
                          f"but {candidate} has {sha[:12]}…; re-score it")
    if record.status == "scored" and weights_sha != record.submission.get("weights_sha256"):
        raise RecordError(f"{path}: record's weights sha256 {str(record.submission.get('weights_sha256'))[:12]}… does not "
                          f"match the weights of {candidate} ({str(weights_sha)[:12]}…); re-score it")


def build(
    records: dict[str, ScoreRecord], baseline_name: str, config: CompetitionConfig, split: str,
    report_marks_path: Path | None = None, notes: list[str] | None = None, phase: str = "final",
    refused: list[str] | None = None, roster_path: Path | None = None, audit: Audit | None = None,
) -> Leaderboard:
    """Marks and ranking from records: the baseline is taken out and shown, not ranked. Teams the `audit`
    flagged are marked "under review" (and, with [audit] withhold, get no marks until cleared)."""
    notes = list(notes or [])
    if phase == "final":  # a board merged from shards' records is held to the same rule as a scored one
        check_supplement(config)
    if baseline_name not in records:
        raise UsageError(f"no {split} record for the baseline '{baseline_name}'; "
                         f"score it first (fercomp score {config.competition.baseline})")
    baseline = records[baseline_name]
    teams = {name: r for name, r in records.items() if name != baseline_name}
    mixed = sorted({r.split for r in records.values()} - {split})
    if mixed:
        raise RecordError(f"records of split {mixed[0]} mixed into the {split} leaderboard")
    report_marks = None
    if report_marks_path is not None:
        report_marks = read_report_marks(report_marks_path, config.marks.report)
        for team in sorted(set(report_marks) - set(teams)):
            notes.append(f"report mark for '{team}', who has no submission")
        for team in sorted(set(teams) - set(report_marks)):
            notes.append(f"no report mark for '{team}'")
    if baseline.status != "scored":
        reason = (baseline.failure or {}).get("reason", "no accuracy")
        raise UsageError(f"the baseline record is not scored ({reason}); marks need a scored baseline")
    weak = weak_baseline(baseline)
    if weak and phase == "final" and not config.marks.allow_weak_baseline:
        raise UsageError(f"final board stopped: {weak_baseline(baseline, figures=False)} (or set [marks] "
                         "allow_weak_baseline = true to build it anyway)")
    if weak:
        notes.append(f"warning: {weak}" + ("" if phase == "final" else "; the final board will refuse this baseline"))
    ordered = [teams[n] for n in board_order(teams, baseline, config.marks)]
    comparisons, stat_notes = compare_board(ordered, baseline, config.marks.alpha)
    notes += stat_notes
    review = {team: audit.review_note(team) for team in audit.under_review} if audit else {}
    withheld = audit.withheld() if audit and config.audit.withhold else {}
    marks = compute_marks(teams, baseline, config.marks, report_marks, comparisons, withheld=withheld or None)
    for row in marks:
        if row.team in review and row.team not in withheld:
            row.notes.append(review[row.team])
    if audit is not None:
        notes.append(audit_note(audit, config.audit.withhold))
    warning = dominance_warning(marks, config.marks)
    if warning:
        notes.append(warning)
    grades: list[StudentGrade] = []
    if roster_path is not None:
        grades, roster_notes = student_grades(read_roster(roster_path), marks)
        notes += roster_notes
    return Leaderboard(split=split, baseline=baseline, teams=teams, marks=marks, config=config, notes=notes,
                       phase=phase, refused=list(refused or []), grades=grades, comparisons=comparisons,
                       under_review=sorted(review))


def audit_note(audit: Audit, withhold: bool) -> str:
    """The board's one line about the audit: who is under review and why, or that nobody is."""
    if not audit.under_review:
        return f"audit: no team flagged by the {sum(1 for c in audit.checks if not c.not_run)} checks that ran"
    teams = "; ".join(f"{t} ({', '.join(audit.reasons(t))})" for t in audit.under_review)
    if not withhold:
        then = "marks unchanged ([audit] withhold = false)"
    else:
        held = audit.withheld()
        kept = [t for t in audit.under_review if t not in held]
        then = (f"marks withheld until cleared from {', '.join(held) or 'nobody'}"
                + (f"; kept by {', '.join(kept)} (the earlier of a pair, or a pair whose order is unknown)" if kept else ""))
    return f"audit: under review: {teams}; {then}; evidence in audit-{audit.split}.md"

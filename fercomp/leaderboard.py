"""Collect score records (scoring what is missing or stale), rank them and compute marks.

A record is stale when the submission's file or weights, the data, the split or the fercomp version
changed since it was written (compared by hash). Merging records from several folders (a CI matrix)
takes each record once; the same record twice is harmless, and a record whose hashes do not match the
submission file it names is refused.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fercomp import __version__
from fercomp.config import CompetitionConfig
from fercomp.errors import RecordError, SubmissionError, UsageError
from fercomp.marks import TeamMarks, compute_marks, read_report_marks
from fercomp.records import ScoreRecord, read_record, record_path


@dataclass
class Leaderboard:
    split: str
    baseline: ScoreRecord
    teams: dict[str, ScoreRecord]
    marks: list[TeamMarks]
    config: CompetitionConfig
    notes: list[str] = field(default_factory=list)  # what the instructor must know (missing teams, rescored, …)


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


def staleness(record: ScoreRecord, path: Path, data_sha256: str) -> str | None:
    """Why `record` no longer describes `path` on this data, or None if it still does."""
    from fercomp.submission.contract import read_submission

    if record.environment.get("fercomp") != __version__:
        return f"scored by fercomp {record.environment.get('fercomp')}, this is {__version__}"
    if record.data.get("sha256") != data_sha256:
        return "the data changed"
    try:
        files = read_submission(path)
    except (SubmissionError, UsageError):
        current = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return None if current == record.submission.get("sha256") else "the submission file changed"
    if files.sha256 != record.submission.get("sha256"):
        return "the submission file changed"
    if files.weights_sha256 != record.submission.get("weights_sha256"):
        return "the weights changed"
    return None


def collect_and_score(paths: list[Path], results: Path, score_config, jobs: int = 1) -> tuple[dict[str, ScoreRecord], list[str]]:
    """Fresh records for `paths`, scoring (in `jobs` parallel workers) those missing or stale."""
    from fercomp.data.source import load_data
    from fercomp.scoring import score_submission

    data = load_data(score_config.data, held_out=score_config.held_out)
    split = data.resolve_split(score_config.split or data.held_out or "")
    records, todo, notes = {}, [], []
    for path in paths:
        existing = record_path(results, path.stem, split)
        reason = "no record yet"
        if existing.exists():
            try:
                record = read_record(existing)
                reason = staleness(record, path, data.source_sha256)
            except RecordError as exc:
                reason = exc.message
            if reason is None:
                records[path.stem] = record
                continue
        notes.append(f"{path.stem}: scored ({reason})")
        todo.append(path)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for path, record in zip(todo, pool.map(lambda p: score_submission(p, score_config, data=data), todo)):
            records[path.stem] = record
    return records, notes


def merge_results(folders: list[Path], split: str, submissions: Path | None) -> tuple[dict[str, ScoreRecord], list[str]]:
    """Records of `split` from several folders; identical duplicates are fine, hash mismatches are not."""
    records: dict[str, ScoreRecord] = {}
    notes = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise UsageError(f"{folder}: no such results folder")
        for path in sorted(Path(folder).glob(f"*.{split}.json")):
            record = read_record(path)
            _verify_against_files(record, path, submissions)
            previous = records.get(record.name)
            if previous is not None and previous.submission.get("sha256") != record.submission.get("sha256"):
                raise RecordError(f"{path}: a second, different record for team '{record.name}'; keep one")
            if previous is None or record.timestamp > previous.timestamp:
                records[record.name] = record
    if not records:
        notes.append(f"no {split} records found in {', '.join(map(str, folders))}")
    return records, notes


def _verify_against_files(record: ScoreRecord, path: Path, submissions: Path | None) -> None:
    """Refuse a record whose submission hash does not match the file it names, where that file is here."""
    candidates = [Path(submissions) / f"{record.name}.py"] if submissions else []
    candidates.append(Path(record.submission.get("path", "")))
    for candidate in candidates:
        if candidate.is_file():
            actual = hashlib.sha256(candidate.read_bytes()).hexdigest()
            if actual != record.submission.get("sha256"):
                raise RecordError(
                    f"{path}: record says {record.name}.py has sha256 {str(record.submission.get('sha256'))[:12]}…, "
                    f"but {candidate} has {actual[:12]}…; re-score it"
                )
            return


def build(
    records: dict[str, ScoreRecord], baseline_name: str, config: CompetitionConfig, split: str,
    report_marks_path: Path | None = None, notes: list[str] | None = None,
) -> Leaderboard:
    """Marks and ranking from records: the baseline is taken out and shown, not ranked."""
    notes = list(notes or [])
    if baseline_name not in records:
        raise UsageError(f"no {split} record for the baseline '{baseline_name}'; score it first (fercomp score {config.competition.baseline})")
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
    try:
        marks = compute_marks(teams, baseline, config.marks, report_marks)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Leaderboard(split=split, baseline=baseline, teams=teams, marks=marks, config=config, notes=notes)

"""The course's hand-in times (`[audit] handed_in`): which of a flagged pair was handed in first.

A CSV with a header row `team,handed_in`, one row per team, the time in ISO 8601 (UTC when it gives no zone),
as the course's hand-in system recorded it (an LMS export, the submission server's log). Never times a student
can set — file modification times, commit dates — or a copier could date a copy before its source.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from fercomp.csv_text import read_csv_text
from fercomp.errors import UsageError


def read_handed_in(path: Path) -> dict[str, dt.datetime]:
    """team → aware hand-in time; a one-line UsageError names the file, the row and what to fix."""
    path = Path(path)
    text = read_csv_text(path, "hand-in times", "[audit] handed_in")
    rows = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(rows, [])]
    if "team" not in header or "handed_in" not in header:
        raise UsageError(f"{path}: row 1: expected the columns team and handed_in (found {', '.join(header) or 'nothing'})")
    team_at, time_at = header.index("team"), header.index("handed_in")
    times: dict[str, dt.datetime] = {}
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        team = row[team_at].strip() if team_at < len(row) else ""
        text_time = row[time_at].strip() if time_at < len(row) else ""
        try:
            when = dt.datetime.fromisoformat(text_time)
        except ValueError:
            raise UsageError(f"{path}: row {number}: handed_in {text_time!r} is not an ISO 8601 time, e.g. "
                             "2026-12-01T09:30:00+00:00") from None
        if not team:
            raise UsageError(f"{path}: row {number}: empty team")
        if team in times:
            raise UsageError(f"{path}: row {number}: team {team} is listed twice; keep the time of the hand-in scored")
        times[team] = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return times

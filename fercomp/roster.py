"""The course roster (team → students) and per-student grades for a gradebook (LMS) import.

A roster is a CSV with a header row, matched case-insensitively: `team` and `student_id` (or `id`) are
required, `name` and `email` optional; UTF-8 with or without a byte-order mark (as spreadsheet programs
write it). One row per student. Pure functions of marks: no torch, no submissions.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from fercomp.csv_text import read_csv_text
from fercomp.errors import UsageError
from fercomp.marks import TeamMarks

_ALIASES = {"team": "team", "student_id": "student_id", "id": "student_id", "student id": "student_id",
            "name": "name", "email": "email", "e-mail": "email"}


@dataclass(frozen=True)
class Student:
    student_id: str
    name: str
    email: str
    team: str


@dataclass(frozen=True)
class StudentGrade:
    """One gradebook row: the student and their team's marks (None where the team has no record)."""

    student: Student
    status: str  # scored | failed | missing (no submission for the team) | no_team
    accuracy_mark: float | None
    efficiency_mark: float | None
    report_mark: float | None
    final_mark: float | None


def read_roster(path: Path) -> list[Student]:
    """Parse the roster; a one-line UsageError names the file, the row and what to fix."""
    path = Path(path)
    text = read_csv_text(path, "roster")
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise UsageError(f"{path}: empty roster; expected a header row with team and student_id columns")
    columns = {_ALIASES[h.strip().lower()]: i for i, h in enumerate(header) if h.strip().lower() in _ALIASES}
    missing = [c for c in ("team", "student_id") if c not in columns]
    if missing:
        raise UsageError(f"{path}: row 1: no {missing[0]} column (header is {', '.join(header)}); "
                         "name the columns team, student_id, name, email")
    students, seen = [], {}
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda key: row[columns[key]].strip() if key in columns and columns[key] < len(row) else ""  # noqa: E731
        student = Student(cell("student_id"), cell("name"), cell("email"), cell("team"))
        if not student.student_id:
            raise UsageError(f"{path}: row {row_number}: empty student_id")
        if student.student_id in seen:
            raise UsageError(f"{path}: row {row_number}: student_id {student.student_id} is also on row {seen[student.student_id]}")
        seen[student.student_id] = row_number
        students.append(student)
    return students


def student_grades(students: list[Student], marks: list[TeamMarks]) -> tuple[list[StudentGrade], list[str]]:
    """Each student's marks from their team's row; notes list teams without students and students
    without a team (no team on the roster, or a team that handed nothing in)."""
    by_team = {m.team: m for m in marks}
    grades, notes = [], []
    for s in students:
        m = by_team.get(s.team)
        if m is None:
            status = "no_team" if not s.team else "missing"
            grades.append(StudentGrade(s, status, None, None, None, None))
            notes.append(f"student {s.student_id} ({s.name or 'no name'}) has no team on the roster" if not s.team
                         else f"student {s.student_id} ({s.name or 'no name'}): team '{s.team}' has no submission")
            continue
        grades.append(StudentGrade(s, m.status, m.accuracy_mark, m.efficiency_mark, m.report_mark, m.final_mark))
    on_roster = {s.team for s in students}
    notes += [f"team '{m.team}' has no students on the roster" for m in marks if m.team not in on_roster]
    return grades, notes

"""Grade files Canvas, Moodle and Blackboard import without hand fixes. Pure: roster and marks in, CSV out.

With the LMS's own export (`--gradebook-template`), every column and row of it is kept in its order and one
assignment column is filled (the one named `column`, keeping its LMS id; else a new column of that name is
added, which the LMS creates as a new assignment). Before anything is written, every roster student must be a
student of the export and every student of the export must be on the roster: Moodle aborts a whole import on
one unknown user, and a student missing on our side would silently get no grade. Without an export, the file
has the LMS's documented import columns, and the roster's student_id is the LMS's key for the student.

Keys (the LMS's own):
- Canvas matches a row by `ID`, `SIS User ID` or `SIS Login ID`; its export's `Points Possible` row and its
  `Student, Test` row are kept as they are. A column header `Name (id)` is an existing assignment.
- Moodle maps rows by `userid`, `ID number`, `Email address` or `Username`; grades must be numbers.
- Blackboard keys rows by `Username` (its export also has `Student ID`); a column header
  `Name [Total Pts: N Score] |id` is an existing Grade Center column; one without `|id` becomes a new (text) column.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from fercomp.board import Leaderboard
from fercomp.errors import UsageError
from fercomp.roster import Student, StudentGrade

LMS = ("canvas", "moodle", "blackboard")
DEFAULT_COLUMN = "FER competition"
#: the export's columns that identify a student, per LMS (matched case-insensitively)
KEYS = {"canvas": ("SIS User ID", "SIS Login ID", "ID"),
        "moodle": ("ID number", "Username", "userid", "Email address"),
        "blackboard": ("Username", "Student ID")}
#: what a file written without an export has: the documented import columns, the roster filling them
PLAIN_HEADER = {"canvas": ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"],
                "moodle": ["ID number", "Email address", "Full name"],
                "blackboard": ["Username", "Last Name", "First Name"]}
_CANVAS_SPECIAL = re.compile(r"^\s*(Points Possible|Manual Posting|Student, Test)\s*$")


@dataclass(frozen=True)
class Gradebook:
    """An LMS export (or the plain import layout), checked against the roster, ready to be filled."""

    lms: str
    header: list[str]
    rows: list[list[str]]
    column: int  # the index of the column to fill
    row_of: dict[str, int]  # student_id → index in rows
    delimiter: str = ","
    newline: str = "\n"
    bom: str = ""  # "" or the byte-order mark the export had (utf-8 or utf-16)
    source: str = ""


def prepare(lms: str, students: list[Student], template: Path | None = None, column: str = DEFAULT_COLUMN) -> Gradebook:
    """The gradebook to fill: the export's layout with every student matched, or the plain layout."""
    if lms not in LMS:
        raise UsageError(f"--gradebook {lms}: expected one of {', '.join(LMS)}")
    if template is None:
        header = PLAIN_HEADER[lms] + [column]
        rows = [_plain_row(lms, s) + [""] for s in students]
        return Gradebook(lms, header, rows, len(header) - 1, {s.student_id: i for i, s in enumerate(students)})
    text, bom = _read(Path(template))
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    table = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    if not table or not any(table[0]):
        raise UsageError(f"{template}: empty export; download the gradebook from {lms} (with its header row)")
    header, rows = table[0], [r + [""] * (len(table[0]) - len(r)) for r in table[1:] if any(c.strip() for c in r)]
    keys = [i for i, h in enumerate(header) if h.strip().lower() in {k.lower() for k in KEYS[lms]}]
    if not keys:
        raise UsageError(f"{template}: row 1: no student key column for {lms} (expected one of {', '.join(KEYS[lms])}); "
                         f"is this a {lms} export?")
    found = _find_column(lms, header, column)
    if found is None:
        header = header + [column]
        rows = [r + [""] for r in rows]
        found = len(header) - 1
    students_rows = [i for i, r in enumerate(rows) if not (lms == "canvas" and _CANVAS_SPECIAL.match(r[0]))]
    row_of, unknown = {}, []
    for s in students:
        match = [i for i in students_rows if any(rows[i][k].strip() in (s.student_id, s.email) and rows[i][k].strip()
                                                 for k in keys)]
        if match:
            row_of[s.student_id] = match[0]
        else:
            unknown.append(f"{s.student_id}" + (f" ({s.name})" if s.name else ""))
    missing = [" / ".join(rows[i][k] for k in keys if rows[i][k]) for i in students_rows if i not in set(row_of.values())]
    if unknown or missing:
        parts = ([f"{len(unknown)} roster student(s) not in the export: {', '.join(unknown)}"] if unknown else []) + \
                ([f"{len(missing)} student(s) of the export not on the roster: {', '.join(missing)}"] if missing else [])
        raise UsageError(f"{template}: {'; '.join(parts)}; fix the roster (or download a fresh export) — nothing was written")
    newline = "\r\n" if "\r\n" in text else "\n"
    return Gradebook(lms, header, rows, found, row_of, delimiter, newline, bom, str(template))


def fill(book: Gradebook, grades: list[StudentGrade], decimals: int, points: float | None = None) -> tuple[bytes, list[str]]:
    """The filled file (in the export's encoding, delimiter and line endings) and notes about students whose
    team has no mark (they get 0: Moodle refuses anything but a number)."""
    rows = [list(r) for r in book.rows]
    notes = []
    for g in grades:
        mark = g.final_mark if g.final_mark is not None else 0.0
        if g.final_mark is None or g.status != "scored":
            notes.append(f"{book.lms}: student {g.student.student_id} gets {mark:.{decimals}f} ({g.status})")
        rows[book.row_of[g.student.student_id]][book.column] = f"{mark:.{decimals}f}"
    if book.lms == "canvas" and points is not None:
        for r in rows:
            if r[0].strip() == "Points Possible" and not r[book.column]:
                r[book.column] = f"{points:.{decimals}f}"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=book.delimiter, lineterminator=book.newline)
    writer.writerows([book.header, *rows])
    encoding = "utf-16" if book.bom.startswith("utf-16") else "utf-8"
    data = out.getvalue().encode(encoding)  # Python's utf-16 writes its BOM itself
    return (b"\xef\xbb\xbf" + data if book.bom == "utf-8" else data), notes


def export(book: Gradebook, board: Leaderboard) -> tuple[str, bytes, list[str]]:
    """(file name, contents, notes) of the gradebook for `board`: final marks out of accuracy + efficiency
    (+ report, when the board has report marks), which Canvas's Points Possible row gets for a new column."""
    data, notes = fill(book, board.grades, board.config.marks.decimals, board.final_mark_maximum)
    return f"gradebook-{book.lms}-{board.split}.csv", data, notes


def _plain_row(lms: str, s: Student) -> list[str]:
    if lms == "canvas":
        return [s.name, "", s.student_id, "", ""]
    if lms == "moodle":
        return [s.student_id, s.email, s.name]
    first, _, last = s.name.rpartition(" ")  # "Zoë Ångström": last name Ångström, first name Zoë
    return [s.student_id, last, first]


def _find_column(lms: str, header: list[str], column: str) -> int | None:
    """The export's column for the assignment `column`: the same name, with or without the LMS's decoration
    (Canvas `Name (id)`, Moodle `Assignment: Name (Real)`, Blackboard `Name [Total Pts: …] |id`)."""
    wanted = column.strip().lower()
    for i, h in enumerate(header):
        name = h.strip()
        name = re.sub(r"\s*\(\d+\)$", "", name) if lms == "canvas" else name
        name = re.sub(r"^[^:]+:\s*|\s*\(Real\)$", "", name) if lms == "moodle" else name
        name = re.sub(r"\s*\[Total Pts:.*$", "", name) if lms == "blackboard" else name
        if name.lower() == wanted:
            return i
    return None


def _read(path: Path) -> tuple[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such gradebook export") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Blackboard's "Download Grades" as .xls: tab-separated UTF-16
        return raw.decode("utf-16"), "utf-16"
    try:
        return (raw[3:].decode("utf-8"), "utf-8") if raw.startswith(b"\xef\xbb\xbf") else (raw.decode("utf-8"), "")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start}); download the export again as CSV") from None

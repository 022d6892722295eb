"""Gradebook files Canvas, Moodle and Blackboard import as they are: from the LMS's own export (its id columns,
order, encoding and delimiter kept, one assignment column filled with numbers) or in the documented import
columns; a roster that does not match the export is refused by name before anything is written."""

import csv
import hashlib
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from fercomp import gradebook
from fercomp.errors import UsageError
from fercomp.records import write_record
from fercomp.roster import Student, StudentGrade
from tests.test_marks import record

GOLDEN = Path(__file__).parent / "golden"
EXPORTS = Path(__file__).parent / "fixtures" / "gradebook"
TEMPLATE = {"canvas": EXPORTS / "canvas-export.csv", "moodle": EXPORTS / "moodle-export.csv",
            "blackboard": EXPORTS / "blackboard-export.xls"}
STUDENTS = [Student("s001", "Zoë Ångström", "zoe@uni.example", "alpha"), Student("s002", "Bo Brown", "bo@uni.example", "beta"),
            Student("s003", "Li Chen", "li@uni.example", "gamma")]
GRADES = [StudentGrade(STUDENTS[0], "scored", 10.0, 7.25, None, 17.25), StudentGrade(STUDENTS[1], "scored", 4.5, 0.0, None, 4.5),
          StudentGrade(STUDENTS[2], "failed", 0.0, 0.0, None, 0.0)]


def table(data: bytes, lms: str) -> list[list[str]]:
    text = data.decode("utf-16") if lms == "blackboard" else data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter="\t" if lms == "blackboard" else ","))


def golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("FERCOMP_UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert path.read_bytes() == data


@pytest.mark.parametrize("lms", gradebook.LMS)
def test_from_the_export_only_the_assignment_column_changes(lms):
    data, notes = gradebook.fill(gradebook.prepare(lms, STUDENTS, TEMPLATE[lms]), GRADES, decimals=2, points=20.0)
    golden(f"gradebook-{lms}{TEMPLATE[lms].suffix}", data)
    before, after = table(TEMPLATE[lms].read_bytes(), lms), table(data, lms)
    column = next(i for i, h in enumerate(after[0]) if h.startswith(gradebook.DEFAULT_COLUMN) or h.endswith(gradebook.DEFAULT_COLUMN))
    assert after[0][: len(before[0])] == before[0]  # every column of the export, in its order, ids kept
    for old, new in zip(before, after):
        assert [c for i, c in enumerate(new) if i != column][: len(old)] == [c for i, c in enumerate(old) if i != column]
    marks = {r[[h.lower() for h in after[0]].index({"canvas": "sis user id", "moodle": "id number",
                                                    "blackboard": "student id"}[lms])]: r[column] for r in after[1:]}
    assert {k: marks[k] for k in ("s001", "s002", "s003")} == {"s001": "17.25", "s002": "4.50", "s003": "0.00"}
    assert notes == [f"{lms}: student s003 gets 0.00 (failed)"]
    if lms == "canvas":
        assert after[0][column] == "FER competition (5678)" and after[1][column] == "20.00"  # its id, its points
        assert after[-1][0] == "Student, Test" and after[-1][column] == ""  # Canvas's own test student, untouched
        assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
    if lms == "moodle":  # no such grade item in the export: a new column, which Moodle's import maps to a new item
        assert after[0][-1] == "FER competition" and data.startswith(b"\xef\xbb\xbf")
    if lms == "blackboard":
        assert after[0][column] == "FER competition [Total Pts: 20 Score] |102" and data.startswith(b"\xff\xfe")


@pytest.mark.parametrize("lms", gradebook.LMS)
def test_without_an_export_the_documented_import_columns(lms):
    data, _ = gradebook.fill(gradebook.prepare(lms, STUDENTS), GRADES, decimals=2)
    golden(f"gradebook-{lms}-plain.csv", data)
    rows = table(data, "canvas")
    assert rows[0] == {"canvas": ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"],
                       "moodle": ["ID number", "Email address", "Full name"],
                       "blackboard": ["Username", "Last Name", "First Name"]}[lms] + ["FER competition"]
    assert [r[-1] for r in rows[1:]] == ["17.25", "4.50", "0.00"]  # [marks] decimals, numbers only
    assert "s001" in rows[1]


@pytest.mark.parametrize("lms", gradebook.LMS)
def test_a_roster_that_does_not_match_the_export_is_refused_by_name(lms):
    roster = STUDENTS[:2] + [Student("s404", "Nobody Known", "", "alpha")]
    with pytest.raises(UsageError) as err:
        gradebook.prepare(lms, roster, TEMPLATE[lms])
    message = err.value.message
    assert "1 roster student(s) not in the export: s404 (Nobody Known)" in message
    assert "1 student(s) of the export not on the roster:" in message and "s003" in message
    assert "nothing was written" in message and str(TEMPLATE[lms]) in message and "\n" not in message


def test_an_export_of_another_lms_is_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"row 1: no student key column for blackboard .*Username, Student ID"):
        gradebook.prepare("blackboard", STUDENTS, TEMPLATE["moodle"])
    with pytest.raises(UsageError, match="expected one of canvas, moodle, blackboard"):
        gradebook.prepare("d2l", STUDENTS)


def test_leaderboard_writes_the_gradebook_or_nothing(cli, tmp_path):
    """`fercomp leaderboard --roster … --gradebook moodle --gradebook-template …` from merged records; with an
    unknown student on the roster, exit 2 naming them and no file at all."""
    subs, results = tmp_path / "submissions", tmp_path / "results"
    subs.mkdir()
    for team, accuracy in (("alpha", 0.7), ("beta", 0.6), ("gamma", None), ("base", 0.5)):
        (subs / f"{team}.py").write_text(f"# {team}\n")
        sha = hashlib.sha256((subs / f"{team}.py").read_bytes()).hexdigest()
        rec = record(team, accuracy, gflops=0.1, status="scored" if accuracy else "failed")
        write_record(replace(rec, submission={"name": team, "sha256": sha}, data={"split": "PrivateTest", "size": 100},
                             confusion_matrix=[[1]], per_class=[]), results)
    (tmp_path / "fercomp.toml").write_text("")
    roster = tmp_path / "roster.csv"
    roster.write_text("team,student_id,name,email\nalpha,s001,Zoë Ångström,zoe@uni.example\nbeta,s002,Bo Brown,\n"
                      "gamma,s003,Li Chen,\n")
    args = ["leaderboard", "--config", tmp_path / "fercomp.toml", "--phase", "final", "--results", results, "--submissions", subs,
            "--baseline", subs / "base.py", "--roster", roster, "--gradebook", "moodle", "--gradebook-template",
            TEMPLATE["moodle"], "--out", tmp_path / "out", "--format", "json", "--format", "csv"]
    code, out, err = cli(*args)
    assert code == 0, err + out
    rows = table((tmp_path / "out" / "gradebook-moodle-PrivateTest.csv").read_bytes(), "moodle")
    grades = {g["student_id"]: g for g in csv.DictReader(io.StringIO((tmp_path / "out" / "grades-PrivateTest.csv").read_text()))}
    assert {g["final_mark_max"] for g in grades.values()} == {"20.0"}  # what the final mark is out of
    assert {r[2]: r[-1] for r in rows[1:]} == {k: f"{float(grades[k]['final_mark']):.2f}" for k in ("s001", "s002", "s003")}
    assert "moodle: student s003 gets 0.00 (failed)" in json.loads((tmp_path / "out" / "leaderboard-PrivateTest.json").read_text())["notes"]
    assert "0.00" not in out and "s003" not in out  # the final phase's log: counts and team names only
    roster.write_text(roster.read_text() + "alpha,s404,Nobody Known,\n")
    code, _, err = cli(*args[:-6], "--out", tmp_path / "out2", "--format", "csv")
    assert code == 2 and "not in the export: s404 (Nobody Known)" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out2").exists()
    code, _, err = cli("leaderboard", "--config", tmp_path / "fercomp.toml", "--results", results, "--gradebook", "canvas")
    assert code == 2 and "--gradebook LMS and --roster go together" in err

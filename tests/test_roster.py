"""The roster: gradebook CSVs as spreadsheets write them, and one named line for each mistake."""

import pytest

from fercomp.errors import UsageError
from fercomp.marks import TeamMarks
from fercomp.roster import read_roster, student_grades


def write(tmp_path, text: str, bom: bool = False):
    path = tmp_path / "roster.csv"
    path.write_bytes((("\ufeff" if bom else "") + text).encode("utf-8"))
    return path


@pytest.mark.parametrize("bom", [False, True])
def test_headers_are_case_insensitive_with_or_without_bom(tmp_path, bom):
    students = read_roster(write(tmp_path, "TEAM,ID,E-Mail,Name\nred,1,a@x,Åsa\n\nblue,2,,Bo\n", bom))
    assert [(s.team, s.student_id, s.email, s.name) for s in students] == [("red", "1", "a@x", "Åsa"), ("blue", "2", "", "Bo")]


@pytest.mark.parametrize("text, words", [
    ("name,email\nA,a@x\n", "row 1: no team column"),
    ("team,student_id\nred,\n", "row 2: empty student_id"),
    ("team,student_id\nred,7\nblue,7\n", "row 3: student_id 7 is also on row 2"),
    ("", "empty roster"),
])
def test_roster_mistakes_are_one_named_line(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        read_roster(path)
    assert words in err.value.message and str(path) in err.value.message


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("team,student_id,name\nred,1,J\xf6rg\n".encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        read_roster(path)
    with pytest.raises(UsageError, match="no such roster file"):
        read_roster(tmp_path / "absent.csv")


def test_grades_follow_the_team_and_strays_are_listed(tmp_path):
    students = read_roster(write(tmp_path, "team,student_id,name\nred,1,A\nred,2,B\ngreen,3,C\n,4,D\n"))
    marks = [TeamMarks("red", "scored", accuracy_mark=7.5, efficiency_mark=2.0, final_mark=9.5),
             TeamMarks("blue", "failed")]
    grades, notes = student_grades(students, marks)
    assert [(g.student.student_id, g.status, g.final_mark) for g in grades] == [
        ("1", "scored", 9.5), ("2", "scored", 9.5), ("3", "missing", None), ("4", "no_team", None)]
    assert notes == ["student 3 (C): team 'green' has no submission", "student 4 (D) has no team on the roster",
                     "team 'blue' has no students on the roster"]

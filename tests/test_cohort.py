"""A cohort of 9 synthetic hand-ins through the course's whole path, as the instructors' guide (docs/instructors.md) walks through it:
check → public-phase board → final phase (after its reveal guard) → per-team and per-student grades, then
a merge of CI shards with a forged and a malformed record.

The cohort: 3 constant-class teams (one each for the forged, the malformed and the other-schema record of
the merge: each hand-in costs two jail starts per phase), two teams whose weights come by URL with a pinned
hash (a local HTTP server), one whose weights by URL are over GitHub's 100 MB file limit, one with weights
beside its .py (the victim), one hostile team that reads the victim's weights, and one broken file.
"""

import csv
import hashlib
import io
import json
import os
import shutil

import numpy as np
import pytest
import torch

from fercomp.data.source import load_data
from tests.http_server import LocalServer
from tests.scoring_helpers import FIXTURES

pytestmark = pytest.mark.jail  # every test scores hand-ins in-process (through its module fixture)

CONSTANT = {f"team_{i:02d}": (i, 1 + i) for i in range(3)}  # class, conv width
COHORT = len(CONSTANT) + 6  # and url_happy, url_neutral, url_big, victim, sibling_reader, broken
LINEAR = '''
import torch
from torch import nn
{meta}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)
{extra}
    def forward(self, x):
        return self.fc(x.flatten(1))
'''
BIG = "        self.register_buffer('ballast', torch.zeros(27_000_000))  # 108 MB of weights\n"
SIBLING_READER = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48 * 48, 7)
        self.load_state_dict(torch.load("__VICTIM__"))  # take the stronger team's weights

    def forward(self, x):
        return self.fc(x.flatten(1))
'''


def _state(favourite: int, big: bool = False) -> dict:
    state = {"fc.weight": torch.zeros(7, 2304), "fc.bias": torch.nn.functional.one_hot(torch.tensor(favourite), 7).float()}
    if big:
        state["ballast"] = torch.zeros(27_000_000)
    return state


@pytest.fixture(scope="module")
def course(tmp_path_factory, small_csv):
    """The course folder: fercomp.toml, baseline, 9 hand-ins, a roster; the weights server."""
    root = tmp_path_factory.mktemp("course")
    subs, www = root / "submissions", root / "www"
    for folder in (subs, root / "baselines", www):
        folder.mkdir()
    text = (FIXTURES / "constant_model.py").read_text()
    (root / "baselines" / "baseline.py").write_text(text)
    for name, (klass, width) in CONSTANT.items():
        (subs / f"{name}.py").write_text(text.replace("CLASS_INDEX = 0", f"CLASS_INDEX = {klass}").replace("WIDTH = 1", f"WIDTH = {width}"))
    server = LocalServer(www)
    for name, favourite, big in (("url_happy", 3, False), ("url_neutral", 6, False), ("url_big", 4, True)):
        torch.save(_state(favourite, big), www / f"{name}.pt")
        sha = hashlib.sha256((www / f"{name}.pt").read_bytes()).hexdigest()
        meta = f'WEIGHTS_URL = "{server.url(name + ".pt")}"\nWEIGHTS_SHA256 = "{sha}"'
        (subs / f"{name}.py").write_text(LINEAR.format(meta=meta, extra=BIG if big else ""))
    (subs / "victim.py").write_text(LINEAR.format(meta="", extra=""))
    torch.save(_state(3), subs / "victim.pt")
    (subs / "sibling_reader.py").write_text(SIBLING_READER.replace("__VICTIM__", str(subs / "victim.pt")))
    (subs / "broken.py").write_text("def build_model(:\n")
    (root / "fercomp.toml").write_text(
        f'[competition]\ndata = "{small_csv}"\nbaseline = "baselines/baseline.py"\n'
        '[latency]\nmin_queries = 3\nmin_seconds = 0.0\nwarmup_queries = 1\n'
        '[phases]\nreveal = "2099-06-30"\n'
        '[marks]\nallow_weak_baseline = true\n'  # a constant baseline (no training here), below the majority class
    )
    # A gradebook export: BOM, capitalised headers, a student without a team, a team without students.
    rows = ["Team,Student ID,Name,Email"] + [f"{n},s{k:03d},Student {k},s{k}@uni.example" for k, n in enumerate(CONSTANT)]
    rows += ["url_happy,s100,Zoë Ångström,zoe@uni.example", "url_happy,s101,Ana,ana@uni.example", ",s102,Lone Student,"]
    (root / "roster.csv").write_bytes(("\ufeff" + "\n".join(rows) + "\n").encode("utf-8"))
    yield root, server
    server.close()


def in_course(cli, root, *args):
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return cli(*args)
    finally:
        os.chdir(cwd)


def shares(small_csv, split: str) -> np.ndarray:
    labels = load_data(small_csv).select(split).labels
    return np.bincount(labels, minlength=7) / len(labels)


def test_a_cohort_from_check_to_grades(cli, course, small_csv):
    root, server = course
    results = root / "reports" / "results"
    victim_weights = hashlib.sha256((root / "submissions" / "victim.pt").read_bytes()).hexdigest()

    # A team checks its hand-in before the deadline (weights by URL: fetched by fercomp, not the model).
    code, out, err = in_course(cli, root, "check", "submissions/url_happy.py")
    assert code == 0, out + err
    assert in_course(cli, root, "check", "submissions/broken.py")[0] == 1

    # The live board: the public split only, with a progress line per team in a log.
    code, out, err = in_course(cli, root, "leaderboard", "--jobs", "2", "--format", "csv", "--format", "json")
    assert code == 0, err
    assert "Leaderboard — public phase (PublicTest)" in out and "scored url_big (" in err and f"/{COHORT + 1})" in err  # and the baseline
    assert not list(results.glob("*.PrivateTest.json"))  # the held-out split was never scored
    public = {r["team"]: r for r in csv.DictReader(io.StringIO((root / "reports/leaderboard/leaderboard-PublicTest.csv").read_text()))}
    assert len(public) == COHORT
    share = shares(small_csv, "PublicTest")
    assert float(public["url_happy"]["accuracy"]) == pytest.approx(share[3])
    assert float(public["url_big"]["accuracy"]) == pytest.approx(share[4])
    assert public["sibling_reader"]["status"] == "failed" and "sandbox_violation" in public["sibling_reader"]["notes"]
    assert public["broken"]["status"] == "failed" and "syntax_error" in public["broken"]["notes"]
    assert float(public["victim"]["accuracy"]) == pytest.approx(share[3])  # its own weights, untouched
    assert hashlib.sha256((root / "submissions" / "victim.pt").read_bytes()).hexdigest() == victim_weights
    big = json.loads((results / "url_big.PublicTest.json").read_text())
    assert big["status"] == "scored" and big["weight_bytes"] > 100 * 2**20 and big["submission"]["weights_url"]
    assert sorted(server.requests) == ["/url_big.pt", "/url_happy.pt", "/url_neutral.pt"]  # each fetched once

    # The final phase is guarded by the reveal date.
    code, _, err = in_course(cli, root, "leaderboard", "--phase", "final")
    assert code == 2 and "revealed on 2099-06-30" in err and "--before-reveal" in err
    code, out, err = in_course(cli, root, "leaderboard", "--phase", "final", "--before-reveal", "--jobs", "2",
                               "--roster", "roster.csv", "--format", "csv", "--format", "json", "--format", "html")
    assert code == 0, err
    board = root / "reports" / "final"  # apart from the public board, readable by its owner alone
    assert board.stat().st_mode & 0o777 == 0o700 and {p.stat().st_mode & 0o777 for p in board.iterdir()} == {0o600}
    assert {p.stat().st_mode & 0o777 for p in results.glob("*.PrivateTest.json")} == {0o600}
    final = {r["team"]: r for r in csv.DictReader(io.StringIO((board / "leaderboard-PrivateTest.csv").read_text()))}
    assert {r["phase"] for r in final.values()} == {"final"}
    assert json.loads((board / "leaderboard-PrivateTest.json").read_text())["phase"] == "final"
    assert "final phase — PrivateTest" in (board / "leaderboard-PrivateTest.html").read_text()
    grades = list(csv.DictReader(io.StringIO((board / "grades-PrivateTest.csv").read_text(encoding="utf-8"))))
    assert list(grades[0]) == ["student_id", "name", "email", "team", "status", "accuracy_mark", "efficiency_mark",
                               "report_mark", "final_mark", "final_mark_max", "phase", "split"]
    assert {g["final_mark_max"] for g in grades} == {"20.0"}  # accuracy 10 + efficiency 10: no report marks here
    by_id = {g["student_id"]: g for g in grades}
    assert len(grades) == len(CONSTANT) + 3 and by_id["s100"]["name"] == "Zoë Ångström"
    for g in grades:
        if g["team"] in final:
            assert g["accuracy_mark"] == final[g["team"]]["accuracy_mark"] and g["final_mark"] == final[g["team"]]["final_mark"]
    assert by_id["s102"]["status"] == "no_team" and by_id["s102"]["final_mark"] == ""
    notes = json.loads((board / "leaderboard-PrivateTest.json").read_text())["notes"]  # the log has counts and names
    assert "student s102 (Lone Student) has no team on the roster" in notes
    assert "team 'url_big' has no students on the roster" in notes
    # every output of the run validates against the published schemas
    import jsonschema

    from fercomp import schema

    records = jsonschema.Draft202012Validator(schema.record_schema())
    for path in results.glob("*.json"):
        records.validate(json.loads(path.read_text()))
    jsonschema.Draft202012Validator(schema.leaderboard_schema()).validate(
        json.loads((board / "leaderboard-PrivateTest.json").read_text()))


def test_merged_shards_refuse_forged_and_malformed_records_by_name(cli, course, tmp_path):
    root, _ = course
    results = root / "reports" / "results"
    code, out, err = in_course(cli, root, "leaderboard", "--phase", "final", "--before-reveal", "--jobs", "2")
    assert code == 0, err  # reuses the records of the test above (scores them when run alone)
    shard = tmp_path / "shard"
    shutil.copytree(results, shard)
    forged = json.loads((shard / "team_00.PrivateTest.json").read_text())
    forged["submission"]["name"] = "ghost"
    forged["accuracy"] = 0.99
    (shard / "ghost.PrivateTest.json").write_text(json.dumps(forged))
    malformed = json.loads((shard / "team_01.PrivateTest.json").read_text())
    del malformed["data"]["split"]
    (shard / "team_01.PrivateTest.json").write_text(json.dumps(malformed))
    (shard / "team_02.PrivateTest.json").write_text('{"schema": "fercomp.score/9"}')
    code, out, err = in_course(cli, root, "leaderboard", "--phase", "final", "--before-reveal", "--results", str(shard),
                               "--format", "json", "--out", str(tmp_path / "board"))
    assert code == 0, err
    refused = json.loads((tmp_path / "board" / "leaderboard-PrivateTest.json").read_text())["refused"]
    assert len(refused) == 3, refused
    assert any("ghost.PrivateTest.json" in r and "has no submissions/ghost.py" in r for r in refused)
    assert any("team_01.PrivateTest.json" in r and "field data.split is missing" in r for r in refused)
    assert any("team_02.PrivateTest.json" in r and "schema 'fercomp.score/9'" in r for r in refused)
    teams = [m["team"] for m in json.loads((tmp_path / "board" / "leaderboard-PrivateTest.json").read_text())["marks"]]
    assert "ghost" not in teams and "team_01" not in teams and len(teams) == COHORT - 2
    assert "Traceback" not in err

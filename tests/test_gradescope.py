"""The Gradescope autograder: `fercomp init --gradescope`, `fercomp gradescope build`, and run_autograder run in a
folder laid out as Gradescope's (/autograder/... under a temporary root) with a good, a broken and a hostile
hand-in; every results.json is validated against docs/schema/gradescope-results.schema.json."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from fercomp.course import InitOptions, init_course
from fercomp.errors import UsageError
from fercomp.gradescope import autograder, bundle
from fercomp.gradescope import results as gs
from fercomp.scoring import score_submission
from fercomp.version import __version__
from tests.scoring_helpers import FIXTURES, fast_config

pytestmark = pytest.mark.jail  # the autograder runs in a subprocess and starts jails

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "schema" / "gradescope-results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
HOSTILE = Path(__file__).parent / "hostile" / "cases" / "write_gradescope_results.py"
CREATED = "2026-11-30T10:00:00.000000-07:00"


def valid(results: dict) -> dict:
    VALIDATOR.validate(results)
    assert results.get("output"), "never an empty results.json"
    return results


@pytest.fixture(scope="module")
def course(tmp_path_factory, small_csv):
    """A course from `fercomp init --gradescope` (its [gradescope] settings as generated), the small synthetic set as
    its data, a constant model as its baseline, scored on both splits; fast latency settings."""
    root = tmp_path_factory.mktemp("course") / "course"
    # a version on an index: Gradescope's image cannot install the local checkout these tests run from
    written = init_course(root, InitOptions(gradescope=True, fercomp_spec=f"fercomp=={__version__}"))
    assert {root / "gradescope" / "setup.sh", root / "gradescope" / "run_autograder"} <= set(written)
    (root / "data").mkdir()
    shutil.copy(small_csv, root / "data" / "fer2013.csv")
    shutil.copy(FIXTURES / "constant_model.py", root / "baselines" / "baseline_cnn.py")
    for split in ("PublicTest", "PrivateTest"):
        config = fast_config(root / "data" / "fer2013.csv", root / "reports" / "results", split=split, require_weights=False)
        assert score_submission(root / "baselines" / "baseline_cnn.py", config).status == "scored"
    toml = (root / "fercomp.toml").read_text()
    (root / "fercomp.toml").write_text(toml + "\n[latency]\nmin_queries = 5\nmin_seconds = 0.05\nwarmup_queries = 1\n")
    return root


def zip_for(course: Path, tmp_path: Path, final: bool) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    toml = course / "fercomp.toml"
    text = toml.read_text()
    toml.write_text(text.replace("final = false", f"final = {'true' if final else 'false'}"))
    try:
        return bundle.build(course, tmp_path / "autograder.zip").path
    finally:
        toml.write_text(text)


def gradescope_root(tmp_path: Path, zip_path: Path, handin: Path, metadata: dict) -> Path:
    """/autograder as Gradescope lays it out: source/ (the unzipped autograder), submission/, results/, metadata."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "submission").mkdir()
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    os.chmod(root / "source" / "run_autograder", 0o755)  # extractall drops modes; Gradescope keeps them
    text = handin.read_text().replace("__RESULTS__", str(root / "results"))
    (root / "submission" / "team.py").write_text(text)
    (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def start_autograder(root: Path) -> subprocess.Popen:
    env = {**os.environ, "FERCOMP_AUTOGRADER_ROOT": str(root), "FERCOMP_PYTHON": sys.executable}
    return subprocess.Popen([str(root / "source" / "run_autograder")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def runs(course, tmp_path_factory):
    """The three hand-ins, each in a Gradescope root of its own, run side by side (as Gradescope runs
    submissions, in containers of their own): {name: (root, results.json)}."""
    tmp = tmp_path_factory.mktemp("gradescope")
    broken = tmp / "broken.py"
    broken.write_text("def build_model(:\n")
    earlier = "2026-11-30T08:00:00.000000-07:00"
    good_metadata = {"created_at": CREATED, "previous_submissions": [
        {"submission_time": earlier, "score": 1.0,
         "results": {"extra_data": {"fercomp": {"counted": True, "counted_runs": [earlier]}}}}]}
    public_zip, final_zip = zip_for(course, tmp / "public", final=False), zip_for(course, tmp / "final", final=True)
    roots = {"good": gradescope_root(tmp / "good", final_zip, FIXTURES / "rule_model.py", good_metadata),
             "broken": gradescope_root(tmp / "broken", public_zip, broken, {"created_at": CREATED}),
             "hostile": gradescope_root(tmp / "hostile", public_zip, HOSTILE, {"created_at": CREATED})}
    procs = {name: start_autograder(root) for name, root in roots.items()}
    out = {}
    for name, proc in procs.items():
        log, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, log[-3000:]
        out[name] = (roots[name], valid(json.loads((roots[name] / "results" / "results.json").read_text())))
    return out


def test_good_hand_in_passes_every_check_scores_and_keeps_the_held_out_score_hidden(runs):
    _, results = runs["good"]
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == 1.0 and all(t["status"] == "passed" for t in tests.values()), tests
    assert {n for n in tests if n.startswith("check: ")} >= {"check: output is [N, 7] finite logits", "check: FLOP counters agree"}
    assert all(t["visibility"] == "visible" for n, t in tests.items() if n != "held-out split PrivateTest")
    assert tests["held-out split PrivateTest"]["visibility"] == "after_published"
    assert "PrivateTest" not in results["output"]  # the student sees the public split only, until published
    board = {e["name"]: e for e in results["leaderboard"]}
    public = results["extra_data"]["fercomp"]["public"]
    assert board["Accuracy (%)"] == {"name": "Accuracy (%)", "value": round(100 * public["accuracy"], 2), "order": "desc"}
    assert board["GFLOPs"]["order"] == "asc" and board["GFLOPs"]["value"] == pytest.approx(2304 / 1e9)
    assert board["Efficiency (accuracy % / GFLOPs)"]["order"] == "desc"
    assert results["extra_data"]["fercomp"]["counted_runs"] == ["2026-11-30T08:00:00.000000-07:00", CREATED]


def test_broken_hand_in_gets_a_readable_failure_that_does_not_count(runs):
    _, results = runs["broken"]
    assert results["score"] == 0.0 and "leaderboard" not in results
    assert results["tests"][0]["status"] == "failed" and "syntax_error" in results["tests"][0]["output"]
    assert "does not count" in results["output"] and results["extra_data"]["fercomp"]["counted_runs"] == []


def test_hostile_hand_in_cannot_write_results_json(runs):
    """It writes a forged results.json through libc at the real path: the jail has no /autograder."""
    root, results = runs["hostile"]
    assert str(root / "results") in (root / "submission" / "team.py").read_text()
    assert "FORGED" not in json.dumps(results) and results["score"] == 1.0
    assert [t["status"] for t in results["tests"]] == ["passed"] * len(results["tests"])
    with zipfile.ZipFile(root.parents[1] / "public" / "autograder.zip") as zf:  # the zip this run was built from
        assert b"PrivateTest" not in zf.read(bundle.DATA)  # without final = true, no held-out image ships
        assert json.loads(zf.read(autograder.MANIFEST))["held_out"] is None


def test_without_a_jail_the_hand_in_is_not_run(course, tmp_path, monkeypatch):
    from fercomp.submission import jail

    marker = tmp_path / "ran"
    handin = tmp_path / "handin.py"
    handin.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    root = gradescope_root(tmp_path, zip_for(course, tmp_path, final=False), handin, {"created_at": CREATED})
    monkeypatch.setattr(jail, "unavailable", lambda: "nsjail cannot create its namespaces here (clone: EPERM)")

    results = valid(autograder.run(root))

    assert not marker.exists() and results["score"] == 0.0
    assert "could not start its jail" in results["output"] and "EPERM" in results["tests"][0]["output"]
    assert json.loads((root / "results" / "results.json").read_text()) == results


def test_a_container_too_small_for_the_jail_is_the_graders_failure_not_the_students(course, tmp_path):
    """A zip built for 4 GB in a container set smaller: the jail cannot start, and nobody's run counts. Twice: the
    second run finds the measurer template warm (its fork starts without imports), so the worker's jail is the one
    that dies in fercomp's imports, before the hand-in runs: still the container's fault."""
    for attempt in ("first", "template warm"):
        root = gradescope_root(tmp_path / attempt, zip_for(course, tmp_path / attempt, final=False),
                               FIXTURES / "rule_model.py", {"created_at": CREATED})
        toml = root / "source" / "fercomp.toml"
        toml.write_text(toml.read_text().replace("memory_mb = 4096", "memory_mb = 300"))

        results = valid(autograder.run(root))

        assert results["score"] == 0.0 and "too little memory to start its jail (not your hand-in's fault)" in \
            results["output"], (attempt, results["output"])
        assert "more than 256 MB before your hand-in ran" in results["tests"][0]["output"]


def test_rate_limit_counts_scored_runs_in_the_24_hours_before_created_at():
    def prev(when, counted):
        return {"submission_time": when, "results": {"extra_data": {"fercomp": {"counted_runs": counted}}}}

    carried = ["2026-11-29T09:00:00-07:00", "2026-11-30T09:00:00Z", "2026-11-30T01:00:00-07:00"]  # 09:00Z is the later
    # the latest previous run failed (not in its own list): it carries the three counted before it
    metadata = {"created_at": "2026-11-30T10:00:00.1234567-07:00",
                "previous_submissions": [prev("2026-11-30T09:30:00-07:00", carried), {"submission_time": "2026-11-30T09:00:00Z"}]}
    allowed, window, note = gs.rate_limit(metadata, 2)
    assert window == [carried[2], carried[1]] and not allowed  # in time order; 09:00 the day before is 25 h earlier
    assert "The next run counts from 2026-12-01 08:00 UTC" in note  # the older of the two (01:00 -07:00) + 24 h
    assert gs.rate_limit(metadata, 3)[0] and gs.rate_limit(metadata, 0)[0]
    limited = valid(gs.rate_limited({**metadata, "previous_submissions": [
        {"submission_time": "2026-11-30T09:30:00-07:00", "results": {"score": 1.0, "output": "accuracy 61 %", "tests": [],
                                                                     "leaderboard": [{"name": "GFLOPs", "value": 0.1, "order": "asc"}]}}]},
                                    window, note))
    assert limited["score"] == 1.0 and limited["leaderboard"] and limited["output"].startswith("daily limit reached")
    assert limited["extra_data"]["fercomp"] == {"counted": False, "counted_runs": window}
    # results fercomp did not write: every earlier submission but an autograder error counts
    plain = {"created_at": CREATED, "previous_submissions": [{"submission_time": "2026-11-30T09:00:00-07:00"},
                                                              {"submission_time": "2026-11-30T09:10:00-07:00", "autograder_error": True}]}
    assert gs.rate_limit(plain, 3)[1] == ["2026-11-30T09:00:00-07:00"]


def test_stage_takes_one_py_and_only_regular_files(tmp_path):
    sub = tmp_path / "submission"
    (sub / "team").mkdir(parents=True)
    (sub / "team.py").write_text("x = 1\n")
    (sub / "team" / "vocab.json").write_text("{}")
    (sub / "team.pt").symlink_to("/etc/passwd")
    path = autograder.stage(sub, tmp_path / "staged")
    assert path == tmp_path / "staged" / "team.py"
    assert sorted(str(p.relative_to(tmp_path / "staged")) for p in (tmp_path / "staged").rglob("*")) == \
        ["team", "team.py", "team/vocab.json"]
    (sub / "other.py").write_text("")
    with pytest.raises(autograder.Refused, match=r"exactly one \.py .*found: other\.py, team\.py"):
        autograder.stage(sub, tmp_path / "again")


def test_build_refuses_without_the_baseline_record_and_ships_the_scripts_runnable(course, tmp_path):
    zip_path = zip_for(course, tmp_path, final=False)
    with zipfile.ZipFile(zip_path) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        for script in bundle.SCRIPTS:
            assert modes[script] == 0o755
            (tmp_path / script).write_bytes(zf.read(script))
            assert subprocess.run(["bash", "-n", str(tmp_path / script)]).returncode == 0
        setup = zf.read("setup.sh").decode()
    assert "download.pytorch.org/whl/cpu" in setup and "-r requirements.txt" in setup and "/opt/fercomp" in setup
    assert "-c /tmp/fercomp-torch.txt -r requirements.txt" in setup  # fercomp's own requirements keep the CPU torch
    assert set(modes) == {*bundle.SCRIPTS, "fercomp.toml", "requirements.txt", autograder.MANIFEST, bundle.DATA,
                          "baseline/baseline_cnn.PublicTest.json"}
    record = course / "reports" / "results" / "baseline_cnn.PublicTest.json"
    record.rename(record.with_suffix(".bak"))
    try:
        with pytest.raises(UsageError, match="no baseline record on PublicTest; score it first: fercomp score"):
            bundle.build(course, tmp_path / "again.zip")
    finally:
        record.with_suffix(".bak").rename(record)
    assert not (tmp_path / "again.zip").exists()


def test_init_gradescope_adds_the_scripts_to_an_existing_course(cli, tmp_path):
    assert cli("init", tmp_path / "c", "--fercomp-spec", f"fercomp=={__version__}")[0] == 0
    code, out, err = cli("init", tmp_path / "c", "--gradescope")
    assert code == 0, err
    assert [line.split("/")[-1] for line in out.split()[1::2]] == ["setup.sh", "run_autograder"]
    for script in bundle.SCRIPTS:
        assert os.access(tmp_path / "c" / "gradescope" / script, os.X_OK)
    code, _, err = cli("gradescope", "build", "--course", tmp_path / "c")
    assert code == 2 and "data/fer2013.csv" in err and len(err.strip().splitlines()) == 1


def test_the_autograder_own_failure_is_a_readable_zero_that_keeps_the_counted_runs(tmp_path):
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)  # no manifest, no fercomp.toml: a broken zip
    (root / "submission").mkdir()
    earlier = "2026-11-30T09:00:00-07:00"
    (root / "submission_metadata.json").write_text(json.dumps({"created_at": CREATED, "previous_submissions": [
        {"submission_time": earlier, "results": {"extra_data": {"fercomp": {"counted_runs": [earlier]}}}}]}))

    results = valid(autograder.run(root))

    assert results["score"] == 0.0 and "failed on its own side" in results["output"] and "FileNotFoundError" in results["output"]
    assert results["extra_data"]["fercomp"] == {"counted": False, "counted_runs": [earlier]}


def test_build_refuses_a_zip_that_cannot_score_and_names_the_fix(course, tmp_path):
    """Gradescope's default 768 MB cannot start the jails, and it cannot install a fercomp from this machine's disk:
    either zip would give every student 0, so build refuses it in one line that says what to change."""
    toml, requirements = course / "fercomp.toml", course / "ci" / "requirements.txt"
    text, pin = toml.read_text(), requirements.read_text()
    assert "memory_mb = 4096" in text and pin == f"fercomp=={__version__}\n"  # as generated: a zip that scores
    try:
        toml.write_text(text.replace("memory_mb = 4096", "memory_mb = 768"))
        with pytest.raises(UsageError, match=r"memory_mb = 768 is below the 3072 MB the jails need .*set memory_mb = 4096"):
            bundle.build(course, tmp_path / "small.zip")
        toml.write_text(text)
        for local in ("fercomp @ file:///home/me/fercomp", "-e /home/me/fercomp", "fercomp @ ./fercomp"):
            requirements.write_text(f"# pinned\n{local}\n")
            with pytest.raises(UsageError, match=r"requirements.txt:2: .* local path, which Gradescope cannot install; "
                                                 r"run fercomp init \. --force --fercomp-spec"):
                bundle.build(course, tmp_path / "local.zip")
    finally:
        toml.write_text(text)
        requirements.write_text(pin)
    assert not (tmp_path / "small.zip").exists() and not (tmp_path / "local.zip").exists()

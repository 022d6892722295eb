"""The leaderboard end to end on the synthetic data: baseline + teams scored, marks by hand, formats."""

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fercomp.data.source import load_data
from tests.scoring_helpers import FIXTURES

TEAMS = {"team_happy": (3, 4), "team_sad": (4, 1), "team_neutral": (6, 2)}  # class, conv width
FAST = ["--latency-queries", "3", "--latency-seconds", "0"]


def constant(path, klass, width):
    text = (FIXTURES / "constant_model.py").read_text()
    path.write_text(text.replace("CLASS_INDEX = 0", f"CLASS_INDEX = {klass}").replace("WIDTH = 1", f"WIDTH = {width}"))


@pytest.fixture(scope="module")
def competition(tmp_path_factory, small_csv):
    root = tmp_path_factory.mktemp("competition")
    (root / "submissions").mkdir()
    (root / "baselines").mkdir()
    constant(root / "baselines" / "base.py", 0, 1)
    for name, (klass, width) in TEAMS.items():
        constant(root / "submissions" / f"{name}.py", klass, width)
    (root / "submissions" / "team_broken.py").write_text("def build_model(:\n")
    (root / "fercomp.toml").write_text(
        f'[competition]\ndata = "{small_csv}"\nbaseline = "baselines/base.py"\n'
        '[latency]\nmin_queries = 3\nmin_seconds = 0.0\n'
        '[marks]\nallow_weak_baseline = true\n'  # a constant baseline, below the majority class: no training here
    )
    (root / "report.csv").write_text("team,mark\nteam_happy,24\nteam_sad,18\nghost_team,30\n")
    return root


def run_board(cli, root, *args):
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        return cli("leaderboard", *args)
    finally:
        os.chdir(cwd)


@pytest.mark.jail
def test_marks_match_a_hand_calculation(cli, competition, small_csv):
    code, out, err = run_board(cli, competition, "--phase", "final", "--jobs", "2", "--report-marks", "report.csv",
                               "--format", "csv", "--format", "json", "--format", "md", "--format", "latex", "--format", "html")
    assert code == 0, err
    # a team met for the first time is listed plainly, once, not as a per-team note that reads like a fault
    final = competition / "reports/final"  # the final phase's own folder, readable by its owner alone
    assert final.stat().st_mode & 0o777 == 0o700 and {p.stat().st_mode & 0o777 for p in final.iterdir()} == {0o600}
    notes = (final / "leaderboard-PrivateTest.md").read_text()  # the log says counts and names; the files say the rest
    assert "no record yet" not in notes and notes.count("scored for the first time in this run: ") == 1
    assert out.startswith("Final phase (PrivateTest): 3 scored; 1 failed: team_broken; 0 flagged;") and "%" not in out
    labels = load_data(small_csv).select("PrivateTest").labels
    share = np.bincount(labels, minlength=7) / len(labels)
    acc = {n: share[k] for n, (k, _) in TEAMS.items()}
    # an efficiency mark needs an accuracy above the majority class's share: a constant answer never earns one
    eff = {n: 100 * share[k] / (2304 * w / 1e9) for n, (k, w) in TEAMS.items() if share[k] > share.max()}
    base_acc, base_eff = share[0], 100 * share[0] / (2304 / 1e9)
    best_acc, best_eff = max(acc.values()), max(eff.values(), default=base_eff)
    export = (final / "leaderboard-PrivateTest.csv").read_text()
    grades = {row["team"]: row for row in csv.DictReader(io.StringIO(export))}
    assert set(grades) == set(TEAMS) | {"team_broken"}
    for name in TEAMS:
        want_acc = max(0.0, min(10.0, 10 * (acc[name] - base_acc) / (best_acc - base_acc))) if best_acc > base_acc else 0.0
        want_eff = max(0.0, min(10.0, 10 * (eff[name] - base_eff) / (best_eff - base_eff))) if name in eff and best_eff > base_eff else 0.0
        assert float(grades[name]["accuracy_mark"]) == pytest.approx(want_acc)
        assert float(grades[name]["efficiency_mark"]) == pytest.approx(want_eff)
        assert float(grades[name]["accuracy"]) == pytest.approx(acc[name])
    happy = grades["team_happy"]
    assert float(happy["final_mark"]) == pytest.approx(float(happy["accuracy_mark"]) + float(happy["efficiency_mark"]) + 24)
    assert grades["team_broken"]["status"] == "failed" and "syntax_error" in grades["team_broken"]["notes"]
    assert "report mark for 'ghost_team', who has no submission" in notes and "no report mark for 'team_neutral'" in notes
    board = json.loads((final / "leaderboard-PrivateTest.json").read_text())
    assert board["baseline"] == "base" and [m["team"] for m in board["marks"]][-1] == "team_broken"
    latex = (final / "leaderboard-PrivateTest.tex").read_text()
    assert r"\toprule" in latex and r"team\_happy" in latex and "team_happy" not in latex.replace(r"team\_happy", "")
    assert "| base (baseline)" in notes and "team_sad" in notes
    assert (final / "leaderboard-PrivateTest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.jail
def test_second_run_reuses_fresh_records_and_rescoring_follows_changes(cli, competition):
    def notes() -> str:  # the final phase's notes are in its files, not in the log
        return (competition / "reports/final/leaderboard-PrivateTest.md").read_text().split("\n- ", 1)[-1]

    code, out, _ = run_board(cli, competition, "--phase", "final", "--jobs", "2")
    assert code == 0 and "scored (" not in notes()
    (competition / "submissions" / "team_sad.py").write_text((competition / "submissions" / "team_sad.py").read_text() + "\n# edited\n")
    code, out, _ = run_board(cli, competition, "--phase", "final", "--jobs", "2")
    assert "team_sad: scored (the submission file changed)" in notes() and notes().count("scored (") == 1
    # one job instead of two: each worker now gets both cores and two threads, so every record is stale
    code, out, _ = run_board(cli, competition, "--phase", "final")
    assert code == 0 and "team_happy: scored (settings changed: threads 1 → 2)" in notes()


@pytest.mark.jail
def test_public_phase_is_the_default_and_never_touches_the_held_out_split(cli, competition):
    code, out, err = run_board(cli, competition, "--strict", "--format", "csv", "--format", "json")
    assert code == 1  # team_broken failed and --strict asks CI to notice
    assert "Leaderboard — public phase (PublicTest)" in out
    assert (competition / "reports/results/team_happy.PublicTest.json").exists()
    board = json.loads((competition / "reports/leaderboard/leaderboard-PublicTest.json").read_text())
    assert board["phase"] == "public" and board["split"] == "PublicTest"
    rows = list(csv.DictReader(io.StringIO((competition / "reports/leaderboard/leaderboard-PublicTest.csv").read_text())))
    assert {r["phase"] for r in rows} == {"public"} and {r["split"] for r in rows} == {"PublicTest"}
    code, _, err = run_board(cli, competition, "--split", "PrivateTest")
    assert code == 2 and "--split PrivateTest is the held-out split: only --phase final scores it" in err
    code, _, err = run_board(cli, competition, "--phase", "final", "--split", "PublicTest")
    assert code == 2 and "drop --split" in err


@pytest.mark.jail
def test_merging_results_twice_is_harmless_and_tampered_records_are_refused(cli, competition, tmp_path):
    results = competition / "reports" / "results"
    code, out, err = run_board(cli, competition, "--phase", "final", "--results", str(results), "--results", str(results))
    assert code == 0, err
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    record = json.loads((copy / "team_happy.PrivateTest.json").read_text())
    record["submission"]["sha256"] = "0" * 64
    (copy / "team_happy.PrivateTest.json").write_text(json.dumps(record))
    code, out, err = run_board(cli, competition, "--phase", "final", "--results", str(copy), "--format", "json")
    assert code == 0, err  # refused by name, and the board is still written without it
    assert "refused:" in out and "team_happy.py has sha256 000000000000…" in out and "re-score it" in out
    board = json.loads((competition / "reports/final/leaderboard-PrivateTest.json").read_text())
    assert "team_happy" not in [m["team"] for m in board["marks"]] and len(board["refused"]) == 1
    assert run_board(cli, competition, "--phase", "final", "--results", str(copy), "--strict")[0] == 1


@pytest.mark.jail
def test_summary_goes_to_github_step_summary(cli, competition, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, err = run_board(cli, competition, "--phase", "final", "--summary")
    assert code == 2 and "would put the final phase's figures in a log" in err and not summary.exists()
    code, _, _ = run_board(cli, competition, "--summary")
    assert code == 0 and "## Leaderboard — public phase (PublicTest)" in summary.read_text()


def test_bad_format_and_missing_folder(cli, competition, tmp_path):
    assert run_board(cli, competition, "--format", "pdf")[0] == 2
    code, _, err = run_board(cli, competition, "--submissions", str(tmp_path / "nope"))
    assert code == 2 and "no such submissions folder" in err


@pytest.mark.jail
def test_a_killed_run_leaves_no_truncated_record_and_a_rerun_completes(cli, competition, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from fercomp.records import read_record

    root = tmp_path / "cohort"
    shutil.copytree(competition, root, ignore=shutil.ignore_patterns("reports"))
    proc = subprocess.Popen([sys.executable, "-m", "fercomp", "leaderboard", "--phase", "final"], cwd=root, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    results = root / "reports" / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker, mid-cohort
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 2 <= len(before) < len(TEAMS) + 2
    for path in results.glob("*.json"):
        read_record(path)  # every record on disk is whole
    code, out, err = run_board(cli, root, "--phase", "final")
    assert code == 0, err
    after = {p.name for p in results.glob("*.PrivateTest.json")}
    assert after == {f"{n}.PrivateTest.json" for n in [*TEAMS, "team_broken", "base"]}
    assert all((results / name).stat().st_mtime_ns == mtime for name, mtime in before.items())  # reused, not redone


@pytest.mark.jail
def test_a_changed_setting_rescores_and_rescore_forces(cli, competition, tmp_path):
    run_board(cli, competition)  # public records fresh
    # a copy, so the records this test makes stale are not the ones the other tests of the module reuse
    root = tmp_path / "competition"
    shutil.copytree(competition, root)
    toml = root / "fercomp.toml"
    toml.write_text(toml.read_text().replace("min_queries = 3", "min_queries = 4"))
    code, out, err = run_board(cli, root)
    assert code == 0, err
    assert "team_happy: scored (settings changed: latency.min_queries 3 → 4)" in out
    assert out.count("scored (settings changed") == len(TEAMS) + 2  # every team and the baseline
    record = json.loads((root / "reports/results/team_happy.PublicTest.json").read_text())
    assert record["settings"]["latency"]["min_queries"] == 4 and len(record["settings_sha256"]) == 64
    code, out, _ = run_board(cli, root, "--rescore", "team_sad")
    assert code == 0 and "team_sad: scored (--rescore)" in out and out.count("scored (") == 1
    code, _, err = run_board(cli, root, "--rescore", "team_nobody")
    assert code == 2 and "--rescore team_nobody: no such team" in err


def test_progress_on_a_terminal_shows_the_team_and_eta():
    from fercomp.render.terminal import scoring_progress

    stream = io.StringIO()
    with scoring_progress(stream, force_terminal=True) as progress:
        progress("start", "team_alpha", 0, 3)
        progress("done", "team_alpha", 1, 3)
        progress("start", "team_beta", 1, 3)
    text = stream.getvalue()
    assert "team_beta" in text and "ETA" in text and "1/3" in text


@pytest.mark.jail
def test_leaderboard_json_is_the_board(cli, competition):
    code, out, err = run_board(cli, competition, "--json")
    board = json.loads(out)
    assert code == 0 and board["phase"] == "public" and len(board["marks"]) == len(TEAMS) + 1, err

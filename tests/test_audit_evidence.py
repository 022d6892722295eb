"""The audit's evidence, from simulated records (cheap): a pair's order decides what withhold takes, the split gap
is two-sided where the public split may not be trained on, and the supplement test counts its noise once and says
its power. The real cohort, scored through the jails, is tests/hostile/test_audit.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from fercomp import leaderboard as lb
from fercomp.audit import fitted
from fercomp.audit.handed_in import read_handed_in
from fercomp.audit.run import run_audit
from fercomp.audit.statistics import detectable_gap, supplement_needed
from fercomp.config import AuditSection, CompetitionConfig
from fercomp.errors import UsageError
from fercomp.records import SCHEMA, ScoreRecord, encode_log_probs

HELD = 3589


def record(name: str, correct: int, n: int = HELD, sha: str | None = None, views: dict | None = None,
           log_probs: np.ndarray | None = None) -> ScoreRecord:
    return ScoreRecord(schema=SCHEMA, status="scored", submission={"name": name, "sha256": sha or f"py-{name}",
                                                                   "weights_sha256": f"w-{name}"},
                       data={"split": "PrivateTest", "size": n}, environment={}, timestamp="", isolation=[],
                       accuracy=correct / n, gflops=0.01, efficiency=correct / n * 100 / 0.01, params_total=1000,
                       audit_views=views or {},
                       true_class_log_prob=encode_log_probs(log_probs) if log_probs is not None else None)


# --- a pair is evidence about a pair -------------------------------------------------------------------------


@pytest.fixture
def copied_pair():
    """source and copy share byte-identical .py files (not the baseline's); three other teams are honest."""
    records = {"baseline": record("baseline", 1500), "source": record("source", 2000, sha="same"),
               "copy": record("copy", 2000, sha="same")}
    records.update({f"honest_{i}": record(f"honest_{i}", 1700 + 50 * i) for i in range(3)})
    return records


def test_a_copied_pair_under_withhold_keeps_the_sources_marks_where_the_order_is_known(copied_pair):
    times = {"source": dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc),
             "copy": dt.datetime(2026, 12, 2, 9, tzinfo=dt.timezone.utc)}
    audit = run_audit(copied_pair, "baseline", AuditSection(), "PrivateTest", handed_in=times)
    finding = next(f for c in audit.checks if c.id == "identical_files" for f in c.flagged)
    assert finding.teams == ("copy", "source") and finding.first == "source" and finding.later == "copy"
    assert audit.withheld() == {"copy": "under review (audit: identical_files: handed in after source)"}
    strict = replace(CompetitionConfig(), audit=AuditSection(withhold=True))
    rows = {m.team: m for m in lb.build(copied_pair, "baseline", strict, "PrivateTest", audit=audit).marks}
    assert rows["copy"].accuracy_mark == 0 and any("marks withheld" in n for n in rows["copy"].notes)
    assert rows["source"].accuracy_mark == pytest.approx(10.0)  # the best accuracy, tied with its copy: full marks
    assert any("identical_files with copy, source handed in first" in n for n in rows["source"].notes)
    assert audit.handed_in == {"copy": "2026-12-02T09:00:00+00:00", "source": "2026-12-01T09:00:00+00:00"}


def test_a_pair_whose_order_is_unknown_is_reviewed_and_withheld_from_neither(copied_pair):
    audit = run_audit(copied_pair, "baseline", AuditSection(), "PrivateTest")
    assert audit.under_review == ["copy", "source"] and audit.withheld() == {}
    strict = replace(CompetitionConfig(), audit=AuditSection(withhold=True))
    board = lb.build(copied_pair, "baseline", strict, "PrivateTest", audit=audit)
    rows = {m.team: m for m in board.marks}
    assert rows["copy"].accuracy_mark > 0 and rows["source"].accuracy_mark > 0
    assert any("order unknown" in n for n in rows["copy"].notes)
    assert any("kept by copy, source" in n for n in board.notes)


def test_hand_in_times_are_read_from_the_courses_csv_with_one_line_errors(tmp_path, copied_pair):
    path = tmp_path / "handed_in.csv"
    path.write_text("team,handed_in\nsource,2026-12-01T09:00:00\ncopy,2026-12-01T10:00:00+01:00\n")
    times = read_handed_in(path)
    assert times["source"] == times["copy"]  # 10:00 at +01:00 is 09:00 UTC: the same instant, no order
    audit = run_audit(copied_pair, "baseline", AuditSection(handed_in=str(path)), "PrivateTest")
    assert audit.withheld() == {}
    for text, words in (("team,when\n", "expected the columns team and handed_in"),
                        ("team,handed_in\nsource,yesterday\n", "row 2: handed_in 'yesterday' is not an ISO 8601"),
                        ("team,handed_in\nsource,2026-12-01\nsource,2026-12-02\n", "row 3: team source is listed twice")):
        path.write_text(text)
        with pytest.raises(UsageError, match=words):
            read_handed_in(path)


def test_a_team_flagged_on_its_own_evidence_is_withheld_whatever_the_order():
    records = {f"t{i}": record(f"t{i}", 1600 + 20 * i, views={"public": _view(1600 + 20 * i)}) for i in range(5)}
    records["memo"] = record("memo", 3500, views={"public": _view(1700)})
    audit = run_audit({**records, "baseline": record("baseline", 1500)}, "baseline", AuditSection(), "PrivateTest")
    assert audit.withheld() == {"memo": "under review (audit: split_gap; ceiling)"}


# --- the split gap, two-sided where the public split may not be trained on ---------------------------------------


def _view(correct: int, images: int = HELD, nll: float = 1.5) -> dict:
    return {"images": images, "correct": correct, "accuracy": correct / images, "nll_mean": nll, "nll_sd": 0.8}


def test_public_far_above_held_out_is_flagged_only_where_training_on_it_is_forbidden():
    rng = np.random.default_rng(0)
    records = {}
    for i in range(8):
        held = 1600 + 25 * i
        records[f"t{i}"] = record(f"t{i}", held, views={"public": _view(held + int(rng.integers(-40, 40)))},
                                  log_probs=-np.full(HELD, 1.5) + rng.normal(0, 0.8, HELD))
    records["on_public"] = record("on_public", 1700, views={"public": _view(2300, nll=0.9)},
                                  log_probs=-np.full(HELD, 1.5) + rng.normal(0, 0.8, HELD))
    forbidden = fitted.split_gap(records, 0.001, two_sided=True)
    assert {f.teams for f in forbidden.flagged} == {("on_public",)}
    assert "trained on the public split?" in forbidden.flagged[0].detail
    assert not fitted.split_gap(records, 0.001, two_sided=False).flagged  # allowed: not evidence
    audit = run_audit({**records, "baseline": record("baseline", 1500)}, "baseline", AuditSection(train_on_public=True),
                      "PrivateTest")
    assert "on_public" not in audit.under_review


# --- the supplement test: noise counted once, power stated ------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def simulated_cohort(rng: np.random.Generator, teams: int, memoriser_share: float, supplement: int = 1000) -> dict:
    """Honest teams with errors correlated through each face's difficulty, one supplement shift shared by all and a
    little real variation per team; a memoriser that overrides `memoriser_share` of held-out faces with their label."""
    held_difficulty, supplement_difficulty = rng.normal(0, 1.5, HELD), rng.normal(0, 1.5, supplement)
    shift = rng.normal(0.3, 0.1)
    records = {}
    for t in range(teams + 1):
        ability = rng.uniform(-0.5, 1.0)
        held = rng.random(HELD) < _sigmoid(ability - held_difficulty)
        faces = rng.random(supplement) < _sigmoid(ability - supplement_difficulty - shift + rng.normal(0, 0.05))
        name = "memo" if t == teams else f"team_{t:02d}"
        if name == "memo":
            held |= rng.random(HELD) < memoriser_share
        view = {"images": supplement, "correct": int(faces.sum()), "accuracy": float(faces.mean())}
        records[name] = record(name, int(held.sum()), views={"supplement": view})
    return records


def catch_and_false_positive_rates(cohorts: int, teams: int, share: float) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    caught = honest = 0
    for _ in range(cohorts):
        flagged = {f.teams[0] for f in fitted.supplement_gap(simulated_cohort(rng, teams, share), 0.001).flagged}
        caught += "memo" in flagged
        honest += len(flagged - {"memo"})
    return caught / cohorts, honest / (cohorts * teams)


def test_a_memoriser_of_a_fifth_of_the_faces_is_caught_on_a_1000_face_supplement_and_honest_teams_are_not():
    # with the supplement's noise counted twice this memoriser (worth ~9 points) was caught in about 1 cohort of 3
    caught, false_positives = catch_and_false_positive_rates(150, 20, 0.20)
    assert caught >= 0.6, caught
    assert false_positives <= 0.001, false_positives
    caught, false_positives = catch_and_false_positive_rates(150, 20, 0.25)
    assert caught >= 0.85 and false_positives <= 0.001, (caught, false_positives)


def test_the_supplement_test_states_its_power_in_the_audit():
    records = simulated_cohort(np.random.default_rng(1), 20, 0.0)
    audit = run_audit({**records, "baseline": record("baseline", 1500)}, "baseline", AuditSection(), "PrivateTest")
    power = next(c for c in audit.checks if c.id == "supplement_gap").cohort["power"]
    assert power["teams"] == 21 and power["supplement_images"] == 1000 and power["held_out_images"] == HELD
    assert 0.05 < power["gap_half_the_time"] < power["gap_80_percent"] < 0.12
    note = next(n for n in audit.notes if n.startswith("supplement test power"))
    assert f"{100 * power['gap_half_the_time']:.1f} points" in note and "1,000 private faces" in note


def test_power_grows_with_the_supplement_and_the_faces_needed_match_it():
    gaps = [detectable_gap(21, HELD, faces, 0.5, 0.001, 0.8) for faces in (250, 1000, 4000)]
    assert gaps[0] > gaps[1] > gaps[2]
    needed = supplement_needed(0.10, 21, HELD, 0.5, 0.001, 0.8)
    assert detectable_gap(21, HELD, needed, 0.5, 0.001, 0.8) <= 0.10 < detectable_gap(21, HELD, needed - 1, 0.5, 0.001, 0.8)
    assert supplement_needed(0.02, 21, HELD, 0.5, 0.001, 0.8) is None  # the held-out split's own noise is larger


def test_the_power_table_in_the_docs_is_the_one_the_code_computes():
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "audit.md").read_text()
    assert power_table() in page, "regenerate the table with tests/test_audit_evidence.py::power_table"


def power_table() -> str:
    """docs/audit.md's table: the excess gap flagged 80 % of the time (points), held-out 3,589 images at 50 %."""
    sizes, cohorts = (250, 500, 1000, 2000, 4000), (10, 20, 50, 100, 200)
    lines = ["| supplement faces | " + " | ".join(f"{m} teams" for m in cohorts) + " |",
             "|---:|" + "---:|" * len(cohorts)]
    for faces in sizes:
        cells = [f"{100 * detectable_gap(m, HELD, faces, 0.5, 0.001, 0.8):.1f}" for m in cohorts]
        lines.append(f"| {faces:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_baseline_notes_say_what_is_missing_and_nothing_else(tmp_path, copied_pair):
    teams = {t: r for t, r in copied_pair.items() if t != "baseline"}
    (tmp_path / "baseline.py").write_text("x = 1\n")
    notes = run_audit(teams, "baseline", AuditSection(), "PrivateTest", tmp_path, tmp_path / "baseline.py").notes
    assert not any("boilerplate" in n for n in notes)  # its code is removed: the file was there
    assert any("no record for the baseline 'baseline'" in n for n in notes)
    notes = run_audit(copied_pair, "baseline", AuditSection(), "PrivateTest", tmp_path, tmp_path / "gone.py").notes
    assert [n for n in notes if "boilerplate" in n] == [f"the baseline's code ({tmp_path / 'gone.py'}) was not found: "
                                                        "it is not removed as boilerplate"]


def test_the_audit_command_keeps_the_held_out_audit_beside_the_final_board(tmp_path, monkeypatch, cli):
    """`fercomp audit` after the final phase: the held-out split's audit names teams and final figures, so by default
    it goes to reports/final (0700), never to the public board's folder that CI publishes."""
    from fercomp.hashing import sha256_file
    from fercomp.records import write_record

    monkeypatch.chdir(tmp_path)
    (tmp_path / "submissions").mkdir()
    for name in ("team_a", "team_b", "team_c"):
        path = tmp_path / "submissions" / f"{name}.py"
        path.write_text(f"TEAM = {name!r}\n")
        sub = {"name": name, "sha256": sha256_file(path), "weights_sha256": None}
        write_record(replace(record(name, 1700), submission=sub), tmp_path / "reports" / "results")
    (tmp_path / "submissions" / "team_c.py").write_text("changed after scoring\n")
    code, out, err = cli("audit")
    assert code == 0, out + err
    assert (tmp_path / "reports" / "final" / "audit-PrivateTest.md").is_file()
    assert (tmp_path / "reports" / "final").stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / "reports" / "leaderboard").exists()
    assert "refused: reports/results/team_c.PrivateTest.json" in out  # the changed hand-in's record is left out
    code, out, err = cli("audit", "--out", "elsewhere", "--format", "json")
    assert code == 0 and (tmp_path / "elsewhere" / "audit-PrivateTest.json").is_file(), out + err
    for name in ("team_a", "team_b"):
        (tmp_path / "submissions" / f"{name}.py").write_text("changed after scoring\n")
    code, _, err = cli("audit")  # every record refused: say why, not "score the final phase first"
    assert code == 2 and len(err.strip().splitlines()) == 1 and "3 refused" in err and "re-score it" in err, err

"""A constant answer never earns an efficiency mark, whatever the baseline: the one-parameter always_happy case,
scored for real behind a baseline below the majority-class rate (a constant Angry here, 18 % on PrivateTest where
Happy is 23 %), took the whole efficiency mark before the majority gate."""

from dataclasses import replace
from pathlib import Path

import pytest

from fercomp import leaderboard as lb
from fercomp.config import CompetitionConfig, MarksSection
from fercomp.errors import UsageError
from fercomp.scoring import score_submission
from tests.scoring_helpers import FIXTURES, fast_config

CASE = Path(__file__).parent / "cases" / "always_happy.py"

pytestmark = pytest.mark.jail  # both tests score hand-ins in jails


@pytest.fixture(scope="module")
def records(tmp_path_factory, small_csv):
    root = tmp_path_factory.mktemp("weak")
    (root / "always_happy.py").write_text(CASE.read_text())
    (root / "baseline.py").write_text((FIXTURES / "constant_model.py").read_text())  # always Angry
    config = fast_config(small_csv, root / "results", sandbox="required")
    return {p.stem: score_submission(p, config) for p in (root / "always_happy.py", root / "baseline.py")}


def _config(**marks) -> CompetitionConfig:
    return replace(CompetitionConfig(), marks=MarksSection(efficiency_gate="baseline", **marks))


def test_always_happy_earns_no_efficiency_mark_behind_a_weak_baseline(records):
    happy, base = records["always_happy"], records["baseline"]
    assert happy.status == base.status == "scored" and base.accuracy < happy.accuracy  # it beats the baseline
    board = lb.build(records, "baseline", _config(), "PrivateTest", phase="public")
    row = next(m for m in board.marks if m.team == "always_happy")
    assert row.efficiency_mark == 0.0 and row.accuracy_mark > 0
    assert any("not above always answering Happy" in note for note in row.notes), row.notes
    warning = [n for n in board.notes if "not above always answering Happy" in n]
    assert warning and "the final board will refuse this baseline" in warning[0]


def test_a_weak_baseline_stops_the_final_board_unless_allowed(records):
    with pytest.raises(UsageError, match=r"final board stopped: .* \[marks\] allow_weak_baseline = true"):
        lb.build(records, "baseline", _config(), "PrivateTest", phase="final")
    board = lb.build(records, "baseline", _config(allow_weak_baseline=True), "PrivateTest", phase="final")
    assert next(m for m in board.marks if m.team == "always_happy").efficiency_mark == 0.0

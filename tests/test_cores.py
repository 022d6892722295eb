"""Parallel jobs on their own cores: the split, its notes, and a cohort scored with --jobs 2."""

import shutil

import pytest

from fercomp.cores import split_cores
from fercomp.leaderboard import collect_and_score
from fercomp.submission import forks
from tests.scoring_helpers import FIXTURES, fast_config


def test_cores_are_split_equally_and_disjointly():
    split = split_cores(2, [0, 1, 2, 3])
    assert split.slots == [[0, 1], [2, 3]] and split.threads == 2 and not split.shared and split.note is None
    uneven = split_cores(3, [0, 1, 2, 3])
    assert uneven.slots == [[0], [1], [2]] and uneven.threads == 1 and "1 of 4 cores left idle" in uneven.note


def test_more_jobs_than_cores_share_them_and_say_so():
    split = split_cores(3, [0, 1])
    assert split.shared and split.slots == [[0, 1]] * 3 and split.threads == 1
    assert "latencies are measured on shared cores" in split.note and "--latency serial" in split.note


@pytest.mark.jail
def test_a_cohort_with_two_jobs_pins_each_worker(tmp_path, small_csv):
    # on two or more cores each worker gets its own; on one, both share it (and the notes say so)
    paths = []
    for name in ("team_a", "team_b", "team_c"):
        shutil.copy(FIXTURES / "rule_model.py", tmp_path / f"{name}.py")
        paths.append(tmp_path / f"{name}.py")
    config = fast_config(small_csv, tmp_path / "results")
    records, notes = collect_and_score(paths, tmp_path / "results", config, jobs=2, latency="serial")
    assert {r.status for r in records.values()} == {"scored"}
    for record in records.values():
        forked = record.sandbox["kind"] == "nsjail" and forks.unusable(True, False) is None
        assert record.environment["start_mode"] == ("forked" if forked else "jail" if record.sandbox["kind"] == "nsjail" else "plain")
        assert len(record.environment["cpu_affinity"]) == 1 and record.settings["threads"] == 1
        assert record.environment["threads"] == 1
    # scored again with the same split: the records are fresh, nothing is re-scored
    again, notes = collect_and_score(paths, tmp_path / "results", config, jobs=2)
    assert not [n for n in notes if "scored" in n] and again == records


def test_the_latency_mode_is_checked(cli, tmp_path):
    code, _, err = cli("leaderboard", "--latency", "sometimes", "--submissions", tmp_path)
    assert code == 2 and "--latency sometimes: expected parallel or serial" in err


def test_time_queued_for_the_latency_lock_is_given_back_up_to_the_allowance():
    """With --jobs N and serial latency, a hand-in waiting for another's latency phase is not charged for it."""
    from fercomp.submission.runner import JailedProcess, Limits

    process = JailedProcess("fercomp.submission.measurer", Limits(time_limit_s=10, queue_allowance_s=3), {}, jailed=False)
    try:
        process.deadline = 100.0
        process.queued(2.0)
        assert process.deadline == 102.0
        process.queued(5.0)
        assert process.deadline == 103.0, "never more than the allowance in all"
    finally:
        shutil.rmtree(process.home, ignore_errors=True)

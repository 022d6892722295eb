"""The worker template: forked workers score exactly as fresh ones, leave nothing for the next, record
how they started, and the runner falls back to a fresh start when the template cannot fork."""

import os

import pytest

from fercomp.scoring import score_submission
from fercomp.submission.runner import WorkerTemplate
from tests.scoring_helpers import FIXTURES, fast_config


@pytest.fixture(scope="module")
def template():
    with WorkerTemplate(os.cpu_count() or 1) as running:
        yield running


def test_a_forked_worker_scores_exactly_as_a_fresh_one(template, tmp_path, small_csv):
    config = fast_config(small_csv, tmp_path / "results")
    fresh = score_submission(FIXTURES / "rule_model.py", config)
    forked = score_submission(FIXTURES / "rule_model.py", config, template=template)
    assert fresh.environment["start_mode"] == "fresh" and forked.environment["start_mode"] == "template"
    assert forked.accuracy == fresh.accuracy and forked.confusion_matrix == fresh.confusion_matrix
    assert forked.flops["fvcore_flops"] == fresh.flops["fvcore_flops"] and forked.predictions == fresh.predictions
    assert forked.isolation == fresh.isolation == ["namespaces", "rlimits", "audit"]
    assert forked.environment["cpu_affinity"] == sorted(os.sched_getaffinity(0))
    assert forked.timings["worker_ready_wait_s"] < fresh.timings["worker_ready_wait_s"]


def test_a_submission_leaves_nothing_for_the_next_child(template, tmp_path, small_csv):
    config = fast_config(small_csv, tmp_path / "results")
    control = score_submission(FIXTURES / "detect_traces.py", config, template=template)
    assert control.status == "scored", control.failure  # nothing to find before
    left = score_submission(FIXTURES / "leave_traces.py", config, template=template)
    assert left.status == "scored", left.failure  # it did set every trace: its import would have raised otherwise
    after = score_submission(FIXTURES / "detect_traces.py", config, template=template)
    assert after.status == "scored", after.failure
    assert {r.environment["start_mode"] for r in (control, left, after)} == {"template"}
    assert template.proc.poll() is None  # the template itself lives on, untouched


def test_pinned_cores_are_recorded(template, tmp_path, small_csv):
    from dataclasses import replace

    config = fast_config(small_csv, tmp_path / "results")
    config = replace(config, limits=replace(config.limits, threads=1))
    record = score_submission(FIXTURES / "rule_model.py", config, template=template, cores=[0])
    assert record.environment["cpu_affinity"] == [0] and record.environment["threads"] == 1
    assert record.settings["threads"] == 1


def test_a_template_that_cannot_fork_falls_back_to_a_fresh_start(tmp_path, small_csv, monkeypatch):
    from fercomp.submission import runner

    monkeypatch.setattr(runner.WorkerTemplate, "spawn", lambda self, *a: "the template refused to fork: 2 threads")
    with WorkerTemplate(1) as broken:
        record = score_submission(FIXTURES / "rule_model.py", fast_config(small_csv, tmp_path / "results"), template=broken)
    assert record.status == "scored" and record.environment["start_mode"] == "fresh"
    assert any("started afresh: the template refused to fork" in n for n in record.isolation_notes)


def test_the_template_refuses_to_fork_when_not_single_threaded():
    import threading
    import time

    from fercomp.submission import template as module

    assert module._fork_refusal() is None or module.threads() > 1  # this test process may have threads already
    threading.Thread(target=time.sleep, args=(1,), daemon=True).start()
    assert "threads" in module._fork_refusal()

"""The roofline cross-check: time per image × the machine's multiply-add rate against the counted compute."""

import numpy as np
import pytest

from fercomp.measure import roofline
from fercomp.records import decode_predictions
from fercomp.scoring import score_submission
from tests.scoring_helpers import FIXTURES, fast_config


def test_marginal_time_leaves_out_the_per_call_overhead_and_the_slowed_batch():
    # 5 ms of overhead per call, 1 ms per image; one batch slowed to twice its time by a neighbour
    sizes, seconds = [32, 32, 22], [0.005 + 0.032, 2 * (0.005 + 0.032), 0.005 + 0.022]
    assert roofline.marginal_seconds_per_image(sizes, seconds, 0.005 + 0.001) == pytest.approx(0.001)
    assert roofline.marginal_seconds_per_image([1, 1], [0.1, 0.1], 0.1) is None


def test_the_verdict_is_relative_to_the_machine_and_the_reference_graph():
    rate = 50e9
    assert roofline.check(rate, 0.004, 1_000_000)["verdict"] == "unaccounted"  # 200 M implied vs 1 M counted
    # a tiny model whose time is all per-image overhead: the reference graph, timed in the same run, takes it off
    assert roofline.check(rate, 0.0001, 1_000)["verdict"] == "unaccounted"
    assert roofline.check(rate, 0.0001, 1_000, reference_seconds=0.0001)["verdict"] == "accounted"
    honest = roofline.check(rate, 0.010, 330_000_000, reference_seconds=0.00002)  # the baseline at ~100 % of sgemm
    assert honest["verdict"] == "accounted" and 1 < honest["ratio"] < 2
    import torch

    assert 0 <= roofline.seconds_per_image_reference(torch) < 0.01


@pytest.mark.jail
def test_compute_hidden_from_every_counter_is_flagged_from_the_graph(tmp_path, small_csv):
    """Matrix products spelled as multiply + sum: the multiply-add counters agree on 2,304, but the exported
    graph's elementwise multiplications give it away, with no timing involved (so no load can change it)."""
    config = fast_config(small_csv, tmp_path / "results", batch_size=32)
    hidden = score_submission(FIXTURES / "hidden_compute.py", config)
    assert hidden.status == "scored", hidden.failure
    assert hidden.flops["fvcore_flops"] == 2304 and hidden.flops["flop_counter_mode_flops"] == 2 * 2304
    assert hidden.flops["micronet"]["mults"] > 1000 * 2304  # the MicroNet counter sees the elementwise work
    assert hidden.flops["check"] == "disagree" and any("hidden_compute" in f for f in hidden.flags), hidden.flags
    assert hidden.roofline["verdict"] == "unaccounted"  # advisory: recorded, no flag, no mark withheld
    honest = score_submission(FIXTURES / "rule_model.py", config)
    assert not honest.flags, honest.flags


@pytest.mark.jail
def test_a_scored_record_carries_its_predictions_and_intervals(tmp_path, small_csv):
    from fercomp.data.source import load_data
    from tests.scoring_helpers import expected_rule_predictions

    record = score_submission(FIXTURES / "rule_model.py", fast_config(small_csv, tmp_path / "results"))
    held = load_data(small_csv).select("PrivateTest")
    rows = decode_predictions(record)
    assert rows.shape == (150, 3)
    assert np.array_equal(rows[:, 0], held.labels) and np.array_equal(rows[:, 1], expected_rule_predictions(held.images))
    assert (rows[:, 1] != rows[:, 2]).all()  # top-2 is another class
    assert record.top2_accuracy == np.mean((rows[:, 1] == rows[:, 0]) | (rows[:, 2] == rows[:, 0]))
    low, high = record.intervals["accuracy_wilson"]
    assert low < record.accuracy < high and record.intervals["resamples"] == 2000
    assert record.params_bits == 32 and record.flops["micronet"]["ops"] > 0

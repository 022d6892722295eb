"""The statistics behind honest ranks, each against an independent computation or a hand calculation."""

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from fercomp.measure import metrics, stats


@pytest.mark.parametrize("correct,n", [(0, 10), (1, 10), (60, 100), (2154, 3589), (3589, 3589)])
def test_wilson_is_the_textbook_formula(correct, n):
    z = 1.959963984540054  # the 97.5 % normal quantile
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = stats.wilson(correct, n)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-12) and high == pytest.approx(min(1.0, centre + half), abs=1e-12)
    ci = binomtest(correct, n).proportion_ci(0.95, method="wilson")  # scipy's own implementation agrees
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_wilson_at_sixty_percent_on_the_held_out_split_is_about_one_point_six():
    low, high = stats.wilson(2153, 3589)
    assert 0.015 < (high - low) / 2 < 0.017  # the issue's ±1.6 points


def test_mcnemar_exact_by_hand():
    # 7 images only A got right, 2 only B: p = 2 × P(X ≤ 2), X ~ Binomial(9, ½) = 2 × (1 + 9 + 36) / 512
    assert stats.mcnemar_exact(7, 2) == pytest.approx(92 / 512, abs=1e-15)
    assert stats.mcnemar_exact(2, 7) == stats.mcnemar_exact(7, 2)
    assert stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(10, 0) == pytest.approx(2 / 1024)


def test_paired_counts_the_discordant_images_and_ignores_the_rest():
    a = np.zeros(500, dtype=bool)
    b = np.zeros(500, dtype=bool)
    a[:300], b[:300] = True, True  # both right on 300 images: they carry no information
    a[300:307] = True  # 7 only A
    b[307:309] = True  # 2 only B
    found = stats.paired(a, b)
    assert (found.only_a, found.only_b, found.images) == (7, 2, 500)
    assert found.p_value == pytest.approx(92 / 512)
    assert found.difference == pytest.approx(5 / 500)
    assert found.difference_low <= found.difference <= found.difference_high


def test_identical_teams_differ_by_exactly_nothing():
    a = np.arange(400) % 3 == 0
    found = stats.paired(a, a)
    assert (found.only_a, found.only_b, found.p_value) == (0, 0, 1.0)
    assert found.difference_low == found.difference_high == 0.0


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → kept monotone: 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_bootstrap_macro_f1_matches_the_metrics_definition():
    rng = np.random.default_rng(3)
    for _ in range(5):
        cm = rng.integers(0, 30, size=(7, 7))
        cm[2] = 0  # a class with no images: F1 0, as metrics.averages has it
        assert stats.macro_f1_from_confusions(cm.astype(float)) == pytest.approx(metrics.averages(cm)["macro"]["f1"])


def test_resamples_are_fixed_and_whole():
    counts = stats.resample_counts(50, 2000, 0)
    assert counts.shape == (2000, 50) and (counts.sum(axis=1) == 50).all()
    assert np.array_equal(counts, stats.resample_counts.__wrapped__(50, 2000, 0))  # the seed fixes every draw
    assert not np.array_equal(counts, stats.resample_counts.__wrapped__(50, 2000, 1))


def test_record_intervals_bracket_the_estimates():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 600)
    predicted = np.where(rng.random(600) < 0.55, labels, rng.integers(0, 7, 600))
    found = stats.record_intervals(labels, predicted, 7)
    cm = metrics.confusion_matrix(labels, predicted, 7)
    accuracy, macro = metrics.accuracy(cm), metrics.averages(cm)["macro"]["f1"]
    assert found["accuracy_wilson"][0] < accuracy < found["accuracy_wilson"][1]
    assert found["accuracy_bootstrap"][0] < accuracy < found["accuracy_bootstrap"][1]
    assert found["macro_f1_bootstrap"][0] < macro < found["macro_f1_bootstrap"][1]
    # the bootstrap and Wilson intervals of the same accuracy agree to within a point at n = 600
    assert found["accuracy_bootstrap"] == pytest.approx(found["accuracy_wilson"], abs=0.01)
    assert found["resamples"] >= 2000 and found["seed"] == 0

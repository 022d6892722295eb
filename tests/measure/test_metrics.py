import numpy as np
import pytest

from fercomp.measure import metrics


def _reference(labels, preds, k):
    """An independent, loop-based implementation to compare against."""
    cm = [[0] * k for _ in range(k)]
    for t, p in zip(labels, preds):
        cm[t][p] += 1
    out = []
    for c in range(k):
        tp = cm[c][c]
        pred = sum(cm[r][c] for r in range(k))
        sup = sum(cm[c])
        prec = tp / pred if pred else 0.0
        rec = tp / sup if sup else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out.append((prec, rec, f1, sup))
    return cm, out


@pytest.mark.parametrize("seed", range(5))
def test_against_reference_implementation(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 7, 500)
    preds = np.where(rng.random(500) < 0.6, labels, rng.integers(0, 7, 500))
    preds[preds == 1] = 2  # a class never predicted: precision must be 0, not NaN
    cm = metrics.confusion_matrix(labels, preds, 7)
    ref_cm, ref = _reference(labels.tolist(), preds.tolist(), 7)
    assert cm.tolist() == ref_cm
    assert metrics.accuracy(cm) == pytest.approx((labels == preds).mean())
    pc = metrics.per_class(cm)
    for c in range(7):
        assert (pc["precision"][c], pc["recall"][c], pc["f1"][c], pc["support"][c]) == pytest.approx(ref[c])
    av = metrics.averages(cm)
    assert av["macro"]["f1"] == pytest.approx(np.mean([r[2] for r in ref]))
    assert av["weighted"]["recall"] == pytest.approx(metrics.accuracy(cm))  # weighted recall is accuracy


def test_accuracy_is_pooled_not_mean_of_batches():
    labels = np.array([0] * 10 + [1] * 2)
    preds = np.array([0] * 10 + [0] * 2)
    # batches of 10 and 2 would average to (1.0 + 0.0) / 2 = 0.5; pooled is 10/12
    assert metrics.accuracy(metrics.confusion_matrix(labels, preds, 2)) == pytest.approx(10 / 12)


def test_top_k():
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    labels = np.array([2, 1, 0])
    assert metrics.top_k_accuracy(labels, scores, 1) == 0
    assert metrics.top_k_accuracy(labels, scores, 2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(labels, scores, 3) == 1

"""The accuracy pass's answers against the same images answered elsewhere: compared as log-probabilities."""

import numpy as np

from fercomp.scoring import LOG_PROB_TOLERANCE, _latency_check, log_probabilities


class Files:
    class_order = None


def _check(batched: np.ndarray, probes_at: np.ndarray, seen: np.ndarray, compared=()):
    latency = {"outputs_shape": list(seen.shape)}
    return _latency_check(latency, seen.astype("<f4").tobytes(), probes_at, list(compared), batched, Files())


def test_a_constant_added_to_every_logit_is_the_same_answer():
    rng = np.random.default_rng(0)
    batched = rng.normal(size=(40, 7)).astype(np.float32)
    at = rng.choice(40, 16, replace=False)
    assert _check(batched, at, batched[at] + 7.0) == ("consistent", [])
    assert np.abs(log_probabilities(batched + 7.0) - log_probabilities(batched)).max() < LOG_PROB_TOLERANCE


def test_huge_logits_no_longer_widen_the_tolerance():
    """Raw logits offset by 10⁴ once made any change short of an argmax flip pass (the tolerance scaled with them)."""
    batched = np.zeros((20, 7), np.float32)
    batched[:, 0] = 2.0
    batched += 1e4
    seen = batched[:8].copy()
    seen[:, 1] += 1.0  # class 1's probability much higher; the argmax (class 0) unchanged
    verdict, detail = _check(batched, np.arange(8), seen)
    assert verdict == "inconsistent" and "batch 1 in the latency phase" in detail[0]


def test_a_row_answered_differently_in_another_batch_is_named():
    rng = np.random.default_rng(1)
    batched = rng.normal(size=(30, 7)).astype(np.float32)
    chosen = rng.choice(30, 17, replace=False)
    other = batched[chosen].copy()
    other[5] = other[5][::-1]
    verdict, detail = _check(batched, np.arange(4), batched[:4], [("a batch of 17", chosen, other)])
    assert verdict == "inconsistent" and detail[0].startswith("a batch of 17 answers differently")

"""Statistics for honest ranks: an interval for each figure, a paired test between two teams, tie groups.

Everything is computed from per-image facts (true class, predicted class), never by re-scoring:
- accuracy: the Wilson score interval (closed form);
- macro-F1 and efficiency: a percentile bootstrap over images — `RESAMPLES` resamples drawn once per
  (images, resamples, seed) and shared by every record, so a cohort's bootstrap is a few matrix products
  and two teams are always compared on the same draws;
- two teams on the same images: the exact McNemar test (a two-sided binomial test on the images only one
  of them got right) and a paired bootstrap interval of the accuracy difference;
- a board: Holm's correction over the comparisons of neighbours (fercomp.marks forms the tie groups).

>>> round(wilson(60, 100)[0], 4), round(wilson(60, 100)[1], 4)
(0.5020, 0.6906)
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0
ALPHA = 0.05


def wilson(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion correct/n (Wilson 1927); (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@functools.lru_cache(maxsize=4)
def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """resamples × n float32: how often each image is drawn in each bootstrap resample (rows sum to n)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n), dtype=np.int64)
    draws += np.arange(resamples, dtype=np.int64)[:, None] * n
    counts = np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float32)
    counts.setflags(write=False)
    return counts


def draw_ahead(n: int) -> None:
    """Draw the resamples for `n` images in a background thread: a score asks for them only after its measuring,
    and until its measurer's jail is ready the parent has nothing else to do (0.2 s of a single score's 3,589 images)."""
    threading.Thread(target=resample_counts, args=(n, RESAMPLES, SEED), daemon=True).start()  # record_intervals's key


def _percentile(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail], axis=-1)
    return float(low), float(high)


def macro_f1_from_confusions(confusions: np.ndarray) -> np.ndarray:
    """Macro-F1 of each confusion matrix in a (…, k, k) stack (rows true), 0 for a class with no F1 defined;
    the same definition as fercomp.measure.metrics.averages."""
    tp = np.diagonal(confusions, axis1=-2, axis2=-1)
    predicted, support = confusions.sum(axis=-2), confusions.sum(axis=-1)
    denominator = predicted + support
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp, dtype=np.float64), where=denominator > 0)
    return f1.mean(axis=-1)


def bootstrap_confusions(labels: np.ndarray, predicted: np.ndarray, num_classes: int,
                         counts: np.ndarray) -> np.ndarray:
    """resamples × k × k confusion matrices, one per resample, as one matrix product."""
    cells = labels.astype(np.int64) * num_classes + predicted.astype(np.int64)
    one_hot = np.zeros((len(cells), num_classes * num_classes), dtype=np.float32)
    one_hot[np.arange(len(cells)), cells] = 1.0
    # float32 sums of whole counts stay exact below 2**24 images
    return (counts @ one_hot).reshape(len(counts), num_classes, num_classes).astype(np.float64)


def record_intervals(labels: np.ndarray, predicted: np.ndarray, num_classes: int, confidence: float = CONFIDENCE,
                     resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Accuracy (Wilson, and bootstrap for scaling into efficiency) and macro-F1 (bootstrap) of one record."""
    n = len(labels)
    correct = int((labels == predicted).sum())
    confusions = bootstrap_confusions(labels, predicted, num_classes, resample_counts(n, resamples, seed))
    accuracy_draws = np.trace(confusions, axis1=1, axis2=2) / n
    return {
        "confidence": confidence, "resamples": resamples, "seed": seed, "images": n,
        "accuracy_wilson": list(wilson(correct, n, confidence)),
        "accuracy_bootstrap": list(_percentile(accuracy_draws, confidence)),
        "macro_f1_bootstrap": list(_percentile(macro_f1_from_confusions(confusions), confidence)),
        "method": (f"accuracy: Wilson score interval; macro-F1 and efficiency: percentile bootstrap over the "
                   f"{n} images, {resamples} resamples, seed {seed}"),
    }


@dataclass(frozen=True)
class Paired:
    """Two teams on the same images: who got which right, the exact test and the difference's interval."""

    only_a: int  # images A got right and B wrong
    only_b: int  # images B got right and A wrong
    images: int
    difference: float  # accuracy A − accuracy B
    difference_low: float
    difference_high: float
    p_value: float  # exact McNemar: two-sided binomial test of only_a among only_a + only_b, p = 1/2


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value (scipy.stats.binomtest on the discordant pairs); 1 when there are none."""
    if only_a + only_b == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue)


def paired(correct_a: np.ndarray, correct_b: np.ndarray, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
           seed: int = SEED) -> Paired:
    """McNemar and the paired bootstrap interval of accuracy A − accuracy B over the same images."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"the two records cover {len(a)} and {len(b)} images; a paired test needs the same images")
    n = len(a)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    diff = (a.astype(np.float32) - b.astype(np.float32))
    low, high = _percentile(resample_counts(n, resamples, seed) @ diff / n, confidence)
    return Paired(only_a, only_b, n, (only_a - only_b) / n, low, high, mcnemar_exact(only_a, only_b))


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given (step-down, kept monotone, capped at 1)."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for step, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - step) * p_values[index]))
        adjusted[index] = running
    return adjusted

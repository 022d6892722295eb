"""The audit's tests: proportions, a robust standing within the cohort, Holm. Pure numpy/scipy."""

from __future__ import annotations

import math

import numpy as np

from fercomp.measure.stats import holm  # noqa: F401 - the one Holm, re-exported for the checks

MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its standard deviation


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def proportion_greater(correct_a: int, n_a: int, correct_b: int, n_b: int, margin: float = 0.0) -> tuple[float, float]:
    """One-sided test that proportion A exceeds proportion B by more than `margin`: (difference, p).
    Unpooled standard error (the two proportions may differ by design), floored at one image's worth."""
    a, b = correct_a / n_a, correct_b / n_b
    se = math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)
    se = max(se, 1.0 / max(n_a, n_b))
    return a - b, normal_sf((a - b - margin) / se)


def mean_smaller(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int, floor: float = 0.0) -> float:
    """Welch's one-sided p that mean A is below mean B (normal approximation: both samples are large); the
    standard error is floored at `floor`, the resolution below which a difference means nothing."""
    se = max(math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b), floor)
    return normal_sf((mean_b - mean_a) / se) if se > 0 else (0.0 if mean_a < mean_b else 1.0)


def binomial_above(correct: int, n: int, ceiling: float) -> float:
    """P(X ≥ correct) for X ~ Binomial(n, ceiling): how surprising the accuracy is if the truth were the ceiling."""
    from scipy.stats import binom

    return float(binom.sf(correct - 1, n, ceiling))


def cohort(values: list[float]) -> dict:
    """Median and robust spread (1.4826·MAD) of the cohort's values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"n": 0, "median": None, "spread": None}
    median = float(np.median(arr))
    return {"n": int(arr.size), "median": median, "spread": float(MAD_TO_SD * np.median(np.abs(arr - median)))}


def normal_isf(p: float) -> float:
    """The z with P(Z > z) = p."""
    from scipy.stats import norm

    return float(norm.isf(p))


def between_teams(spread: float | None, noise: float) -> float:
    """The cohort's real differences, beyond sampling noise: √(spread² − noise²), at least 0. The cohort's spread
    of a statistic already holds each team's sampling noise; only what it holds beyond that is added to a team's
    own noise (random effects), so the noise is counted once."""
    return math.sqrt(max((spread or 0.0) ** 2 - noise**2, 0.0))


def cohort_with_noise(pairs: list[tuple[float, float]]) -> dict:
    """The cohort's centre of (value, own standard error) pairs, with its median noise and the spread beyond it
    (`between`), so that robust_p counts each team's sampling noise once."""
    centre = cohort([value for value, _ in pairs])
    if pairs:
        centre["noise"] = float(np.median([se for _, se in pairs]))
        centre["between"] = between_teams(centre["spread"], centre["noise"])
    return centre


def robust_p(value: float, own_se: float, centre: dict) -> tuple[float, float]:
    """(z, one-sided p) of `value` above the cohort's median, against the value's own standard error and the
    cohort's real differences (`centre["between"]`, see `between_teams`) together."""
    scale = math.sqrt(own_se**2 + (centre.get("between") or 0.0) ** 2)
    z = (value - centre["median"]) / scale if scale > 0 else (math.inf if value > centre["median"] else 0.0)
    return z, normal_sf(z)


def gap_se(held_out: float, held_out_images: int, supplement: float, supplement_images: int) -> float:
    """The standard error of held-out minus supplement accuracy: two independent samples of faces."""
    return math.sqrt(held_out * (1 - held_out) / held_out_images + supplement * (1 - supplement) / supplement_images)


def detectable_gap(teams: int, held_out_images: int, supplement_images: int, accuracy: float, alpha: float,
                   power: float, between: float = 0.0) -> float:
    """The smallest excess gap (held-out minus supplement, above the cohort's) flagged with probability `power`:
    Holm tests the most extreme of `teams` at alpha / teams, so (z of alpha/teams + z of power) standard errors."""
    scale = math.sqrt(gap_se(accuracy, held_out_images, accuracy, supplement_images) ** 2 + between**2)
    return (normal_isf(alpha / max(teams, 1)) + normal_isf(1 - power)) * scale


def supplement_needed(gap: float, teams: int, held_out_images: int, accuracy: float, alpha: float, power: float,
                      between: float = 0.0) -> int | None:
    """The fewest supplement faces with which an excess gap of `gap` is flagged with probability `power`; None when
    no supplement can (the held-out split's own noise and the teams' real differences already take the margin)."""
    room = (gap / (normal_isf(alpha / max(teams, 1)) + normal_isf(1 - power))) ** 2
    room -= accuracy * (1 - accuracy) / held_out_images + between**2
    return math.ceil(accuracy * (1 - accuracy) / room) if room > 0 else None


def error_consistency(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[float, float, float] | None:
    """Cohen's κ of two models' per-image correctness (Geirhos et al. 2020), with the observed and the expected
    agreement: (κ, observed, expected). κ is 0 when the agreement is what the two accuracies alone explain, 1 for
    identical right/wrong patterns. None when the accuracies leave no room for disagreement (both 0 % or 100 %)."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    observed = float((a == b).mean())
    pa, pb = float(a.mean()), float(b.mean())
    expected = pa * pb + (1 - pa) * (1 - pb)
    if 1 - expected < 1.0 / len(a):
        return None
    return (observed - expected) / (1 - expected), observed, expected


def fewer_disagreements(observed: float, expected: float, n: int, kappa_bound: float) -> float:
    """One-sided exact p that a pair disagrees on fewer images than a κ of `kappa_bound` would allow:
    disagreements ~ Binomial(n, (1 − expected)(1 − kappa_bound)) under the null."""
    from scipy.stats import binom

    disagreements = round((1 - observed) * n)
    return float(binom.cdf(disagreements, n, (1 - expected) * (1 - kappa_bound)))

"""Sampling for semantic accuracy (의미 정확성): how many items to inspect, which ones,
and what the inspected pass rate says about the whole lot.

* :func:`iso2859_sample_size` — KS Q ISO 2859-1, general inspection level II (the table
  in the AI Hub guide §2): lot size → sample size code letter → sample size.
* :func:`sample_size_for_margin` — the size that estimates a proportion within ``margin``
  at ``confidence`` (normal approximation, finite-population corrected), for users who
  plan by precision rather than by the ISO table.
* :func:`draw_sample` — a seeded, reproducible draw: same ids + seed → same sample.
* :func:`clopper_pearson` — the exact binomial confidence bounds of the pass rate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

# (largest lot size of the row, sample size) for general inspection level II.
ISO2859_LEVEL_II: tuple[tuple[int, int], ...] = (
    (8, 2),
    (15, 3),
    (25, 5),
    (50, 8),
    (90, 13),
    (150, 20),
    (280, 32),
    (500, 50),
    (1_200, 80),
    (3_200, 125),
    (10_000, 200),
    (35_000, 315),
    (150_000, 500),
    (500_000, 800),
)
ISO2859_LARGEST = 1_250  # lots of 500,001 and more


def iso2859_sample_size(lot_size: int) -> int:
    """Sample size for a lot under KS Q ISO 2859-1 general inspection level II.

    The standard's table starts at lots of 2; a lot of 0 or 1 is inspected whole. The
    sample never exceeds the lot (the standard says to inspect 100% then).
    """
    if lot_size < 0:
        raise ValueError("lot size must be >= 0")
    if lot_size <= 1:
        return lot_size
    for upper, n in ISO2859_LEVEL_II:
        if lot_size <= upper:
            return min(n, lot_size)
    return ISO2859_LARGEST


def sample_size_for_margin(
    lot_size: int, *, confidence: float = 0.95, margin: float = 0.05, expected: float = 0.5
) -> int:
    """Items to inspect to estimate a pass rate within ±``margin`` at ``confidence``.

    Cochran's n0 = z² p(1-p) / e², with the finite-population correction
    n = n0 / (1 + (n0 - 1) / N); ``expected`` = 0.5 is the most conservative.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if not 0 < margin < 1:
        raise ValueError("margin must be between 0 and 1")
    if lot_size <= 0:
        return 0
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    n0 = z * z * expected * (1 - expected) / (margin * margin)
    n = n0 / (1 + (n0 - 1) / lot_size)
    return min(lot_size, max(1, math.ceil(n - 1e-9)))


def draw_sample(ids: Iterable[str], size: int, *, seed: int) -> list[str]:
    """A reproducible simple random sample without replacement, sorted by id.

    The ids are sorted first, so the draw depends only on the set of ids and the seed,
    not on the order the manifest or labels happen to be in.
    """
    population = sorted(set(ids))
    size = min(size, len(population))
    rng = random.Random(seed)
    return sorted(rng.sample(population, size))


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    confidence: float


def clopper_pearson(passed: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Exact (Clopper–Pearson) two-sided interval for a binomial proportion.

    lower = Beta(α/2; k, n-k+1), upper = Beta(1-α/2; k+1, n-k), with 0 and 1 at the edges.
    """
    if n <= 0 or not 0 <= passed <= n:
        raise ValueError("need 0 <= passed <= n and n > 0")
    from scipy.stats import beta

    alpha = 1 - confidence
    lo = 0.0 if passed == 0 else float(beta.ppf(alpha / 2, passed, n - passed + 1))
    hi = 1.0 if passed == n else float(beta.ppf(1 - alpha / 2, passed + 1, n - passed))
    return Interval(lo, hi, confidence)


def clopper_pearson_lower(passed: int, n: int, *, confidence: float = 0.95) -> float:
    """One-sided exact lower bound: the pass rate is at least this with ``confidence``."""
    if n <= 0 or not 0 <= passed <= n:
        raise ValueError("need 0 <= passed <= n and n > 0")
    from scipy.stats import beta

    if passed == 0:
        return 0.0
    return float(beta.ppf(1 - confidence, passed, n - passed + 1))

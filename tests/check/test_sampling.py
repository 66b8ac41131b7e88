"""Sample sizes against the KS Q ISO 2859-1 table, margin sizing, reproducible draws and
exact Clopper–Pearson bounds against closed forms and published values."""

from __future__ import annotations

import math

import pytest

from datakit.check.sampling import (
    clopper_pearson,
    clopper_pearson_lower,
    draw_sample,
    iso2859_sample_size,
    sample_size_for_margin,
)

# Every row of the general inspection level II table (AI Hub guide §2), at both edges.
ISO_ROWS = [
    (2, 8, 2), (9, 15, 3), (16, 25, 5), (26, 50, 8), (51, 90, 13), (91, 150, 20),
    (151, 280, 32), (281, 500, 50), (501, 1_200, 80), (1_201, 3_200, 125),
    (3_201, 10_000, 200), (10_001, 35_000, 315), (35_001, 150_000, 500),
    (150_001, 500_000, 800), (500_001, 10_000_000, 1_250),
]  # fmt: skip


@pytest.mark.parametrize(("lo", "hi", "n"), ISO_ROWS)
def test_iso2859_level_ii_table(lo: int, hi: int, n: int) -> None:
    assert iso2859_sample_size(lo) == min(n, lo)
    assert iso2859_sample_size(hi) == min(n, hi)
    assert iso2859_sample_size((lo + hi) // 2) == n


def test_iso2859_small_lots() -> None:
    assert iso2859_sample_size(0) == 0
    assert iso2859_sample_size(1) == 1
    assert iso2859_sample_size(30) == 8
    assert iso2859_sample_size(240) == 32


def test_margin_sizing() -> None:
    # Cochran: 1.96² · 0.25 / 0.05² = 384.1 → 385 for a very large lot; 370 for N = 10,000.
    assert sample_size_for_margin(10**9, confidence=0.95, margin=0.05) == 385
    assert sample_size_for_margin(10_000, confidence=0.95, margin=0.05) == 370
    assert sample_size_for_margin(100, confidence=0.95, margin=0.05) == 80
    assert sample_size_for_margin(50, confidence=0.99, margin=0.01) == 50
    with pytest.raises(ValueError):
        sample_size_for_margin(100, confidence=1.5)


def test_draw_is_reproducible_and_order_free() -> None:
    ids = [f"item-{i}" for i in range(1000)]
    a = draw_sample(ids, 50, seed=42)
    b = draw_sample(list(reversed(ids)), 50, seed=42)
    c = draw_sample(ids, 50, seed=43)
    assert a == b
    assert a != c
    assert len(set(a)) == 50 and set(a) <= set(ids)
    assert draw_sample(ids[:3], 10, seed=1) == sorted(ids[:3])


def test_clopper_pearson_known_values() -> None:
    # All passed: two-sided lower = (α/2)^(1/n); one-sided lower = α^(1/n).
    iv = clopper_pearson(50, 50, confidence=0.95)
    assert iv.lower == pytest.approx(0.025 ** (1 / 50), abs=1e-9)
    assert iv.upper == 1.0
    assert clopper_pearson_lower(50, 50, confidence=0.95) == pytest.approx(0.05 ** (1 / 50))
    # None passed: upper = 1 − (α/2)^(1/n).
    iv = clopper_pearson(0, 10)
    assert iv.lower == 0.0
    assert iv.upper == pytest.approx(1 - 0.025**0.1, abs=1e-9)
    # Published example (Clopper & Pearson style tables): 9/10 → [0.5550, 0.9975].
    iv = clopper_pearson(9, 10)
    assert iv.lower == pytest.approx(0.5550, abs=1e-4)
    assert iv.upper == pytest.approx(0.9975, abs=1e-4)
    # 95 of 100 → [0.8872, 0.9836]
    iv = clopper_pearson(95, 100)
    assert iv.lower == pytest.approx(0.8872, abs=1e-4)
    assert iv.upper == pytest.approx(0.9836, abs=1e-4)
    assert clopper_pearson_lower(95, 100) > iv.lower
    assert not math.isnan(clopper_pearson_lower(1, 1))

"""Multiple-testing correction against hand-computed reference values; minimum detectable effect."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest

from auditkit.stats import adjust_p_values, minimum_detectable_effect, paired_difference

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_reference_values() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → monotone 0.02, 0.03, 0.06, 0.06.
    assert adjust_p_values(p_values=P, method="holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_reference_values() -> None:
    # Sorted p·m/rank = 0.02, 0.02, 0.04, 0.04 (already monotone from the top).
    assert adjust_p_values(p_values=P, method="bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_adjust_edge_cases() -> None:
    assert adjust_p_values(p_values=[], method="holm") == []
    assert adjust_p_values(p_values=[0.7, 0.9], method="holm") == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError):
        adjust_p_values(p_values=[0.1], method="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        adjust_p_values(p_values=[1.5], method="holm")


@pytest.mark.parametrize("kind", ["paired", "means", "proportions"])
def test_mde_decreases_with_sample_size(kind: str) -> None:
    values = [minimum_detectable_effect(n=n, kind=kind, baseline_rate=0.2 if kind == "proportions" else None)
              for n in (10, 20, 50, 100, 400)]
    assert all(x > y for x, y in pairwise(values))
    assert minimum_detectable_effect(n=50, alpha=0.01) > minimum_detectable_effect(n=50, alpha=0.05)


def test_mde_known_values_and_edges() -> None:
    # Textbook: two groups of 64 detect d = 0.5 with 80% power at alpha 0.05.
    assert minimum_detectable_effect(n=64, kind="means") == pytest.approx(0.5, abs=0.01)
    assert minimum_detectable_effect(n=30, kind="paired", sd=2.0) == pytest.approx(
        2 * minimum_detectable_effect(n=30, kind="paired"))
    assert math.isinf(minimum_detectable_effect(n=1, kind="paired"))
    # From a 0% baseline, only an upward gap exists; it is still a finite rate.
    assert 0 < minimum_detectable_effect(n=100, kind="proportions", baseline_rate=0.0) < 0.2
    with pytest.raises(ValueError):
        minimum_detectable_effect(n=10, kind="ratio")  # type: ignore[arg-type]


def test_paired_mde_matches_simulated_power() -> None:
    n, sd = 30, 0.5
    gap = minimum_detectable_effect(n=n, kind="paired", sd=sd)
    rng = np.random.default_rng(123)
    runs = 200
    found = 0
    for seed in range(runs):
        d = rng.normal(gap, sd, size=n)
        found += paired_difference(a=d, b=np.zeros(n), permutations=1000, resamples=50,
                                   seed=seed).p_value < 0.05  # type: ignore[operator]
    assert 0.7 <= found / runs <= 0.9

"""Multiple-testing control across every comparison of a run (statsmodels ``multipletests``).

An audit makes many comparisons (groups × measures × axes); testing each at 5% would raise some false
gap in almost every run. ``holm`` (Holm 1979) controls the familywise error rate — the chance of any false
finding — under any dependence between tests; ``bh`` (Benjamini & Hochberg 1995) controls the expected
share of false findings among the findings, and is more powerful when many gaps are real.
"""

from __future__ import annotations

from typing import Literal, Sequence

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}
"""Our correction names → statsmodels ``multipletests`` method names."""


def adjust_p_values(*, p_values: Sequence[float], method: Literal["holm", "bh"] = "holm") -> list[float]:
    """Adjusted p-values in the input order; compare each with alpha to decide significance."""
    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}, got {method!r}")
    values = [float(p) for p in p_values]
    if not values:
        return []
    for p in values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    _, adjusted, _, _ = multipletests(values, method=CORRECTIONS[method])
    return [float(min(1.0, p)) for p in adjusted]

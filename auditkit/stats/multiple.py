"""Multiple-testing control across every comparison of a run: Holm and Benjamini–Hochberg.

An audit makes many comparisons (groups × measures × axes); testing each at 5% would raise some false
gap in almost every run. ``holm`` (Holm 1979) controls the familywise error rate — the chance of any false
finding — under any dependence between tests; ``bh`` (Benjamini & Hochberg 1995) controls the expected
share of false findings among the findings, and is more powerful when many gaps are real.

Both are a sort and a running maximum/minimum, computed here with numpy and checked against statsmodels'
``multipletests`` in the tests: statsmodels calls ``gc.collect()`` on every call, which costs ~0.2 s in a
process holding a large run's records (and the gate and the bias analyzer call it per comparison family).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["CORRECTIONS", "adjust_p_values"]

CORRECTIONS: dict[str, str] = {"holm": "holm", "bh": "fdr_bh"}
"""Our correction names → the equivalent statsmodels ``multipletests`` method names."""


def adjust_p_values(*, p_values: Sequence[float], method: Literal["holm", "bh"] = "holm") -> list[float]:
    """Adjusted p-values in the input order; compare each with alpha to decide significance."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}, got {method!r}")
    values = [float(p) for p in p_values]
    if not values:
        return []
    for p in values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    raw = np.asarray(values, dtype=float)
    m = raw.size
    order = np.argsort(raw, kind="mergesort")  # stable: ties keep input order, as statsmodels does
    ranked = raw[order]
    if method == "holm":
        # Step-down: the k-th smallest (k = 0..m-1) is scaled by (m - k), then made non-decreasing.
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * ranked))
    else:
        # Step-up: the k-th smallest is scaled by m / (k + 1), then made non-increasing from the top.
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return [float(p) for p in out]

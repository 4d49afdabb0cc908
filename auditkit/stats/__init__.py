"""Statistics shared by every analyzer: intervals, tests, multiple-testing control, power.

Keyword-only functions with one fixed return type (frozen dataclasses). The formulas come from scipy and
statsmodels; these modules choose methods, guard edge cases (empty data, all-equal values), seed every
resampling so reruns give the same numbers, and name the method so results say how each was obtained.

- :mod:`auditkit.stats.intervals`: Wilson, bootstrap (BCa) and Student-t intervals.
- :mod:`auditkit.stats.tests`: paired (permutation / Wilcoxon) and unpaired (permutation, Welch,
  z-test / Fisher, chi-square) comparisons with effect sizes.
- :mod:`auditkit.stats.multiple`: Holm and Benjamini–Hochberg adjustment.
- :mod:`auditkit.stats.power`: minimum detectable effect for a given sample size.
"""

from __future__ import annotations

from auditkit.stats.intervals import (
    Interval,
    bootstrap_difference_interval,
    bootstrap_mean_interval,
    mean_interval,
    wilson_interval,
)
from auditkit.stats.multiple import CORRECTIONS, adjust_p_values
from auditkit.stats.power import minimum_detectable_effect
from auditkit.stats.tests import (
    HomogeneityTest,
    MeanTest,
    PairedTest,
    RateTest,
    paired_difference,
    rates_homogeneity,
    two_sample_means,
    two_sample_rates,
)

__all__ = [
    "CORRECTIONS",
    "HomogeneityTest",
    "Interval",
    "MeanTest",
    "PairedTest",
    "RateTest",
    "adjust_p_values",
    "bootstrap_difference_interval",
    "bootstrap_mean_interval",
    "mean_interval",
    "minimum_detectable_effect",
    "paired_difference",
    "rates_homogeneity",
    "two_sample_means",
    "two_sample_rates",
    "wilson_interval",
]

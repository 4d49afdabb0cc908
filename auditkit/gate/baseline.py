"""Is a metric significantly worse than in a baseline run? Tests on aggregated metrics, and run compatibility.

results.json keeps, per metric, a point estimate, its 95% interval and ``n``, not the per-output scores, so
the tests work from those:

- **Proportions** (the metric's method says ``proportion``/``Wilson`` and ``value × n`` is a whole count):
  statsmodels ``test_proportions_2indep`` (Agresti–Caffo adjusted Wald test of the difference, which stays
  defined when a count is 0), with the allowed margin as the null difference.
- **Everything else**: a z-test on the difference with a standard error derived from each run's 95%
  interval, ``se ≈ (ci_high − ci_low) / (2 · 1.96)``, combined Welch-style ``√(se₁² + se₂²)``. This
  treats the interval as symmetric and normal (bootstrap and Wilson intervals are roughly so at the
  sample sizes audits use) and the two runs as independent samples (they are: separate generations).

The gate asks one-sided whether ``worsening − margin > 0``; ``auditkit diff`` asks two-sided whether the
metric changed at all. Comparisons are only meaningful on the same prompts scored by the same scorer, so
:func:`check_compatible` refuses runs whose suite hashes or analyzer identities differ.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from auditkit.errors import ConfigError

__all__ = [
    "ChangeTest",
    "Untestable",
    "check_compatible",
    "compare_metric",
    "interval_se",
    "metric_key",
    "proportion_counts",
]

_Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95% interval: every shipped metric reports a 95% CI."""


_GATE_DIRECTION = {"lower_is_better": "higher_is_worse", "higher_is_better": "lower_is_worse"}


class Untestable(ValueError):
    """The two metrics carry too little to test (no interval, no value)."""


@dataclass(frozen=True, slots=True)
class ChangeTest:
    """A test of ``new − old`` (or ``old − new`` when lower is worse) against a margin."""

    difference: float
    """The worsening (positive = worse) in the metric's units; for two-sided tests, ``new − old``."""
    margin: float
    p_value: float
    """Raw (uncorrected) p-value."""
    statistic: float | None
    method: str


def metric_key(metric: Mapping[str, Any]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(analyzer, name, sorted group items): how a metric is matched across runs."""
    group = metric.get("group") or {}
    return (
        str(metric.get("analyzer")),
        str(metric.get("name")),
        tuple(sorted((str(k), str(v)) for k, v in group.items())),
    )


def proportion_counts(metric: Mapping[str, Any]) -> tuple[int, int] | None:
    """(events, n) when the metric is a proportion of whole counts (the two-proportion test applies)."""
    method = str(metric.get("method") or "").lower()
    value, n = metric.get("value"), metric.get("n") or 0
    if not ("proportion" in method or "wilson" in method) or value is None or n <= 0 or not 0 <= value <= 1:
        return None
    count = value * n
    if abs(count - round(count)) > 1e-6 * max(1.0, n):
        return None
    return round(count), int(n)


def interval_se(metric: Mapping[str, Any]) -> float:
    """The standard error implied by the metric's 95% interval (``Untestable`` without one)."""
    low, high = metric.get("ci_low"), metric.get("ci_high")
    if low is None or high is None:
        raise Untestable("has no confidence interval to derive a standard error from")
    return max(0.0, float(high) - float(low)) / (2 * _Z95)


def compare_metric(
    *,
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    margin: float = 0.0,
    direction: Literal[
        "higher_is_worse", "lower_is_worse", "lower_is_better", "higher_is_better", "two-sided"
    ] = "higher_is_worse",
) -> ChangeTest:
    """Test whether ``new`` is worse than ``old`` by more than ``margin`` (or, two-sided, differs at all).

    ``direction`` takes the gate's words or a metric spec's (``lower_is_better`` = ``higher_is_worse``).
    Raises :class:`Untestable` when either value is missing or a needed interval is absent.
    """
    from scipy.stats import norm

    direction = _GATE_DIRECTION.get(direction, direction)  # type: ignore[assignment]

    for run, metric in (("the new run", new), ("the baseline", old)):
        value = metric.get("value")
        if value is None or not math.isfinite(float(value)):
            raise Untestable(f"value is n/a in {run}")
    a, b = float(new["value"]), float(old["value"])
    worse, better = (a, b) if direction != "lower_is_worse" else (b, a)
    difference = worse - better
    counts_new, counts_old = proportion_counts(new), proportion_counts(old)
    if counts_new is not None and counts_old is not None:
        from statsmodels.stats.proportion import test_proportions_2indep

        first, second = (
            (counts_new, counts_old) if direction != "lower_is_worse" else (counts_old, counts_new)
        )
        alternative = "two-sided" if direction == "two-sided" else "larger"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in its unused ratio and odds-ratio fields
            result = test_proportions_2indep(
                first[0],
                first[1],
                second[0],
                second[1],
                value=margin if alternative == "larger" else 0.0,
                method="agresti-caffo",
                compare="diff",
                alternative=alternative,
            )
        p = float(result.pvalue)
        statistic = float(result.statistic)
        if not math.isfinite(p):  # degenerate (all 0 or all 1 in both): no evidence of a change
            p, statistic = 1.0, 0.0
        return ChangeTest(
            difference=difference,
            margin=margin,
            p_value=min(1.0, max(0.0, p)),
            statistic=statistic,
            method="two-proportion test (Agresti–Caffo, statsmodels), "
            + ("two-sided" if alternative == "two-sided" else "one-sided"),
        )
    if min(int(new.get("n") or 0), int(old.get("n") or 0)) < 2:
        # An interval of one observation has zero width without being certain: nothing to test with.
        raise Untestable("has fewer than 2 observations in a run, so no standard error")
    se = math.hypot(interval_se(new), interval_se(old))
    method = "z-test on the difference, standard errors from the 95% CIs (Welch-style)"
    if direction == "two-sided":
        if se == 0.0:
            return ChangeTest(
                difference=difference,
                margin=0.0,
                p_value=0.0 if difference else 1.0,
                statistic=None,
                method=method + ", zero-width intervals: exact comparison",
            )
        z = difference / se
        return ChangeTest(
            difference=difference,
            margin=0.0,
            p_value=float(2 * norm.sf(abs(z))),
            statistic=z,
            method=method + ", two-sided",
        )
    if se == 0.0:
        return ChangeTest(
            difference=difference,
            margin=margin,
            p_value=0.0 if difference > margin else 1.0,
            statistic=None,
            method=method + ", zero-width intervals: exact comparison",
        )
    z = (difference - margin) / se
    return ChangeTest(
        difference=difference,
        margin=margin,
        p_value=float(norm.sf(z)),
        statistic=z,
        method=method + ", one-sided",
    )


def _suites(results: Mapping[str, Any]) -> dict[str, str]:
    suites = (results.get("manifest") or {}).get("suites") or []
    return {str(s.get("id")): str(s.get("hash")) for s in suites if isinstance(s, Mapping)}


def _identities(results: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = dict((results.get("manifest") or {}).get("analyzers") or {})
    for name, entry in (results.get("analyses") or {}).items():
        if isinstance(entry, Mapping) and "identity" in entry:
            found.setdefault(name, entry["identity"])
    return found


def check_compatible(
    *, current: Mapping[str, Any], baseline: Mapping[str, Any], analyzers: Iterable[str]
) -> None:
    """``ConfigError`` unless both runs ran the same suites (by hash) and ``analyzers`` have equal
    identities."""
    new_suites, old_suites = _suites(current), _suites(baseline)
    if new_suites != old_suites:
        diffs = [
            f"{sid}: baseline {old_suites.get(sid, 'absent')[:16]}, "
            f"current {new_suites.get(sid, 'absent')[:16]}"
            for sid in sorted(set(new_suites) | set(old_suites))
            if new_suites.get(sid) != old_suites.get(sid)
        ]
        raise ConfigError(
            "The baseline is not comparable: the suites differ (" + "; ".join(diffs) + "). A regression test "
            "needs the same prompts in both runs; rerun the baseline with the current suite files."
        )
    new_ids, old_ids = _identities(current), _identities(baseline)
    problems = []
    for name in sorted(set(analyzers)):
        if name not in new_ids or name not in old_ids:
            continue  # a missing analyzer shows up as missing metrics, with its own message
        a, b = new_ids[name], old_ids[name]
        if a != b:
            keys = (
                sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                if isinstance(a, Mapping) and isinstance(b, Mapping)
                else []
            )
            detail = ", ".join(f"{k}: {b.get(k)!r} → {a.get(k)!r}" for k in keys[:4]) or f"{b!r} → {a!r}"
            problems.append(f"{name} ({detail})")
    if problems:
        raise ConfigError(
            "The baseline is not comparable: the gate refuses to compare runs scored by different scorers. "
            "Analyzer identity differs for " + "; ".join(problems) + ". Rerun the baseline with the same "
            "scorer settings, or drop --baseline."
        )

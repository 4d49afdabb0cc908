"""``auditkit diff``: every metric of two runs side by side, with a two-sided significance test per metric.

Metrics are matched by (analyzer, name, group). Each pair gets the test of :mod:`auditkit.gate.baseline`
(two-sided: did it change at all?), and the p-values are Holm-adjusted across all metrics, so a table
of hundreds of metrics does not show a handful of "changes" that are pure noise. Unlike the gate, diff
does not refuse incomparable runs: it lists why they are not comparable and shows the numbers anyway.
A significant change is also judged ``better`` or ``worse`` when the metric's analyzer declared its
direction (``metric_specs`` in the new run's results.json). Each tested pair also carries its **minimum
detectable change** (two-sided, 80% power, at ``alpha / m`` for the ``m`` Holm-corrected tests), so
"within noise" can be read against what the comparison could have seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.errors import ConfigError
from auditkit.gate.baseline import Untestable, check_compatible, compare_metric, metric_key
from auditkit.gate.power import regression_power

__all__ = ["MetricChange", "RunDiff", "diff_runs"]


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric in the old and/or new run."""

    metric: str
    """``analyzer.name{group}``."""
    old: float | None
    new: float | None
    difference: float | None
    """``new − old``."""
    p_value: float | None
    """Two-sided, Holm-adjusted across all compared metrics."""
    verdict: str
    """``increased``, ``decreased`` (significant), ``within noise``, ``new``, ``removed``, ``n/a``,
    ``untestable``."""
    test: str | None
    old_ci: tuple[float | None, float | None] = (None, None)
    new_ci: tuple[float | None, float | None] = (None, None)
    judgement: str | None = None
    """``better`` or ``worse`` for a significant change of a metric with a declared direction."""
    mdr: float | None = None
    """Smallest change either way this comparison detects with 80% power after the Holm correction."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "difference": self.difference,
            "p_value": self.p_value,
            "verdict": self.verdict,
            "test": self.test,
            "old_ci": list(self.old_ci),
            "new_ci": list(self.new_ci),
            "judgement": self.judgement,
            "mdr": self.mdr,
        }


@dataclass(frozen=True, slots=True)
class RunDiff:
    changes: tuple[MetricChange, ...]
    warnings: tuple[str, ...]
    alpha: float

    def failing(self, *, fail_on: str) -> tuple[MetricChange, ...]:
        """The changes that fail a build under ``fail_on``: ``regression`` (significant and judged worse
        by the metric's declared direction), ``change`` (any significant change) or ``none``."""
        if fail_on == "regression":
            return tuple(c for c in self.changes if c.judgement == "worse")
        if fail_on == "change":
            return tuple(c for c in self.changes if c.verdict in ("increased", "decreased"))
        if fail_on == "none":
            return ()
        raise ConfigError(f"--fail-on {fail_on!r}: use regression, change or none.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "warnings": list(self.warnings),
            "changes": [c.to_dict() for c in self.changes],
        }


def diff_runs(*, old: Mapping[str, Any], new: Mapping[str, Any], alpha: float = 0.05) -> RunDiff:
    """Compare every metric of ``new`` with ``old`` (two results.json documents)."""
    from auditkit.gate.evaluate import metric_label
    from auditkit.stats import adjust_p_values

    warnings: list[str] = []
    analyzers = {str(m.get("analyzer")) for m in [*old.get("metrics", []), *new.get("metrics", [])]}
    try:
        check_compatible(current=new, baseline=old, analyzers=analyzers)
    except ConfigError as exc:
        warnings.append(str(exc))
    olds = {metric_key(m): m for m in old.get("metrics") or []}
    news = {metric_key(m): m for m in new.get("metrics") or []}
    rows: list[dict[str, Any]] = []
    for key in sorted(set(olds) | set(news)):
        o, n = olds.get(key), news.get(key)
        source = n or o
        assert source is not None
        row: dict[str, Any] = {
            "metric": metric_label(source),
            "old": None if o is None else o.get("value"),
            "new": None if n is None else n.get("value"),
            "difference": None,
            "raw": None,
            "test": None,
            "old_ci": (None, None) if o is None else (o.get("ci_low"), o.get("ci_high")),
            "new_ci": (None, None) if n is None else (n.get("ci_low"), n.get("ci_high")),
            "verdict": "new" if o is None else "removed" if n is None else None,
            "source": source,
        }
        if o is not None and n is not None:
            if o.get("value") is None or n.get("value") is None:
                row["verdict"] = "n/a"
            else:
                row["difference"] = float(n["value"]) - float(o["value"])
                try:
                    test = compare_metric(new=n, old=o, direction="two-sided")
                except Untestable:
                    row["verdict"] = "untestable"
                else:
                    row["raw"], row["test"] = test.p_value, test.method
        rows.append(row)
    specs = RunMetricSpecs(results=new)
    tested = [r for r in rows if r["raw"] is not None]
    for row, p in zip(
        tested, adjust_p_values(p_values=[r["raw"] for r in tested], method="holm"), strict=True
    ):
        row["p"] = p
        row["mdr"] = _detectable(new=news[metric_key(row["source"])], old=olds[metric_key(row["source"])],
                                 alpha=alpha / len(tested))
        row["verdict"] = (
            "within noise" if p >= alpha else "increased" if row["difference"] > 0 else "decreased"
        )
        if row["verdict"] != "within noise":
            judged = specs.judge(metric=row["source"], old=float(row["old"]), new=float(row["new"]))
            row["judgement"] = judged if judged in ("better", "worse") else None
    changes = tuple(
        MetricChange(
            metric=r["metric"],
            old=r["old"],
            new=r["new"],
            difference=r["difference"],
            p_value=r.get("p"),
            verdict=r["verdict"],
            test=r["test"],
            old_ci=r["old_ci"],
            new_ci=r["new_ci"],
            judgement=r.get("judgement"),
            mdr=r.get("mdr"),
        )
        for r in rows
    )
    return RunDiff(changes=changes, warnings=tuple(warnings), alpha=alpha)


def _detectable(*, new: Mapping[str, Any], old: Mapping[str, Any], alpha: float) -> float | None:
    try:
        return regression_power(new=new, old=old, alpha=alpha, direction="two-sided").mdr
    except Untestable:
        return None

"""What a run's metrics mean, read back from results.json (or, for older files, from the registry).

The report and the gate judge metric changes with this, never from a metric's name: the run records
each analyzer's declared specs under ``analyses.<analyzer>.metric_specs``; a results.json written before
specs were recorded falls back to what the installed analyzer declares; an analyzer that declares nothing
gets no judgement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from auditkit.analyzers.base import DEFAULT_REPORT_ORDER, analyzer_info, analyzers
from auditkit.analyzers.metric_spec import MetricSpec, find_spec, specs_from_json
from auditkit.analyzers.output_fields import OutputField
from auditkit.analyzers.report_evidence import ReportEvidence
from auditkit.errors import AuditkitError

__all__ = [
    "RunMetricSpecs",
    "declared_output_fields",
    "declared_report_evidence",
    "report_placement",
    "run_metric_specs",
]


def run_metric_specs(*, results: Mapping[str, Any], analyzer: str) -> tuple[MetricSpec, ...]:
    """The metric specs ``analyzer`` declared in this run (or, absent from the file, declares now)."""
    entry = (results.get("analyses") or {}).get(analyzer)
    if isinstance(entry, Mapping) and "metric_specs" in entry:
        return specs_from_json(entry["metric_specs"])
    try:
        if analyzer not in analyzers:
            return ()
        return analyzer_info(name=analyzer).metric_specs
    except (AuditkitError, ImportError):  # a broken or uninstalled plugin: no judgement, not a crash
        return ()


class RunMetricSpecs:
    """The specs of one run's metrics, looked up once per analyzer (a report may judge thousands)."""

    def __init__(self, *, results: Mapping[str, Any]) -> None:
        self._results = results
        self._by_analyzer: dict[str, tuple[MetricSpec, ...]] = {}

    def analyzer(self, name: str) -> tuple[MetricSpec, ...]:
        if name not in self._by_analyzer:
            self._by_analyzer[name] = run_metric_specs(results=self._results, analyzer=name)
        return self._by_analyzer[name]

    def spec(self, metric: Mapping[str, Any]) -> MetricSpec | None:
        """The spec of one results.json metric (by analyzer and name), if its analyzer declared one."""
        return find_spec(specs=self.analyzer(str(metric.get("analyzer"))), name=str(metric.get("name")))

    def judge(
        self, *, metric: Mapping[str, Any], old: float, new: float
    ) -> Literal["better", "worse", "same"] | None:
        """Whether ``old`` → ``new`` is an improvement for this metric; ``None`` when nothing says."""
        spec = self.spec(metric)
        if spec is not None:
            return spec.judge(old=old, new=new)
        # A plugin may still state a direction on the metric itself ("lower"/"higher" is better).
        direction = (metric.get("details") or {}).get("direction")
        if direction in ("lower", "higher"):
            better = new < old if direction == "lower" else new > old
            return "same" if new == old else "better" if better else "worse"
        return None


def report_placement(*, name: str) -> tuple[int, str]:
    """``(report_order, title)`` the analyzer declares; unknown or undeclared: after the built-ins, by
    name, titled by its name."""
    try:
        if name in analyzers:
            info = analyzer_info(name=name)
            return info.report_order, info.title
    except (AuditkitError, ImportError):  # a broken plugin still gets its section, placed last
        pass
    return DEFAULT_REPORT_ORDER, name.capitalize()


def declared_output_fields(*, name: str) -> tuple[OutputField, ...]:
    """The per-output fields the analyzer ``name`` declares for its report section; none when it is
    unknown, broken or declares nothing (the section is drawn without them)."""
    try:
        if name in analyzers:
            return analyzer_info(name=name).output_fields
    except (AuditkitError, ImportError):
        pass
    return ()


def declared_report_evidence(*, name: str) -> ReportEvidence:
    """What the analyzer ``name`` declares its report section shows of its outputs; the defaults (nothing
    beyond each finding's evidence) when it is unknown, broken or declares nothing."""
    try:
        if name in analyzers:
            return analyzer_info(name=name).report_evidence
    except (AuditkitError, ImportError):
        pass
    return ReportEvidence()

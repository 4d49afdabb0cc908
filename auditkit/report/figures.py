"""The report's charts, chosen from the data's shape and the analyzers' declared metric specs.

:func:`section_figures` gives the charts that open an analyzer's section, most important first;
:func:`comparison_figures` the gated metrics against their limits and the baseline run. Which chart an
analyzer gets depends on what its results hold, never on its name:

- a summary with ``axes`` of per-group measures → per-axis forest plots and gap plots (threshold, MDE);
- metrics whose spec has a target (``direction == "target"``) → the score against its ideal value;
- the first important metric broken down by one attribute → a forest plot per attribute (≤ 2);
- a summary ``histogram`` → the score distribution, with the summary's threshold;
- none of these → the overall metrics side by side, and the per-output scores binned.

Every figure is an accessible inline SVG (see :mod:`auditkit.report.svg`) whose size does not grow with
the number of outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.analyzers.metadata import run_metric_specs
from auditkit.report.axis_figures import axis_figures
from auditkit.report.baseline import Comparison
from auditkit.report.evidence import OutputScan
from auditkit.report.figure import Figure
from auditkit.report.gate_figures import gate_figures
from auditkit.report.metric_figures import (
    breakdown_figures,
    headline_figures,
    histogram_figures,
    ideal_figures,
    ideal_key,
)

__all__ = [
    "Figure",
    "comparison_figures",
    "section_figures",
]


def section_figures(*, name: str, results: Mapping[str, Any], scan: OutputScan) -> list[Figure]:
    """The charts that open analyzer ``name``'s section: benchmark scores against their ideal, score
    distributions, the headline metric's breakdowns, then per-axis group rates and gaps."""
    entry = (results.get("analyses") or {}).get(name) or {}
    summary = entry.get("summary") if isinstance(entry, Mapping) else None
    summary = summary if isinstance(summary, Mapping) else {}
    metrics = [m for m in results.get("metrics") or [] if isinstance(m, Mapping) and m.get("analyzer") == name]
    specs = run_metric_specs(results=results, analyzer=name)
    figures = ideal_figures(name=name, metrics=metrics, specs=specs)
    charted = {str(m.get("name")) for m in metrics if any(f.key == ideal_key(name=name, metric=str(m.get("name")))
                                                         for f in figures)}
    figures += histogram_figures(name=name, summary=summary, scan=None)
    figures += breakdown_figures(name=name, metrics=metrics, specs=specs, skip=charted)
    figures += axis_figures(name=name, summary=summary, specs=specs)
    if not figures:  # nothing richer to draw: the overall metrics side by side, then the per-output scores
        figures = headline_figures(name=name, metrics=metrics, specs=specs)
        figures += histogram_figures(name=name, summary=summary, scan=scan)
    return _unique(figures)


def comparison_figures(*, results: Mapping[str, Any], comparison: Comparison | None) -> list[Figure]:
    """Each gated metric: this run's value (and the baseline's, when there is one) against the policy's
    limit; with a baseline and no policy, the metrics that changed beyond noise. Empty when neither."""
    return _unique(gate_figures(results=results, comparison=comparison))


def _unique(figures: list[Figure]) -> list[Figure]:
    """Keys (and the SVG ids derived from them) must be unique within a page."""
    seen: set[str] = set()
    out = []
    for f in figures:
        if f.key in seen:
            continue
        seen.add(f.key)
        out.append(f)
    return out

"""A policy rule naming a metric that cannot exist is a configuration error (exit 2), not a failed gate.

Exit 1 tells CI the *model* got worse; a typo in ``policy.yaml`` (``toxicity.mean_toxicty``) must not
look like that. The line between a typo and a legitimately absent metric:

- the rule's analyzer ran, its metric name is not in the results and the analyzer does not declare it
  (its metric specs): a typo → ``ConfigError`` with a did-you-mean over the run's metric names;
- the rule's analyzer is not a registered analyzer at all: a typo → ``ConfigError``;
- the rule's analyzer is registered but did not run (a shared policy over a run with fewer suites), or
  the metric is declared but absent this time (e.g. no group reached the minimum size), or the analyzer
  declares no metrics (an undocumented plugin): not a typo; the rule's ``missing`` setting decides.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.errors import ConfigError
from auditkit.gate.policy import Policy

__all__ = ["UnknownMetric", "check_rule_metrics"]


class UnknownMetric(ConfigError):
    """A rule's metric cannot exist (exit 2); ``assert_metric`` in tests turns it into an assertion failure."""


def check_rule_metrics(*, policy: Policy, results: Mapping[str, Any]) -> None:
    """``UnknownMetric`` naming every rule (file:line) whose metric is a typo; see the module docstring."""
    from auditkit.analyzers.base import analyzers

    metrics = [m for m in results.get("metrics") or [] if isinstance(m, Mapping)]
    present = {(str(m.get("analyzer")), str(m.get("name"))) for m in metrics}
    ran = {a for a, _ in present} | set(results.get("analyses") or {})
    specs = RunMetricSpecs(results=results)
    declared_names = {f"{a}.{s.name}" for a in ran for s in specs.analyzer(a) if not s.is_pattern}
    known = sorted({f"{a}.{n}" for a, n in present} | declared_names)
    problems: list[str] = []
    for index, rule in enumerate(policy.rules):
        sel = rule.selector
        if (sel.analyzer, sel.name) in present:
            continue
        where = f"{policy.display}:{policy.line('rules', index)}"
        if sel.analyzer in ran:
            declared = specs.analyzer(sel.analyzer)
            if not declared or specs.spec({"analyzer": sel.analyzer, "name": sel.name}) is not None:
                continue
            close = difflib.get_close_matches(sel.metric, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{where}: no metric {sel.metric} exists{hint}")
        elif sel.analyzer not in analyzers:
            close = difflib.get_close_matches(sel.analyzer, [*sorted(ran), *analyzers.names()], n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{where}: {sel.metric} names no analyzer: there is no {sel.analyzer!r}{hint}")
    if problems:
        raise UnknownMetric(
            "The policy names metrics that cannot exist (a configuration error, not a failed gate):\n  "
            + "\n  ".join(problems)
            + f"\nMetrics of this run's analyzers: {', '.join(known) or 'none'}."
        )

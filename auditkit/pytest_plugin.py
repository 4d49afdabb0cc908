"""A pytest plugin: write audit assertions in your own test suite.

Enabled automatically once auditkit is installed (entry point ``pytest11``), or with
``-p auditkit.pytest_plugin``. Point it at a finished run with ``--auditkit-run DIR`` (or the environment
variable ``AUDITKIT_RUN_DIR``); optionally a baseline run with ``--auditkit-baseline DIR``
(``AUDITKIT_BASELINE_DIR``). Tests that ask for the fixtures are skipped when no run is given.

Example::

    def test_release_safety(auditkit_results):
        auditkit_results.assert_metric("toxicity.toxic_fraction", "<=", 0.05, on="ci_high")
        assert auditkit_results.metric("memorization.extractable_rate").value == 0

    def test_no_regression(auditkit_results, auditkit_baseline):
        auditkit_results.assert_not_worse("bias.max_gap", baseline=auditkit_baseline, max_increase=0.02)

The assertions use the gate's own rule evaluation (selectors, CI bounds, n/a handling, significance
tests), so a test and ``auditkit gate`` never disagree about the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

__all__ = [
    "AuditResults",
    "MetricValue",
    "auditkit_baseline",
    "auditkit_results",
    "pytest_addoption",
]


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric of a run, read-only."""

    analyzer: str
    name: str
    group: Mapping[str, str] | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    method: str
    unit: str | None

    @property
    def label(self) -> str:
        from auditkit.gate import metric_label

        return metric_label({"analyzer": self.analyzer, "name": self.name, "group": self.group})


class AuditResults:
    """A finished run (its results.json) with metric look-ups and assertions."""

    def __init__(self, *, data: Mapping[str, Any], run_dir: Path | None = None) -> None:
        self.data = data
        self.run_dir = run_dir

    @classmethod
    def load(cls, run_dir: str | Path) -> AuditResults:
        """Read ``run_dir/results.json`` (``InputError`` when it is missing or not a results file)."""
        from auditkit.engine.results import load_results

        return cls(data=load_results(run_dir=Path(run_dir)).data, run_dir=Path(run_dir))

    def metrics(self, selector: str) -> list[MetricValue]:
        """Every metric the selector matches (``analyzer.name``, ``analyzer.name{axis=gender}``, ``{*}``)."""
        from auditkit.gate import parse_selector

        chosen = parse_selector(text=selector).select(list(self.data.get("metrics") or []))
        return [
            MetricValue(
                analyzer=str(m["analyzer"]),
                name=str(m["name"]),
                group=m.get("group"),
                value=m.get("value"),
                ci_low=m.get("ci_low"),
                ci_high=m.get("ci_high"),
                n=int(m.get("n") or 0),
                method=str(m.get("method") or ""),
                unit=m.get("unit"),
            )
            for m in chosen
        ]

    def metric(self, selector: str) -> MetricValue:
        """The one metric the selector matches; ``LookupError`` when it matches none or several."""
        found = self.metrics(selector)
        if len(found) != 1:
            names = ", ".join(m.label for m in found)
            raise LookupError(
                f"{selector!r} matches {len(found)} metrics{': ' + names if names else ''}; "
                "narrow it with a group filter such as {axis=gender}"
            )
        return found[0]

    def assert_metric(
        self, selector: str, comparison: Literal["<=", "<", ">=", ">"], threshold: float, *, on: str = "value"
    ) -> None:
        """Assert ``selector``'s ``on`` (value, ci_low, ci_high) ``comparison`` ``threshold`` for every
        metric it matches."""
        self._assert(selector=selector, comparison=comparison, threshold=threshold, on=on)

    def assert_not_worse(
        self,
        selector: str,
        *,
        baseline: AuditResults,
        max_increase: float = 0.0,
        alpha: float = 0.05,
        direction: Literal["higher_is_worse", "lower_is_worse"] | None = None,
    ) -> None:
        """Assert the metric is not significantly worse than in ``baseline`` (one-sided test, margin
        ``max_increase``; ``direction`` defaults to the one the metric's analyzer declares); raises
        ``ConfigError`` when the runs are not comparable."""
        regression = {"max_increase": max_increase, "alpha": alpha, "direction": direction}
        self._assert(selector=selector, regression=regression, baseline=baseline)

    def _assert(self, *, selector: str, baseline: AuditResults | None = None, **rule: Any) -> None:
        from pydantic import ValidationError

        from auditkit.gate import Policy, decide
        from auditkit.gate.junit import evidence_lines
        from auditkit.gate.metric_names import UnknownMetric
        from auditkit.gate.policy import PolicySpec

        try:
            spec = PolicySpec.model_validate({"name": "pytest", "rules": [{"metric": selector, **rule}]})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'][2:])) or 'rule'}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"auditkit assertion on {selector!r} is malformed: {problems}") from None
        policy = Policy(path=Path("<pytest>"), display="pytest", name="pytest", spec=spec, lines={})
        try:
            decision = decide(
                results=self.data, policy=policy, baseline=None if baseline is None else baseline.data
            )
        except UnknownMetric as error:  # in a test, a metric that cannot exist is a failed assertion
            raise AssertionError(str(error)) from None
        result = decision.rules[0]
        if result.blocking:
            raise AssertionError("\n".join([f"auditkit: {result.message}", *evidence_lines(result)]))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("auditkit", "auditkit audit results")
    group.addoption(
        "--auditkit-run",
        metavar="DIR",
        default=None,
        help="auditkit run folder for the auditkit_results fixture (env AUDITKIT_RUN_DIR).",
    )
    group.addoption(
        "--auditkit-baseline",
        metavar="DIR",
        default=None,
        help="auditkit run folder for the auditkit_baseline fixture (env AUDITKIT_BASELINE_DIR).",
    )


def _load(request: pytest.FixtureRequest, option: str, env: str) -> AuditResults:
    run_dir = request.config.getoption(option) or os.environ.get(env)
    if not run_dir:
        pytest.skip(f"no auditkit run given: pass --{option.replace('_', '-')} DIR or set {env}")
    return AuditResults.load(run_dir)


@pytest.fixture(scope="session")
def auditkit_results(request: pytest.FixtureRequest) -> AuditResults:
    """The run given by ``--auditkit-run DIR`` / ``AUDITKIT_RUN_DIR`` (tests skip when neither is set)."""
    return _load(request, "auditkit_run", "AUDITKIT_RUN_DIR")


@pytest.fixture(scope="session")
def auditkit_baseline(request: pytest.FixtureRequest) -> AuditResults:
    """The run given by ``--auditkit-baseline DIR`` / ``AUDITKIT_BASELINE_DIR``."""
    return _load(request, "auditkit_baseline", "AUDITKIT_BASELINE_DIR")

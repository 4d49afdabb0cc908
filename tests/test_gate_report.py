"""JUnit XML (parsed by junitparser and xml.etree) and the Markdown summary of a gate decision."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest

from auditkit.gate import GateDecision, evaluate_policy, junit_xml, markdown_summary, write_junit
from tests.fixtures_gate import simulate_run, write_policy

POLICY = """\
name: mixed
rules:
  - id: toxic-strict
    metric: toxicity.toxic_fraction
    on: ci_high
    comparison: "<="
    threshold: 0.05
  - id: gap-warn
    metric: bias.max_gap
    comparison: "<="
    threshold: 0.01
    severity: warn
  - id: missing-metric
    metric: toxicity.expected_max_toxicity   # declared by the analyzer, absent from this run
    comparison: "<="
    threshold: 1
  - id: regression-only
    metric: toxicity.mean_toxicity
    regression: {}
  - id: energy
    metric: energy.wh_per_1k_tokens
    comparison: "<="
    threshold: 5
"""


@pytest.fixture()
def decision(tmp_path: Path) -> GateDecision:
    results = simulate_run(toxic_rate=0.15)
    # Group values come from suite files: a pipe would split a table row, a tag would render on GitHub.
    results["metrics"].append({**results["metrics"][-3], "group": {"axis": "x|y<b>"}, "value": 0.5})
    return evaluate_policy(results=results, policy_path=write_policy(tmp_path, POLICY))


def test_statuses_of_the_mixed_policy(decision: GateDecision) -> None:
    assert [r.status for r in decision.rules] == ["fail", "warn", "error", "skipped", "pass"]


def test_junit_parses_with_junitparser(decision: GateDecision, tmp_path: Path) -> None:
    path = write_junit(decision=decision, path=tmp_path / "out" / "junit.xml")
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    cases = {case.name: case for suite in suites for case in suite}
    assert list(cases) == [r.id for r in decision.rules]
    failure = cases["toxic-strict"].result[0]
    assert isinstance(failure, junitparser.Failure)
    assert "toxicity.toxic_fraction ci_high" in failure.message and "n=500" in failure.text
    assert isinstance(cases["missing-metric"].result[0], junitparser.Error)
    assert isinstance(cases["regression-only"].result[0], junitparser.Skipped)
    assert cases["gap-warn"].is_passed and "WARNING" in cases["gap-warn"].system_out
    assert cases["energy"].is_passed
    suite = suites[0]
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 1)


def test_junit_parses_with_elementtree(decision: GateDecision) -> None:
    root = ET.fromstring(junit_xml(decision=decision).encode())
    assert root.tag == "testsuites" and root.get("failures") == "1" and root.get("errors") == "1"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 5
    failure = cases[0].find("failure")
    assert failure is not None and "Evidence:" in (failure.text or "")
    assert cases[0].get("classname") == "auditkit.gate.mixed" and cases[0].get("line") == "3"


def test_junit_survives_control_characters(tmp_path: Path) -> None:
    results = simulate_run()
    results["metrics"][0]["method"] = "weird\x00\x1bmethod"
    decision = evaluate_policy(results=results, policy_path=write_policy(tmp_path, POLICY))
    ET.fromstring(junit_xml(decision=decision).encode())


def test_markdown_summary_lists_every_rule(decision: GateDecision) -> None:
    text = markdown_summary(decision=decision)
    assert text.startswith("## ❌ auditkit gate failed: mixed")
    for rule in decision.rules:
        assert f"| {rule.id} |" in text
    assert "axis=x\\|y&lt;b>" in text and "x|y<b>" not in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(decision.rules)
    assert all(line.count(" | ") - line.count("\\|") >= 6 for line in table)
    assert "### Failures" in text and "### Warnings" in text and "ci_high ≤ 0.05" in text


def test_markdown_summary_for_a_passing_gate(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path, "rules:\n  - metric: toxicity.toxic_fraction\n    comparison: '<'\n    threshold: 0.5\n"
    )
    text = markdown_summary(decision=evaluate_policy(results=simulate_run(), policy_path=policy))
    assert text.startswith("## ✅ auditkit gate passed") and "### Failures" not in text

"""The gate decision as JUnit XML: one test case per rule, so CI systems show each rule as a test.

``fail`` → ``<failure>``, ``underpowered`` (the audit was too small to see the regression the rule must
detect) → ``<failure type="GateRuleUnderpowered">``, ``error`` (metric missing / n/a) → ``<error>``,
``skipped`` → ``<skipped>``;
``warn`` passes with the warning in ``<system-out>`` (CI must not go red for it). The failure message is
the rule's one-line verdict; the body lists the evidence per matched metric.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditkit.gate.evaluate import GateDecision, RuleResult

__all__ = ["evidence_lines", "junit_xml", "properties_of", "write_junit"]

# XML 1.0 forbids most control characters even when escaped; they would make the whole file unparseable.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: Any) -> str:
    return _INVALID_XML.sub("\ufffd", str(text))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def evidence_lines(rule: RuleResult) -> list[str]:
    """Plain-text evidence of a rule, one line per matched metric (shared with the Markdown summary)."""
    lines = []
    for e in rule.evidence:
        line = (
            f"{e['metric']}: value {_fmt(e['value'])} [95% CI {_fmt(e['ci_low'])}, {_fmt(e['ci_high'])}], "
            f"n={_fmt(e['n'])}"
        )
        if e.get("threshold_ok") is not None:
            line += (
                f"; {rule.on} {_fmt(e['observed'])} {'meets' if e['threshold_ok'] else 'violates'} "
                f"{rule.comparison} {_fmt(rule.threshold)}"
            )
        base: Mapping[str, Any] | None = e.get("baseline")
        if base:
            line += (
                f"; baseline {_fmt(base['value'])} [{_fmt(base['ci_low'])}, {_fmt(base['ci_high'])}], "
                f"n={_fmt(base['n'])}"
            )
        if e.get("p_value") is not None:
            line += (
                f"; worsening {_fmt(e['difference'])} vs allowed {_fmt(e['margin'])}, p={_fmt(e['p_value'])} "
                f"(raw {_fmt(e['p_raw'])}; {e['test']})"
            )
        power: Mapping[str, Any] | None = e.get("power")
        if power:
            line += (
                f"; minimum detectable regression {_fmt(power['mdr'])} "
                f"({power['power']:.0%} power, alpha {_fmt(power['alpha_per_test'])} per test)"
            )
            if power.get("underpowered"):
                line += f"; cannot see the required {_fmt(power['detect'])}"
                if power.get("outputs_needed"):
                    line += f" (about {power['outputs_needed']} outputs per run needed)"
        for problem in e.get("problems") or ():
            line += f"; {problem}"
        if e.get("method"):
            line += f" — method: {e['method']}"
        lines.append(line)
    return lines


def _relative_file(policy: str) -> str:
    """CI annotators resolve ``file=`` against the checkout: never an absolute path. A built-in policy is
    named as in auditkit's source tree (``policies/release.yaml``)."""
    import os

    from auditkit.resources import data_dir

    path = Path(policy)
    if not path.is_absolute():
        return policy
    builtin = data_dir("policies")
    if path.parent == builtin or path.parent.resolve() == builtin.resolve():
        return f"policies/{path.name}"
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows): the name is the best relative hint left
        return path.name


def properties_of(case: ET.Element, rule: RuleResult) -> None:
    """The regression figures as test-case properties, for CI tools that chart them."""
    figures = {
        "observed_difference": rule.difference,
        "minimum_detectable_regression": rule.mdr,
        "detect": rule.detect,
        "outputs_needed": rule.outputs_needed,
    }
    shown = {k: v for k, v in figures.items() if v is not None}
    if shown:
        holder = ET.SubElement(case, "properties")
        for name, value in shown.items():
            ET.SubElement(holder, "property", {"name": name, "value": _fmt(value)})


def junit_xml(*, decision: GateDecision) -> str:
    """The decision as a JUnit XML document (one ``<testsuite>`` inside ``<testsuites>``)."""
    counts = decision.counts
    totals = {
        "tests": str(len(decision.rules)),
        "failures": str(counts["fail"] + counts["underpowered"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
    }
    root = ET.Element("testsuites", {"name": "auditkit gate", **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _clean(f"auditkit gate: {decision.name}"),
            **totals,
            "time": "0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("policy", decision.policy),
        ("passed", str(decision.passed).lower()),
        ("baseline", (decision.baseline or {}).get("run") or ""),
        ("correction", decision.correction),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    for rule in decision.rules:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _clean(f"auditkit.gate.{decision.name}"),
                "name": _clean(rule.id),
                "time": "0",
                "file": _clean(_relative_file(decision.policy)),
                "line": str(rule.line),
            },
        )
        body = "\n".join(
            [
                rule.message,
                *(["", rule.description] if rule.description else []),
                "",
                "Evidence:",
                *evidence_lines(rule),
            ]
        )
        properties_of(case, rule)
        if rule.status == "fail":
            ET.SubElement(
                case, "failure", {"message": _clean(rule.message), "type": "GateRuleFailed"}
            ).text = _clean(body)
        elif rule.status == "underpowered":
            ET.SubElement(
                case, "failure", {"message": _clean(rule.message), "type": "GateRuleUnderpowered"}
            ).text = _clean(body)
        elif rule.status == "error":
            ET.SubElement(
                case, "error", {"message": _clean(rule.message), "type": "MetricMissing"}
            ).text = _clean(body)
        elif rule.status == "skipped":
            ET.SubElement(case, "skipped", {"message": _clean(rule.message)})
        elif rule.status == "warn":
            ET.SubElement(case, "system-out").text = _clean(f"WARNING: {body}")
        else:
            ET.SubElement(case, "system-out").text = _clean(body)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(*, decision: GateDecision, path: Path) -> Path:
    """Write :func:`junit_xml` to ``path`` (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(decision=decision), encoding="utf-8")
    return path

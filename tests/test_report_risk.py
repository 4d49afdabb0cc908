"""The risk-framework mapping shipped as data: complete, consistent, and used for coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.errors import ConfigError
from auditkit.report.risk import load_risk_map

NIST_RISKS = [
    "CBRN information or capabilities", "Confabulation", "Dangerous, violent, or hateful content", "Data privacy",
    "Environmental impacts", "Harmful bias and homogenization", "Human-AI configuration", "Information integrity",
    "Information security", "Intellectual property", "Obscene, degrading, and/or abusive content",
    "Value chain and component integration",
]


def test_lists_the_twelve_nist_ai_600_1_risks_in_order() -> None:
    risk_map = load_risk_map()
    assert [r.name for r in risk_map.risks] == NIST_RISKS
    assert [r.section for r in risk_map.risks] == [f"2.{i}" for i in range(1, 13)]
    assert all(r.obligations for r in risk_map.risks)


def test_builtin_analyzers_map_to_the_issue_risks() -> None:
    risk_map = load_risk_map()
    covered = {a: {link.risk for link in links} for a, links in risk_map.analyzers.items()}
    assert "harmful_bias" in covered["bias"]
    assert "obscene_abusive" in covered["toxicity"]
    assert {"data_privacy", "intellectual_property"} <= covered["memorization"]
    assert "environmental_impacts" in covered["energy"]


def test_coverage_statuses_and_finding_counts() -> None:
    risk_map = load_risk_map()
    rows = {c.risk.id: c for c in risk_map.coverage(
        analyzers_run=["toxicity", "energy"],
        findings=[{"analyzer": "toxicity", "kind": "toxic_output"}, {"analyzer": "plugin", "kind": "odd"}])}
    assert rows["obscene_abusive"].status == "tested" and rows["obscene_abusive"].findings == 1
    assert rows["environmental_impacts"].status == "partial"
    assert rows["harmful_bias"].status == "not tested" and rows["harmful_bias"].available == ("bias",)
    assert rows["cbrn"].status == "not tested" and rows["cbrn"].available == ()


def test_finding_kinds_fall_back_to_the_analyzer() -> None:
    risk_map = load_risk_map()
    assert [r.id for r in risk_map.risks_for_finding(analyzer="memorization", kind="pii")] == ["data_privacy"]
    fallback = {r.id for r in risk_map.risks_for_finding(analyzer="memorization", kind="something-new")}
    assert fallback == {"intellectual_property", "data_privacy"}
    assert risk_map.risks_for_finding(analyzer="plugin", kind="unknown") == ()


def test_bad_map_is_a_config_error_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("version: 1\nframeworks: {}\nobligations: []\nrisks:\n  - {id: a, section: '1', name: A, "
                    "summary: s, obligations: [nope]}\n")
    with pytest.raises(ConfigError, match="nope"):
        load_risk_map(path=path)

"""Risk-framework mapping: which NIST AI 600-1 risks and EU AI Act obligations an audit gives evidence on.

The mapping is data (``auditkit/data/risk_map.yaml``) so compliance reviewers can read and amend it
without touching templates; this module loads and validates it and answers two questions for the
report: which risks does each finding bear on, and which risks did this run cover, partly cover, or
not test at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.errors import ConfigError
from auditkit.resources import package_file

__all__ = [
    "AnalyzerRisk",
    "Obligation",
    "Risk",
    "RiskCoverage",
    "RiskMap",
    "load_risk_map",
]

_COVERAGE_RANK = {"primary": 2, "partial": 1}


@dataclass(frozen=True, slots=True)
class Obligation:
    """One EU AI Act provision, with its citation and a one-line paraphrase."""

    id: str
    cite: str
    text: str


@dataclass(frozen=True, slots=True)
class Risk:
    """One of the 12 risks of NIST AI 600-1 section 2."""

    id: str
    section: str
    name: str
    summary: str
    obligations: tuple[Obligation, ...]


@dataclass(frozen=True, slots=True)
class AnalyzerRisk:
    """How far one analyzer covers one risk."""

    analyzer: str
    risk: str
    coverage: str
    note: str


@dataclass(frozen=True, slots=True)
class RiskCoverage:
    """The coverage table's row for one risk in one run."""

    risk: Risk
    status: str
    """``tested`` (an analyzer that ran covers it directly), ``partial`` or ``not tested``."""
    analyzers: tuple[AnalyzerRisk, ...]
    """The analyzers that ran and give evidence on this risk."""
    available: tuple[str, ...]
    """Analyzers that would give evidence on this risk but did not run."""
    findings: int


@dataclass(frozen=True, slots=True)
class RiskMap:
    """The loaded mapping."""

    frameworks: Mapping[str, Mapping[str, str]]
    risks: tuple[Risk, ...]
    analyzers: Mapping[str, tuple[AnalyzerRisk, ...]]
    finding_kinds: Mapping[str, tuple[str, ...]]

    def risk(self, risk_id: str) -> Risk:
        return next(r for r in self.risks if r.id == risk_id)

    def risks_for_finding(self, *, analyzer: str, kind: str) -> tuple[Risk, ...]:
        """Risks a finding is evidence of: by its kind, else everything its analyzer covers."""
        ids = self.finding_kinds.get(kind) or tuple(a.risk for a in self.analyzers.get(analyzer, ()))
        return tuple(self.risk(i) for i in ids)

    def coverage(self, *, analyzers_run: Iterable[str], findings: Iterable[Mapping[str, Any]]) -> list[RiskCoverage]:
        """One row per NIST risk, in the document's order, for a run with these analyzers and findings."""
        ran = set(analyzers_run)
        counts: dict[str, int] = {}
        for finding in findings:
            for risk in self.risks_for_finding(analyzer=str(finding.get("analyzer", "")),
                                               kind=str(finding.get("kind", ""))):
                counts[risk.id] = counts.get(risk.id, 0) + 1
        rows = []
        for risk in self.risks:
            links = [a for entries in self.analyzers.values() for a in entries if a.risk == risk.id]
            used = tuple(a for a in links if a.analyzer in ran)
            best = max((_COVERAGE_RANK.get(a.coverage, 0) for a in used), default=0)
            status = {2: "tested", 1: "partial"}.get(best, "not tested")
            available = tuple(sorted({a.analyzer for a in links} - ran))
            rows.append(RiskCoverage(risk=risk, status=status, analyzers=used, available=available,
                                     findings=counts.get(risk.id, 0)))
        return rows


def load_risk_map(*, path: Path | None = None) -> RiskMap:
    """Load and check the mapping (the shipped one unless ``path`` is given); exit 2 on a bad file."""
    import yaml

    source = path or package_file("data/risk_map.yaml")
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read the risk map ({exc}); reinstall auditkit or fix the file.") from exc
    try:
        obligations = {o["id"]: Obligation(id=o["id"], cite=o["cite"], text=o["text"]) for o in data["obligations"]}
        risks = tuple(
            Risk(id=r["id"], section=str(r["section"]), name=r["name"], summary=r["summary"],
                 obligations=tuple(obligations[o] for o in r.get("obligations", ())))
            for r in data["risks"]
        )
        known = {r.id for r in risks}
        analyzers: dict[str, tuple[AnalyzerRisk, ...]] = {}
        for name, entry in (data.get("analyzers") or {}).items():
            links = []
            for risk_id, info in (entry.get("risks") or {}).items():
                if risk_id not in known:
                    raise KeyError(f"analyzers.{name}.risks.{risk_id}")
                if info.get("coverage") not in _COVERAGE_RANK:
                    raise KeyError(f"analyzers.{name}.risks.{risk_id}.coverage (primary or partial)")
                links.append(AnalyzerRisk(analyzer=name, risk=risk_id, coverage=info["coverage"],
                                          note=str(info.get("note", ""))))
            analyzers[name] = tuple(links)
        kinds = {}
        for kind, ids in (data.get("findings") or {}).items():
            for risk_id in ids:
                if risk_id not in known:
                    raise KeyError(f"findings.{kind}: {risk_id}")
            kinds[kind] = tuple(ids)
        frameworks = {k: {kk: str(vv) for kk, vv in v.items()} for k, v in data["frameworks"].items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{source}: malformed risk map at {exc}; every risk needs id/section/name/summary, every "
            "obligation id must be defined, and analyzer/finding entries must name known risk ids."
        ) from exc
    return RiskMap(frameworks=frameworks, risks=risks, analyzers=analyzers, finding_kinds=kinds)

"""The digest a report leads with: verdict, what we found (in plain sentences, with how sure we are), what
this audit could not detect, what it did not test, the headline metrics and the instruments used.

Built from results.json alone (plus the risk map), so the HTML report and the Markdown export
(:mod:`auditkit.report.markdown`) say the same thing. Every string here is plain text: the renderer
escapes it for its format (model output and result strings are untrusted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.analyzers.metric_spec import MetricSpec, find_spec
from auditkit.report.context import MetricView, group_label, metric_view, ordered_analyzers, severity_rank
from auditkit.report.instruments import instrument_views
from auditkit.report.limits import DetectionLimit, detection_limits
from auditkit.report.plain import PlainInterval, Words, finite, phrase_finding
from auditkit.report.risk import RiskMap

__all__ = [
    "DetectionLimit",
    "KeyMetric",
    "NotTested",
    "PlainFinding",
    "PlainInterval",
    "ReportSummary",
    "ScorerInfo",
    "Verdict",
    "build_summary",
]

KEY_METRICS = 12
KEY_METRICS_PER_ANALYZER = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    state: Literal["pass", "fail", "none"]
    headline: str
    detail: str
    """The gate's result in one line, or that no release policy was applied."""


@dataclass(frozen=True, slots=True)
class PlainFinding:
    sentence: str
    """What the model does, in plain English with the numbers that matter."""
    how_sure: str
    """How sure the audit is, in words (interval and chance, no p-values)."""
    severity: str
    analyzer: str
    kind: str
    title: str
    """The finding's original, technical title."""
    interval: PlainInterval | None
    evidence: tuple[str, ...]
    """Prompt ids of the outputs that show it (the HTML links ``#ev-<id>``)."""
    finding_index: int
    """Position in results.json ``findings``."""


@dataclass(frozen=True, slots=True)
class NotTested:
    kind: Literal["risk", "analyzer"]
    id: str
    name: str
    status: str
    """For risks: ``not tested`` or ``partial``; for analyzers: ``not run``."""
    detail: str


@dataclass(frozen=True, slots=True)
class KeyMetric:
    analyzer: str
    name: str
    description: str
    view: MetricView
    """Value, interval, unit and ideal formatted by the metric's declared spec."""
    interval: PlainInterval
    label: str = ""
    """What people call it (the spec's ``label``, with the group when there is one); empty: none declared."""
    caveat: str = ""
    """The analyzer's own warning about this figure (its ``details.note``), e.g. that a corrected rate
    clipped at 0 is a floor, not an estimate: shown with the number, never dropped."""


@dataclass(frozen=True, slots=True)
class ScorerInfo:
    analyzer: str
    name: str
    versions: tuple[str, ...]
    """Package and version facts ("alt-profanity-check 1.9.1", "lexicon_version 2")."""
    accuracy: tuple[str, ...]
    """Measured quality on labelled sets, one sentence per set (empty when the run measured none)."""


@dataclass(frozen=True, slots=True)
class ReportSummary:
    verdict: Verdict
    findings: tuple[PlainFinding, ...]
    limits: tuple[DetectionLimit, ...]
    not_tested: tuple[NotTested, ...]
    key_metrics: tuple[KeyMetric, ...]
    scorers: tuple[ScorerInfo, ...]


# ---- verdict --------------------------------------------------------------------------------------

def _verdict(gate: Any) -> Verdict:
    if not isinstance(gate, Mapping):
        return Verdict(state="none", headline="No release policy applied",
                       detail="Results are reported without a pass/fail decision "
                              "(apply one with `auditkit gate DIR --policy FILE`).")
    passed = gate.get("passed")
    if not isinstance(passed, bool):
        word = str(gate.get("status") or gate.get("decision") or gate.get("verdict") or "").lower()
        passed = True if word in ("pass", "passed", "ok") else False if word in ("fail", "failed") else None
    name = gate.get("name") or gate.get("policy")
    policy = f" “{name}”" if isinstance(name, str) and name else ""
    rules = [r for r in gate.get("rules") or [] if isinstance(r, Mapping)]
    counts: dict[str, int] = {}
    for r in rules:
        counts[str(r.get("status") or "?")] = counts.get(str(r.get("status") or "?"), 0) + 1
    rank = ("fail", "error", "underpowered", "warn", "pass", "skipped")  # what blocks a release first
    parts = [f"{v} {k}" for k, v in sorted(counts.items(), key=lambda kv: rank.index(kv[0]) if kv[0] in rank
                                           else len(rank))]
    detail = f"{len(rules)} rule{'s' if len(rules) != 1 else ''}: {', '.join(parts)}." if rules else str(
        gate.get("summary") or gate.get("message") or "")
    if passed is None:
        return Verdict(state="none", headline="Policy result unclear", detail=detail)
    return Verdict(state="pass" if passed else "fail",
                   headline=f"{'Passed' if passed else 'Failed'} the release policy{policy}", detail=detail)


# ---- findings -------------------------------------------------------------------------------------

def _findings(results: Mapping[str, Any], words: Words) -> tuple[PlainFinding, ...]:
    out = []
    for index, f in enumerate(results.get("findings") or []):
        if not isinstance(f, Mapping):
            continue
        phrase = phrase_finding(finding=f, words=words)
        out.append(PlainFinding(
            sentence=phrase.sentence, how_sure=phrase.how_sure, severity=str(f.get("severity") or "info").lower(),
            analyzer=str(f.get("analyzer") or ""), kind=str(f.get("kind") or ""), title=str(f.get("title") or ""),
            interval=phrase.interval, evidence=tuple(str(e) for e in f.get("evidence") or ()), finding_index=index))

    def size(p: PlainFinding) -> float:
        f = results["findings"][p.finding_index]
        effect = f.get("effect_size")
        return abs(float(effect)) if finite(effect) else 0.0

    return tuple(sorted(out, key=lambda p: (-severity_rank(p.severity), -size(p), p.finding_index)))


# ---- not tested -----------------------------------------------------------------------------------

def _ran(results: Mapping[str, Any]) -> list[str]:
    names = set((results.get("analyses") or {}).keys())
    names |= {str(m.get("analyzer")) for m in results.get("metrics") or [] if isinstance(m, Mapping)}
    return ordered_analyzers(names=names)


def _not_tested(results: Mapping[str, Any], risk_map: RiskMap, ran: Sequence[str]) -> tuple[NotTested, ...]:
    from auditkit.analyzers.base import analyzers

    findings = [f for f in results.get("findings") or [] if isinstance(f, Mapping)]
    out = []
    for row in risk_map.coverage(analyzers_run=ran, findings=findings):
        if row.status == "tested":
            continue
        could = f"; {', '.join(row.available)} would give evidence on it" if row.available else ""
        what = ("only partly covered by " + ", ".join(a.analyzer for a in row.analyzers)) if row.analyzers else (
            "no analyzer that ran covers it")
        out.append(NotTested(kind="risk", id=row.risk.id, name=f"{row.risk.name} (NIST AI 600-1 §{row.risk.section})",
                             status=row.status, detail=f"{what}{could}."))
    for name in ordered_analyzers(names=analyzers.names()):
        if name not in ran:
            out.append(NotTested(kind="analyzer", id=name, name=name, status="not run",
                                 detail=f"The installed analyzer “{name}” was not run in this audit."))
    return tuple(out)


# ---- key metrics ----------------------------------------------------------------------------------

def _headline_candidates(metrics: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Run-level metrics with an interval: no group, or only a ``measure``; a metric reported only per
    axis contributes its worst axis."""
    plain: list[Mapping[str, Any]] = []
    per_axis: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    overall = {(m.get("analyzer"), m.get("name")) for m in metrics if not m.get("group")}
    for m in metrics:
        if not (finite(m.get("value")) and finite(m.get("ci_low")) and finite(m.get("ci_high"))):
            continue
        group = m.get("group") or {}
        if set(group) <= {"measure"}:
            plain.append(m)
        elif set(group) == {"axis"} and (m.get("analyzer"), m.get("name")) not in overall:
            key = (m.get("analyzer"), m.get("name"))
            if key not in per_axis or m["value"] > per_axis[key]["value"]:
                per_axis[key] = m
    return plain + list(per_axis.values())


def _key_metrics(results: Mapping[str, Any], specs: RunMetricSpecs, ran: Sequence[str]) -> tuple[KeyMetric, ...]:
    metrics = [m for m in results.get("metrics") or [] if isinstance(m, Mapping)]
    chosen: list[KeyMetric] = []
    for analyzer in ran:
        declared = specs.analyzer(analyzer)
        own = [m for m in _headline_candidates(metrics) if m.get("analyzer") == analyzer]

        def rank(m: Mapping[str, Any], declared: tuple[MetricSpec, ...] = declared) -> tuple[int, int]:
            spec = find_spec(specs=declared, name=str(m.get("name")))
            index = declared.index(spec) if spec in declared else len(declared)
            return (0 if spec is not None and spec.percent else 1, index)

        seen: set[tuple[Any, ...]] = set()
        picked = 0
        for m in sorted(own, key=rank):
            fingerprint = (m.get("value"), m.get("ci_low"), m.get("ci_high"), m.get("n"))
            spec = specs.spec(m)
            if (fingerprint in seen and m.get("value")) or (spec is not None and spec.direction == "none"):
                continue  # the same number under another name (one sample per prompt), or informational
            seen.add(fingerprint)
            view = metric_view(m, spec=spec)
            label = group_label(m.get("group"))
            chosen.append(KeyMetric(
                analyzer=analyzer, name=str(m.get("name")) + ("" if label == "overall" else f" ({label})"),
                description=spec.description if spec else str(m.get("method") or ""), view=view,
                interval=PlainInterval(value=float(m["value"]), ci_low=float(m["ci_low"]), ci_high=float(m["ci_high"]),
                                       percent=bool(spec and spec.percent), label=str(m.get("name"))),
                label=(spec.label + ("" if label == "overall" else f" ({label})")) if spec and spec.label else "",
                caveat=_caveat(m)))
            picked += 1
            if picked >= KEY_METRICS_PER_ANALYZER:
                break
    return tuple(chosen[:KEY_METRICS])


def _caveat(metric: Mapping[str, Any]) -> str:
    details = metric.get("details")
    note = details.get("note") if isinstance(details, Mapping) else None
    return note.strip() if isinstance(note, str) else ""


# ---- scorers --------------------------------------------------------------------------------------

def _versions(identity: Mapping[str, Any]) -> list[str]:
    out = []
    package, version = identity.get("package"), identity.get("version")
    if package and version:
        out.append(f"{package} {version}")
    elif version:
        out.append(f"version {version}")
    for key, value in identity.items():
        if key in ("package", "version") or not isinstance(value, (str, int)) or isinstance(value, bool):
            continue
        text = str(value)
        # "vader": "3.3.2", "lexicon_version": "2": version strings, not settings (those are numbers)
        if key.endswith("version") or (isinstance(value, str) and text[:1].isdigit() and text.count(".") >= 1):
            out.append(f"{key} {text}")
    for value in identity.values():
        if isinstance(value, Mapping) and value.get("package") and value.get("version") and "scorer" not in value:
            out.append(f"{value['package']} {value['version']}")
    return out


def _accuracy(results: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for view in instrument_views(results=results):
        entry = ((results.get("analyses") or {}).get(view.analyzer) or {}).get("summary", {}).get("instrument", {})
        for s in entry.get("calibration_sets") or []:
            if isinstance(s, Mapping):
                out.setdefault(view.analyzer, []).append(_set_sentence(s))
    return out


def _set_sentence(s: Mapping[str, Any]) -> str:
    def share(entry: Any) -> float | None:
        return float(entry["value"]) if isinstance(entry, Mapping) and finite(entry.get("value")) else None

    sens, spec = share(s.get("sensitivity")), share(s.get("specificity"))
    pos, neg = s.get("positives"), s.get("negatives")
    parts = []
    if sens is not None:
        parts.append(f"recall {sens:.0%}")
    if sens is not None and spec is not None and finite(pos) and finite(neg) and (sens * pos + (1 - spec) * neg):
        parts.append(f"precision {sens * pos / (sens * pos + (1 - spec) * neg):.0%}")
    if spec is not None:
        parts.append(f"specificity {spec:.0%}")
    size = f" ({int(s['size']):,} labelled texts)" if finite(s.get("size")) else ""
    return f"On {s.get('name')}{size}: {', '.join(parts) or 'no figures'}."


def _scorers(results: Mapping[str, Any], ran: Sequence[str]) -> tuple[ScorerInfo, ...]:
    accuracy = _accuracy(results)
    out = []
    for analyzer in ran:
        identity = ((results.get("analyses") or {}).get(analyzer) or {}).get("identity")
        if not isinstance(identity, Mapping):
            continue
        name = identity.get("scorer") or identity.get("backend") or identity.get("package") or analyzer
        out.append(ScorerInfo(analyzer=analyzer, name=str(name), versions=tuple(_versions(identity)),
                              accuracy=tuple(accuracy.get(analyzer, ()))))
        for value in identity.values():  # a second instrument inside (bias' regard scorer)
            if isinstance(value, Mapping) and value.get("scorer"):
                out.append(ScorerInfo(analyzer=analyzer, name=str(value["scorer"]),
                                      versions=tuple(_versions(value)), accuracy=()))
    return tuple(out)


def build_summary(*, results: Mapping[str, Any], risk_map: RiskMap) -> ReportSummary:
    """The reader-facing digest of one run's results."""
    words = Words(results=results)
    ran = _ran(results)
    return ReportSummary(
        verdict=_verdict(results.get("gate")),
        findings=_findings(results, words),
        limits=detection_limits(results=results, words=words),
        not_tested=_not_tested(results, risk_map, ran),
        key_metrics=_key_metrics(results, RunMetricSpecs(results=results), ran),
        scorers=_scorers(results, ran),
    )

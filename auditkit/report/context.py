"""Turn results.json (plus the rows kept from outputs.jsonl) into the report template's context.

Everything a template needs is computed here, so templates only lay out. All model text stays plain
``str`` — the template engine escapes it; only SVG built by :mod:`auditkit.report.figures` (which escapes
its own text) is ``Markup``. Summaries of unknown analyzers (plugins) fall back to generic tables, so no
summary shape can break the report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from auditkit.analyzers.metadata import declared_output_fields, declared_report_evidence, report_placement
from auditkit.analyzers.metric_spec import MetricSpec
from auditkit.analyzers.report_evidence import ReportEvidence
from auditkit.report.evidence import EvidenceRow, OutputScan
from auditkit.report.field_figures import probe_means
from auditkit.report.figure import Figure
from auditkit.report.figures import section_figures
from auditkit.report.risk import AnalyzerRisk, Risk, RiskMap
from auditkit.secrets import redact_value

__all__ = [
    "AnalyzerView",
    "FindingView",
    "MetricView",
    "PairSide",
    "PairView",
    "Table",
    "analyzer_views",
    "evidence_ids",
    "finding_views",
    "fmt",
    "generic_tables",
    "group_label",
    "metric_view",
    "ordered_analyzers",
    "redact",
    "severity_rank",
]

EVIDENCE_PER_FINDING = 20
EVIDENCE_TOTAL = 200
PAIRS_PER_FINDING = 5
TABLE_ROWS = 25
SECTION_FIGURES = 6
_SEVERITY = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def severity_rank(severity: str) -> int:
    return _SEVERITY.get(str(severity).lower(), 0)


def fmt(value: Any, digits: int = 4) -> str:
    """A number for people: None → "n/a" (never 0), floats to ``digits`` significant digits."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:,.{max(digits - len(str(int(abs(value)))), 0)}f}"
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
        return text if len(text) <= 200 else text[:199] + "…"
    return str(value)


def group_label(group: Mapping[str, Any] | None) -> str:
    if not group:
        return "overall"
    return ", ".join(f"{k}={v}" for k, v in group.items())


def redact(key: str, value: Any) -> Any:
    return redact_value(name=key, value=value, mask="[redacted]")


@dataclass(frozen=True, slots=True)
class Table:
    """A plain table: every cell is text the template escapes."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int = 0
    """Rows before the cap (the template says "showing 25 of N" when larger than ``rows``)."""


@dataclass(frozen=True, slots=True)
class MetricView:
    name: str
    group: str
    value: str
    interval: str
    half_width: str
    n: str
    unit: str
    method: str
    mde: str
    ideal: str = ""
    """The declared ideal: the target value (a benchmark's 0.5, a gap's 0), "higher", "lower" or empty."""


@dataclass(frozen=True, slots=True)
class PairSide:
    """One side of a counterfactual pair: the named group's output(s), or the other groups'."""

    label: str
    rows: tuple[EvidenceRow, ...]
    value: str = ""
    """The side's score on the finding's measure, when the finding states it."""


@dataclass(frozen=True, slots=True)
class PairView:
    """Prompts that differ only in the group they name, with their outputs, shown next to each other."""

    key: str
    sides: tuple[PairSide, ...]
    difference: str = ""

    @property
    def sensitive(self) -> bool:
        return any(r.sensitive for side in self.sides for r in side.rows)


@dataclass(frozen=True, slots=True)
class FindingView:
    anchor: str
    analyzer: str
    kind: str
    severity: str
    title: str
    groups: str
    effect_size: str
    p_value: str
    details: Table | None
    risks: tuple[Risk, ...]
    rows: tuple[EvidenceRow, ...]
    """Cited outputs shown one by one (those without counterfactual siblings)."""
    pairs: tuple[PairView, ...]
    """Counterfactual pairs, each side's outputs next to the other's."""
    cited: int
    shown: int
    over_budget: bool = False
    """Some cited outputs were left out because the report's evidence budget was spent."""
    index: int = -1
    """Position of the finding in results.json's ``findings``."""


@dataclass(frozen=True, slots=True)
class AnalyzerView:
    name: str
    title: str
    sensitive: bool
    """All texts of this section are hidden behind a content warning (toxicity)."""
    identity: Table
    figures: tuple[Figure, ...]
    """Charts that open the section, most important first (the first ``SECTION_FIGURES`` in view)."""
    narrative: tuple[str, ...]
    """A few plain sentences: what the section measured and what it found."""
    findings: tuple[FindingView, ...]
    tables: tuple[Table, ...]
    top: tuple[tuple[str, tuple[EvidenceRow, ...]], ...]
    risks: tuple[AnalyzerRisk, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)


def _percent(value: Any) -> str:
    return f"{fmt(value * 100, digits=3)}%" if isinstance(value, (int, float)) and math.isfinite(value) else fmt(value)


def _points(value: Any) -> str:
    finite = isinstance(value, (int, float)) and math.isfinite(value)
    return f"{fmt(value * 100, digits=3)} pp" if finite else fmt(value)


def metric_view(m: Mapping[str, Any], *, spec: MetricSpec | None = None) -> MetricView:
    """One metric for people; the analyzer's declared ``spec`` says whether it reads as a percentage and
    gives its unit when the metric carries none."""
    low, high = m.get("ci_low"), m.get("ci_high")
    show = fmt if spec is None or not spec.percent else _points if spec.points else _percent
    interval = f"{show(low)} – {show(high)}" if low is not None and high is not None else "—"
    half = (high - low) / 2 if isinstance(low, (int, float)) and isinstance(high, (int, float)) else None
    details = m.get("details") or {}
    mde = details.get("mde", details.get("minimum_detectable_effect"))
    # A percentage or a number of points already says what a "fraction" unit would.
    unit = "" if spec is not None and spec.percent else m.get("unit") or (spec.unit if spec is not None else "") or ""
    return MetricView(
        name=str(m.get("name", "")), group=group_label(m.get("group")), value=show(m.get("value")),
        interval=interval, half_width=show(half), n=fmt(int(m.get("n") or 0)), unit=str(unit),
        method=str(m.get("method") or ""), mde=show(mde), ideal=_ideal(spec, show),
    )


def _ideal(spec: MetricSpec | None, show: Any) -> str:
    if spec is None:
        return ""
    if spec.direction == "target":
        return str(show(spec.target))
    return {"higher_is_better": "higher", "lower_is_better": "lower"}.get(spec.direction, "")


def _kv_table(caption: str, items: Sequence[tuple[str, Any]]) -> Table:
    rows = tuple((str(k), fmt(redact(str(k), v))) for k, v in items)
    return Table(caption=caption, columns=("Field", "Value"), rows=rows[:TABLE_ROWS * 4], total=len(rows))


def _humanize(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def generic_tables(*, summary: Mapping[str, Any], skip: Sequence[str] = ()) -> list[Table]:
    """Render any JSON-ready summary as tables: scalars together, lists of objects as tables."""
    scalars: list[tuple[str, Any]] = []
    tables: list[Table] = []
    for key, value in summary.items():
        if key in skip:
            continue
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            columns: list[str] = []
            for item in value[:TABLE_ROWS]:
                columns.extend(k for k in item if k not in columns)
            columns = columns[:12]
            rows = tuple(tuple(fmt(redact(c, item.get(c))) for c in columns) for item in value[:TABLE_ROWS])
            tables.append(Table(caption=_humanize(key), columns=tuple(columns), rows=rows, total=len(value)))
        elif isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
            columns = []
            for item in list(value.values())[:TABLE_ROWS]:
                columns.extend(k for k in item if k not in columns)
            columns = columns[:11]
            rows = tuple(
                (str(k), *(fmt(redact(c, v.get(c))) for c in columns))
                for k, v in list(value.items())[:TABLE_ROWS]
            )
            tables.append(Table(caption=_humanize(key), columns=("", *columns), rows=rows, total=len(value)))
        elif isinstance(value, Mapping):
            tables.append(_kv_table(_humanize(key), list(value.items())))
        else:
            scalars.append((key, value))
    if scalars:
        tables.insert(0, _kv_table("Summary", scalars))
    return tables


def _field_tables(name: str, scan: OutputScan) -> list[Table]:
    """For each per-output field the analyzer declares: its mean by probe, and how each figure was
    obtained (the charts are :mod:`auditkit.report.field_figures`')."""
    tables = []
    for declared in declared_output_fields(name=name):
        tally = scan.fields.get(declared.name)
        if tally is None:
            continue
        probes = probe_means(tally)
        unit = f" {declared.unit}" if declared.unit else ""
        if any(p[1] is not None for p in probes):
            tables.append(Table(
                caption=f"{declared.label} by probe",
                columns=("Probe", f"Mean{unit} per output", "Outputs with a figure", "Outputs"),
                rows=tuple((k, fmt(v), fmt(t[1]), fmt(t[2])) for k, v, t in probes[:TABLE_ROWS]), total=len(probes)))
        if tally.methods:
            tables.append(Table(
                caption=f"{declared.label}: how each figure was obtained", columns=("Method", "Outputs"),
                rows=tuple((k, fmt(v)) for k, v in sorted(tally.methods.items())), total=len(tally.methods)))
    return tables


def _cited_table(name: str, declared: ReportEvidence, findings: Sequence[FindingView]) -> list[Table]:
    """One row per output a finding of analyzer ``name`` cites, with the scores it declares
    (``cited_columns``): for memorization, what was extracted and how much of it."""
    if not declared.cited_columns:
        return []
    rows = []
    for f in findings:
        for row in f.rows + tuple(r for p in f.pairs for side in p.sides for r in side.rows):
            scores = {k.split(".", 1)[1]: v for k, v in row.scores.items() if k.startswith(f"{name}.")}
            source = row.attributes.get("source") or row.attributes.get("title") or row.template
            rows.append((row.id, str(source), f.kind, f.severity,
                         *(fmt(scores.get(key)) for key, _ in declared.cited_columns), fmt(row.output_tokens)))
    if not rows:
        return []
    headings = tuple(heading for _, heading in declared.cited_columns)
    return [Table(caption=declared.cited_caption or f"Outputs cited by {name} findings",
                  columns=("Prompt id", "Source", "Kind", "Severity", *headings, "Output tokens"),
                  rows=tuple(rows[:TABLE_ROWS]), total=len(rows))]


def _stated_pairs(finding: Mapping[str, Any], scan: OutputScan) -> list[PairView]:
    """The pairs a finding names in ``details.pairs`` (group side vs the others), with their outputs."""
    out = []
    for entry in (finding.get("details") or {}).get("pairs") or []:
        if not isinstance(entry, Mapping):
            continue
        sides = []
        for label, side in entry.items():
            if not isinstance(side, Mapping) or "prompt_ids" not in side:
                continue
            rows = tuple(scan.evidence[i] for i in map(str, side.get("prompt_ids") or []) if i in scan.evidence)
            name = "the other groups" if label == "rest" else str(label)
            sides.append(PairSide(label=name, rows=rows, value=fmt(side.get("value"), 3)))
        if len(sides) > 1 and all(s.rows for s in sides):
            out.append(PairView(key=str(entry.get("pair", "")), sides=tuple(sides),
                                difference=fmt(entry.get("difference"), 3)))
    return out


def _sibling_pair(siblings: Sequence[EvidenceRow]) -> PairView:
    return PairView(key=str(siblings[0].pair or ""), sides=tuple(
        PairSide(label=str(r.attributes.get("group", r.id)), rows=(r,)) for r in siblings))


def _evidence(
    f: Mapping[str, Any], scan: OutputScan, budget: int
) -> tuple[list[PairView], list[EvidenceRow], int, bool]:
    """A finding's pairs and single outputs within the report's remaining ``budget`` of outputs, and
    whether the budget (or the cap on pairs) left some out."""
    cited = [str(e) for e in f.get("evidence") or []]
    pairs: list[PairView] = []
    shown: set[str] = set()
    cut = False
    for pair in _stated_pairs(f, scan)[:PAIRS_PER_FINDING]:
        size = sum(len(side.rows) for side in pair.sides)
        if size <= budget:
            pairs.append(pair)
            shown.update(r.id for side in pair.sides for r in side.rows)
            budget -= size
        else:
            cut = True
    singles: list[EvidenceRow] = []
    seen: set[str] = set()
    for row in (scan.evidence[e] for e in cited[:EVIDENCE_PER_FINDING] if e in scan.evidence):
        if row.id in shown:
            continue
        siblings = scan.siblings.get(row.pair or "") if row.pair and _paired(f) else None
        if siblings and row.id not in {r.id for r in siblings}:
            siblings = [row, *siblings[1:]]  # the scan keeps a few siblings per pair: the cited one leads
        if siblings and len(siblings) > 1:
            if row.pair in seen:
                continue
            seen.add(str(row.pair))
            if len(pairs) < PAIRS_PER_FINDING and budget >= len(siblings):
                pairs.append(_sibling_pair(siblings))
                shown.update(r.id for r in siblings)
                budget -= len(siblings)
            else:
                cut = True
        elif budget > 0:
            singles.append(row)
            budget -= 1
        else:
            cut = True
    return pairs, singles, budget, cut


def finding_views(*, findings: Sequence[Mapping[str, Any]], scan: OutputScan, risk_map: RiskMap) -> list[FindingView]:
    """Findings, most severe first, each with its (capped) evidence rows and counterfactual pairs."""
    order = sorted(range(len(findings)), key=lambda i: (-severity_rank(findings[i].get("severity", "")), i))
    views = []
    left = EVIDENCE_TOTAL  # outputs shown across all findings, siblings included
    for rank, i in enumerate(order):
        f = findings[i]
        cited = [str(e) for e in f.get("evidence") or []]
        # A fair share of what is left, so the last findings keep evidence too; unspent shares carry on.
        share = max(left // (len(order) - rank), min(left, 2))
        pairs, singles, unspent, cut = _evidence(f, scan, share)
        left -= share - unspent
        # Ids past the report's cap were never read from outputs.jsonl: say so, not that they are missing.
        cut = cut or bool((pairs or singles) and any(e not in scan.evidence for e in cited[:EVIDENCE_PER_FINDING]))
        details = {k: v for k, v in (f.get("details") or {}).items() if k != "pairs"}
        shown = {r.id for r in singles} | {r.id for p in pairs for side in p.sides for r in side.rows}
        views.append(FindingView(
            anchor=f"finding-{rank + 1}", analyzer=str(f.get("analyzer", "")), kind=str(f.get("kind", "")),
            severity=str(f.get("severity", "info")).lower(), title=str(f.get("title", "")),
            groups="; ".join(group_label(g) for g in f.get("groups") or []) or "—",
            effect_size=fmt(f.get("effect_size")), p_value=fmt(f.get("p_value"), 3),
            details=_kv_table("Details", list(details.items())) if details else None,
            risks=risk_map.risks_for_finding(analyzer=str(f.get("analyzer", "")), kind=str(f.get("kind", ""))),
            rows=tuple(singles), pairs=tuple(pairs), cited=len(cited), shown=len(shown & set(cited)),
            over_budget=cut,
            index=i,
        ))
    return views


def _paired(finding: Mapping[str, Any]) -> bool:
    """Findings about group differences: their evidence is shown with its counterfactual siblings (an
    absolute harm's evidence is the harmful outputs themselves, shown one by one)."""
    kind = str(finding.get("kind", ""))
    return "gap" in kind or "counterfactual" in kind or (finding.get("details") or {}).get("paired") is True


def evidence_ids(findings: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The prompt ids to keep (≤ 20 per finding, ≤ 200 in all) and those whose pairs to fetch.

    Ids are taken round-robin over the findings, most severe first, so that every finding keeps some of
    its evidence even when the first ones cite hundreds of outputs.
    """
    ordered = sorted(findings, key=lambda f: -severity_rank(f.get("severity", "")))
    cited = [[str(e) for e in list(f.get("evidence") or [])[:EVIDENCE_PER_FINDING]] for f in ordered]
    wanted: list[str] = []
    paired: list[str] = []
    seen: set[str] = set()
    for depth in range(EVIDENCE_PER_FINDING):
        for f, ids in zip(ordered, cited, strict=True):
            if len(wanted) >= EVIDENCE_TOTAL:
                return wanted, paired
            if depth < len(ids) and ids[depth] not in seen:
                seen.add(ids[depth])
                wanted.append(ids[depth])
                if _paired(f):
                    paired.append(ids[depth])
    return wanted, paired


def ordered_analyzers(*, names: Iterable[str]) -> list[str]:
    """``names`` by their declared report order, then by name (plugins that declare none come last)."""
    return sorted(set(names), key=lambda n: (report_placement(name=n)[0], n))


def _narrative(*, name: str, scan: OutputScan, findings: Sequence[FindingView], metrics: int) -> tuple[str, ...]:
    """What a section measured and found, in two or three plain sentences."""
    scored = max((len(v) for k, v in scan.values.items() if k.split(".", 1)[0] == name), default=0)
    out = [f"Scored {scored:,} outputs." if scored else ""]
    if findings:
        counts = [(s, sum(1 for f in findings if f.severity == s)) for s in _SEVERITY]
        words = ", ".join(f"{n} {s}" for s, n in counts if n)
        out.append(f"It raised {len(findings)} finding{'s' * (len(findings) != 1)} ({words}); each is below, "
                   "with the outputs it rests on.")
    else:
        out.append("It raised no finding: no test reached both significance and a practical effect size.")
    out.append(f"All {metrics:,} of its metrics, with their 95% intervals, are in the appendix.")
    return tuple(t for t in out if t)


def analyzer_views(
    *, results: Mapping[str, Any], scan: OutputScan, risk_map: RiskMap, findings: Sequence[FindingView]
) -> list[AnalyzerView]:
    """One view per analyzer that ran, in the order the analyzers declare (``report_order``)."""
    analyses: Mapping[str, Any] = results.get("analyses") or {}
    metrics: Sequence[Mapping[str, Any]] = results.get("metrics") or []
    views = []
    for name in ordered_analyzers(names=set(analyses) | {str(m.get("analyzer")) for m in metrics}):
        entry = analyses.get(name) or {}
        identity = entry.get("identity") or {}
        summary = entry.get("summary") or {}
        own = [m for m in metrics if m.get("analyzer") == name]
        tables: list[Table] = []
        notes: list[str] = []
        declared = declared_report_evidence(name=name)
        mine = tuple(f for f in findings if f.analyzer == name)
        tables += _field_tables(name, scan)
        tables += _cited_table(name, declared, mine)
        tables += generic_tables(summary=summary, skip=("histogram", "per_prompt_j", "energy_methods",
                                                        "instrument"))  # its own section: report/instruments.py
        top = [(f"Highest {name}.{key} outputs", tuple(scan.top[f"{name}.{key}"]))
               for key in declared.top_scores if scan.top.get(f"{name}.{key}")]
        views.append(AnalyzerView(
            name=name, title=report_placement(name=name)[1], sensitive=declared.sensitive,
            identity=_kv_table("Scorer", list(identity.items())),
            figures=tuple(section_figures(name=name, results=results, scan=scan)),
            narrative=_narrative(name=name, scan=scan, findings=mine, metrics=len(own)),
            findings=mine,
            tables=tuple(tables), top=tuple(top), risks=risk_map.analyzers.get(name, ()), notes=tuple(notes),
        ))
    return views

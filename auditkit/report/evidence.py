"""Stream ``outputs.jsonl`` and keep only what the report shows.

A run can hold hundreds of thousands of outputs; the report must stay small and fast. This module reads
the file line by line (never whole) and keeps: the rows findings cite (capped), the counterfactual
siblings of those rows (a second pass, only when needed), the top few rows per score, a small sample per
probe, and compact per-score value arrays for histograms. Long texts are cut for display; the full text
stays in outputs.jsonl, which the report points to by prompt id.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditkit.jsonl import read_jsonl

__all__ = [
    "EvidenceRow",
    "OutputScan",
    "scan_outputs",
    "score_labels",
]

TEXT_LIMIT = 1200
"""Characters of prompt/output/reference shown per row; the rest is in outputs.jsonl."""
TOP_K = 5
SAMPLE_PER_PROBE = 2
SAMPLE_TOTAL = 40
SIBLINGS_PER_PAIR = 6

# The second pass only needs rows of a few pairs: find the key with a regex, parse only matching lines.
_PAIR = re.compile(r'"pair":\s*"((?:[^"\\]|\\.)*)"')

_OFFENSIVE_LABELS = frozenset({
    "toxic", "severe_toxic", "severe_toxicity", "obscene", "insult", "threat", "identity_attack",
    "identity_hate", "profane", "profanity", "sexual_explicit", "hate", "offensive", "stereotype",
})


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One output as the report shows it (texts possibly cut to ``TEXT_LIMIT`` characters)."""

    id: str
    suite: str
    template: str
    attributes: Mapping[str, Any]
    pair: str | None
    prompt: str
    output: str | None
    error: str | None
    reference: str | None
    scores: Mapping[str, Any]
    labels: Mapping[str, Any]
    energy_j: float | None
    energy_method: str | None
    output_tokens: int | None
    truncated: bool
    sensitive: bool
    """Possibly offensive (a toxicity-like score ≥ 0.5 or an offensive label): hidden behind a click."""


@dataclass(slots=True)
class OutputScan:
    """What the report keeps from outputs.jsonl."""

    rows: int = 0
    errors: int = 0
    cached: int = 0
    error_examples: list[str] = field(default_factory=list)
    evidence: dict[str, EvidenceRow] = field(default_factory=dict)
    siblings: dict[str, list[EvidenceRow]] = field(default_factory=dict)
    """Rows by ``pair`` key, for the pairs that cited rows belong to."""
    top: dict[str, list[EvidenceRow]] = field(default_factory=dict)
    """Per score key (``analyzer.name``), the highest-scoring rows, best first."""
    sample: list[EvidenceRow] = field(default_factory=list)
    values: dict[str, array[float]] = field(default_factory=dict)
    """Per score key, every finite value (8 bytes each: 100k outputs × 10 scores ≈ 8 MB)."""
    energy_values: array[float] = field(default_factory=lambda: array("d"))
    """Joules of every output that has a figure."""
    energy_methods: Counter[str] = field(default_factory=Counter)
    energy_by_template: dict[str, list[float]] = field(default_factory=dict)
    """Per ``suite/template``: [sum of joules, outputs with a figure, outputs]."""


def _cut(text: Any) -> tuple[str | None, bool]:
    if text is None:
        return None, False
    text = str(text)
    if len(text) <= TEXT_LIMIT:
        return text, False
    return text[:TEXT_LIMIT], True


def _prompt_text(data: Mapping[str, Any]) -> str:
    if data.get("prompt") is not None:
        return str(data["prompt"])
    messages = data.get("messages") or []
    return "\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in messages if isinstance(m, Mapping))


def _sensitive(data: Mapping[str, Any]) -> bool:
    for key, value in (data.get("scores") or {}).items():
        if "tox" in key.lower() and isinstance(value, (int, float)) and value >= 0.5:
            return True
    for key, value in (data.get("labels") or {}).items():
        if "regard" in key.lower() and str(value).lower() == "negative":
            return True  # demeaning portrayals of a group: shown only after the reader opts in
        labels = value if isinstance(value, list) else [value]
        if any(str(v).lower() in _OFFENSIVE_LABELS for v in labels):
            return True
    return False


def _row(data: Mapping[str, Any]) -> EvidenceRow:
    prompt, cut_p = _cut(_prompt_text(data))
    output, cut_o = _cut(data.get("output"))
    reference, cut_r = _cut(data.get("reference"))
    energy = data.get("energy_j")
    return EvidenceRow(
        id=str(data.get("id", "")), suite=str(data.get("suite", "")), template=str(data.get("template", "")),
        attributes=dict(data.get("attributes") or {}), pair=data.get("pair"), prompt=prompt or "",
        output=output, error=data.get("error"), reference=reference, scores=dict(data.get("scores") or {}),
        labels=dict(data.get("labels") or {}),
        energy_j=float(energy) if isinstance(energy, (int, float)) else None,
        energy_method=data.get("energy_method"), output_tokens=data.get("output_tokens"),
        truncated=cut_p or cut_o or cut_r, sensitive=_sensitive(data),
    )


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"


def score_labels(row: EvidenceRow) -> list[str]:
    """What each scorer said about one output, in words: "toxicity 0.05 (non-toxic)", "regard: negative",
    "refusal: no" (a 0/1 flag without a label), sorted by score name."""
    out = []
    for key in sorted(set(row.scores) | set(row.labels)):
        name = key.split(".", 1)[-1].replace("_", " ")
        value, label = row.scores.get(key), row.labels.get(key)
        if label is not None and name.endswith(" negative"):  # regard_negative's label is the regard itself
            name = name[: -len(" negative")]
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if label is not None and number is not None and number not in (0, 1):
            out.append(f"{name} {_number(float(number))} ({label})")
        elif label is not None:
            out.append(f"{name}: {label}")
        elif number in (0, 1) and not key.endswith(("length", "tokens")):
            out.append(f"{name}: {'yes' if number == 1 else 'no'}")
        elif number is not None:
            out.append(f"{name} {_number(float(number))}")
    return out


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return read_jsonl(path=path, hint=" Re-run the audit to rewrite the file, or point to its output folder.")


def scan_outputs(*, path: Path, wanted: Iterable[str], pair_ids: Iterable[str] = ()) -> OutputScan:
    """Read ``path`` once (twice when cited rows have counterfactual siblings) and keep the report's rows.

    ``wanted`` are the prompt ids findings cite (already capped by the caller); siblings are collected
    for the ``pair`` keys of wanted rows whose id is also in ``pair_ids`` (the bias findings' evidence).
    A missing file gives an empty scan: the report says so instead of failing.
    """
    scan = OutputScan()
    if not path.exists():
        return scan
    wanted_ids = set(wanted)
    pair_wanted = set(pair_ids)
    heaps: dict[str, list[tuple[float, int, EvidenceRow]]] = {}
    per_probe: Counter[str] = Counter()
    for number, data in _lines(path):
        scan.rows += 1
        row_id = str(data.get("id", ""))
        if data.get("error"):
            scan.errors += 1
            if len(scan.error_examples) < 5 and str(data["error"]) not in scan.error_examples:
                scan.error_examples.append(str(data["error"])[:300])
        if data.get("cached"):
            scan.cached += 1
        row: EvidenceRow | None = None
        if row_id in wanted_ids:
            row = _row(data)
            scan.evidence[row_id] = row
        for key, value in (data.get("scores") or {}).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                continue
            scan.values.setdefault(key, array("d")).append(float(value))
            heap = heaps.setdefault(key, [])
            if len(heap) < TOP_K or value > heap[0][0]:
                row = row or _row(data)
                item = (float(value), -number, row)
                if len(heap) < TOP_K:
                    heapq.heappush(heap, item)
                else:
                    heapq.heapreplace(heap, item)
        probe = f"{data.get('suite', '')}/{data.get('template', '')}"
        energy = data.get("energy_j")
        tally = scan.energy_by_template.setdefault(probe, [0.0, 0, 0])
        tally[2] += 1
        if isinstance(energy, (int, float)) and math.isfinite(energy):
            tally[0] += float(energy)
            scan.energy_values.append(float(energy))
            tally[1] += 1
            scan.energy_methods[str(data.get("energy_method") or "unknown")] += 1
        elif not data.get("error"):
            scan.energy_methods["not-measured"] += 1
        if per_probe[probe] < SAMPLE_PER_PROBE and len(scan.sample) < SAMPLE_TOTAL:
            per_probe[probe] += 1
            scan.sample.append(row or _row(data))
    scan.top = {k: [r for _, _, r in sorted(h, key=lambda t: (t[0], t[1]), reverse=True)] for k, h in heaps.items()}
    pairs = {r.pair for i, r in scan.evidence.items() if i in pair_wanted and r.pair}
    if pairs:
        with path.open("r", encoding="utf-8") as handle:
            for line in handle:
                keys = (m.group(1) for m in _PAIR.finditer(line))
                if not any((json.loads(f'"{k}"') if "\\" in k else k) in pairs for k in keys):
                    continue
                data = json.loads(line)
                key = data.get("pair")
                if key not in pairs:
                    continue
                bucket = scan.siblings.setdefault(key, [])
                if len(bucket) < SIBLINGS_PER_PAIR:
                    bucket.append(scan.evidence.get(str(data.get("id"))) or _row(data))
    return scan

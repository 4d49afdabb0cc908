"""Calibration sets: labelled texts that tell how often a scorer is right, read and scored once.

A calibration set is a JSONL file of texts a person labelled, one object a line. The label field depends
on the measure (a :class:`LabelSchema`): toxicity reads ``{"text": ..., "toxic": true|false}``, regard
reads ``{"text": ..., "regard": "negative"|"neutral"|"positive"}``; an optional ``"category"`` (insult,
threat, quote...) lets the report say where the scorer errs. Whatever the measure, the scorer is judged
as a binary detector of the schema's ``positive`` label (toxic; negative regard), at the run's threshold.

auditkit ships one set per measure written for the project (``auditkit/data/calibration/``), so every run
has a validity table even without a file of the user's own (``--analyzer-arg toxicity.calibration=FILE``).

Scores of calibration texts depend only on the scorer and the text: they are memoised in the auditkit
cache directory (``$AUDITKIT_CACHE_DIR`` or the user cache dir), keyed by the scorer's identity and the
texts, so a rerun whose outputs are all cached loads no scorer for its calibration either.

Example, for a measure of your own::

    SCHEMA = LabelSchema(field="toxic", values=("false", "true"), positive="true", boolean=True)
    labelled = read_calibration(path=Path("mine.jsonl"), schema=SCHEMA)
    scores = memoised_scores(scorer=identity, texts=labelled.texts, score=my_scorer)
    accuracy = calibration_accuracy(labelled=labelled, scores=scores, threshold=0.5)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.errors import InputError
from auditkit.jsonl import read_jsonl
from auditkit.resources import package_file
from auditkit.stats.intervals import wilson_interval
from auditkit.stats.misclassification import ScorerAccuracy, scorer_accuracy

__all__ = [
    "BUILTIN_DESCRIPTION",
    "CalibrationSet",
    "LabelSchema",
    "LabelledText",
    "REGARD",
    "TOXIC",
    "builtin_calibration",
    "calibration_accuracy",
    "category_table",
    "memoised_scores",
    "read_calibration",
]

BUILTIN_DESCRIPTION = (
    "auditkit's built-in calibration set: short English texts written for auditkit and labelled by careful "
    "reading (toxic: insults, threats, hate, harassment, masked slurs, strong profanity; not toxic: everyday, "
    "identity-mentioning, reclaimed, quoted, negated, critical and mildly sworn texts). It is not a benchmark "
    "and not a sample of any model's outputs: it shows where a scorer errs; pass a labelled sample of your "
    "own outputs for a correction you can rely on."
)


@dataclass(frozen=True, slots=True)
class LabelSchema:
    """How a measure's calibration file spells its labels, and which label the scorer should detect."""

    field: str
    """The JSON field holding the label (``toxic``, ``regard``)."""
    values: tuple[str, ...]
    """Accepted labels (booleans as ``"true"``/``"false"``)."""
    positive: str
    """The label the scorer is judged on detecting (sensitivity = share of these it flags)."""
    boolean: bool = False
    """Labels are JSON booleans."""


TOXIC = LabelSchema(field="toxic", values=("false", "true"), positive="true", boolean=True)
REGARD = LabelSchema(field="regard", values=("negative", "neutral", "positive"), positive="negative")


@dataclass(frozen=True, slots=True)
class LabelledText:
    text: str
    label: str
    """One of the schema's ``values``."""
    category: str | None = None


@dataclass(frozen=True, slots=True)
class CalibrationSet:
    """A labelled set, checked to hold both the positive label and another one."""

    name: str
    """``builtin`` or the file's name."""
    source: str
    """The file it was read from."""
    description: str
    sha256: str
    schema: LabelSchema
    items: tuple[LabelledText, ...]

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    @property
    def positives(self) -> int:
        return sum(item.label == self.schema.positive for item in self.items)

    def describe(self) -> dict[str, Any]:
        """What the report says about the set."""
        return {"name": self.name, "source": self.source, "description": self.description,
                "sha256": self.sha256, "size": len(self.items), "positives": self.positives,
                "negatives": len(self.items) - self.positives, "label_field": self.schema.field,
                "positive_label": self.schema.positive}


def _label(value: Any, schema: LabelSchema) -> str | None:
    if schema.boolean:
        return ("true" if value else "false") if isinstance(value, bool) else None
    return value if isinstance(value, str) and value in schema.values else None


def _expected(schema: LabelSchema) -> str:
    if schema.boolean:
        return f'{{"text": "...", "{schema.field}": true|false}}'
    return f'{{"text": "...", "{schema.field}": ' + "|".join(f'"{v}"' for v in schema.values) + "}"


def read_calibration(
    *, path: Path, schema: LabelSchema = TOXIC, name: str | None = None, description: str = ""
) -> CalibrationSet:
    """A labelled calibration file; a bad line, an empty file or a single class raises ``InputError``."""
    path = Path(path).expanduser()
    hint = f" Each line of a calibration file looks like {_expected(schema)} (optional \"category\")."
    items = []
    digest = hashlib.sha256()
    for number, record in read_jsonl(path=path, hint=hint, text_only=True):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{path}:{number}: \"text\" must be a non-empty string.{hint}")
        label = _label(record.get(schema.field), schema)
        if label is None:
            raise InputError(f"{path}:{number}: \"{schema.field}\" is {record.get(schema.field)!r}; expected "
                             f"{' or '.join(schema.values) if not schema.boolean else 'true or false'}.{hint}")
        category = record.get("category")
        items.append(LabelledText(text=text, label=label, category=str(category) if category else None))
        digest.update(json.dumps([text, label], ensure_ascii=False).encode("utf-8"))
    labelled = CalibrationSet(name=name or path.name, source=str(path), description=description,
                              sha256=digest.hexdigest(), schema=schema, items=tuple(items))
    _check_classes(labelled)
    return labelled


def _check_classes(labelled: CalibrationSet) -> None:
    schema, size = labelled.schema, len(labelled.items)
    if size == 0:
        raise InputError(f"{labelled.source}: holds no labelled texts; a calibration set needs texts labelled "
                         f"{schema.field}={schema.positive} and others, to measure both sensitivity and "
                         f"specificity. Lines look like {_expected(schema)}.")
    if labelled.positives in (0, size):
        which = "all" if labelled.positives == size else "none"
        raise InputError(
            f"{labelled.source}: {which} of its {size} texts are labelled {schema.field}={schema.positive}; "
            f"sensitivity needs texts with that label and specificity texts without it. Add texts of the "
            f"missing kind (lines look like {_expected(schema)})."
        )


def builtin_calibration(*, measure: str = "toxicity") -> CalibrationSet:
    """The set shipped for ``measure`` (``auditkit/data/calibration/<measure>.jsonl``)."""
    schema = {"toxicity": TOXIC, "regard": REGARD}[measure]
    path = package_file(f"data/calibration/{measure}.jsonl")
    return read_calibration(path=path, schema=schema, name="builtin", description=BUILTIN_DESCRIPTION)


# ------------------------------------------------------------------------------------------ scoring


def _memo_dir() -> Path:
    from auditkit.adapters.weights import cache_root

    return cache_root() / "calibration"


def memoised_scores(
    *, scorer: Mapping[str, Any], texts: Sequence[str], score: Callable[[list[str]], Sequence[float]]
) -> list[float]:
    """``score(texts)``, or the scores memoised for this scorer identity and these very texts.

    ``scorer`` must fingerprint everything the scores depend on (backend, version, weights hash,
    settings), as the run cache's score keys do. The memo is a convenience: failing to write it is
    silent, and a corrupt entry is recomputed.
    """
    key = hashlib.sha256(json.dumps([dict(scorer), list(texts)], sort_keys=True, default=str,
                                    ensure_ascii=False).encode("utf-8")).hexdigest()
    path = _memo_dir() / f"{key}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(stored, list) and len(stored) == len(texts) and all(isinstance(v, float) for v in stored):
            return stored
    except (OSError, ValueError):
        pass
    values = [float(v) for v in score(list(texts))]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp",
                                         encoding="utf-8") as handle:
            json.dump(values, handle)
        os.replace(handle.name, path)  # atomic: a concurrent run reads the old entry or the new one
    except OSError:
        pass
    return values


# ----------------------------------------------------------------------------------------- accuracy


def calibration_accuracy(*, labelled: CalibrationSet, scores: Sequence[float], threshold: float) -> ScorerAccuracy:
    """Sensitivity and specificity of "score ≥ threshold" as a detector of the schema's positive label."""
    positive = labelled.schema.positive
    tp = int(sum(s >= threshold for s, item in zip(scores, labelled.items) if item.label == positive))
    tn = int(sum(s < threshold for s, item in zip(scores, labelled.items) if item.label != positive))
    return scorer_accuracy(true_positives=tp, positives=labelled.positives, true_negatives=tn,
                           negatives=len(labelled.items) - labelled.positives)


def category_table(*, labelled: CalibrationSet, scores: Sequence[float], threshold: float) -> list[dict[str, Any]]:
    """Per category: its label, size and the share the scorer flags (Wilson 95% CI): where it errs."""
    flagged: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for s, item in zip(scores, labelled.items):
        flagged[(item.category or "uncategorised", item.label)].append(s >= threshold)
    rows = []
    for (category, label), marks in sorted(flagged.items(), key=lambda kv: (kv[0][1] != labelled.schema.positive,
                                                                           kv[0][0])):
        share = wilson_interval(successes=sum(marks), n=len(marks))
        correct = share.value if label == labelled.schema.positive else 1 - (share.value or 0.0)
        rows.append({"category": category, "label": f"{labelled.schema.field}={label}", "texts": len(marks),
                     "flagged": sum(marks), "flagged_share": share.value, "ci_low": share.low,
                     "ci_high": share.high, "correct_share": correct})
    return rows

"""``stereoset:FILE``: StereoSet (Nadeem et al. 2021) from the official ``dev.json`` users download themselves.

Layout::

    {"version": "1.0", "data": {
        "intrasentence": [{"id": "...", "target": "chess player", "bias_type": "profession",
                           "context": "The chess player was BLANK.",
                           "sentences": [{"id": "...", "sentence": "The chess player was hispanic.",
                                          "gold_label": "anti-stereotype", "labels": [...]}, ...]}, ...],
        "intersentence": [{... "context": "Many people live in Ethiopia.",
                           "sentences": [{"sentence": "The people are very thin ...",
                                          "gold_label": "stereotype"}, ...]}, ...]}}

Each item becomes one likelihood prompt whose candidates are its three sentences in the order
stereotype, anti-stereotype, unrelated. Intrasentence items are scored as whole sentences from the start
of the text (empty context); intersentence items as the sentence after the context and a space. The
dataset is not shipped with auditkit; see docs/benchmarks-bias.md (license CC BY-SA 4.0).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditkit.errors import InputError
from auditkit.records import Prompt
from auditkit.sources.base import LoadedSource, file_hash, prompt_sources, require_target

__all__ = ["LABELS", "STEREOSET_ID", "StereoSetSource", "stereoset_prompts"]

STEREOSET_ID = "stereoset"
LABELS = ("stereotype", "anti-stereotype", "unrelated")
"""The candidates' order in every prompt."""
_TASKS = ("intrasentence", "intersentence")
# The Hugging Face copy stores gold_label as a class index; the official file as text.
_LABEL_INDEX = {0: "anti-stereotype", 1: "stereotype", 2: "unrelated"}


@prompt_sources.register("stereoset")
class StereoSetSource:
    """``stereoset:FILE``: one prompt per item of ``data.intrasentence`` and ``data.intersentence``."""

    analyzers: tuple[str, ...] | None = (STEREOSET_ID,)
    needs_loglik = True
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = require_target(scheme="stereoset", target=target, example="dev.json")

    def __repr__(self) -> str:
        return f"StereoSetSource(path={str(self.path)!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        prompts = stereoset_prompts(path=self.path)
        return LoadedSource(
            id=STEREOSET_ID, version=None, hash=file_hash(path=self.path), source=f"stereoset:{self.path}",
            prompts=tuple(prompts),
        )


def stereoset_prompts(*, path: str | Path) -> list[Prompt]:
    """One prompt per item; ``InputError`` naming the file and the item's JSON path for bad input."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(
            f"StereoSet file {str(file)!r} not found. Download dev.json from the dataset's repository "
            "(see docs/benchmarks-bias.md) and pass its path."
        )
    try:
        document = json.loads(file.read_bytes())
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not any(isinstance(data.get(t), list) for t in _TASKS):
        raise InputError(
            f"{file}: expected the official layout "
            '{"data": {"intrasentence": [...], "intersentence": [...]}}.'
        )
    prompts: list[Prompt] = []
    for task in _TASKS:
        items = data.get(task, [])
        if not isinstance(items, list):
            raise InputError(f"{file}: data.{task} must be a list of items.")
        for number, item in enumerate(items):
            prompts.append(_prompt(item, task=task, where=f"{file}: data.{task}[{number}]"))
    if not prompts:
        raise InputError(f"{file}: data.intrasentence and data.intersentence hold no items.")
    return prompts


def _prompt(item: Any, *, task: str, where: str) -> Prompt:
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with context, target, bias_type and sentences.")
    fields = {}
    for name in ("context", "target", "bias_type"):
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}.{name} is missing or not a non-empty string.")
        fields[name] = value
    sentences = item.get("sentences")
    if not isinstance(sentences, list):
        raise InputError(f"{where}.sentences is missing or not a list.")
    by_label: dict[str, str] = {}
    for k, sentence in enumerate(sentences):
        at = f"{where}.sentences[{k}]"
        if not isinstance(sentence, dict) or not isinstance(sentence.get("sentence"), str):
            raise InputError(f"{at}.sentence is missing or not a string.")
        label = sentence.get("gold_label")
        label = _LABEL_INDEX.get(label, label) if isinstance(label, int) and not isinstance(label, bool) else label
        if label not in LABELS:
            raise InputError(f"{at}.gold_label is {label!r}; expected one of {', '.join(LABELS)}.")
        if label in by_label:
            raise InputError(f"{at}.gold_label {label!r} appears twice in this item; each label once.")
        by_label[label] = sentence["sentence"]
    absent = [label for label in LABELS if label not in by_label]
    if absent:
        raise InputError(f"{where}.sentences lacks the {', '.join(absent)} sentence(s); each item has all three.")
    # Intersentence candidates follow the context after a space; intrasentence ones stand alone.
    context = fields["context"] if task == "intersentence" else ""
    candidates = tuple((" " + by_label[label]) if context else by_label[label] for label in LABELS)
    key = item.get("id") if isinstance(item.get("id"), str) and item.get("id") else json.dumps(
        [fields["context"], list(candidates)], ensure_ascii=False
    )
    pid = hashlib.sha256(f"{STEREOSET_ID}\0{task}\0{key}".encode()).hexdigest()[:16]
    return Prompt(
        id=pid, suite=STEREOSET_ID, template=task, prompt=context,
        attributes={"bias_type": fields["bias_type"], "target": fields["target"], "task": task},
        base_id=pid, analyzers=(STEREOSET_ID,), continuations=candidates,
    )

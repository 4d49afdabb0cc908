"""``bold:DIR``: BOLD (Dhamala et al. 2021), open-ended generation prompts from the official prompt files.

``DIR`` is the dataset's repository (or its ``prompts/`` folder, or one prompt file) holding
``gender_prompt.json``, ``race_prompt.json``, ``religious_ideology_prompt.json``,
``political_ideology_prompt.json`` and ``profession_prompt.json``; each maps a group to the people (or
subgroups) of that group and each of those to its prompts::

    {"American_actors": {"Jacob_Zachar": ["Jacob Zachar is an American actor whose ", ...], ...}, ...}

Every prompt is one plain continuation prompt (its trailing space dropped: the model writes the next
word's space itself, as BPE models expect). The domain (file) is the prompt's axis, prefixed ``bold_`` so
BOLD's groups are never mixed with the built-in bias suite's axes of the same name (``gender``); the
group is the file's group key. Attributes: ``axis`` (``bold_gender``), ``domain`` (``gender``), ``group``
(``American_actresses``) and ``person`` (the name key).

The prompts name the ``bias`` and ``toxicity`` analyzers: every per-output measure of the bias analyzer
(sentiment, refusal, length, the toxicity scores, any measure added to it later, such as regard) is
compared across the groups of each domain, with intervals — BOLD prompts are not counterfactual pairs, so
the comparisons are unpaired. Decoding: 20 new tokens (pinned: the scorers see continuations of the same
length), greedy; with ``--samples K`` above 1 each prompt is sampled K times at temperature 1.0 unless
``--temperature`` says otherwise. The dataset is not shipped with auditkit (CC BY-SA 4.0); see
docs/benchmarks-bias.md.
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

__all__ = ["AXIS_PREFIX", "BOLD_ANALYZERS", "BOLD_DOMAINS", "BOLD_ID", "BoldSource", "bold_files", "bold_prompts"]

BOLD_ID = "bold"
BOLD_DOMAINS = ("gender", "race", "religious_ideology", "political_ideology", "profession")
"""The domains of the official files, in the paper's order (other ``*_prompt.json`` files are read too)."""
BOLD_ANALYZERS = ("bias", "toxicity")
AXIS_PREFIX = "bold_"
_PINS = {"max_new_tokens": 20}
_SUFFIX = "_prompt.json"


@prompt_sources.register("bold")
class BoldSource:
    """``bold:DIR``: one continuation prompt per BOLD prompt, compared by domain and group."""

    analyzers: tuple[str, ...] | None = BOLD_ANALYZERS
    needs_loglik = False
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = require_target(scheme="bold", target=target, example="bold/prompts")

    def __repr__(self) -> str:
        return f"BoldSource(path={str(self.path)!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        files = bold_files(path=self.path)
        count = samples or 1
        prompts = bold_prompts(files=files, samples=count)
        lines = "".join(f"{f.name} {file_hash(path=f)}\n" for f in files)
        # Sampled continuations only differ when sampling; one greedy continuation per prompt otherwise.
        generation = {"temperature": 1.0} if count > 1 else {"temperature": 0.0}
        return LoadedSource(
            id=BOLD_ID, version=None, hash=hashlib.sha256(lines.encode()).hexdigest(), source=f"bold:{self.path}",
            prompts=tuple(prompts), generation=generation,
        )


def bold_files(*, path: Path) -> list[Path]:
    """The prompt files: ``path`` itself, ``path/*_prompt.json`` or ``path/prompts/*_prompt.json``."""
    path = path.expanduser()
    if path.is_file():
        return [path]
    for folder in (path, path / "prompts"):
        files = sorted(folder.glob(f"*{_SUFFIX}")) if folder.is_dir() else []
        if files:
            order = {name: k for k, name in enumerate(BOLD_DOMAINS)}
            return sorted(files, key=lambda f: (order.get(_domain(f), len(order)), f.name))
    raise InputError(
        f"BOLD folder {str(path)!r} holds no *{_SUFFIX} files (neither it nor its prompts/ folder). Download the "
        "BOLD repository's prompts/ folder (see docs/benchmarks-bias.md) and pass it."
    )


def _domain(file: Path) -> str:
    name = file.name
    return name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else file.stem


def bold_prompts(*, files: list[Path], samples: int = 1) -> list[Prompt]:
    """Every prompt of every file, ``samples`` times; ``InputError`` naming the file and the JSON path."""
    prompts: list[Prompt] = []
    for file in files:
        domain = _domain(file)
        for group, person, position, text in _entries(file):
            base = hashlib.sha256("\0".join((BOLD_ID, domain, group, person, str(position), text)).encode())
            base_id = base.hexdigest()[:16]
            for k in range(samples):
                pid = base_id if samples == 1 else hashlib.sha256(f"{base_id}\0{k}".encode()).hexdigest()[:16]
                prompts.append(Prompt(
                    id=pid, suite=BOLD_ID, template=domain, sample=k, prompt=text.rstrip(),
                    attributes={"axis": AXIS_PREFIX + domain, "domain": domain, "group": group, "person": person},
                    base_id=base_id, analyzers=BOLD_ANALYZERS, generation=dict(_PINS),
                ))
    if not prompts:
        raise InputError(f"{', '.join(str(f) for f in files)}: hold no BOLD prompts.")
    return prompts


def _entries(file: Path) -> list[tuple[str, str, int, str]]:
    """``(group, person, position, prompt)`` of one file, validated."""
    try:
        document = json.loads(file.read_bytes())
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}).") from None
    except OSError as exc:
        raise InputError(f"{file}: cannot be read ({exc.strerror}).") from None
    shape = '{"group": {"person": ["prompt", ...]}}'
    if not isinstance(document, dict):
        raise InputError(f"{file}: expected BOLD's layout {shape}.")
    entries = []
    for group, people in document.items():
        if not isinstance(people, dict):
            raise InputError(f"{file}: {group!r} must map people to prompt lists, as in {shape}.")
        for person, texts in people.items():
            if not isinstance(texts, list):
                raise InputError(f"{file}: {group!r}.{person!r} must be a list of prompts.")
            for position, text in enumerate(texts):
                if not isinstance(text, str) or not text.strip():
                    raise InputError(f"{file}: {group!r}.{person!r}[{position}] is not a non-empty string.")
                entries.append((str(group), str(person), position, text))
    return entries

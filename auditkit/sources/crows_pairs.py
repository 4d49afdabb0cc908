"""``crows_pairs:FILE``: CrowS-Pairs (Nangia et al. 2020) from the official CSV users download themselves.

The file (``crows_pairs_anonymized.csv`` in the dataset's repository) has a header row naming at least
``sent_more``, ``sent_less``, ``stereo_antistereo`` and ``bias_type``; other columns (the unnamed index,
``annotations``, ``anon_writer``...) are ignored. Each row becomes one likelihood prompt with an empty
context and the two sentences as candidates (``sent_more`` first), exactly as lm-evaluation-harness's
``crows_pairs_english`` task asks: each sentence is scored from the start of the text. The dataset is not
shipped with auditkit; see docs/benchmarks-bias.md for where it comes from and its license (CC BY-SA 4.0).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditkit.errors import InputError
from auditkit.records import Prompt
from auditkit.sources.base import LoadedSource, file_hash, prompt_sources, require_target

__all__ = ["CROWS_PAIRS_ID", "CrowsPairsSource", "crows_pairs_prompts"]

CROWS_PAIRS_ID = "crows_pairs"
_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
_DIRECTIONS = ("stereo", "antistereo")


@prompt_sources.register("crows_pairs")
class CrowsPairsSource:
    """``crows_pairs:FILE``: one sentence pair per CSV row, scored by log-likelihood (needs the ability)."""

    analyzers: tuple[str, ...] | None = (CROWS_PAIRS_ID,)
    needs_loglik = True
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = require_target(scheme="crows_pairs", target=target, example="crows_pairs_anonymized.csv")

    def __repr__(self) -> str:
        return f"CrowsPairsSource(path={str(self.path)!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        # Likelihoods are deterministic: --samples does not apply (k samples would be k identical scores).
        prompts = crows_pairs_prompts(path=self.path)
        return LoadedSource(
            id=CROWS_PAIRS_ID, version=None, hash=file_hash(path=self.path), source=f"crows_pairs:{self.path}",
            prompts=tuple(prompts),
        )


def crows_pairs_prompts(*, path: str | Path) -> list[Prompt]:
    """One prompt per row; ``InputError`` naming FILE:LINE and the field for bad rows."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(
            f"CrowS-Pairs file {str(file)!r} not found. Download crows_pairs_anonymized.csv from the dataset's "
            "repository (see docs/benchmarks-bias.md) and pass its path."
        )
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    try:
        with file.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(
                    f"{file}:1: the header lacks column(s) {', '.join(missing)}; the official CrowS-Pairs CSV "
                    f"has {', '.join(_COLUMNS)} (and others, which are ignored)."
                )
            for row in reader:
                prompt = _prompt(row, where=f"{file}:{reader.line_num}")
                # A repeated pair counts again, as in lm-evaluation-harness; its id must differ.
                repeat = seen.get(prompt.id, 0)
                seen[prompt.id] = repeat + 1
                if repeat:
                    unique = hashlib.sha256(f"{prompt.id}\0{repeat}".encode()).hexdigest()[:16]
                    prompt = dataclasses.replace(prompt, id=unique, base_id=unique)
                prompts.append(prompt)
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except csv.Error as exc:
        raise InputError(f"{file}: not a valid CSV file ({exc}).") from None
    if not prompts:
        raise InputError(f"{file}: holds no sentence pairs (only a header?).")
    return prompts


def _prompt(row: Mapping[str, Any], *, where: str) -> Prompt:
    values = {}
    for column in _COLUMNS:
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: field {column!r} is missing or empty.")
        values[column] = value.strip() if column in ("stereo_antistereo", "bias_type") else value
    if values["stereo_antistereo"] not in _DIRECTIONS:
        raise InputError(
            f"{where}: field 'stereo_antistereo' is {values['stereo_antistereo']!r}; expected stereo or antistereo."
        )
    key = hashlib.sha256("\0".join((CROWS_PAIRS_ID, values["sent_more"], values["sent_less"])).encode()).hexdigest()
    return Prompt(
        id=key[:16], suite=CROWS_PAIRS_ID, template="pair", prompt="",
        attributes={"bias_type": values["bias_type"], "stereo_antistereo": values["stereo_antistereo"]},
        base_id=key[:16], analyzers=(CROWS_PAIRS_ID,), continuations=(values["sent_more"], values["sent_less"]),
    )

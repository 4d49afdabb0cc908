"""``rtp:FILE``: RealToxicityPrompts (Gehman et al. 2020) from the JSONL file users download themselves.

Each line of ``prompts.jsonl`` looks like::

    {"filename": "0766186-bc7f2a64cb271f5f56cf6f25570cd9ed.txt", "begin": 340, "end": 564,
     "challenging": false, "prompt": {"text": "Corruption involving ...", "toxicity": 0.295, ...},
     "continuation": {"text": " ...", ...}}

Only ``prompt.text`` is required. The dataset is not shipped with auditkit; see docs/toxicity.md.
Prompts pin 20 new tokens (the paper's setting) and, when ``samples > 1``, nucleus sampling
(temperature 1, top-p 0.9) so the k samples differ and expected maximum toxicity means something.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditkit.errors import InputError
from auditkit.jsonl import read_jsonl
from auditkit.records import Prompt
from auditkit.sources.base import LoadedSource, file_hash, prompt_sources, require_target

__all__ = ["RTP_SUITE_ID", "RtpSource", "rtp_prompts"]

RTP_SUITE_ID = "rtp"
_ANALYZERS = ("toxicity",)
_LINE_SHAPE = ' RealToxicityPrompts lines look like {"prompt": {"text": "..."}, ...}.'


@prompt_sources.register("rtp")
class RtpSource:
    """``rtp:FILE``: one toxicity prompt per line, ``--samples`` continuations each (default 1)."""

    analyzers: tuple[str, ...] | None = _ANALYZERS
    needs_loglik = False
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = require_target(scheme="rtp", target=target, example="prompts.jsonl")

    def __repr__(self) -> str:
        return f"RtpSource(path={str(self.path)!r})"

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        prompts = rtp_prompts(path=self.path, samples=samples or 1)
        return LoadedSource(
            id=RTP_SUITE_ID, version=None, hash=file_hash(path=self.path), source=f"rtp:{self.path}",
            prompts=tuple(prompts),
        )


def rtp_prompts(
    *,
    path: str | Path,
    limit: int | None = None,
    challenging_only: bool = False,
    samples: int = 1,
) -> list[Prompt]:
    """Prompts from a RealToxicityPrompts JSONL file: ``samples`` per row, the first ``limit`` rows kept.

    Attributes: ``challenging`` ("true"/"false"), ``prompt_toxic`` ("true" when the dataset's own
    prompt toxicity is ≥ 0.5, "false" below, "unknown" when absent) and ``source``. Bad lines raise
    ``InputError`` naming the file and line.
    """
    file = Path(path).expanduser()
    if samples < 1:
        raise InputError(f"samples must be at least 1, got {samples}.")
    if limit is not None and limit < 0:
        raise InputError(f"limit must not be negative, got {limit}.")
    if not file.is_file():
        raise InputError(
            f"RealToxicityPrompts file {str(file)!r} not found. Download prompts.jsonl from the dataset's "
            f"release (see docs/toxicity.md) and pass its path."
        )
    generation: dict[str, float | int] = {"max_new_tokens": 20}
    if samples > 1:
        generation.update({"temperature": 1.0, "top_p": 0.9})
    prompts: list[Prompt] = []
    rows = 0
    for number, row in read_jsonl(path=file, hint=_LINE_SHAPE):
        if limit is not None and rows >= limit:
            break
        text, challenging, toxicity, key = _parse(row, where=f"{file}:{number}")
        if challenging_only and not challenging:
            continue
        rows += 1
        base_id = _hash(key)
        attributes = {
            "challenging": "true" if challenging else "false",
            "prompt_toxic": "unknown" if toxicity is None else ("true" if toxicity >= 0.5 else "false"),
            "source": "RealToxicityPrompts",
        }
        for sample in range(samples):
            prompts.append(
                Prompt(
                    id=_hash(f"{key}\0{sample}"),
                    suite=RTP_SUITE_ID,
                    template="rtp",
                    sample=sample,
                    prompt=text,
                    attributes=attributes,
                    base_id=base_id,
                    analyzers=_ANALYZERS,
                    generation=dict(generation),
                )
            )
    return prompts


def _parse(row: dict[str, Any], *, where: str) -> tuple[str, bool, float | None, str]:
    prompt = row.get("prompt")
    if not isinstance(prompt, dict) or not isinstance(prompt.get("text"), str) or not prompt["text"]:
        raise InputError(
            f"{where}: field 'prompt.text' is missing or not a non-empty string.{_LINE_SHAPE}"
        )
    challenging = row.get("challenging", False)
    if not isinstance(challenging, bool):
        raise InputError(f"{where}: field 'challenging' must be true or false, got {challenging!r}.")
    toxicity = prompt.get("toxicity")
    if toxicity is not None and (isinstance(toxicity, bool) or not isinstance(toxicity, (int, float))):
        raise InputError(f"{where}: field 'prompt.toxicity' must be a number or null, got {toxicity!r}.")
    # The dataset identifies a prompt by its source document span; fall back to the text when absent.
    key = f"{row.get('filename', '')}\0{row.get('begin', '')}\0{row.get('end', '')}\0{prompt['text']}"
    return prompt["text"], challenging, None if toxicity is None else float(toxicity), key


def _hash(text: str) -> str:
    return hashlib.sha256(f"{RTP_SUITE_ID}\0{text}".encode()).hexdigest()[:16]

"""``replay:<file.jsonl>``: audit outputs produced elsewhere (another tool, a hosted model, a past run).

The file holds one JSON object per line (contract, see README)::

    {"id": "<prompt id>", "output": "text", "input_tokens": 12, "output_tokens": 40, "latency_s": 0.8,
     "energy_j": 3.1}

``id`` and ``output`` are required; the rest are optional. Prompt ids come from ``auditkit prompts``.

Prompts of likelihood benchmarks (those with ``continuations``) replay log-likelihoods instead of text,
one object per continuation in the prompt's order (``output`` may then be left out)::

    {"id": "<prompt id>", "loglikelihoods": [{"logprob": -31.2, "tokens": 9}, {"logprob": -33.0, "tokens": 9}]}

``logprob`` (natural-log total of the continuation) and ``tokens`` (its token count, ≥ 1) are required,
``token_logprobs`` (a list of numbers) and ``greedy`` (true/false) optional.
An ``outputs.jsonl`` of an earlier auditkit run is also a valid replay file: its lines with
``"output": null`` and an ``"error"`` replay as failed generations.

The whole file is validated when the adapter is built (bad JSON, missing fields, wrong types, duplicate
ids, bad UTF-8 → ``InputError`` naming file and line), so a broken file fails before any work starts.
``missing_ids`` / ``unused_ids`` let the engine check the file against the planned prompts up front.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.errors import ConfigError, InputError
from auditkit.jsonl import JsonlProblem, scan_jsonl
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt

__all__ = ["ReplayAdapter", "ReplayOptions", "make_replay"]

_SHOW = 5
"""How many problems / ids an error message lists before saying "and N more"."""
_INT_FIELDS = ("input_tokens", "output_tokens")
_FLOAT_FIELDS = ("latency_s", "energy_j")


@dataclass(frozen=True, slots=True)
class _Row:
    """One replayed answer. Slots keep 100k+ rows small; the output string is the only copy."""

    output: str | None
    error: str | None
    input_tokens: int | None
    output_tokens: int | None
    latency_s: float | None
    energy_j: float | None
    loglikelihoods: tuple[LoglikResult, ...] | None = None


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    return shown + (f" and {len(items) - _SHOW} more" if len(items) > _SHOW else "")


def _parse_row(record: Any, *, where: str) -> tuple[str, _Row]:
    """Validate one decoded line; raises ``ValueError`` with a message that starts with ``where``."""
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}.")
    rid = record.get("id")
    if not isinstance(rid, str) or not rid:
        raise ValueError(f"{where}: field 'id' is missing or not a non-empty string.")
    loglikelihoods = _parse_loglikelihoods(record.get("loglikelihoods"), where=where, rid=rid)
    if "output" not in record and loglikelihoods is None:
        raise ValueError(f"{where}: field 'output' is missing (id {rid!r}).")
    output, error = record.get("output", ""), record.get("error")
    if output is None:
        if not isinstance(error, str) or not error:
            raise ValueError(f"{where}: 'output' is null without an 'error' saying why (id {rid!r}).")
    elif not isinstance(output, str):
        raise ValueError(f"{where}: 'output' must be a string, got {type(output).__name__} (id {rid!r}).")
    else:
        error = None
    numbers: dict[str, Any] = {}
    for key in _INT_FIELDS + _FLOAT_FIELDS:
        value = record.get(key)
        if value is None:
            numbers[key] = None
            continue
        wanted_int = key in _INT_FIELDS
        ok = (
            not isinstance(value, bool)
            and isinstance(value, int if wanted_int else (int, float))
            and math.isfinite(value)
            and value >= 0
        )
        if not ok:
            kind = "a non-negative integer" if wanted_int else "a non-negative number"
            raise ValueError(f"{where}: '{key}' must be {kind}, got {value!r} (id {rid!r}).")
        numbers[key] = value if wanted_int else float(value)
    return rid, _Row(output=output, error=error, loglikelihoods=loglikelihoods, **numbers)


def _parse_loglikelihoods(value: Any, *, where: str, rid: str) -> tuple[LoglikResult, ...] | None:
    """The ``loglikelihoods`` field of one line (see the module docstring)."""
    if value is None:
        return None
    shape = ' Expected a list of {"logprob": <number>, "tokens": <integer >= 1>}, one per continuation.'
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: 'loglikelihoods' must be a non-empty list (id {rid!r}).{shape}")
    results = []
    for k, item in enumerate(value):
        at = f"{where}: loglikelihoods[{k}]"
        if not isinstance(item, dict):
            raise ValueError(f"{at} is not an object (id {rid!r}).{shape}")
        logprob, tokens = item.get("logprob"), item.get("tokens")
        if isinstance(logprob, bool) or not isinstance(logprob, (int, float)) or not math.isfinite(logprob):
            raise ValueError(f"{at}.logprob must be a finite number, got {logprob!r} (id {rid!r}).{shape}")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
            raise ValueError(f"{at}.tokens must be an integer >= 1, got {tokens!r} (id {rid!r}).{shape}")
        steps = item.get("token_logprobs")
        if steps is not None and (
            not isinstance(steps, list)
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in steps)
        ):
            raise ValueError(f"{at}.token_logprobs must be a list of numbers (id {rid!r}).")
        greedy = item.get("greedy")
        if greedy is not None and not isinstance(greedy, bool):
            raise ValueError(f"{at}.greedy must be true, false or null, got {greedy!r} (id {rid!r}).")
        results.append(LoglikResult(
            logprob=float(logprob), tokens=tokens, greedy=greedy,
            token_logprobs=None if steps is None else tuple(float(x) for x in steps),
        ))
    return tuple(results)


class ReplayAdapter:
    """Answers each prompt with the recorded output for its id."""

    default_batch_size = 4096

    def __init__(self, *, path: Path) -> None:
        self.path = path
        self._rows, digest = self._load(path)
        self.identity = AdapterIdentity(adapter="replay", model=path.name, weights_hash=digest)

    def __repr__(self) -> str:
        return f"ReplayAdapter(path={str(self.path)!r}, rows={len(self._rows)})"

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def _load(path: Path) -> tuple[dict[str, _Row], str]:
        if not path.is_file():
            raise InputError(
                f"Replay file {path} does not exist (or is not a file). Give --model replay:PATH.jsonl."
            )
        rows: dict[str, _Row] = {}
        first_line: dict[str, int] = {}
        duplicates: list[str] = []
        problems: list[str] = []
        sha = hashlib.sha256()
        lines = scan_jsonl(path=path, bad_json="invalid JSON", objects_only=False, digest=sha)
        for number, record in lines:
            if len(problems) >= _SHOW:
                break  # the message lists only the first few; reading on would just cost time
            if isinstance(record, JsonlProblem):
                problems.append(record.message)
                continue
            try:
                rid, row = _parse_row(record, where=f"{path}:{number}")
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if rid in first_line:
                duplicates.append(f"{rid!r} on lines {first_line[rid]} and {number}")
                continue
            first_line[rid] = number
            rows[rid] = row
        if problems:
            raise InputError(
                f"Replay file {path} is not valid replay JSONL "
                "(one object per line with 'id' and 'output'):\n  " + "\n  ".join(problems)
            )
        if duplicates:
            raise InputError(
                f"Replay file {path} has {len(duplicates)} duplicate id(s): {_listing(duplicates)}. "
                "Each prompt id must appear once; keep one output per id."
            )
        if not rows:
            raise InputError(f"Replay file {path} holds no records; expected one JSON object per line.")
        return rows, sha.hexdigest()

    def missing_ids(self, *, prompt_ids: Iterable[str]) -> list[str]:
        """Prompt ids (in the given order) that the file has no output for."""
        return [pid for pid in prompt_ids if pid not in self._rows]

    def unused_ids(self, *, prompt_ids: Iterable[str]) -> list[str]:
        """Ids in the file (in file order) that none of the given prompts has: a file for another suite?"""
        wanted = set(prompt_ids)
        return [rid for rid in self._rows if rid not in wanted]

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        missing = self.missing_ids(prompt_ids=(p.id for p in prompts))
        if missing:
            raise InputError(
                f"Replay file {self.path} has no output for {len(missing)} prompt id(s): "
                f"{_listing(missing)}. "
                "Make the file from `auditkit prompts` for the same suites, samples and seed."
            )
        generations = []
        for prompt in prompts:
            row = self._rows[prompt.id]
            generations.append(
                Generation(
                    prompt_id=prompt.id,
                    output=row.output,
                    error=row.error,
                    input_tokens=row.input_tokens,
                    output_tokens=row.output_tokens,
                    latency_s=row.latency_s,
                    energy_j=row.energy_j,
                    energy_method="provided" if row.energy_j is not None else None,
                )
            )
        return generations

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """The recorded log-likelihood of each request's continuation (by prompt id and position)."""
        missing = self.missing_ids(prompt_ids=dict.fromkeys(r.prompt_id for r in requests))
        if missing:
            raise InputError(
                f"Replay file {self.path} has no log-likelihoods for {len(missing)} prompt id(s): "
                f"{_listing(missing)}. Make the file from `auditkit prompts` for the same benchmark files."
            )
        results = []
        for request in requests:
            recorded = self._rows[request.prompt_id].loglikelihoods
            if recorded is None:
                error = f"the replay line of {request.prompt_id!r} has no 'loglikelihoods'"
                results.append(LoglikResult(logprob=None, error=error))
            elif request.index >= len(recorded):
                error = (f"the replay line of {request.prompt_id!r} has {len(recorded)} loglikelihoods; "
                         f"continuation {request.index} has none")
                results.append(LoglikResult(logprob=None, error=error))
            else:
                results.append(recorded[request.index])
        return results

    def close(self) -> None:
        """Nothing to release (the file was read once, at construction)."""


class ReplayOptions(AdapterOptions):
    """The ``replay`` scheme takes no ``--model-arg`` options: everything is in the file."""


@adapters.register("replay")
@adapter_factory(
    abilities=AdapterAbilities(replayed=True, energy_source="replayed", loglikelihood=True), options=ReplayOptions
)
def make_replay(*, target: str, options: Mapping[str, str]) -> Adapter:
    """Replay recorded outputs from a JSONL file: one {"id", "output"} object per line."""
    if not target:
        raise ConfigError("replay: needs a file, e.g. --model replay:outputs.jsonl.")
    parse_options(model=ReplayOptions, adapter="replay", options=options)
    return ReplayAdapter(path=Path(target).expanduser())

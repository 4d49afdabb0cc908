"""The run directory's files: ``results.json`` (the verdict) and ``outputs.jsonl`` (outputs with scores).

``outputs.jsonl`` is streamed one line per prompt so a 100k-prompt run never holds its serialised form in
memory; ``results.json`` is written atomically (temporary file + rename) after outputs.jsonl, so a
results.json on disk always describes a complete outputs.jsonl. Non-finite floats (NaN, inf) are written
as ``null``: strict JSON has no NaN and a missing number is honest where a NaN would break readers.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.jsonl import read_jsonl
from auditkit.records import Finding, Generation, Metric, Prompt, Score

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OUTPUTS_FILE",
    "RESULTS_FILE",
    "RunResults",
    "SCHEMA_VERSION",
    "iter_outputs",
    "json_safe",
    "load_results",
    "output_line",
    "validate_results",
    "write_json_atomic",
    "write_outputs",
]

SCHEMA_VERSION = "1.0"
RESULTS_FILE = "results.json"
OUTPUTS_FILE = "outputs.jsonl"


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf replaced by ``None`` and tuples by lists (JSON-ready)."""
    if value is None or type(value) in (str, int, bool):  # most leaves: skip the ABC checks below
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars from analyzers
        return json_safe(value.item())
    return value


def output_line(*, prompt: Prompt, generation: Generation, scores: Sequence[Score]) -> dict[str, Any]:
    """One outputs.jsonl object (the contract in DESIGN.md, plus finish_reason, cpu_s and score errors)."""
    return json_safe(_line(prompt=prompt, generation=generation, scores=scores))


def _line(*, prompt: Prompt, generation: Generation, scores: Sequence[Score]) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": prompt.id,
        "suite": prompt.suite,
        "template": prompt.template,
        "sample": prompt.sample,
        "base_id": prompt.base_id,
        "attributes": dict(prompt.attributes),
        "pair": prompt.pair,
    }
    if prompt.messages is not None:
        line["messages"] = [m.to_dict() for m in prompt.messages]
    else:
        line["prompt"] = prompt.prompt
    line.update(
        reference=prompt.reference,
        analyzers=list(prompt.analyzers),
        output=generation.output,
        error=generation.error,
        finish_reason=generation.finish_reason,
        input_tokens=generation.input_tokens,
        output_tokens=generation.output_tokens,
        latency_s=generation.latency_s,
        cpu_s=generation.cpu_s,
        energy_j=generation.energy_j,
        energy_method=generation.energy_method,
        cached=generation.cached,
    )
    if generation.reference_logprob is not None:
        line["reference_logprob"] = generation.reference_logprob
    if prompt.continuations is not None:
        line["continuations"] = list(prompt.continuations)
    if generation.loglikelihoods is not None:
        line["loglikelihoods"] = [r.to_dict() for r in generation.loglikelihoods]
    values: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for score in scores:
        key = f"{score.analyzer}.{score.name}"
        values[key] = score.value
        if score.label is not None:
            labels[key] = score.label
        if score.error is not None:
            errors[key] = score.error
    line["scores"] = values
    line["labels"] = labels
    line["score_errors"] = errors
    return line


def _dumps_line(line: dict[str, Any]) -> str:
    # Nearly every line is plain JSON already; walking it with json_safe cost more than encoding it.
    # NaN/inf (ValueError) or a numpy scalar (TypeError) sends the line through json_safe.
    try:
        return json.dumps(line, ensure_ascii=False, allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(json_safe(line), ensure_ascii=False, allow_nan=False)


def _atomic_writer(path: Path) -> tuple[Any, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    return os.fdopen(fd, "w", encoding="utf-8"), Path(tmp)


def write_outputs(
    *,
    path: Path,
    prompts: Iterable[Prompt],
    generations: Mapping[str, Generation],
    scores: Mapping[str, Sequence[Score]],
) -> int:
    """Stream one line per prompt (in plan order) to ``path`` atomically; returns the line count."""
    handle, tmp = _atomic_writer(path)
    count = 0
    try:
        with handle:
            for prompt in prompts:
                line = _line(prompt=prompt, generation=generations[prompt.id], scores=scores.get(prompt.id, ()))
                handle.write(_dumps_line(line))
                handle.write("\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write_json_atomic(*, path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON via a temporary file and a rename (readers never see half a file)."""
    handle, tmp = _atomic_writer(path)
    try:
        with handle:
            json.dump(json_safe(data), handle, ensure_ascii=False, indent=2, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class RunResults:
    """A run directory read back: typed metrics and findings plus the raw document."""

    run_dir: Path
    schema_version: str
    status: str
    manifest: Mapping[str, Any]
    metrics: tuple[Metric, ...]
    findings: tuple[Finding, ...]
    analyses: Mapping[str, Any]
    gate: Mapping[str, Any] | None
    data: Mapping[str, Any]
    """The whole results.json document."""

    def metric(self, *, analyzer: str, name: str, group: Mapping[str, str] | None = None) -> Metric | None:
        """The metric ``analyzer.name`` for ``group`` (``None`` = overall), if the run has it."""
        for metric in self.metrics:
            if (
                metric.analyzer == analyzer
                and metric.name == name
                and (metric.group or None) == (group or None)
            ):
                return metric
        return None

    def outputs(self) -> Iterator[dict[str, Any]]:
        """The outputs.jsonl lines, streamed."""
        return iter_outputs(run_dir=self.run_dir)

    def metrics_frame(self) -> pd.DataFrame:
        """The metrics as a pandas DataFrame: one row each, one column per group attribute."""
        from auditkit.frames import metrics_frame

        return metrics_frame(results=self.data)

    def findings_frame(self) -> pd.DataFrame:
        """The findings as a pandas DataFrame."""
        from auditkit.frames import findings_frame

        return findings_frame(results=self.data)

    def scores_frame(self) -> pd.DataFrame:
        """Every output with its attributes and scores as a pandas DataFrame (reads outputs.jsonl)."""
        from auditkit.frames import scores_frame

        return scores_frame(run_dir=self.run_dir)


def load_results(*, run_dir: Path) -> RunResults:
    """Read ``run_dir/results.json``; ``InputError`` (exit 2) naming the file when missing or unreadable."""
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist: is {run_dir} the --out directory of an `auditkit run`?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} cannot be read as JSON ({exc}); rerun the audit to rewrite it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("schema_version"), str):
        raise InputError(f"{path} is not an auditkit results file (no schema_version).")
    major = data["schema_version"].split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise InputError(
            f"{path} has schema_version {data['schema_version']}; this auditkit reads {SCHEMA_VERSION}. "
            "Use the auditkit version that wrote it, or rerun the audit."
        )
    try:
        metrics = tuple(Metric.from_dict(m) for m in data.get("metrics", []))
        findings = tuple(Finding.from_dict(f) for f in data.get("findings", []))
    except (TypeError, AttributeError) as exc:
        raise InputError(f"{path}: malformed metrics or findings ({exc}).") from None
    return RunResults(
        run_dir=run_dir,
        schema_version=data["schema_version"],
        status=str(data.get("status", "")),
        manifest=data.get("manifest", {}),
        metrics=metrics,
        findings=findings,
        analyses=data.get("analyses", {}),
        gate=data.get("gate"),
        data=data,
    )


def iter_outputs(*, run_dir: Path) -> Iterator[dict[str, Any]]:
    """Stream ``run_dir/outputs.jsonl`` line by line; ``InputError`` names the file and line when bad."""
    path = Path(run_dir) / OUTPUTS_FILE
    if not path.exists():
        raise InputError(f"{path} does not exist: is {run_dir} the --out directory of an `auditkit run`?")
    for _, record in read_jsonl(path=path):
        yield record


def validate_results(*, data: Mapping[str, Any]) -> None:
    """Check a results document against the shipped JSON Schema; ``InputError`` lists the first problems."""
    import jsonschema

    from auditkit.resources import package_file

    schema = json.loads(package_file("schemas/results.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        shown = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors[:5]
        )
        raise InputError(f"results.json does not match its schema ({len(errors)} problem(s)): {shown}")

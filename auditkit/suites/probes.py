"""One probe of a suite file resolved: its templates compiled, its rows read (inline or ``rows_from``).

Imported only once a suite is loaded: it pulls in pydantic (the file schema) and jinja2 (templates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.errors import SuiteError
from auditkit.jsonl import read_jsonl
from auditkit.suites.file import ProbeSpec, SuiteFile, display_path
from auditkit.suites.model import Probe
from auditkit.suites.templating import Template, TemplateOrigin, compile_template

__all__ = ["resolve_probe"]


def resolve_probe(
    *,
    suite_file: SuiteFile,
    index: int,
    spec: ProbeSpec,
    groups: Mapping[str, tuple[str, ...]],
    default_samples: int,
) -> Probe:
    suite = suite_file.spec

    def template(source: str, *path: str | int) -> Template:
        name = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))
        origin = TemplateOrigin(
            file=suite_file.display, line=suite_file.line("probes", index, *path), probe=spec.id, field=name
        )
        return compile_template(source=source, origin=origin)

    rows, row_origins = _rows(suite_file=suite_file, index=index, spec=spec)
    messages = None
    if spec.messages is not None:
        messages = tuple(
            (m.role, template(m.content, "messages", i, "content")) for i, m in enumerate(spec.messages)
        )
    probe_pins = spec.generation.pins()
    analyzers = tuple(spec.analyzers if spec.analyzers is not None else suite.analyzers)
    counterfactual = tuple((axis, tuple(groups[axis])) for axis in spec.counterfactual)
    axes = tuple((name, tuple(str(v) for v in values)) for name, values in spec.axes.items())
    definition = {
        "suite": suite.id,
        "id": spec.id,
        "description": spec.description,
        "prompt": spec.prompt,
        "messages": [m.model_dump() for m in spec.messages] if spec.messages is not None else None,
        "reference": spec.reference,
        "attributes": dict(sorted(spec.attributes.items())),
        "axes": {name: list(values) for name, values in axes},
        "counterfactual": {axis: list(values) for axis, values in counterfactual},
        "rows": [dict(row) for row in rows],
        "analyzers": list(analyzers),
        "generation": probe_pins,
        "samples": spec.samples,
        "default_samples": default_samples,
    }
    return Probe(
        suite=suite.id,
        id=spec.id,
        description=spec.description,
        file=suite_file.display,
        line=suite_file.line("probes", index),
        prompt=template(spec.prompt, "prompt") if spec.prompt is not None else None,
        messages=messages,
        reference=template(spec.reference, "reference") if spec.reference is not None else None,
        attributes=tuple((k, template(v, "attributes", k)) for k, v in spec.attributes.items()),
        rows=rows,
        row_origins=row_origins,
        axes=axes,
        counterfactual=counterfactual,
        analyzers=analyzers,
        generation=probe_pins,
        samples=spec.samples,
        default_samples=default_samples,
        definition=definition,
    )


def _rows(
    *, suite_file: SuiteFile, index: int, spec: ProbeSpec
) -> tuple[tuple[Mapping[str, Any], ...], tuple[str, ...]]:
    if spec.rows is not None:
        return tuple(spec.rows), tuple(f"row {i + 1}" for i in range(len(spec.rows)))
    if spec.rows_from is None:
        return ({},), ("",)
    where = suite_file.where("probes", index, "rows_from")
    path = (suite_file.path.parent / spec.rows_from).resolve()
    shown = display_path(path=path)
    if not path.is_file():
        raise SuiteError(f"{where}: rows file '{spec.rows_from}' not found (looked for {shown}).")
    rows: list[Mapping[str, Any]] = []
    origins: list[str] = []
    reserved = set(dict(spec.axes)) | ({"axis", "group"} if spec.counterfactual else set())
    hint = f" Each line of a rows file must be one JSON object (used by {where})."
    for number, row in read_jsonl(
        path=path, display=shown, hint=hint, text_only=True, bad_json="invalid JSON", error=SuiteError
    ):
        clash = sorted(set(row) & reserved)
        if clash:
            raise SuiteError(
                f"{shown}:{number}: keys {clash} are also set by the probe's axes or 'counterfactual' "
                f"({where})."
            )
        rows.append(row)
        origins.append(f"{shown}:{number}")
    if not rows:
        raise SuiteError(f"{where}: rows file {shown} holds no rows.")
    return tuple(rows), tuple(origins)

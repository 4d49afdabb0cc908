"""Probe suites: load one (built-in name or YAML path), resolve its includes and rows, expand it to prompts.

A suite file (format in ``auditkit.suite_file`` and the README) holds probes: prompt templates with
variables. ``load_suite`` resolves a file into a ``Suite`` (every template compiled, every include and
rows file read, a hash of the whole resolved definition); ``expand`` turns it into ``Prompt`` records::

    suite = load_suite(ref="bias")
    prompts = expand(suite=suite, samples=3)

Expansion of one probe = rows × cartesian(axes) × (each counterfactual axis × its groups) × samples.
Ids are stable hashes of (suite id, probe id, variable values, sample), so the same suite gives the
same ids on every machine and run; editing a template's wording keeps its ids (the cache keys on text).

Defaults flow from the outside in: an including suite's ``groups``, ``samples`` and ``generation``
override those of the suites it includes (so a user can extend the built-in ``gender`` list); a
probe's own ``samples``, ``generation`` and ``analyzers`` win over every suite default, and over the
command line too, because a probe pins what its metric needs (memorization: one greedy sample).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import SuiteError
from auditkit.expansion import MAX_PROMPTS, canonical_json, check_size, expand, expand_suites
from auditkit.resources import data_dir

if TYPE_CHECKING:
    from auditkit.suite_file import ProbeSpec, SuiteFile
    from auditkit.templating import Template

# pydantic (the file schema) and jinja2 (templates) load only once a suite is loaded, inside the functions
# below: `auditkit suites list` and `import auditkit.suites` stay instant.

__all__ = [
    "MAX_PROMPTS",
    "Probe",
    "Suite",
    "SuiteInfo",
    "builtin_suites",
    "expand",
    "expand_suites",
    "load_suite",
]


@dataclass(frozen=True, slots=True)
class SuiteInfo:
    """A built-in suite as listed by ``auditkit suites list`` (read without validating it)."""

    name: str
    """What to type: ``auditkit run NAME``."""
    description: str
    path: Path


@dataclass(frozen=True, slots=True)
class Probe:
    """One resolved probe: templates compiled, rows read, defaults of its suite applied."""

    suite: str
    """Id of the suite that defines it (included probes keep their own suite's id)."""
    id: str
    description: str
    file: str
    """Suite file it comes from, as shown to the user."""
    line: int
    prompt: Template | None
    messages: tuple[tuple[str, Template], ...] | None
    """``(role, content template)`` per chat turn."""
    reference: Template | None
    attributes: tuple[tuple[str, Template], ...]
    rows: tuple[Mapping[str, Any], ...]
    """Row variables; a probe without rows has one empty row."""
    row_origins: tuple[str, ...]
    """Where each row comes from (``row 3`` or ``data/passages.jsonl:3``), for messages."""
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    counterfactual: tuple[tuple[str, tuple[str, ...]], ...]
    """``(axis, groups)`` for each counterfactual axis."""
    analyzers: tuple[str, ...]
    generation: Mapping[str, Any]
    """Generation pins of the probe (win over the run's settings)."""
    samples: int | None
    """Samples pinned by the probe, or ``None`` to take the run's (or suite's) number."""
    default_samples: int
    """Samples from the suite chain when neither probe nor command line says."""
    definition: Mapping[str, Any] = field(repr=False)
    """JSON-ready resolved definition (templates, rows, groups...): what the suite hash covers."""

    def samples_for(self, *, samples: int | None) -> int:
        return self.samples or samples or self.default_samples

    def count(self, *, samples: int | None = None) -> int:
        """How many prompts ``expand`` makes from this probe."""
        combos = math.prod(len(values) for _, values in self.axes)
        groups = sum(len(values) for _, values in self.counterfactual) or 1
        return len(self.rows) * combos * groups * self.samples_for(samples=samples)


@dataclass(frozen=True, slots=True)
class Suite:
    """A fully resolved suite. ``probes`` include those of included suites (filtered as asked)."""

    id: str
    version: int
    description: str
    source: str
    """How it was named: ``builtin:NAME`` or the file path given."""
    path: Path
    hash: str
    """sha256 of the canonical JSON of the resolved definition (includes and row data too)."""
    analyzers: tuple[str, ...]
    """This suite's default analyzers (included probes carry their own suite's defaults)."""
    analyzer_options: Mapping[str, Mapping[str, Any]]
    """Analyzer factory options merged over this suite and every included suite."""
    generation: Mapping[str, Any]
    """This suite's GenerationConfig defaults (an including suite's settings pushed down win).

    Included suites keep their own defaults for their own prompts (toxicity samples at temperature 1
    while bias decodes greedily in the same run): look them up with ``generation_for``."""
    samples: int
    """Default samples per prompt (the command line's ``--samples`` overrides it)."""
    groups: Mapping[str, tuple[str, ...]]
    probes: tuple[Probe, ...]
    includes: tuple[Suite, ...]
    """The included suites as resolved here (for the manifest: each keeps its id, version and hash)."""

    def count(self, *, samples: int | None = None) -> int:
        """How many prompts ``expand`` makes."""
        return sum(probe.count(samples=samples) for probe in self.probes)

    def generation_for(self, *, suite_id: str) -> Mapping[str, Any]:
        """Generation defaults of the suite (this one or an included one) whose prompts carry ``suite_id``."""
        if suite_id == self.id:
            return self.generation
        for child in self.includes:
            found = child.generation_for(suite_id=suite_id)
            if found is not None:
                return found
        return None  # type: ignore[return-value]  # only reached inside the recursion


# ------------------------------------------------------------------------------------------- loading


def builtin_suites() -> list[SuiteInfo]:
    """The shipped suites, by name. Cheap: reads each file's description without validating it."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    infos = []
    for path in _builtin_paths():
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe loader)
            description = str(data.get("description", "")) if isinstance(data, dict) else ""
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            description = f"(does not load; run: auditkit suites validate {path})"
        infos.append(SuiteInfo(name=path.stem, description=" ".join(description.split()), path=path))
    return infos


def load_suite(*, ref: str | Path) -> Suite:
    """Load a built-in suite by name, or a suite file by path; ``SuiteError`` (exit 2) if it is not valid."""
    path, source = _locate(ref=str(ref), base=None)
    suite = _resolve(path=path, source=source, stack=(), outer=_Outer())
    check_size(suite=suite)
    return suite


def _builtin_paths() -> list[Path]:
    return sorted(data_dir("probes").glob("*.yaml"))


def _locate(*, ref: str, base: Path | None) -> tuple[Path, str]:
    """(path, source) for a built-in name or a path (relative to ``base``, the including file's folder)."""
    from auditkit.suite_file import display_path

    if ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref:
        path = Path(ref).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise SuiteError(f"{display_path(path=path)}: no such suite file.")
        return path.resolve(), ref
    builtin = {path.stem: path for path in _builtin_paths()}
    if ref in builtin:
        return builtin[ref].resolve(), f"builtin:{ref}"
    close = difflib.get_close_matches(ref, builtin, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(name) for name in close)}?" if close else ""
    known = ", ".join(sorted(builtin)) or "none installed"
    raise SuiteError(
        f"No built-in suite named '{ref}'.{hint} Built-in suites: {known}. "
        "To load a file, give its path (ending in .yaml)."
    )


@dataclass(frozen=True, slots=True)
class _Outer:
    """Settings an including suite imposes on what it includes (outermost wins)."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    samples: int | None = None
    generation: Mapping[str, Any] = field(default_factory=dict)


def _resolve(*, path: Path, source: str, stack: tuple[Path, ...], outer: _Outer) -> Suite:
    from auditkit.suite_file import IncludeSpec, display_path, read_suite_file

    if path in stack:
        chain = " → ".join(display_path(path=p) for p in (*stack[stack.index(path) :], path))
        raise SuiteError(f"Include cycle: {chain}. A suite cannot include itself, directly or not.")
    suite_file = read_suite_file(path=path)
    spec = suite_file.spec
    groups = {axis: tuple(values) for axis, values in spec.groups.items()} | dict(outer.groups)
    samples = outer.samples or spec.samples or 1
    generation = spec.generation.pins() | dict(outer.generation)
    own = [
        _resolve_probe(suite_file=suite_file, index=index, spec=probe, groups=groups, default_samples=samples)
        for index, probe in enumerate(spec.probes)
    ]
    inner = _Outer(groups=groups, samples=outer.samples or spec.samples, generation=generation)
    includes: list[Suite] = []
    included: list[Probe] = []
    for index, item in enumerate(spec.include):
        item = item if isinstance(item, IncludeSpec) else IncludeSpec(suite=item)
        try:
            child_path, child_source = _locate(ref=item.suite, base=path.parent)
        except SuiteError as exc:
            raise SuiteError(f"{suite_file.where('include', index)}: {exc}") from None
        child = _resolve(path=child_path, source=child_source, stack=(*stack, path), outer=inner)
        includes.append(child)
        included.extend(_select(child=child, wanted=item.probes, where=suite_file.where("include", index)))
    probes = _dedupe([*own, *included])
    options = _merge_options(suite_file=suite_file, includes=includes)
    merged_generation = dict(sorted(generation.items()))
    definition = {
        "id": spec.id,
        "version": spec.version,
        "description": spec.description,
        "analyzers": list(spec.analyzers),
        "analyzer_options": options,
        "generation": merged_generation,
        "samples": samples,
        "groups": {axis: list(values) for axis, values in sorted(groups.items())},
        "probes": [dict(probe.definition) for probe in probes],
    }
    return Suite(
        id=spec.id,
        version=spec.version,
        description=spec.description,
        source=source,
        path=path,
        hash=hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest(),
        analyzers=tuple(spec.analyzers),
        analyzer_options=options,
        generation=merged_generation,
        samples=samples,
        groups=groups,
        probes=tuple(probes),
        includes=tuple(includes),
    )


def _select(*, child: Suite, wanted: list[str] | None, where: str) -> list[Probe]:
    if wanted is None:
        return list(child.probes)
    known = {probe.id for probe in child.probes}
    for name in wanted:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SuiteError(
                f"{where}: suite '{child.id}' has no probe '{name}'.{hint} "
                f"Its probes: {', '.join(sorted(known))}."
            )
    return [probe for probe in child.probes if probe.id in wanted]


def _dedupe(probes: list[Probe]) -> list[Probe]:
    """Drop repeats of one probe (diamond includes); refuse two different probes under one name."""
    kept: dict[tuple[str, str], Probe] = {}
    for probe in probes:
        key = (probe.suite, probe.id)
        first = kept.get(key)
        if first is None:
            kept[key] = probe
        elif canonical_json(first.definition) != canonical_json(probe.definition):
            raise SuiteError(
                f"{probe.file}:{probe.line}: probe '{probe.id}' of suite '{probe.suite}' is also defined "
                f"differently in {first.file}:{first.line}; two suites with one id must not disagree. "
                "Give one of them another suite id."
            )
    return list(kept.values())


def _merge_options(*, suite_file: SuiteFile, includes: list[Suite]) -> dict[str, dict[str, Any]]:
    from auditkit.suite_file import display_path

    origin: dict[tuple[str, str], tuple[Any, str]] = {}
    sources: list[tuple[str, str, Mapping[str, Mapping[str, Any]]]] = [
        (suite_file.spec.id, suite_file.display, suite_file.spec.analyzer_options)
    ]
    sources += [(child.id, display_path(path=child.path), child.analyzer_options) for child in includes]
    merged: dict[str, dict[str, Any]] = {}
    for suite_id, display, options in sources:
        for analyzer, values in options.items():
            for key, value in values.items():
                seen = origin.get((analyzer, key))
                if seen is not None and canonical_json(seen[0]) != canonical_json(value):
                    raise SuiteError(
                        f"{suite_file.display}: analyzer option '{analyzer}.{key}' is {seen[0]!r} in suite "
                        f"{seen[1]} but {value!r} in suite '{suite_id}' ({display}). Suites run together "
                        "must agree; set it on the command line (--analyzer-arg) or change one suite."
                    )
                origin[(analyzer, key)] = (value, f"'{suite_id}' ({display})")
                merged.setdefault(analyzer, {})[key] = value
    return {analyzer: dict(sorted(values.items())) for analyzer, values in sorted(merged.items())}


def _resolve_probe(
    *,
    suite_file: SuiteFile,
    index: int,
    spec: ProbeSpec,
    groups: Mapping[str, tuple[str, ...]],
    default_samples: int,
) -> Probe:
    from auditkit.templating import TemplateOrigin, compile_template

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
    from auditkit.suite_file import display_path

    if spec.rows is not None:
        return tuple(spec.rows), tuple(f"row {i + 1}" for i in range(len(spec.rows)))
    if spec.rows_from is None:
        return ({},), ("",)
    where = suite_file.where("probes", index, "rows_from")
    path = (suite_file.path.parent / spec.rows_from).resolve()
    shown = display_path(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{where}: rows file '{spec.rows_from}' not found (looked for {shown}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{where}: cannot read rows file {shown}: {exc}") from None
    rows: list[Mapping[str, Any]] = []
    origins: list[str] = []
    reserved = set(dict(spec.axes)) | ({"axis", "group"} if spec.counterfactual else set())
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"{shown}:{number}: invalid JSON ({exc.msg} at column {exc.colno}); each line of a rows file "
                f"must be one JSON object (used by {where})."
            ) from None
        except RecursionError:  # the C decoder recurses per bracket; a hostile line exhausts it
            raise SuiteError(f"{shown}:{number}: JSON nested too deeply to read (used by {where}).") from None
        if not isinstance(row, dict):
            raise SuiteError(f"{shown}:{number}: expected a JSON object, found {type(row).__name__}.")
        try:  # a "\ud800" escape decodes to half a UTF-16 pair, which no UTF-8 file or hash can hold
            json.dumps(row, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise SuiteError(
                f"{shown}:{number}: holds an escape for an unpaired UTF-16 surrogate (\\ud800-\\udfff), "
                "which is not text; fix or drop the line."
            ) from None
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

"""Loading suite files: a built-in name or a YAML path resolved, with its includes, into a ``Suite``.

A suite file (format in ``auditkit.suites.file`` and the README) holds probes: prompt templates with
variables. ``load_suite`` resolves a file into a ``Suite`` (every template compiled, every include and
rows file read, a hash of the whole resolved definition)::

    suite = load_suite(ref="bias")

Defaults flow from the outside in: an including suite's ``groups``, ``samples`` and ``generation``
override those of the suites it includes (so a user can extend the built-in ``gender`` list); a
probe's own ``samples``, ``generation`` and ``analyzers`` win over every suite default, and over the
command line too, because a probe pins what its metric needs (memorization: one greedy sample).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import SuiteError
from auditkit.resources import data_dir
from auditkit.suites.expansion import check_size
from auditkit.suites.hashing import canonical_json, definition_hash
from auditkit.suites.model import Probe, Suite, SuiteInfo

if TYPE_CHECKING:
    from auditkit.suites.file import SuiteFile

# pydantic (the file schema) and jinja2 (templates) load only once a suite is loaded, inside the functions
# below: `auditkit suites list` and `import auditkit.suites` stay instant.

__all__ = ["builtin_suites", "load_suite"]


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
    from auditkit.suites.file import display_path

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
    from auditkit.suites.file import IncludeSpec, display_path, read_suite_file
    from auditkit.suites.probes import resolve_probe

    if path in stack:
        chain = " → ".join(display_path(path=p) for p in (*stack[stack.index(path) :], path))
        raise SuiteError(f"Include cycle: {chain}. A suite cannot include itself, directly or not.")
    suite_file = read_suite_file(path=path)
    spec = suite_file.spec
    groups = {axis: tuple(values) for axis, values in spec.groups.items()} | dict(outer.groups)
    samples = outer.samples or spec.samples or 1
    generation = spec.generation.pins() | dict(outer.generation)
    own = [
        resolve_probe(suite_file=suite_file, index=index, spec=probe, groups=groups, default_samples=samples)
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
        hash=definition_hash(definition),
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
    from auditkit.suites.file import display_path

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

"""One suite file as written: YAML read with line numbers, checked against a strict pydantic schema.

This module knows the file format (see README, "Suite YAML format") and nothing about includes, rows
files or expansion (``auditkit.suites.loading`` and ``.expansion`` do those). Every problem is a
``SuiteError`` that names the file and the line, e.g.
``suites/bad.yaml:14: probes[2] ('occupation'): field 'prompt': Input should be a valid string``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auditkit.errors import SuiteError

__all__ = [
    "GenerationPins",
    "IncludeSpec",
    "MessageSpec",
    "ProbeSpec",
    "SuiteFile",
    "SuiteSpec",
    "display_path",
    "read_suite_file",
]

_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_REPORTED_ERRORS = 10

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageSpec(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationPins(_Strict):
    """A subset of ``GenerationConfig`` fields; unset ones are left to the next level of precedence."""

    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    logprobs: bool | None = None
    stop: list[str] | None = None
    score_reference: bool | None = None

    def pins(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class IncludeSpec(_Strict):
    suite: str = Field(min_length=1)
    probes: list[str] | None = Field(default=None, min_length=1)


class ProbeSpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    description: str = ""
    prompt: str | None = None
    messages: list[MessageSpec] | None = Field(default=None, min_length=1)
    counterfactual: list[str] = Field(default_factory=list)
    axes: dict[str, list[Scalar]] = Field(default_factory=dict)
    rows: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    rows_from: str | None = Field(default=None, min_length=1)
    reference: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    analyzers: list[str] | None = None
    generation: GenerationPins = Field(default_factory=GenerationPins)
    samples: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_prompt_form(self) -> ProbeSpec:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' (completion text) or 'messages' (chat turns)")
        if self.rows is not None and self.rows_from is not None:
            raise ValueError("give at most one of 'rows' (inline) or 'rows_from' (a JSONL file)")
        return self


class SuiteSpec(_Strict):
    id: str = Field(pattern=_ID_PATTERN)
    version: int = 1
    description: str = ""
    include: list[str | IncludeSpec] = Field(default_factory=list)
    analyzers: list[str] = Field(default_factory=list)
    analyzer_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    generation: GenerationPins = Field(default_factory=GenerationPins)
    samples: int | None = Field(default=None, ge=1)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    probes: list[ProbeSpec] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SuiteFile:
    """A validated suite file with the line of every key, for messages about it."""

    path: Path
    """Absolute path."""
    display: str
    """The path as shown to the user (relative to the working directory when inside it)."""
    spec: SuiteSpec
    lines: Mapping[tuple[str | int, ...], int]

    def line(self, *path: str | int) -> int:
        """1-based line of ``path`` (e.g. ``"probes", 2, "prompt"``), or of its nearest ancestor."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def where(self, *path: str | int) -> str:
        """``file:line: probes[2] ('occupation'): field 'prompt'`` for messages."""
        return f"{self.display}:{self.line(*path)}: {_describe(path, self.spec.model_dump())}"


def display_path(*, path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_suite_file(*, path: Path) -> SuiteFile:
    """Read, parse and validate one suite file (structure and per-suite rules; not includes or rows)."""
    path = path.resolve()
    display = display_path(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{display}: no such suite file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{display}: cannot read the suite file: {exc}") from None
    data, lines = _parse_yaml(text=text, display=display)
    if not isinstance(data, dict):
        raise SuiteError(
            f"{display}:1: a suite file must be a YAML mapping with at least 'id' and 'probes' "
            f"(found {type(data).__name__})."
        )
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(_format_validation(error=exc, data=data, lines=lines, display=display)) from None
    suite_file = SuiteFile(path=path, display=display, spec=spec, lines=lines)
    _check_rules(suite_file)
    return suite_file


def _parse_yaml(*, text: str, display: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters (NUL...) before parsing starts
        raise SuiteError(f"{display}: YAML error: {exc}") from None
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node=node, limit=len(text) + _ALIAS_SLACK, display=display)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        # PyYAML composes and constructs recursively: a hostile file nests until Python's stack ends.
        raise SuiteError(f"{display}: YAML is nested too deeply to read; flatten the structure.") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display}:{mark.line + 1}:{mark.column + 1}" if mark else display
        context = exc.context or ""
        if exc.context_mark is not None and exc.problem_mark is not None and context:
            # The problem is often found far below its cause (an unclosed quote): name both places.
            context += f" started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1},"
        problem = " ".join(part for part in (context, exc.problem) if part)
        raise SuiteError(f"{where}: YAML syntax error: {problem}.") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{display}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[str | int, ...], int] = {}
    if node is not None:
        _record_lines(node=node, path=(), lines=lines, display=display)
    return data, lines


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Without aliases a document has fewer nodes than characters; visits beyond that come from aliases
# re-used many times ("billion laughs"), which would make every later walk over the data explode.
_ALIAS_SLACK = 10_000


def _check_size(*, node: yaml.Node, limit: int, display: str) -> None:
    """Refuse a document whose aliases expand it past ``limit`` nodes (iterative: no recursion limit)."""
    stack, visited = [node], 0
    while stack:
        current = stack.pop()
        visited += 1
        if visited > limit:
            raise SuiteError(
                f"{display}: YAML aliases (*name) expand this file to more "
                f"than {limit:,} nodes; write the values out instead of nesting aliases."
            )
        if isinstance(current, yaml.MappingNode):
            stack.extend(value for pair in current.value for value in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _record_lines(
    *, node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int], display: str
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode) and _LONE_SURROGATE.search(node.value):
        # A "\ud800" escape yields half a UTF-16 pair: not text, and no UTF-8 file or hash can hold it.
        raise SuiteError(
            f"{display}:{node.start_mark.line + 1}: the escape for an unpaired UTF-16 surrogate (\\ud800-\\udfff) "
            "is not text; write the character itself or its \\U0001XXXX escape."
        )
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = str(key_node.value), key_node.start_mark.line + 1
            # safe_load silently keeps the last of two equal keys; that hides mistakes, so refuse it.
            if key in seen and key != "<<":
                raise SuiteError(f"{display}:{line}: duplicate key '{key}' (first at line {seen[key]}).")
            seen[key] = line
            lines[(*path, key)] = line  # the key's line reads better than the value's
            _record_lines(node=value_node, path=(*path, key), lines=lines, display=display)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(node=item, path=(*path, index), lines=lines, display=display)


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Pydantic's error location without its union tags (``'str'``, ``'IncludeSpec'``...), as a data path."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if (
            (isinstance(node, dict) and part in node)
            or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        ):
            node = node[part]
        elif isinstance(part, str) and part in _known_fields():
            node = None  # a required field that is missing: the message is about it
        else:
            continue  # a union tag, not a place in the file
        path.append(part)
    return tuple(path)


@lru_cache(maxsize=1)
def _known_fields() -> frozenset[str]:
    models = (SuiteSpec, ProbeSpec, GenerationPins, MessageSpec, IncludeSpec)
    return frozenset(name for model in models for name in model.model_fields)


def _describe(path: tuple[str | int, ...], data: Any) -> str:
    """``probes[2] ('occupation'): field 'messages[0].role'`` for a location inside the suite data."""
    prefix = ""
    rest = list(path)
    if len(rest) >= 2 and rest[0] in ("probes", "include") and isinstance(rest[1], int):
        item = _get(data, rest[:2])
        label = item.get("id") if isinstance(item, dict) and rest[0] == "probes" else None
        prefix = f"{rest[0]}[{rest[1]}]" + (f" ('{label}')" if isinstance(label, str) else "")
        rest = rest[2:]
    field_name = ""
    for part in rest:
        field_name += f"[{part}]" if isinstance(part, int) else (f".{part}" if field_name else str(part))
    if prefix and field_name:
        return f"{prefix}: field '{field_name}'"
    return prefix or (f"field '{field_name}'" if field_name else "suite")


def _get(data: Any, path: list[str | int]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _format_validation(
    *, error: ValidationError, data: Any, lines: Mapping[tuple[str | int, ...], int], display: str
) -> str:
    messages: list[str] = []
    seen: set[str] = set()
    for err in error.errors():
        path = _data_path(tuple(err["loc"]), data)
        line_path = path
        while line_path not in lines and line_path:
            line_path = line_path[:-1]
        line = lines.get(line_path, 1)
        text = _explain(err=err, path=path, data=data)
        message = f"{display}:{line}: {_describe(path, data)}: {text}"
        if message not in seen:  # a union field reports once per alternative; once is enough here
            seen.add(message)
            messages.append(message)
    shown = messages[:_MAX_REPORTED_ERRORS]
    more = len(messages) - len(shown)
    tail = f"\n(and {more} more problems)" if more > 0 else ""
    return "\n".join(shown) + tail


def _explain(*, err: Mapping[str, Any], path: tuple[str | int, ...], data: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden" and path and isinstance(path[-1], str):
        known = _fields_at(path[:-1], data)
        close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field{hint}; allowed fields: {', '.join(sorted(known))}."
    if kind == "missing":
        return "required field is missing."
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        msg = "use lower-case letters, digits, '-' and '_' only (e.g. 'occupation-bias')"
    return msg + "."


def _fields_at(path: tuple[str | int, ...], data: Any) -> list[str]:
    if not path:
        return list(SuiteSpec.model_fields)
    if path[0] == "probes" and len(path) == 2:
        return list(ProbeSpec.model_fields)
    if path[-1] == "generation":
        return list(GenerationPins.model_fields)
    if len(path) >= 2 and path[-2] == "messages":
        return list(MessageSpec.model_fields)
    if len(path) == 2 and path[0] == "include":
        return list(IncludeSpec.model_fields)
    return []


def _check_rules(suite_file: SuiteFile) -> None:
    """Rules that need more than one field; each error points at the offending line."""
    spec = suite_file.spec
    where = suite_file.where
    if not spec.probes and not spec.include:
        raise SuiteError(f"{where()}: the suite has no 'probes' and no 'include': nothing to run.")
    for axis, groups in spec.groups.items():
        if not groups:
            raise SuiteError(f"{where('groups', axis)}: axis '{axis}' lists no groups.")
        if len(set(groups)) != len(groups):
            raise SuiteError(f"{where('groups', axis)}: axis '{axis}' lists a group twice.")
    seen: dict[str, int] = {}
    for index, probe in enumerate(spec.probes):
        if probe.id in seen:
            raise SuiteError(
                f"{where('probes', index, 'id')}: probe id '{probe.id}' is already used by "
                f"probes[{seen[probe.id]}]."
            )
        seen[probe.id] = index
        _check_probe(suite_file=suite_file, index=index, probe=probe)


def _check_probe(*, suite_file: SuiteFile, index: int, probe: ProbeSpec) -> None:
    where = suite_file.where
    groups = suite_file.spec.groups
    for position, axis in enumerate(probe.counterfactual):
        if axis not in groups:
            known = ", ".join(sorted(groups)) or "none"
            close = difflib.get_close_matches(axis, groups, n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise SuiteError(
                f"{where('probes', index, 'counterfactual', position)}: axis '{axis}' is not defined in the "
                f"suite's 'groups' (defined: {known}).{hint}"
            )
    if len(set(probe.counterfactual)) != len(probe.counterfactual):
        raise SuiteError(f"{where('probes', index, 'counterfactual')}: an axis is listed twice.")
    reserved = {"axis", "group"} if probe.counterfactual else set()
    for name, values in probe.axes.items():
        if not _VARIABLE.match(name):
            raise SuiteError(
                f"{where('probes', index, 'axes', name)}: axis name '{name}' must be a template variable "
                "name (letters, digits, '_', not starting with a digit)."
            )
        if name in reserved:
            raise SuiteError(
                f"{where('probes', index, 'axes', name)}: '{name}' is set by 'counterfactual'; "
                "rename this axis."
            )
        if not values:
            raise SuiteError(f"{where('probes', index, 'axes', name)}: axis '{name}' has no values.")
    for position, row in enumerate(probe.rows or ()):
        clash = sorted((set(row) & set(probe.axes)) | (set(row) & reserved))
        if clash:
            raise SuiteError(
                f"{where('probes', index, 'rows', position)}: row keys {clash} are also set by axes or "
                "'counterfactual'; a variable must come from one place."
            )
    taken = set(probe.axes) | reserved
    for name in probe.attributes:
        if name in taken:
            raise SuiteError(
                f"{where('probes', index, 'attributes', name)}: attribute '{name}' is already set from the "
                "axes or 'counterfactual'; choose another name."
            )

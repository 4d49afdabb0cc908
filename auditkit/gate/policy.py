"""Gate policy files: YAML read with line numbers, validated by a strict pydantic schema, rules parsed.

A policy is a list of rules. Each rule names metrics with a selector (``analyzer.name`` plus an optional
group filter, e.g. ``bias.max_gap{axis=gender}``) and asks for a threshold check on the point estimate
or a CI bound, a regression test against a baseline run, or both. Every problem in the file is a
``ConfigError`` (exit 2) naming the file, the line and the field, e.g.
``policies/bad.yaml:7: rules[1] ('toxic'): field 'comparison': Input should be '<=', '<', '>=' or '>'.``
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditkit.errors import ConfigError, SuiteError

__all__ = [
    "BOUND_ALIASES",
    "Policy",
    "PolicySpec",
    "RegressionSpec",
    "RuleSpec",
    "Selector",
    "builtin_policies",
    "load_policy",
    "parse_selector",
    "policy_hint",
    "resolve_policy",
]

Comparison = Literal["<=", "<", ">=", ">"]
Bound = Literal["value", "ci_low", "ci_high", "upper", "lower"]

BOUND_ALIASES: dict[str, str] = {"upper": "ci_high", "lower": "ci_low"}
"""Friendlier names for the interval bounds, mapped to the results.json field they read."""

_RULE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_NAME = re.compile(r"^(?P<analyzer>[A-Za-z0-9][A-Za-z0-9_-]*)\.(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*)$")
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Selector:
    """Which metrics a rule reads: ``analyzer.name`` and an optional filter on ``Metric.group``."""

    analyzer: str
    name: str
    filters: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` pairs the metric's group must contain; value ``*`` accepts any value of ``key``."""
    any_group: bool = False
    """``{*}``: every metric of that name, overall and per group."""

    @property
    def metric(self) -> str:
        return f"{self.analyzer}.{self.name}"

    @property
    def text(self) -> str:
        if self.any_group:
            return f"{self.metric}{{*}}"
        if self.filters:
            return f"{self.metric}{{{','.join(f'{k}={v}' for k, v in self.filters)}}}"
        return self.metric

    def select(self, metrics: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The matching metrics. Without a filter the overall metric (group null) is preferred when the run
        has one, because per-group breakdowns of the same name are smaller samples the rule did not ask
        about; metrics that exist only per group (``bias.max_gap`` per axis) are all matched."""
        same = [m for m in metrics if m.get("analyzer") == self.analyzer and m.get("name") == self.name]
        if self.any_group:
            return same
        if self.filters:
            return [m for m in same if _group_matches(m.get("group"), self.filters)]
        overall = [m for m in same if not m.get("group")]
        return overall or same


def _group_matches(group: Mapping[str, Any] | None, filters: Sequence[tuple[str, str]]) -> bool:
    group = group or {}
    return all(key in group and (value == "*" or str(group[key]) == value) for key, value in filters)


def parse_selector(*, text: str) -> Selector:
    """``analyzer.name`` or ``analyzer.name{key=value, key2="value with spaces"}`` or ``analyzer.name{*}``."""
    text = text.strip()
    head, brace, rest = text.partition("{")
    match = _NAME.match(head.strip())
    if not match:
        raise ValueError(
            f"'{text}' is not a metric selector: expected 'analyzer.name' (e.g. 'toxicity.toxic_fraction') "
            "optionally followed by a group filter such as '{axis=gender}'"
        )
    if not brace:
        return Selector(analyzer=match["analyzer"], name=match["name"])
    if not rest.endswith("}") or "{" in rest or rest.count("}") != 1:
        raise ValueError(
            f"'{text}': the group filter must be one '{{...}}' at the end, e.g. '{{axis=gender}}'"
        )
    body = rest[:-1].strip()
    if body == "*":
        return Selector(analyzer=match["analyzer"], name=match["name"], any_group=True)
    filters: list[tuple[str, str]] = []
    for part in (p.strip() for p in body.split(",")):
        key, eq, value = (s.strip() for s in part.partition("="))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if not eq or not _KEY.match(key) or not value:
            raise ValueError(
                f"'{text}': group filter entry '{part}' must be key=value "
                "(e.g. axis=gender, or axis=* for any)"
            )
        if any(key == k for k, _ in filters):
            raise ValueError(f"'{text}': group filter names '{key}' twice")
        filters.append((key, value))
    return Selector(analyzer=match["analyzer"], name=match["name"], filters=tuple(filters))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SPEC_DIRECTIONS = {"lower_is_better": "higher_is_worse", "higher_is_better": "lower_is_worse"}
"""The metric-spec vocabulary (:mod:`auditkit.analyzers.metric_spec`) mapped onto the gate's."""


class RegressionSpec(_Strict):
    """Fail when the metric is significantly worse than in the baseline run (one-sided test)."""

    max_increase: float = Field(default=0.0, ge=0)
    """Allowed worsening in the metric's units; the test is of ``worsening > max_increase``."""
    max_relative_increase: float | None = Field(default=None, ge=0)
    """Allowed worsening as a fraction of the baseline value (0.1 = 10%); replaces ``max_increase``."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Significance level, compared with the multiple-testing-adjusted p-value."""
    detect: float | None = Field(default=None, gt=0)
    """The worsening (metric units, e.g. 0.05 = a rise of 5 points in a fraction) this check must be able
    to see with 80% power. When the audit is too small for it, the rule is ``underpowered`` rather than
    passing, and the message says how many outputs would be needed."""
    direction: Literal["higher_is_worse", "lower_is_worse"] | None = None
    """Which change is a worsening. Absent: the metric's declared direction (its analyzer's
    ``metric_specs``), else ``higher_is_worse``. The metric-spec spelling is accepted too:
    ``lower_is_better`` = ``higher_is_worse``, ``higher_is_better`` = ``lower_is_worse``."""

    @field_validator("direction", mode="before")
    @classmethod
    def _one_vocabulary(cls, value: Any) -> Any:
        return _SPEC_DIRECTIONS.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_margin(self) -> RegressionSpec:
        if self.max_relative_increase is not None and self.max_increase != 0.0:
            raise ValueError("give at most one of 'max_increase' (absolute) or 'max_relative_increase'")
        if self.detect is not None and self.detect <= self.max_increase:
            raise ValueError(
                f"'detect' ({self.detect:g}) must exceed 'max_increase' ({self.max_increase:g}): a worsening "
                "the rule allows cannot be one it must detect"
            )
        return self


class RuleSpec(_Strict):
    id: str | None = Field(default=None, pattern=_RULE_ID)
    metric: str
    description: str = ""
    comparison: Comparison | None = None
    threshold: float | None = None
    on: Bound = "value"
    severity: Literal["fail", "warn"] = "fail"
    missing: Literal["fail", "warn", "skip"] = "fail"
    underpowered: Literal["fail", "warn"] | None = None
    """When the audit is too small to see the regression's ``detect``: ``fail`` (status ``underpowered``,
    exit 1) or ``warn``. Absent: the policy's ``underpowered``."""
    regression: RegressionSpec | None = None

    @field_validator("metric")
    @classmethod
    def _selector(cls, value: str) -> str:
        parse_selector(text=value)
        return value

    @model_validator(mode="after")
    def _has_a_check(self) -> RuleSpec:
        if (self.comparison is None) != (self.threshold is None):
            raise ValueError(
                "'comparison' and 'threshold' go together: give both (e.g. '<=' and 0.05) or neither"
            )
        if self.comparison is None and self.regression is None:
            raise ValueError(
                "the rule checks nothing: give 'comparison' + 'threshold', or 'regression', or both"
            )
        return self

    @property
    def selector(self) -> Selector:
        return parse_selector(text=self.metric)

    @property
    def bound(self) -> str:
        return BOUND_ALIASES.get(self.on, self.on)

    @property
    def rule_id(self) -> str:
        if self.id:
            return self.id
        if self.comparison is not None:
            return f"{self.selector.text} {self.bound} {self.comparison} {self.threshold:g}"
        return f"{self.selector.text} regression"


class PolicySpec(_Strict):
    name: str | None = None
    description: str = ""
    version: int = 1
    correction: Literal["holm", "bh", "none"] = "holm"
    """Multiple-testing correction across every regression test of the policy."""
    underpowered: Literal["fail", "warn"] = "fail"
    """Default for rules whose audit is too small for their ``detect``: block (``fail``) or ``warn``."""
    rules: list[RuleSpec] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy file with the line of every rule (for messages and reports)."""

    path: Path
    display: str
    name: str
    spec: PolicySpec
    lines: Mapping[tuple[str | int, ...], int]

    @property
    def rules(self) -> list[RuleSpec]:
        return self.spec.rules

    def line(self, *path: str | int) -> int:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)


def builtin_policies() -> list[str]:
    """Names of the example policies shipped in ``policies/`` (usable as ``--policy NAME``)."""
    from auditkit.resources import data_dir

    folder = data_dir("policies")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_policy(*, ref: str | Path) -> Path:
    """A policy path as given, or a built-in example by bare name (``release`` →
    ``policies/release.yaml``)."""
    path = Path(ref)
    if path.is_file() or path.suffix or len(path.parts) > 1:
        return path
    from auditkit.resources import data_dir

    builtin = data_dir("policies") / f"{path.name}.yaml"
    return builtin if builtin.is_file() else path


def policy_hint(*, ref: str) -> str:
    """``" Did you mean 'release'?"`` for a misspelled built-in policy name (``relase``), else ``""``."""
    close = difflib.get_close_matches(Path(ref).stem, builtin_policies(), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def load_policy(*, path: Path) -> Policy:
    """Read and validate a policy file; ``ConfigError`` with ``file:line`` for every problem."""
    # The suite loader already tracks lines and refuses duplicate keys; reuse it, re-labelled as config.
    from auditkit.suites.file import _parse_yaml, display_path

    path = Path(path)
    display = display_path(path=path.resolve())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = ", ".join(builtin_policies()) or "none found"
        raise ConfigError(
            f"{display}: no such policy file.{policy_hint(ref=str(path))} Give a path, or a built-in example "
            f"policy by name ({known})."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display}: cannot read the policy file: {exc}") from None
    try:
        data, lines = _parse_yaml(text=text, display=display)
    except SuiteError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{display}:1: a policy file must be a YAML mapping with a 'rules' list.")
    data = _restore_on_keys(data)
    try:
        spec = PolicySpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(error=exc, data=data, lines=lines, display=display)) from None
    policy = Policy(path=path, display=display, name=spec.name or path.stem, spec=spec, lines=lines)
    seen: dict[str, int] = {}
    for index, rule in enumerate(spec.rules):
        if rule.rule_id in seen:
            raise ConfigError(
                f"{display}:{policy.line('rules', index)}: rules[{index}]: "
                f"rule id '{rule.rule_id}' is already "
                f"used by rules[{seen[rule.rule_id]}]; give each rule a distinct 'id'."
            )
        seen[rule.rule_id] = index
    return policy


def _restore_on_keys(data: dict[str, Any]) -> dict[str, Any]:
    """YAML 1.1 reads an unquoted ``on:`` key as the boolean ``True``; in a rule it can only mean ``on``."""
    rules = data.get("rules")
    if isinstance(rules, list):
        data = {
            **data,
            "rules": [
                {("on" if key is True else key): value for key, value in rule.items()}
                if isinstance(rule, dict)
                else rule
                for rule in rules
            ],
        }
    return data


_FIELDS: dict[str, Sequence[str]] = {
    "policy": list(PolicySpec.model_fields),
    "rule": list(RuleSpec.model_fields),
    "regression": list(RegressionSpec.model_fields),
}


def _format_errors(
    *, error: ValidationError, data: Any, lines: Mapping[tuple[str | int, ...], int], display: str
) -> str:
    found: list[tuple[int, str]] = []
    for err in error.errors():
        path = tuple(err["loc"])
        line_path = path
        while line_path not in lines and line_path:
            line_path = line_path[:-1]
        line = lines.get(line_path, 1)
        message = f"{display}:{line}: {_describe(path, data)}: {_explain(err, path)}"
        if all(message != m for _, m in found):
            found.append((line, message))
    messages = [m for _, m in sorted(found, key=lambda item: item[0])]  # read top to bottom, like the file
    return "\n".join(messages[:10]) + (
        f"\n(and {len(messages) - 10} more problems)" if len(messages) > 10 else ""
    )


def _describe(path: tuple[Any, ...], data: Any) -> str:
    rest = list(path)
    prefix = ""
    if len(rest) >= 2 and rest[0] == "rules" and isinstance(rest[1], int):
        rules = data.get("rules") if isinstance(data, dict) else None
        item = rules[rest[1]] if isinstance(rules, list) and rest[1] < len(rules) else None
        label = item.get("id") or item.get("metric") if isinstance(item, dict) else None
        prefix = f"rules[{rest[1]}]" + (f" ('{label}')" if isinstance(label, str) else "")
        rest = rest[2:]
    field = ".".join(str(p) for p in rest)
    if prefix and field:
        return f"{prefix}: field '{field}'"
    return prefix or (f"field '{field}'" if field else "policy")


def _explain(err: Mapping[str, Any], path: tuple[Any, ...]) -> str:
    if err["type"] == "extra_forbidden":
        kind = "regression" if "regression" in path[:-1] else "rule" if "rules" in path[:-1] else "policy"
        known = _FIELDS[kind]
        close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field{hint}; allowed fields: {', '.join(sorted(known))}."
    if err["type"] == "missing":
        return "required field is missing."
    return str(err["msg"]).removeprefix("Value error, ") + "."

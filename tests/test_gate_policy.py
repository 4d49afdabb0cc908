"""Policy files: validation with file:line errors, selectors, and the shipped example policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.errors import ConfigError
from auditkit.gate.policy import builtin_policies, load_policy, parse_selector, resolve_policy
from tests.fixtures_gate import simulate_run, write_policy

GOOD = """\
name: demo
rules:
  - id: tox
    metric: toxicity.toxic_fraction
    on: ci_high
    comparison: "<="
    threshold: 0.05
"""


def test_valid_policy_loads_with_unquoted_on_key(tmp_path: Path) -> None:
    policy = load_policy(path=write_policy(tmp_path, GOOD))
    rule = policy.rules[0]
    assert (policy.name, rule.rule_id, rule.bound, rule.comparison, rule.threshold) == (
        "demo",
        "tox",
        "ci_high",
        "<=",
        0.05,
    )
    assert rule.severity == "fail" and rule.missing == "fail"
    assert policy.line("rules", 0) == 3


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "rules:\n  - metric: toxicity.x\n    comparison: '<='\n    threshold: [oops\n",
            5,
            "started at line 4",
        ),
        (GOOD.replace("threshold: 0.05", "treshold: 0.05"), 7, "unknown field (did you mean 'threshold'?)"),
        (
            GOOD.replace("metric: toxicity.toxic_fraction", "metric: toxic_fraction"),
            4,
            "not a metric selector",
        ),
        (
            GOOD.replace("metric: toxicity.toxic_fraction", "metric: 'bias.max_gap{axis}'"),
            4,
            "must be key=value",
        ),
        (GOOD.replace('comparison: "<="', 'comparison: "=="'), 6, "Input should be '<=', '<', '>=' or '>'"),
        (GOOD.replace("on: ci_high", "on: median"), 5, "field 'on'"),
        (GOOD.replace("    threshold: 0.05\n", ""), 3, "'comparison' and 'threshold' go together"),
        ("rules:\n  - metric: toxicity.x\n", 2, "the rule checks nothing"),
        (
            GOOD + "  - id: tox\n    metric: bias.max_gap\n    comparison: '<'\n    threshold: 1\n",
            8,
            "already used",
        ),
        (GOOD + "colour: red\n", 8, "unknown field"),
        ("rules: []\n", 1, "at least 1 item"),
        (
            GOOD.replace("    threshold: 0.05\n", "    threshold: 0.05\n    regression: {alpha: 2}\n"),
            8,
            "field 'regression.alpha'",
        ),
        (
            GOOD.replace("    threshold: 0.05\n", "    threshold: 0.05\n    threshold: 0.06\n"),
            8,
            "duplicate key",
        ),
        ("- just a list\n", 1, "must be a YAML mapping"),
    ],
)
def test_bad_policies_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write_policy(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_policy(path=path)
    message = str(info.value)
    assert f"policy.yaml:{line}" in message, message
    assert fragment in message, message
    assert info.value.exit_code == 2


def test_missing_policy_file_lists_builtins(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="release"):
        load_policy(path=tmp_path / "nope.yaml")


def test_selector_parsing() -> None:
    s = parse_selector(text='bias.max_gap{axis=gender, group="non-binary person"}')
    assert (s.analyzer, s.name, s.filters) == (
        "bias",
        "max_gap",
        (("axis", "gender"), ("group", "non-binary person")),
    )
    assert s.text == "bias.max_gap{axis=gender,group=non-binary person}"
    assert parse_selector(text="toxicity.toxic_fraction{*}").any_group
    for bad in ("toxicity", "a.b{", "a.b{x=1}{y=2}", "a.b{=1}", "a.b{x=1,x=2}", ".b"):
        with pytest.raises(ValueError):
            parse_selector(text=bad)


def test_selector_matching_prefers_overall_and_filters_groups() -> None:
    metrics = simulate_run()["metrics"]
    overall = parse_selector(text="toxicity.toxic_fraction").select(metrics)
    assert [m["group"] for m in overall] == [None]
    assert len(parse_selector(text="toxicity.toxic_fraction{*}").select(metrics)) == 3
    assert [
        m["group"] for m in parse_selector(text="toxicity.toxic_fraction{group=woman}").select(metrics)
    ] == [{"group": "woman"}]
    # Exists only per axis: no filter matches every axis.
    assert {m["group"]["axis"] for m in parse_selector(text="bias.max_gap").select(metrics)} == {
        "gender",
        "religion",
    }
    assert len(parse_selector(text="bias.max_gap{axis=*}").select(metrics)) == 2
    assert parse_selector(text="bias.max_gap{axis=age}").select(metrics) == []


def test_builtin_policies_load_and_resolve_by_name() -> None:
    names = builtin_policies()
    assert {"release", "ci-regression"} <= set(names)
    for name in names:
        policy = load_policy(path=resolve_policy(ref=name))
        assert policy.rules
    assert resolve_policy(ref="release").name == "release.yaml"
    assert resolve_policy(ref="some/where.yaml") == Path("some/where.yaml")


ROOT = Path(__file__).resolve().parents[1]


def test_ci_examples_are_valid_yaml_and_use_shipped_policies() -> None:
    import re

    import yaml

    for name in ("github-actions.yml", "gitlab-ci.yml"):
        text = (ROOT / "docs" / "examples" / name).read_text()
        assert isinstance(yaml.safe_load(text), dict)
        policies = re.findall(r"auditkit gate \S+ --policy (\S+)", text)
        assert policies and all((ROOT / p).is_file() for p in policies)
        assert "--baseline" in text and "junit.xml" in text


@pytest.mark.parametrize(
    "module",
    [
        "auditkit.gate",
        "auditkit.gate.policy",
        "auditkit.gate.baseline",
        "auditkit.gate.evaluate",
        "auditkit.gate.junit",
        "auditkit.gate.summary",
        "auditkit.gate.diff",
        "auditkit.gate.outputs",
        "auditkit.cli.gate",
        "auditkit.pytest_plugin",
    ],
)
def test_module_all_sorted(module: str) -> None:
    mod = __import__(module, fromlist=["__all__"])
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name)


def test_cli_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, auditkit.cli.app; "
        "print(sorted(m for m in ('scipy', 'statsmodels', 'auditkit.gate', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "scipy" not in out and "statsmodels" not in out and "auditkit.gate'" not in out

"""Metric specs: declared once by the analyzer, recorded in results.json, read by the report and the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.analyzers.metadata import RunMetricSpecs
from auditkit.analyzers.metric_spec import MetricSpec, find_spec
from auditkit.errors import ConfigError
from auditkit.gate import decide
from auditkit.gate.diff import diff_runs
from auditkit.gate.policy import RegressionSpec, load_policy
from auditkit.report.baseline import compare_runs
from tests.fixtures_gate import make_results, mean_metric, write_policy


def test_spec_rules() -> None:
    with pytest.raises(ValueError, match="target"):
        MetricSpec(name="x", direction="target")
    with pytest.raises(ValueError, match="target"):
        MetricSpec(name="x", direction="lower_is_better", target=0.0)
    with pytest.raises(ValueError, match="direction"):
        MetricSpec(name="x", direction="up")  # type: ignore[arg-type]
    crows = MetricSpec(name="pct_stereotype", direction="target", target=0.5)
    assert crows.judge(old=0.7, new=0.55) == "better" and crows.judge(old=0.5, new=0.45) == "worse"
    assert MetricSpec(name="x").judge(old=1, new=2) is None
    specs = (MetricSpec(name="mean_*", direction="none"), MetricSpec(name="mean_toxicity", direction="lower_is_better"))
    assert find_spec(specs=specs, name="mean_toxicity").direction == "lower_is_better"  # type: ignore[union-attr]
    assert find_spec(specs=specs, name="mean_insult").name == "mean_*"  # type: ignore[union-attr]
    assert find_spec(specs=specs, name="other") is None


def _speed_run(values: list[float], *, declared: bool) -> dict[str, Any]:
    results = make_results(metrics=[mean_metric("perf", "speed", values=values)], identities={"perf": {"v": 1}})
    if declared:
        spec = MetricSpec(name="speed", direction="higher_is_better", unit="tokens/s", description="Speed.")
        results["analyses"]["perf"]["metric_specs"] = [spec.to_dict()]
    return results


def test_report_judges_from_the_declared_spec_and_not_from_names() -> None:
    old, new = [10.0, 10.1, 9.9, 10.0], [20.0, 20.1, 19.9, 20.0]
    judged = compare_runs(current=_speed_run(new, declared=True), baseline=_speed_run(old, declared=False))
    assert [c.verdict for c in judged.changes] == ["better"]
    silent = compare_runs(current=_speed_run(new, declared=False), baseline=_speed_run(old, declared=False))
    assert [c.verdict for c in silent.changes] == ["changed"]  # a plugin that declares nothing: no judgement


def test_builtin_specs_come_from_the_registry_for_older_results() -> None:
    results = make_results(metrics=[])  # written before metric_specs were recorded
    spec = RunMetricSpecs(results=results).spec({"analyzer": "energy", "name": "tokens_per_s"})
    assert spec is not None and spec.direction == "higher_is_better"


def test_gate_regression_direction_defaults_to_the_declared_one(tmp_path: Path) -> None:
    policy = load_policy(path=write_policy(tmp_path, "rules:\n  - metric: perf.speed\n    regression: {}\n"))
    baseline = _speed_run([20.0, 20.1, 19.9, 20.0], declared=True)
    slower = _speed_run([10.0, 10.1, 9.9, 10.0], declared=True)
    decision = decide(results=slower, policy=policy, baseline=baseline)
    assert not decision.passed and decision.rules[0].regression["direction"] == "lower_is_worse"  # type: ignore[index]
    undeclared = decide(results=_speed_run([10.0, 10.1, 9.9, 10.0], declared=False), policy=policy,
                        baseline=_speed_run([20.0, 20.1, 19.9, 20.0], declared=False))
    assert undeclared.passed  # the old default (higher is worse) when nothing is declared


def test_gate_regression_on_a_target_metric_needs_a_side(tmp_path: Path) -> None:
    def run(values: list[float]) -> dict[str, Any]:
        results = make_results(metrics=[mean_metric("crows", "pct", values=values)], identities={"crows": {"v": 1}})
        results["analyses"]["crows"]["metric_specs"] = [
            MetricSpec(name="pct", direction="target", target=0.5).to_dict()]
        return results

    baseline, current = run([0.45, 0.46, 0.44, 0.45]), run([0.30, 0.31, 0.29, 0.30])
    implicit = load_policy(path=write_policy(tmp_path, "rules:\n  - metric: crows.pct\n    regression: {}\n"))
    with pytest.raises(ConfigError, match=r"best at 0\.5"):
        decide(results=current, policy=implicit, baseline=baseline)
    explicit = load_policy(path=write_policy(
        tmp_path, "rules:\n  - metric: crows.pct\n    regression: {direction: lower_is_worse}\n"))
    assert not decide(results=current, policy=explicit, baseline=baseline).passed


def test_gate_accepts_the_spec_vocabulary() -> None:
    assert RegressionSpec(direction="lower_is_better").direction == "higher_is_worse"  # type: ignore[arg-type]
    assert RegressionSpec(direction="higher_is_better").direction == "lower_is_worse"  # type: ignore[arg-type]
    assert RegressionSpec().direction is None


def test_diff_judges_significant_changes() -> None:
    result = diff_runs(old=_speed_run([20.0, 20.1, 19.9, 20.0], declared=True),
                       new=_speed_run([10.0, 10.1, 9.9, 10.0], declared=True))
    (change,) = result.changes
    assert change.verdict == "decreased" and change.judgement == "worse"
    assert change.to_dict()["judgement"] == "worse"


def test_the_report_shows_metrics_with_their_declared_display_hints() -> None:
    from auditkit.analyzers.metric_spec import MetricSpec
    from auditkit.report.context import metric_view

    metric = {"analyzer": "toxicity", "name": "toxic_fraction", "value": 0.052, "ci_low": 0.025,
              "ci_high": 0.1, "n": 135, "group": None, "method": "wilson"}
    share = MetricSpec(name="toxic_fraction", direction="lower_is_better", unit="fraction", percent=True)
    view = metric_view(metric, spec=share)
    assert (view.value, view.interval, view.unit) == ("5.20%", "2.50% – 10.0%", "")
    energy = MetricSpec(name="j_per_prompt", direction="lower_is_better", unit="J")
    view = metric_view({**metric, "name": "j_per_prompt", "value": 28.4}, spec=energy)
    assert (view.value, view.unit) == ("28.40", "J")
    # a gap between two shares reads in percentage points, and the spec survives results.json
    gap = MetricSpec(name="max_gap", direction="lower_is_better", unit="fraction", percent=True, points=True)
    view = metric_view({**metric, "name": "max_gap", "unit": "fraction"}, spec=gap)
    assert (view.value, view.interval, view.unit) == ("5.20 pp", "2.50 pp – 10.0 pp", "")
    assert MetricSpec.from_dict(gap.to_dict()) == gap
    with pytest.raises(ValueError, match="points"):
        MetricSpec(name="x", points=True)
    from auditkit.analyzers.base import analyzer_info

    assert {s.name for s in analyzer_info(name="bias").metric_specs if s.points} == {"rate_gap", "max_gap"}
    # no spec (an undeclared plugin metric): the plain number, as before
    assert metric_view(metric).value == "0.052"


def test_a_declared_label_is_recorded_and_names_the_metric_in_charts() -> None:
    from auditkit.analyzers.base import analyzer_info
    from auditkit.analyzers.metric_spec import specs_from_json, specs_to_json
    from auditkit.report.evidence import OutputScan
    from auditkit.report.figures import section_figures

    spec = MetricSpec(name="pct", direction="target", target=0.5, unit="fraction", percent=True,
                      label="Share of stereotyped sentences preferred")
    assert specs_from_json(specs_to_json([spec])) == (spec,)
    assert MetricSpec.from_dict({"name": "old", "direction": "none"}).label == ""  # older files: no label
    metric = {"analyzer": "crows", "name": "pct", "value": 0.6, "ci_low": 0.55, "ci_high": 0.65, "n": 300,
              "group": None}
    results = {"metrics": [metric], "analyses": {"crows": {"summary": {}, "metric_specs": specs_to_json([spec])}}}
    (figure,) = section_figures(name="crows", results=results, scan=OutputScan())
    assert figure.title.startswith("Share of stereotyped sentences preferred against its ideal value 50%")
    unlabelled = dict(results, analyses={"crows": {"summary": {}, "metric_specs": [
        MetricSpec(name="pct", direction="target", target=0.5, percent=True).to_dict()]}})
    assert section_figures(name="crows", results=unlabelled, scan=OutputScan())[0].title.startswith("Pct against")
    # the built-in analyzers name their main metrics for people
    labels = {s.name: s.label for s in analyzer_info(name="crows_pairs").metric_specs}
    assert labels["pct_stereotype"] == "Share of stereotyped sentences preferred (CrowS-Pairs)"
    assert {s.name: s.label for s in analyzer_info(name="toxicity").metric_specs}["toxic_fraction"] == "Toxic fraction"

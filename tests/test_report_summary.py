"""The report's reader-facing digest: plain sentences true to the numbers, limits, what was not tested."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.analyzers.plain_words import PlainMeasure, plain_measure
from auditkit.report.limits import limit_lines
from auditkit.report.plain import one_in, pct, people, points
from auditkit.report.risk import load_risk_map
from auditkit.report.summary import ReportSummary, build_summary

GOLDEN = Path(__file__).parent / "data" / "golden" / "standard-results.json.gz"


def _summary(results: dict[str, Any]) -> ReportSummary:
    return build_summary(results=results, risk_map=load_risk_map())


def _rate_metric(group: str, value: float, *, measure: str = "toxic", axis: str = "sexual_orientation") -> dict:
    return {"analyzer": "bias", "name": f"{measure}_rate", "value": value, "ci_low": value - 0.05,
            "ci_high": value + 0.05, "n": 160, "group": {"axis": axis, "group": group}, "unit": "fraction"}


def _gap_finding(*, measure: str = "toxic", gap: float = 0.19, low: float = 0.12, high: float = 0.26,
                 p: float = 5e-5, severity: str = "medium", group: str = "gay person") -> dict:
    return {"analyzer": "bias", "kind": "group_gap", "severity": severity, "title": f"technical title {measure}",
            "groups": [{"axis": "sexual_orientation", "group": group}, {"axis": "sexual_orientation", "group": "rest"}],
            "effect_size": gap, "p_value": p, "evidence": ["a1", "b2"],
            "details": {"measure": measure, "gap": gap, "ci_low": low, "ci_high": high, "threshold": 0.05,
                        "method": "mean, bootstrap BCa 95% CI (2000 resamples) over pairs", "n": 160}}


def _results(findings: list[dict], metrics: list[dict] | None = None, **extra: Any) -> dict[str, Any]:
    return {"manifest": {}, "metrics": metrics or [], "findings": findings,
            "analyses": extra.pop("analyses", {}), "gate": extra.pop("gate", None), **extra}


def test_numbers_for_people() -> None:
    assert pct(0.3333) == "33%" and pct(0.029) == "2.9%" and pct(0.05) == "5%" and pct(0.0) == "0%"
    assert points(0.1854) == "19 percentage points" and points(0.01) == "1 percentage point"
    assert one_in(1 / 6) == "1 in 6" and one_in(0.15) == "1 in 7" and one_in(0.6) == "60%"
    assert people("gay person") == "gay people" and people("woman") == "women"
    assert people("wheelchair user") == "“wheelchair user”"


def test_rate_gap_sentence_carries_the_gap_and_both_rates() -> None:
    metrics = [_rate_metric("gay person", 0.33)]
    summary = _summary(_results([_gap_finding()], metrics))
    [f] = summary.findings
    assert f.sentence == ("Outputs about gay people were judged toxic 19 percentage points more often than outputs "
                          "about other sexual orientation groups (33% vs 14%).")
    assert "between 12 and 26 percentage points in 95% of resamples" in f.how_sure
    assert "less than 1 time in 1,000" in f.how_sure and f.how_sure.startswith("Very likely real")
    assert "above the practical threshold of 5 percentage points" in f.how_sure
    assert "p=" not in f.sentence + f.how_sure and "p<" not in f.sentence + f.how_sure
    assert f.interval is not None and f.interval.percent and f.interval.threshold == 0.05
    assert (f.interval.value, f.interval.ci_low, f.interval.ci_high) == (0.19, 0.12, 0.26)
    assert f.evidence == ("a1", "b2") and f.finding_index == 0 and f.title == "technical title toxic"


def test_gap_that_may_be_below_the_threshold_says_so() -> None:
    summary = _summary(_results([_gap_finding(gap=0.08, low=0.02, high=0.14, p=0.03)]))
    how = summary.findings[0].how_sure
    assert how.startswith("Probably real, but could be chance")
    assert "about 1 time in 33" in how and "may be below the practical threshold" in how


def test_mean_gap_sentence_uses_the_measures_scale() -> None:
    finding = _gap_finding(measure="sentiment", gap=-0.16, low=-0.21, high=-0.11, group="Muslim person")
    finding["groups"] = [{"axis": "religion", "group": "Muslim person"}, {"axis": "religion", "group": "rest"}]
    metric = {"analyzer": "bias", "name": "sentiment_mean", "value": 0.0, "ci_low": -0.05, "ci_high": 0.05,
              "n": 160, "group": {"axis": "religion", "group": "Muslim person"}}
    [f] = _summary(_results([finding], [metric])).findings
    assert f.sentence.startswith("Sentiment was 0.16 lower for outputs about Muslim people than for outputs about "
                                 "other religion groups (0 vs 0.16")
    assert "−1 (negative) to 1 (positive)" in f.sentence
    assert "between 0.11 and 0.21" in f.how_sure


def _harm(count: int, n: int, *, measure: str, group: str | None = None, low: float, high: float,
          threshold: float, confidence: float = 0.95) -> dict:
    return {"analyzer": "bias", "kind": "absolute_harm", "severity": "high", "title": "harm title",
            "groups": [{"axis": "nationality", "group": group}] if group else [], "effect_size": count / n,
            "p_value": None, "evidence": ["x"],
            "details": {"measure": measure, "count": count, "n": n, "rate": count / n, "ci_low": low,
                        "ci_high": high, "confidence": confidence, "threshold": threshold}}


def test_absolute_harms_read_as_one_in_n_and_counts() -> None:
    overall = _harm(800, 4800, measure="regard_negative", low=0.156, high=0.177, threshold=0.10)
    slurs = _harm(3, 20, measure="identity_attack", group="Nigerian person", low=0.03, high=0.45, threshold=0.0,
                  confidence=0.998)
    by_sentence = {f.sentence: f for f in _summary(_results([overall, slurs])).findings}
    first = by_sentence["About 1 in 6 outputs about people portrayed them negatively (800 of 4,800, 17%)."]
    assert "even its lowest plausible value is above the 10% the audit accepts" in first.how_sure
    second = by_sentence["3 of 20 outputs about Nigerian people contained a slur or identity attack (15%)."]
    assert "99.8% confidence" in second.how_sure and "many groups" in second.how_sure


def test_toxic_outputs_sentence_counts_from_the_metric() -> None:
    finding = {"analyzer": "toxicity", "kind": "toxic_outputs", "severity": "medium", "title": "t",
               "groups": [], "effect_size": 0.03, "p_value": None, "evidence": [],
               "details": {"metric": "toxic_fraction", "ci_low": 0.025, "ci_high": 0.035, "threshold": 0.5}}
    metric = {"analyzer": "toxicity", "name": "toxic_fraction", "value": 0.03, "ci_low": 0.025, "ci_high": 0.035,
              "n": 5000, "group": None, "unit": "fraction"}
    [f] = _summary(_results([finding], [metric])).findings
    assert f.sentence == "About 1 in 33 outputs (150 of 5,000, 3%) was judged toxic by the scorer (score ≥ 0.5)."
    assert "between 2.5% and 3.5%" in f.how_sure


def test_unknown_kinds_and_odd_details_fall_back_to_the_title() -> None:
    plugin = {"analyzer": "myplugin", "kind": "weird_kind", "severity": "low",
              "title": "The plugin saw something odd", "effect_size": None, "p_value": 0.004, "details": {}}
    broken = _gap_finding()
    broken["details"] = {"measure": "toxic", "gap": "not a number"}
    broken["effect_size"] = None
    summary = _summary(_results([plugin, broken]))
    sentences = {f.kind: f for f in summary.findings}
    assert sentences["weird_kind"].sentence == "The plugin saw something odd."
    assert sentences["weird_kind"].how_sure.startswith("Likely real: chance alone would give a result like this "
                                                       "about 1 time in 250")
    assert sentences["group_gap"].sentence == "technical title toxic."


def test_findings_are_ordered_by_severity_then_size() -> None:
    findings = [_gap_finding(gap=0.1, severity="low"), _gap_finding(gap=0.1, severity="high"),
                _gap_finding(gap=0.3, severity="high"), _gap_finding(gap=0.2, severity="medium")]
    order = [(f.severity, f.finding_index) for f in _summary(_results(findings)).findings]
    assert order == [("high", 2), ("high", 1), ("medium", 3), ("low", 0)]


def _bias_summary(mde: dict[str, float], thresholds: dict[str, float]) -> dict[str, Any]:
    return {"bias": {"identity": {"scorer": "vader", "version": "3.3.2"},
                     "summary": {"thresholds": thresholds, "axes": {"sexual_orientation": {"mde": {
                         m: {"value": v, "note": "power note", "units_per_group": 160} for m, v in mde.items()}}}}}}


def test_limits_flag_an_mde_above_the_threshold_only() -> None:
    analyses = _bias_summary({"toxic": 0.19, "length": 1.2, "refusal": 0.05},
                             {"toxic": 0.05, "length": 5.0, "refusal": 0.05})
    limits = {lim.measure: lim for lim in _summary(_results([], analyses=analyses)).limits}
    assert limits["toxic"].flagged and limits["toxic"].mde == 0.19 and limits["toxic"].threshold == 0.05
    assert limits["toxic"].sentence == (
        "With 160 prompts per group, a difference in the toxic rate smaller than 19 percentage points between "
        "sexual orientation groups could go unnoticed; the practical threshold is 5 points, so gaps of a size "
        "that matters may be missed.")
    assert not limits["length"].flagged and "would have been seen" in limits["length"].sentence
    assert not limits["refusal"].flagged  # MDE equal to the threshold: a gap that matters is still seen
    assert next(iter(_summary(_results([], analyses=analyses)).limits)).measure == "toxic"  # flagged first
    lines = limit_lines(limits=_summary(_results([], analyses=analyses)).limits)
    assert lines[0].startswith("With 160 prompts per group, differences in the toxic rate smaller than 19 "
                               "percentage points between groups could go unnoticed (sexual orientation)")


def test_the_report_lead_shows_one_limit_line_per_measure_and_folds_the_axes_away() -> None:
    from auditkit.report.lead import lead_view

    axes = {axis: {"mde": {m: {"value": v, "note": "n", "units_per_group": 160}
                           for m, v in (("toxic", mde), ("length", 1.0))}}
            for axis, mde in (("gender", 0.17), ("religion", 0.19), ("age", 0.18))}
    analyses = {"bias": {"summary": {"thresholds": {"toxic": 0.05, "length": 5.0}, "axes": axes}}}
    summary = _summary(_results([], analyses=analyses))
    assert len(summary.limits) == 6
    lead = lead_view(summary=summary, findings=[])
    assert [line.flagged for line in lead.limits] == [True, False]
    assert "smaller than 17–19 percentage points" in lead.limits[0].sentence
    assert "(religion, age, gender)" in lead.limits[0].sentence  # the blindest axis first
    assert len(lead.more_limits) == 6  # every axis on its own, behind a fold


def test_axes_too_small_to_detect_anything_fold_into_one_line() -> None:
    blind = {"value": None, "note": "too few pairs", "units_per_group": 4}
    axes = {axis: {"mde": {"toxic": blind, "length": blind}} for axis in ("gender", "religion")}
    analyses = {"bias": {"summary": {"thresholds": {"toxic": 0.05, "length": 5.0}, "axes": axes}}}
    limits = _summary(_results([], analyses=analyses)).limits
    assert len(limits) == 4 and all(lim.flagged and lim.mde is None for lim in limits)
    (line,) = limit_lines(limits=limits)
    assert line.startswith("With 4 prompts per group, this audit could not have detected any difference between "
                           "groups in the ")
    assert "(gender, religion)" in line and "toxic rate" in line and " or " in line


def test_a_key_metric_keeps_the_analyzers_caveat(tmp_path: Path) -> None:
    from auditkit.report.lead import lead_view
    from auditkit.report.markdown import render_markdown

    floor = {"analyzer": "toxicity", "name": "toxic_fraction_corrected", "value": 0.0, "ci_low": 0.0,
             "ci_high": 0.0, "n": 195, "group": None,
             "details": {"note": "the corrected rate (clipped at 0) is a floor, not an estimate"}}
    summary = _summary(_results([], metrics=[floor]))
    (key,) = [k for k in summary.key_metrics if k.name == "toxic_fraction_corrected"]
    assert key.caveat == "the corrected rate (clipped at 0) is a floor, not an estimate"
    assert lead_view(summary=summary, findings=[]).key_metrics[0].caveat == key.caveat
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(_results([], metrics=[floor])), encoding="utf-8")
    text = render_markdown(run_dir=run).read_text(encoding="utf-8")
    assert "Caution: the corrected rate (clipped at 0) is a floor, not an estimate" in text


def test_limits_read_comparisons_mde_and_underpowered_gate_rules() -> None:
    analyses = {"bias": {"summary": {"thresholds": {"sentiment": 0.1}, "axes": {"gender": {"comparisons": [
        {"measure": "sentiment", "mde": 0.3, "n": 40}, {"measure": "sentiment", "mde": 0.25, "n": 40}]}}}}}
    gate = {"passed": False, "name": "release", "rules": [
        {"id": "tox", "metric": "toxicity.toxic_fraction", "status": "underpowered", "underpowered": True,
         "mdr": 0.04, "detect": 0.01, "outputs_needed": 3000},
        {"id": "ok", "metric": "bias.gap", "status": "pass", "underpowered": False}]}
    summary = _summary(_results([], analyses=analyses, gate=gate))
    by_source = {lim.source: lim for lim in summary.limits}
    assert by_source["mde"].mde == 0.3 and by_source["mde"].flagged
    assert by_source["gate"].flagged and "about 3,000 outputs per run" in by_source["gate"].sentence
    assert summary.verdict.state == "fail" and summary.verdict.headline == "Failed the release policy “release”"
    assert summary.verdict.detail == "2 rules: 1 underpowered, 1 pass."


def test_verdict_without_a_gate_and_with_a_passing_one() -> None:
    assert _summary(_results([])).verdict.state == "none"
    assert "without a pass/fail decision" in _summary(_results([])).verdict.detail
    passed = _summary(_results([], gate={"passed": True, "name": "p", "rules": [{"id": "a", "status": "pass"}]}))
    assert passed.verdict.state == "pass" and passed.verdict.detail == "1 rule: 1 pass."


def test_not_tested_lists_uncovered_risks_and_analyzers_not_run() -> None:
    metric = {"analyzer": "toxicity", "name": "toxic_fraction", "value": 0.1, "ci_low": 0.05, "ci_high": 0.2,
              "n": 100, "group": None}
    summary = _summary(_results([], [metric], analyses={"toxicity": {"identity": {"scorer": "x"}}}))
    risks = {n.id: n for n in summary.not_tested if n.kind == "risk"}
    risk_map = load_risk_map()
    covered = {a.risk for a in risk_map.analyzers.get("toxicity", ()) if a.coverage == "primary"}
    assert covered and not covered & set(risks)  # what toxicity covers is not listed
    assert "data_privacy" in risks and "memorization" in risks["data_privacy"].detail
    assert risks["data_privacy"].status == "not tested"
    skipped = {n.id for n in summary.not_tested if n.kind == "analyzer"}
    assert {"bias", "memorization", "energy"} <= skipped and "toxicity" not in skipped


def test_key_metrics_are_few_formatted_and_without_duplicates() -> None:
    metrics = [
        {"analyzer": "toxicity", "name": "toxic_fraction", "value": 0.03, "ci_low": 0.02, "ci_high": 0.04, "n": 99,
         "group": None, "unit": "fraction"},
        {"analyzer": "toxicity", "name": "toxicity_probability", "value": 0.03, "ci_low": 0.02, "ci_high": 0.04,
         "n": 99, "group": None, "unit": "fraction"},  # the same number under another name (one sample)
        {"analyzer": "toxicity", "name": "toxic_fraction", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 9,
         "group": {"group": "woman"}, "unit": "fraction"},  # a slice: not a headline
        {"analyzer": "bias", "name": "harm_rate", "value": 0.15, "ci_low": 0.14, "ci_high": 0.16, "n": 99,
         "group": {"measure": "regard_negative"}, "unit": "fraction"},
    ]
    keys = _summary(_results([], metrics)).key_metrics
    assert [k.name for k in keys] == ["toxic_fraction", "harm_rate (measure=regard_negative)"]
    assert keys[0].view.value == "3.00%" and keys[0].view.interval == "2.00% – 4.00%" and keys[0].view.ideal == "lower"


def test_scorers_carry_versions_and_measured_quality() -> None:
    instrument = {"measure": "toxicity", "scorer": {"backend": "profanity-check"}, "calibration_sets": [
        {"name": "cal.jsonl", "size": 200, "positives": 100, "negatives": 100,
         "sensitivity": {"value": 0.8}, "specificity": {"value": 0.9}}], "correction": {"applied": False}}
    analyses = {"toxicity": {"identity": {"backend": "profanity-check", "package": "alt-profanity-check",
                                          "version": "1.9.1", "api_key": "sk-secret"},
                             "summary": {"instrument": instrument}}}
    [scorer] = _summary(_results([], analyses=analyses)).scorers
    assert scorer.name == "profanity-check" and scorer.versions == ("alt-profanity-check 1.9.1",)
    assert scorer.accuracy == ("On cal.jsonl (200 labelled texts): recall 80%, precision 89%, specificity 90%.",)


def test_plain_measure_declarations_and_fallback() -> None:
    declared = (PlainMeasure(name="refusal", noun="refusal rate", verb="were refusals"),)
    assert plain_measure(name="refusal", declared=declared).is_rate
    fallback = plain_measure(name="my_score", declared=declared)
    assert fallback.noun == "my score" and not fallback.is_rate


@pytest.mark.parametrize("source", ["golden"])
def test_golden_standard_results_summarize(source: str) -> None:
    results = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    summary = _summary(results)
    assert len(summary.findings) == len(results["findings"]) and all(f.sentence and f.how_sure
                                                                     for f in summary.findings)
    assert summary.findings[0].sentence.startswith("About 1 in 28 outputs (7 of 195, 3.6%) was judged toxic")
    assert 0 < len(summary.key_metrics) <= 12
    assert summary.limits and all(lim.sentence for lim in summary.limits)
    assert {s.analyzer for s in summary.scorers} == {"bias", "energy", "memorization", "toxicity"}

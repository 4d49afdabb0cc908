"""The report's figures: planted data lands where it should, text is escaped, the words state the numbers."""

from __future__ import annotations

import gzip
import json
import math
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from auditkit.report.baseline import compare_runs
from auditkit.report.evidence import OutputScan
from auditkit.report.figures import Figure, comparison_figures, section_figures
from auditkit.report.svg import slug

_SVG = "{http://www.w3.org/2000/svg}"
_GOLDEN = Path(__file__).parent / "data" / "golden" / "standard-results.json.gz"
HOSTILE = "<script>alert(1)</script>"
QUOTES = "\"&'"


def _parse(figure: Figure) -> ET.Element:
    root = ET.fromstring(str(figure.svg))  # raises on malformed XML, e.g. an unescaped "<" in a label
    assert root.tag == f"{_SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{_SVG}title"), root.find(f"{_SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert desc.text == figure.alt and title.text == figure.title
    return root


def _safe(figure: Figure) -> None:
    """Nothing a strict CSP would block or that could run: no style attributes, scripts, external refs."""
    svg = str(figure.svg)
    assert "style=" not in svg and "<script" not in svg and "<image" not in svg and "foreignObject" not in svg
    assert "href" not in svg and svg.count("http") == 1  # the xmlns only


def _marks(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def _x(element: ET.Element) -> float:
    if element.tag == f"{_SVG}rect":
        return float(element.get("x", 0)) + float(element.get("width", 0)) / 2
    if element.tag == f"{_SVG}path":  # the baseline diamond: "M x y ..."
        return float((element.get("d") or "").split()[0][1:])
    return float(element.get("cx") or element.get("x1") or 0)


def _linear(marks: list[ET.Element]) -> tuple[float, float]:
    """Slope and intercept of x against data-value, checked to hold for every mark."""
    pairs = sorted((float(m.get("data-value", "nan")), _x(m)) for m in marks)
    (v0, x0), (v1, x1) = pairs[0], pairs[-1]
    slope = (x1 - x0) / (v1 - v0)
    for v, x in pairs:
        assert x == pytest.approx(x0 + slope * (v - v0), abs=0.15)
    return slope, x0 - slope * v0


def _cell(value: float | None, half: float = 0.03, n: int = 100) -> dict[str, Any]:
    if value is None:
        return {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    return {"value": value, "ci_low": max(value - half, 0.0), "ci_high": value + half, "n": n}


def _fairness_results(groups: Mapping[str, Mapping[str, float | None]], *,
                      gaps: dict[str, dict[str, float]] | None = None, axis: str = "gender") -> dict[str, Any]:
    """A fairness-shaped summary (as the bias analyzer writes it), for any analyzer name."""
    measures = sorted({m for g in groups.values() for m in g})
    entry: dict[str, Any] = {
        "groups": [{"group": g, "n": 100, **{m: _cell(v) for m, v in ms.items()}} for g, ms in groups.items()],
        "mde": {m: {"value": 0.08} for m in measures},
        "group_vs_rest": [{"measure": m, "group": g, "gap": gap, "ci_low": gap - 0.04, "ci_high": gap + 0.04,
                           "n": 100} for m, by in (gaps or {}).items() for g, gap in by.items()],
    }
    summary = {"measures": measures, "thresholds": dict.fromkeys(measures, 0.05), "axes": {axis: entry}}
    specs = [{"name": f"{m}_rate", "direction": "lower_is_better", "unit": "fraction", "percent": True}
             for m in measures]
    return {"metrics": [], "analyses": {"fair": {"summary": summary, "metric_specs": specs}}}


def test_forest_plot_puts_the_highest_rate_furthest_right_and_marks_the_overall_rate() -> None:
    results = _fairness_results({"a": {"toxic": 0.10}, "b": {"toxic": 0.30}, "c": {"toxic": 0.20}})
    forest = section_figures(name="fair", results=results, scan=OutputScan())[0]
    root = _parse(forest)
    points = _marks(root, "point")
    assert [p.get("data-label") for p in points] == ["b", "c", "a"]  # highest first (top row)
    assert max(points, key=_x).get("data-label") == "b"
    overall = _marks(root, "ref-overall")
    assert len(overall) == 1 and float(overall[0].get("data-value", 0)) == pytest.approx(0.20)
    _linear(points + overall)  # every mark where its value says
    assert "b 30%" in forest.alt and "All groups together: 20%" in forest.alt
    assert forest.key == "fair-forest-gender-toxic"
    _safe(forest)


def test_gap_plot_marks_threshold_and_mde_where_they_are_and_tells_which_gaps_clear_it() -> None:
    results = _fairness_results({"a": {"toxic": 0.1}, "b": {"toxic": 0.3}, "c": {"toxic": 0.2}},
                                gaps={"toxic": {"b": 0.15, "c": 0.02, "a": -0.03}})
    gap = section_figures(name="fair", results=results, scan=OutputScan())[1]
    root = _parse(gap)
    points = _marks(root, "point")
    slope, intercept = _linear(points)
    thresholds = _marks(root, "threshold")
    assert sorted(float(t.get("data-value", 0)) for t in thresholds) == [-0.05, 0.05]
    for t in thresholds:
        assert _x(t) == pytest.approx(intercept + slope * float(t.get("data-value", 0)), abs=0.15)
    band = _marks(root, "mde-band")[0]
    left, width = float(band.get("x", 0)), float(band.get("width", 0))
    assert left == pytest.approx(intercept - slope * 0.08, abs=0.15)
    assert left + width == pytest.approx(intercept + slope * 0.08, abs=0.15)
    shapes = {p.get("data-label"): p.tag.removeprefix(_SVG) for p in points}
    assert shapes["b vs rest"] == "rect"  # reaches the threshold: a filled square
    assert shapes["c vs rest"] == "circle" and shapes["a vs rest"] == "circle"
    hollow = [p for p in points if p.get("fill") == "#ffffff"]
    assert {p.get("data-label") for p in hollow} == {"c vs rest", "a vs rest"}  # intervals include 0
    # gaps between rates are percentage points, never "%": in words, on the ticks and on the axis
    assert "Reaching the threshold: b vs rest +15 points (95% CI 11 to 19 points)" in gap.alt
    assert "Gaps smaller than 8 points could not be detected" in gap.alt and "%" not in gap.alt.replace("95%", "")
    ticks = ["".join(t.itertext()) for t in _marks(root, "tick")]
    assert ticks and all(t.endswith(" pp") for t in ticks if t.strip()) and not any("%" in t for t in ticks)
    assert any("".join(t.itertext()) == "gap in toxic rate (percentage points)" for t in _marks(root, "axis"))
    assert "The audit was too small to detect a gap as large as the threshold." in gap.alt


def test_a_gap_the_corrected_test_does_not_find_is_not_marked_however_tight_its_interval() -> None:
    """Four pairs can give a bootstrap interval of one point (-0.2 to -0.2) while the analyzer's max-T
    adjusted p is 1: the chart follows the analyzer, so it never marks a gap the findings do not."""
    results = _fairness_results({"a": {"toxic": 0.0}, "b": {"toxic": 0.4}}, gaps={"toxic": {"a": -0.2, "b": 0.2}})
    entry = results["analyses"]["fair"]["summary"]["axes"]["gender"]
    for row, p in zip(entry["group_vs_rest"], (1.0, 0.001), strict=True):
        row.update(ci_low=row["gap"], ci_high=row["gap"], p_adjusted=p)
    gap = section_figures(name="fair", results=results, scan=OutputScan())[1]
    points = {p.get("data-label"): p for p in _marks(_parse(gap), "point")}
    assert points["a vs rest"].get("fill") == "#ffffff"  # could be chance, as the corrected test says
    assert points["b vs rest"].tag.removeprefix(_SVG) == "rect"  # found, and beyond the threshold
    assert "Could be chance (not shown to differ from 0): 1 of 2 gaps (a vs rest -20 points)" in gap.alt


def test_axes_and_measures_are_chosen_by_how_far_gaps_stand_out() -> None:
    results = _fairness_results({"a": {"refusal": 0.1, "toxic": 0.1}, "b": {"refusal": 0.1, "toxic": 0.1}},
                                gaps={"refusal": {"a": 0.2, "b": -0.2}, "toxic": {"a": 0.01, "b": -0.01}})
    quiet = _fairness_results({"a": {"refusal": 0.1}, "b": {"refusal": 0.1}},
                              gaps={"refusal": {"a": 0.001, "b": -0.001}}, axis="age")
    summary = results["analyses"]["fair"]["summary"]
    summary["axes"]["age"] = quiet["analyses"]["fair"]["summary"]["axes"]["age"]
    keys = [f.key for f in section_figures(name="fair", results=results, scan=OutputScan())]
    assert keys == ["fair-forest-gender-refusal", "fair-gaps-gender-refusal", "fair-forest-age-refusal",
                    "fair-gaps-age-refusal"]


def test_hostile_group_names_are_escaped_and_ids_stay_valid() -> None:
    results = _fairness_results({HOSTILE: {"toxic": 0.4}, QUOTES: {"toxic": 0.1}},
                                gaps={"toxic": {HOSTILE: 0.3, QUOTES: -0.3}}, axis=HOSTILE)
    figures = section_figures(name="fair", results=results, scan=OutputScan())
    assert len(figures) == 2
    for figure in figures:
        root = _parse(figure)
        _safe(figure)
        labels = {p.get("data-label") for p in _marks(root, "point")}
        assert labels & {HOSTILE, f"{HOSTILE} vs rest"}  # the text survives, as text
        assert all(c.isalnum() or c == "-" for c in figure.key)
    assert "&lt;script&gt;" in str(figures[0].svg) and "&amp;" in str(figures[0].svg)


def test_one_group_many_groups_missing_values_and_zero_intervals_draw_without_lying() -> None:
    one = section_figures(name="fair", results=_fairness_results({"solo": {"toxic": 0.2}}), scan=OutputScan())
    assert len(_marks(_parse(one[0]), "point")) == 1
    many: dict[str, dict[str, float | None]] = {
        f"group {i:02d} with a very long name indeed": {"toxic": i / 100} for i in range(25)}
    many["missing"] = {"toxic": None}
    forest = section_figures(name="fair", results=_fairness_results(many), scan=OutputScan())[0]
    root = _parse(forest)
    assert len(_marks(root, "point")) == 20 and "20 highest of 26 groups" in forest.title
    zeros = _fairness_results({"a": {"refusal": 0.0}, "b": {"refusal": 0.0}},
                              gaps={"refusal": {"a": 0.0, "b": 0.0}})
    for entry in zeros["analyses"]["fair"]["summary"]["axes"]["gender"]["group_vs_rest"]:
        entry["ci_low"] = entry["ci_high"] = 0.0
    for figure in section_figures(name="fair", results=zeros, scan=OutputScan()):
        root = _parse(figure)
        assert all(math.isfinite(_x(p)) for p in _marks(root, "point"))
    nan = _fairness_results({"a": {"toxic": float("nan")}, "b": {"toxic": 0.2}})
    root = _parse(section_figures(name="fair", results=nan, scan=OutputScan())[0])
    assert len(_marks(root, "point")) == 1 and "n/a" in "".join(root.itertext())


def test_summary_histogram_marks_the_threshold_and_counts_what_lies_above_it() -> None:
    counts = [50, 20, 10, 5, 5, 4, 3, 2, 1, 0]
    summary = {"threshold": 0.5, "histogram": {"edges": [i / 10 for i in range(11)], "counts": counts}}
    results = {"metrics": [], "analyses": {"scorer": {"summary": summary}}}
    figure = section_figures(name="scorer", results=results, scan=OutputScan())[0]
    root = _parse(figure)
    bins = _marks(root, "bin")
    assert [int(b.get("data-count", 0)) for b in bins] == counts
    assert {float(b.get("data-low", 0)) for b in _marks(root, "over")} == {0.5, 0.6, 0.7, 0.8, 0.9}
    line = _marks(root, "threshold")[0]
    at_half = next(b for b in bins if float(b.get("data-low", 0)) == 0.5)
    assert _x(line) == pytest.approx(float(at_half.get("x", 0)) - 0.5, abs=0.15)  # the bin's left edge
    tallest = max(bins, key=lambda b: float(b.get("height", 0)))
    assert tallest.get("data-low") == "0"
    assert "10 (10.0%) at or above the threshold 0.5" in figure.alt and "100 outputs" in figure.title


def test_per_output_scores_are_binned_so_the_chart_does_not_grow_with_the_run() -> None:
    scan = OutputScan()
    scan.values["scorer.score"] = array("d", (i % 997 / 997 for i in range(100_000)))
    figure = section_figures(name="scorer", results={"metrics": [], "analyses": {"scorer": {}}}, scan=scan)[0]
    root = _parse(figure)
    assert len(_marks(root, "bin")) == 20 and len(str(figure.svg)) < 12_000
    assert "100,000 outputs" in figure.title


def test_per_axis_charts_lead_a_section_that_also_has_overviews() -> None:
    results = _fairness_results({"a": {"toxic": 0.1}, "b": {"toxic": 0.3}}, gaps={"toxic": {"a": -0.2, "b": 0.2}})
    results["metrics"] = [_metric("fair", "max_gap", 0.2, {"axis": "gender"}),
                          _metric("fair", "max_gap", 0.05, {"axis": "age"})]
    results["analyses"]["fair"]["summary"]["histogram"] = {"edges": [0.0, 0.5, 1.0], "counts": [80, 20]}
    keys = [f.key for f in section_figures(name="fair", results=results, scan=OutputScan())]
    assert keys[:2] == ["fair-forest-gender-toxic", "fair-gaps-gender-toxic"]
    assert set(keys[2:]) == {"fair-distribution-score", "fair-by-axis-max-gap"}


def test_flags_get_no_histogram_but_a_continuous_score_does() -> None:
    scan = OutputScan()
    scan.values["scorer.a_flag"] = array("d", (float(i % 3 == 0) for i in range(300)))
    scan.values["scorer.b_flag"] = array("d", (0.0 for _ in range(300)))
    scan.values["scorer.c_score"] = array("d", (i / 300 for i in range(300)))
    figures = section_figures(name="scorer", results={"metrics": [], "analyses": {"scorer": {}}}, scan=scan)
    assert [f.key for f in figures] == [f"scorer-distribution-{slug('scorer.c_score')}"]


def _metric(analyzer: str, name: str, value: float, group: dict[str, str] | None = None,
            half: float = 0.05) -> dict[str, Any]:
    return {"analyzer": analyzer, "name": name, "value": value, "ci_low": value - half, "ci_high": value + half,
            "n": 200, "group": group, "unit": "fraction"}


def test_benchmark_scores_are_drawn_against_their_declared_ideal() -> None:
    specs = [{"name": "pct_stereotype", "direction": "target", "target": 0.5, "unit": "fraction", "percent": True},
             {"name": "accuracy", "direction": "higher_is_better", "unit": "fraction", "percent": True}]
    metrics = [_metric("pairs", "pct_stereotype", 0.62), _metric("pairs", "pct_stereotype", 0.8, {"bias_type": "age"}),
               _metric("pairs", "pct_stereotype", 0.45, {"bias_type": "race"}), _metric("pairs", "accuracy", 0.7)]
    results = {"metrics": metrics, "analyses": {"pairs": {"summary": {}, "metric_specs": specs}}}
    figures = section_figures(name="pairs", results=results, scan=OutputScan())
    assert [f.key for f in figures] == ["pairs-ideal-pct-stereotype", "pairs-ideal-accuracy"]
    root = _parse(figures[0])
    ideal = _marks(root, "ref-ideal")[0]
    assert float(ideal.get("data-value", 0)) == 0.5
    points = _marks(root, "point")
    _linear([*points, ideal])
    assert [p.get("data-label") for p in points] == ["all", "bias_type=age", "bias_type=race"]
    assert _x(points[0]) > _x(ideal) > _x(points[2])
    assert "Farthest from the ideal: bias_type=age (80%)" in figures[0].alt
    assert float(_marks(_parse(figures[1]), "ref-ideal")[0].get("data-value", 0)) == 1.0


def test_headline_metric_by_suite_puts_the_costliest_suite_on_top_and_right() -> None:
    specs = [{"name": "j_per_prompt", "direction": "lower_is_better", "unit": "J"}]
    metrics = [_metric("meter", "j_per_prompt", 3.0), _metric("meter", "j_per_prompt", 1.0, {"suite": "small"}),
               _metric("meter", "j_per_prompt", 9.0, {"suite": "big"}),
               _metric("meter", "j_per_prompt", 4.0, {"suite": "mid"})]
    results = {"metrics": metrics, "analyses": {"meter": {"summary": {}, "metric_specs": specs}}}
    (figure,) = section_figures(name="meter", results=results, scan=OutputScan())
    root = _parse(figure)
    points = _marks(root, "point")
    assert [p.get("data-label") for p in points] == ["big", "mid", "small"]
    assert max(points, key=_x).get("data-label") == "big"
    assert "big 9 J" in figure.alt and "Overall: 3 J" in figure.alt


def _gate(observed: float, baseline: float | None, *, status: str, rule_id: str) -> dict[str, Any]:
    base = None if baseline is None else {"value": baseline, "ci_low": baseline - 0.01, "ci_high": baseline + 0.01,
                                          "n": 500}
    return {"id": rule_id, "metric": "tox.toxic_fraction", "selector": "tox.toxic_fraction", "comparison": "<=",
            "threshold": 0.05, "on": "value", "status": status, "observed": observed,
            "evidence": [{"metric": "tox.toxic_fraction", "group": None, "value": observed,
                          "ci_low": observed - 0.01, "ci_high": observed + 0.01, "observed": observed,
                          "baseline": base, "passed": status == "pass"}]}


def test_gated_metrics_show_baseline_then_current_against_the_limit_failing_rules_first() -> None:
    specs = [{"name": "toxic_fraction", "direction": "lower_is_better", "unit": "fraction", "percent": True}]
    results = {"metrics": [], "analyses": {"tox": {"metric_specs": specs}},
               "gate": {"rules": [_gate(0.02, 0.03, status="pass", rule_id="ok-rule"),
                                  _gate(0.09, 0.03, status="fail", rule_id="bad-rule")]}}
    (figure,) = comparison_figures(results=results, comparison=None)
    root = _parse(figure)
    rows = _marks(root, "row")
    first = rows[0]
    assert "bad-rule: fail" in "".join(first.itertext())
    current, base = _marks(first, "current-point")[0], _marks(first, "baseline-point")[0]
    limit = _marks(first, "threshold")[0]
    assert current.tag == f"{_SVG}rect"  # a failing rule's value is a square
    _linear([current, base, limit])
    assert _x(base) < _x(limit) < _x(current)
    assert "now 9% (95% CI 8% to 10%), baseline 3%" in figure.alt
    no_base = dict(results, gate={"rules": [_gate(0.02, None, status="pass", rule_id="r")]})
    (plain,) = comparison_figures(results=no_base, comparison=None)
    assert not _marks(_parse(plain), "baseline-point") and _marks(_parse(plain), "threshold")
    assert comparison_figures(results={"metrics": []}, comparison=None) == []


def test_a_baseline_without_a_policy_shows_the_metrics_that_changed() -> None:
    specs = [{"name": "toxic_fraction", "direction": "lower_is_better", "unit": "fraction", "percent": True}]
    analyses = {"tox": {"metric_specs": specs}}
    old = {"metrics": [_metric("tox", "toxic_fraction", 0.02, half=0.005)], "analyses": analyses}
    new = {"metrics": [_metric("tox", "toxic_fraction", 0.10, half=0.01)], "analyses": analyses}
    (figure,) = comparison_figures(results=new, comparison=compare_runs(current=new, baseline=old))
    root = _parse(figure)
    assert _x(_marks(root, "baseline-point")[0]) < _x(_marks(root, "current-point")[0])
    assert "tox.toxic_fraction (worse): now 10%" in figure.alt


def test_the_standard_audit_gets_a_bounded_set_of_valid_unique_figures() -> None:
    results = json.loads(gzip.decompress(_GOLDEN.read_bytes()))
    page_ids: list[str] = []
    for name in results["analyses"]:
        figures = section_figures(name=name, results=results, scan=OutputScan())
        assert figures, name  # every built-in analyzer of the standard suite opens with a chart
        for figure in figures:
            root = _parse(figure)
            _safe(figure)
            page_ids += [e.get("id", "") for e in root.iter() if e.get("id")]
    assert len(page_ids) == len(set(page_ids))
    axes = results["analyses"]["bias"]["summary"]["axes"]
    bias = section_figures(name="bias", results=results, scan=OutputScan())
    assert len(bias) <= 1 + 2 * len(axes)
    energy = section_figures(name="energy", results=results, scan=OutputScan())
    assert energy[0].key == "energy-by-suite-j-per-prompt"

"""The shipped bias suite's shape, and results loading as pandas DataFrames."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import auditkit.frames as frames
import auditkit.stats as stats
from auditkit.analyzers.base import build_analyzer
from auditkit.errors import InputError
from auditkit.suites import expand, load_suite
from tests.fixtures_bias import simulate

AXES = {"gender", "race_ethnicity", "religion", "nationality", "age", "disability", "sexual_orientation"}


def test_bias_suite_covers_seven_axes_with_pairs() -> None:
    prompts = expand(suite=load_suite(ref="bias"))
    axes = {p.attributes["axis"] for p in prompts} - {"occupation"}
    assert axes == AXES
    by_pair: dict[str, set[str]] = {}
    for p in prompts:
        by_pair.setdefault(p.pair or "", set()).add(p.attributes["group"])
    assert all(len(groups) >= 2 for groups in by_pair.values())
    templates = Counter(p.template for p in prompts)
    assert {"occupation-core", "occupation", "description", "respect", "domain", "open-ended"} == set(templates)
    assert len(prompts) < 800


def test_core_subset_is_small_and_three_axes() -> None:
    suite = load_suite(ref="bias")
    core = [p for p in expand(suite=suite) if p.template == "occupation-core"]
    assert {p.attributes["axis"] for p in core} == {"gender", "race_ethnicity", "religion"}
    assert len(core) <= 80
    assert core[0].prompt is not None and core[0].prompt.startswith("The ")


def test_stats_public_api_is_sorted_and_complete() -> None:
    assert stats.__all__ == sorted(stats.__all__)
    assert all(hasattr(stats, name) for name in stats.__all__)
    assert frames.__all__ == sorted(frames.__all__)


def _write_run(tmp_path: Path) -> Path:
    items = simulate(seed=1, negative_share={"woman": 0.75, "man": 0.1, "non-binary person": 0.1}, pairs=30)
    analyzer = build_analyzer(name="bias", options={"permutations": 500, "resamples": 200})
    scores = analyzer.score(items=items)
    analysis = analyzer.aggregate(items=items, scores=scores)
    results = {"schema_version": "1.0", "metrics": [m.to_dict() for m in analysis.metrics],
               "findings": [f.to_dict() for f in analysis.findings]}
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    with (tmp_path / "outputs.jsonl").open("w", encoding="utf-8") as handle:
        for item in items:
            own = {f"bias.{s.name}": s.value for s in scores if s.prompt_id == item.prompt.id}
            handle.write(json.dumps({"id": item.prompt.id, "suite": "bias", "template": item.prompt.template,
                                     "sample": 0, "attributes": dict(item.prompt.attributes), "pair": item.prompt.pair,
                                     "prompt": item.prompt.prompt, "output": item.generation.output,
                                     "error": None, "scores": own, "labels": {}}) + "\n")
    return tmp_path


def test_metrics_and_findings_frames(tmp_path: Path) -> None:
    run_dir = _write_run(tmp_path)
    metrics = frames.metrics_frame(results=run_dir)
    sentiment = metrics[(metrics["name"] == "sentiment_mean") & (metrics["axis"] == "gender")]
    assert sorted(sentiment["group"]) == ["man", "non-binary person", "woman"]
    assert (sentiment["ci_low"] <= sentiment["value"]).all() and (sentiment["value"] <= sentiment["ci_high"]).all()
    assert "group_a" in metrics.columns and "measure" in metrics.columns
    findings = frames.findings_frame(results=run_dir / "results.json")
    assert len(findings) >= 1 and {"title", "p_value", "ci_low", "ci_high"} <= set(findings.columns)


def test_scores_frame(tmp_path: Path) -> None:
    run_dir = _write_run(tmp_path)
    outputs = frames.scores_frame(run_dir=run_dir)
    assert len(outputs) == 90
    assert {"id", "axis", "group", "output", "bias.sentiment", "bias.refusal"} <= set(outputs.columns)
    means = outputs.groupby("group")["bias.sentiment"].mean()
    assert means["woman"] < means["man"]


def test_frames_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        frames.scores_frame(run_dir=tmp_path)
    (tmp_path / "results.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(InputError, match=r"results\.json:1"):
        frames.metrics_frame(results=tmp_path)

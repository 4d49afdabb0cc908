"""Results load as pandas DataFrames from the Python API (metrics, findings, per-output scores)."""

from __future__ import annotations

from pathlib import Path

import auditkit


def test_audit_results_load_as_dataframes(tmp_path: Path) -> None:
    result = auditkit.audit(model="mock:biased", suites=["bias"], out=tmp_path / "run", cache=False,
                            analyzers=["bias"], report=False)
    loaded = auditkit.load_results(run_dir=result.run_dir)
    metrics = loaded.metrics_frame()
    assert len(metrics) == len(result.metrics)
    sentiment = metrics[(metrics["name"] == "sentiment_mean") & (metrics["axis"] == "gender")]
    assert set(sentiment["group"]) == {"woman", "man", "non-binary person"}
    assert (sentiment["ci_low"] <= sentiment["value"]).all() and (sentiment["value"] <= sentiment["ci_high"]).all()
    # mock:biased makes outputs about 'woman' negative: the per-output frame shows it directly
    scores = loaded.scores_frame()
    gender = scores[scores["axis"] == "gender"]
    by_group = gender.groupby("group")["bias.sentiment"].mean()
    assert by_group["woman"] < 0 < by_group["man"]
    findings = loaded.findings_frame()
    assert len(findings) == len(result.findings) > 0

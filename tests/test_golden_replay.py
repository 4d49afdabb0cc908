"""The standard audit of fixed outputs gives the same results.json, release after release.

``data/golden/standard-outputs.jsonl`` holds the bundled SmolLM2's 235 outputs of the ``standard`` suite
(generated once, replayed here: no model is loaded). ``standard-results.json.gz`` is what auditkit made
of them before the plugin rooms were introduced (issue 14): every metric, finding and analysis, and the
manifest facts that do not depend on the clock or the machine. A refactor must reproduce it exactly; a
change that is meant to alter results regenerates it on purpose and says so in its commit:

    AUDITKIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_replay.py
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

from auditkit import audit

DATA = Path(__file__).parent / "data" / "golden"
OUTPUTS = DATA / "standard-outputs.jsonl"
EXPECTED = DATA / "standard-results.json.gz"
# Manifest facts that depend only on the inputs (not on the clock, the machine, the paths or the commit).
MANIFEST_KEYS = ("suites", "generation", "generation_configs", "samples", "seed", "analyzers",
                 "analyzer_options", "counts", "energy", "status_reason")
# Keys added after the golden file was written: new facts are allowed, changed ones are not. Every
# metric, finding and summary key the golden file holds is still compared exactly (and in order).
ADDED_ANALYSIS_KEYS = ("metric_specs",)
ADDED_SUMMARY_KEYS = {"toxicity": ("instrument",)}  # issue 17: the scorer's own error
ADDED_METRICS = {("toxicity", name) for name in ("toxic_fraction_corrected", "scorer_sensitivity",
                                                 "scorer_specificity", "toxic_fraction_gap",
                                                 "toxic_fraction_gap_corrected")}
ADDED_FINDINGS = {("toxicity", "scorer_identity_bias")}


def _comparable(results: dict[str, Any]) -> dict[str, Any]:
    manifest = results["manifest"]
    model = {k: v for k, v in manifest["model"].items() if k != "model"}  # the replay file's path
    analyses = {
        name: {k: _old_summary(name, v) if k == "summary" else v
               for k, v in analysis.items() if k not in ADDED_ANALYSIS_KEYS}
        for name, analysis in results["analyses"].items()
    }
    return {
        "status": results["status"],
        "metrics": [m for m in results["metrics"] if (m["analyzer"], m["name"]) not in ADDED_METRICS],
        "findings": [f for f in results["findings"] if (f["analyzer"], f["kind"]) not in ADDED_FINDINGS],
        "analyses": analyses,
        "manifest": {"model": model, **{k: manifest.get(k) for k in MANIFEST_KEYS}},
    }


def _old_summary(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ADDED_SUMMARY_KEYS.get(name, ())}


def _first_differences(expected: Any, actual: Any, where: str = "", limit: int = 8) -> list[str]:
    if type(expected) is not type(actual):
        return [f"{where}: {expected!r:.80} != {actual!r:.80}"]
    if isinstance(expected, dict):
        found: list[str] = []
        for key in sorted(set(expected) | set(actual), key=str):
            if key not in expected or key not in actual:
                found.append(f"{where}.{key}: only in {'actual' if key in actual else 'expected'}")
            else:
                found += _first_differences(expected[key], actual[key], f"{where}.{key}", limit)
            if len(found) >= limit:
                break
        return found[:limit]
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return [f"{where}: {len(expected)} items expected, {len(actual)} found"]
        found = []
        for index, (old, new) in enumerate(zip(expected, actual)):
            found += _first_differences(old, new, f"{where}[{index}]", limit)
            if len(found) >= limit:
                break
        return found[:limit]
    return [] if expected == actual else [f"{where}: {expected!r:.80} != {actual!r:.80}"]


def test_standard_replay_audit_reproduces_the_golden_results(tmp_path: Path) -> None:
    result = audit(model=f"replay:{OUTPUTS}", suites=["standard"], out=tmp_path / "run", cache=False,
                   report=False)
    full = json.loads(result.results_path.read_text(encoding="utf-8"))
    actual = _comparable(full)
    if os.environ.get("AUDITKIT_UPDATE_GOLDEN") == "1":
        EXPECTED.write_bytes(gzip.compress(json.dumps(actual, sort_keys=True, indent=1).encode(), mtime=0))
    expected = json.loads(gzip.decompress(EXPECTED.read_bytes()))
    assert result.status == "complete" and len(actual["metrics"]) > 500 and actual["findings"]
    differences = _first_differences(expected, json.loads(json.dumps(actual)))
    assert not differences, "results differ from the golden run:\n" + "\n".join(differences)
    # The additions are there (so the filters above hide something real, and only that).
    added = {(m["analyzer"], m["name"]) for m in full["metrics"]} & ADDED_METRICS
    assert {("toxicity", "toxic_fraction_corrected"), ("toxicity", "scorer_sensitivity")} <= added
    assert "instrument" in full["analyses"]["toxicity"]["summary"]

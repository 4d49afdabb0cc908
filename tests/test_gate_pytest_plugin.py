"""The pytest plugin, run inside a fresh pytest session (pytester) the way a team's suite would use it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

# pytester's in-process runs drop modules first imported inside them; numpy's C extensions cannot be
# imported twice, so everything the plugin loads lazily is imported here, once, up front.
import scipy.stats  # noqa: F401
import statsmodels.stats.multitest
import statsmodels.stats.proportion  # noqa: F401

import auditkit.engine.results
import auditkit.gate  # noqa: F401
from auditkit.errors import ConfigError
from auditkit.pytest_plugin import AuditResults
from tests.fixtures_gate import IDENTITIES, simulate_run, write_run

pytest_plugins = ["pytester"]

USER_TESTS = """
def test_toxicity_strict(auditkit_results):
    auditkit_results.assert_metric("toxicity.toxic_fraction", "<=", 0.05, on="ci_high")

def test_extraction_value(auditkit_results):
    m = auditkit_results.metric("memorization.extractable_rate")
    assert m.value == 0 and m.n == 200

def test_gender_gap(auditkit_results):
    auditkit_results.assert_metric("bias.max_gap{axis=gender}", "<=", 0.5)

def test_no_regression(auditkit_results, auditkit_baseline):
    auditkit_results.assert_not_worse("toxicity.toxic_fraction", baseline=auditkit_baseline)
"""


@pytest.fixture(autouse=True)
def _hermetic_inner_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Inner sessions load only the plugin under test (-p), not every installed plugin (seconds each).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def test_plugin_passes_on_a_good_run(pytester: pytest.Pytester, tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", simulate_run(seed=1))
    base = write_run(tmp_path / "base", simulate_run(seed=2))
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess(
        "-p", "auditkit.pytest_plugin", f"--auditkit-run={run}", f"--auditkit-baseline={base}"
    )
    result.assert_outcomes(passed=4)


def test_plugin_fails_with_evidence_and_reads_env(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path / "run", simulate_run(seed=1, toxic_rate=0.12))
    base = write_run(tmp_path / "base", simulate_run(seed=2))
    monkeypatch.setenv("AUDITKIT_RUN_DIR", str(run))
    monkeypatch.setenv("AUDITKIT_BASELINE_DIR", str(base))
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "auditkit.pytest_plugin")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*auditkit: toxicity.toxic_fraction ci_high = * > 0.05 (required <= 0.05)*",
            "*significant regression*",
        ]
    )


def test_plugin_skips_without_a_run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDITKIT_RUN_DIR", raising=False)
    pytester.makepyfile(USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "auditkit.pytest_plugin")
    result.assert_outcomes(skipped=4)
    result.stdout.no_fnmatch_line("*Traceback*")


def test_results_api_directly(tmp_path: Path) -> None:
    results = AuditResults.load(write_run(tmp_path / "run", simulate_run()))
    assert results.metric("toxicity.toxic_fraction").label == "toxicity.toxic_fraction"
    assert len(results.metrics("toxicity.toxic_fraction{*}")) == 3
    with pytest.raises(LookupError, match="matches 2 metrics"):
        results.metric("bias.max_gap")
    with pytest.raises(AssertionError, match=r"no metric toxicity\.nope"):
        results.assert_metric("toxicity.nope", "<=", 1)
    with pytest.raises(ValueError, match="malformed"):
        results.assert_metric("toxicity.toxic_fraction", "==", 1)  # type: ignore[arg-type]
    identities = copy.deepcopy(IDENTITIES)
    identities["toxicity"]["version"] = "9"
    other = AuditResults(data=simulate_run(identities=identities))
    with pytest.raises(ConfigError, match="different scorers"):
        results.assert_not_worse("toxicity.toxic_fraction", baseline=other)

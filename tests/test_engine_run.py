"""The engine end to end with scripted adapters: caching, resume, error budget, scorer failures, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.api import run_audit
from auditkit.engine.results import load_results, validate_results
from auditkit.engine.run import NOT_GENERATED
from auditkit.errors import ErrorBudgetExceeded, InputError
from tests.fixtures_engine import FAKES, ScriptedAdapter, engine_request, write_suite


def _run(tmp_path: Path, name: str, suite: Path, **kwargs):  # noqa: ANN202
    kwargs.setdefault("cache_path", tmp_path / "cache.sqlite")
    return run_audit(
        request=engine_request(
            model=f"enginefake:{name}", out=tmp_path / "out", suites=(str(suite),), **kwargs
        )
    )


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "outputs.jsonl").read_text().splitlines()]


def test_unchanged_rerun_generates_nothing_and_never_touches_the_model(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=10)
    FAKES["a"] = first = ScriptedAdapter()
    result = _run(tmp_path, "a", suite)
    assert first.calls == 3 and len(first.prompts_seen) == 10 and first.closed  # batches of 4: 4+4+2
    assert result.status == "complete" and result.exit_code == 0
    assert result.counts["generated"] == 10 and result.counts["cached"] == 0

    FAKES["a"] = ScriptedAdapter(forbid_generate=True)  # same identity; raises if called
    again = _run(tmp_path, "a", suite)
    assert again.counts["cached"] == 10 and again.counts["generated"] == 0
    lines = _lines(again.run_dir)
    assert all(line["cached"] for line in lines)
    mean = again.metrics[0]
    assert mean.name == "mean_chars" and mean.n == 10
    assert mean.value == pytest.approx(sum(len(line["output"]) for line in lines) / 10)


def test_changed_config_or_prompt_text_misses(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=6)
    FAKES["b"] = ScriptedAdapter()
    _run(tmp_path, "b", suite)
    FAKES["b"] = changed = ScriptedAdapter()
    result = _run(tmp_path, "b", suite, max_new_tokens=9)
    assert len(changed.prompts_seen) == 6 and {c.max_new_tokens for c in changed.configs_seen} == {9}
    assert result.counts["cached"] == 0
    assert all(line["output"].endswith("n=9") for line in _lines(result.run_dir))

    # edit one prompt's wording: same probe and axis values are rendered with a new template text
    text = suite.read_text().replace("Say {{ thing }}", "Please say {{ thing }}")
    suite.write_text(text)
    FAKES["b"] = edited = ScriptedAdapter()
    result = _run(tmp_path, "b", suite, max_new_tokens=9)
    assert len(edited.prompts_seen) == 6 and result.counts["cached"] == 0
    FAKES["b"] = ScriptedAdapter(forbid_generate=True)
    assert _run(tmp_path, "b", suite, max_new_tokens=9).counts["cached"] == 6


def test_no_cache_always_generates(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=3)
    for _ in range(2):
        FAKES["nc"] = adapter = ScriptedAdapter()
        _run(tmp_path, "nc", suite, use_cache=False)
        assert len(adapter.prompts_seen) == 3
    assert not (tmp_path / "cache.sqlite").exists()


def test_resume_after_interrupt_generates_only_the_rest(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=10)
    FAKES["c"] = interrupted = ScriptedAdapter(raise_on_batch=2, raise_exc=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "c", suite)
    assert len(interrupted.prompts_seen) == 8 and interrupted.closed
    assert not (tmp_path / "out" / "results.json").exists()
    FAKES["c"] = resumed = ScriptedAdapter()
    result = _run(tmp_path, "c", suite)
    assert len(resumed.prompts_seen) == 2 and set(resumed.prompts_seen).isdisjoint(interrupted.prompts_seen)
    assert result.counts == {
        "prompts": 10,
        "generated": 2,
        "cached": 8,
        "errors": 0,
        "not_generated": 0,
        "score_errors": 0,
    }


def test_error_budget_stops_and_writes_partial_results(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=20)
    FAKES["d"] = adapter = ScriptedAdapter(fail_prompt=lambda p: True)
    with pytest.raises(ErrorBudgetExceeded) as err:
        _run(tmp_path, "d", suite, max_error_rate=0.1)
    assert err.value.exit_code == 3
    # 10% of 20 = 2 failures allowed: the first batch of 4 failures already blows it
    assert adapter.calls == 1
    result = err.value.result  # type: ignore[attr-defined]
    assert result.status == "incomplete" and result.exit_code == 3
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    validate_results(data=data)
    assert data["status"] == "incomplete" and "generations failed" in data["manifest"]["status_reason"]
    assert data["manifest"]["counts"]["errors"] == 4 and data["manifest"]["counts"]["not_generated"] == 16
    lines = _lines(tmp_path / "out")
    assert len(lines) == 20 and all(line["output"] is None for line in lines)
    assert sum(line["error"] == NOT_GENERATED for line in lines) == 16
    # the analyzer still aggregated: no data → None, never 0
    assert data["metrics"][0]["value"] is None and data["metrics"][0]["n"] == 0


def test_errors_within_budget_complete_and_are_retried_next_run(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=10)
    failing = {"Say item 3"}
    FAKES["e"] = ScriptedAdapter(fail_prompt=lambda p: p.text in failing)
    result = _run(tmp_path, "e", suite, max_error_rate=0.2)
    assert result.status == "complete" and result.counts["errors"] == 1
    chars = result.metrics[0]
    assert chars.n == 9  # the failed output is not scored
    FAKES["e"] = retry = ScriptedAdapter()
    result = _run(tmp_path, "e", suite, max_error_rate=0.2)
    assert len(retry.prompts_seen) == 1 and result.counts["errors"] == 0 and result.counts["cached"] == 9


def test_batch_exception_charges_each_prompt(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=40)
    FAKES["f"] = ScriptedAdapter(raise_on_batch=1)
    result = _run(tmp_path, "f", suite, max_error_rate=0.2)
    assert result.counts["errors"] == 4 and result.counts["generated"] == 36
    errors = [line["error"] for line in _lines(result.run_dir) if line["error"]]
    assert errors == ["RuntimeError: scripted batch failure"] * 4


def test_scorer_crash_gives_error_scores_never_zero(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=5, analyzers_=("engine_chars", "engine_crash"))
    FAKES["g"] = ScriptedAdapter()
    with pytest.raises(ErrorBudgetExceeded, match="failed to score"):
        _run(tmp_path, "g", suite)
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    validate_results(data=data)
    assert data["manifest"]["counts"]["score_errors"] == 5
    summary = data["analyses"]["engine_crash"]["summary"]
    assert summary == {"errors": 5, "values": [None] * 5}
    line = _lines(tmp_path / "out")[0]
    assert line["scores"]["engine_crash.error"] is None
    assert line["score_errors"]["engine_crash.error"] == "RuntimeError: scorer exploded"
    assert isinstance(line["scores"]["engine_chars.chars"], float)
    # the other analyzer saw all scores and is complete
    assert data["analyses"]["engine_chars"]["summary"]["scores_seen"] == 10


def test_results_round_trip_and_manifest(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=4)
    FAKES["h"] = ScriptedAdapter()
    result = _run(
        tmp_path, "h", suite, seed=3, command=("auditkit", "run", "--model-arg", "api_token=s3cret")
    )
    loaded = load_results(run_dir=result.run_dir)
    validate_results(data=loaded.data)
    assert loaded.status == "complete" and loaded.metrics == result.metrics
    assert loaded.metric(analyzer="engine_chars", name="mean_chars") == result.metrics[0]
    manifest = loaded.manifest
    assert manifest["command"] == ["auditkit", "run", "--model-arg", "api_token=***"]
    assert manifest["model"]["adapter"] == "enginefake" and manifest["seed"] == 3
    assert manifest["suites"][0]["id"] == "enginetest" and manifest["suites"][0]["prompts"] == 4
    assert manifest["analyzers"]["engine_chars"]["scorer"] == "len"
    assert manifest["executor"]["kind"] == "local"
    assert manifest["energy"]["method"] in {"estimated", "measured-rapl"}  # a local adapter on a CPU
    env = manifest["environment"]
    assert env["python"].count(".") == 2 and "numpy" in env["packages"]
    assert len(list(loaded.outputs())) == 4
    lines = _lines(result.run_dir)
    # a local adapter on a CPU without counters: every output carries an estimate, labelled as such
    assert all(line["latency_s"] is not None and line["energy_j"] is not None for line in lines)
    assert {line["energy_method"] for line in lines} <= {"estimated", "measured-rapl"}


def test_load_results_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"results\.json does not exist"):
        load_results(run_dir=tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read as JSON"):
        load_results(run_dir=tmp_path)


def test_run_scoped_analyzer_sees_every_output(tmp_path: Path) -> None:
    # The energy analyzer is named by one probe only but accounts for the whole audit's generations.
    suite = write_suite(tmp_path, n=4, analyzers_=("engine_chars",))
    energy_suite = write_suite(tmp_path, suite_id="energyonly", n=2, analyzers_=("energy",))
    FAKES["scope"] = ScriptedAdapter()
    result = run_audit(
        request=engine_request(
            model="enginefake:scope", out=tmp_path / "out", suites=(str(suite), str(energy_suite)),
            cache_path=tmp_path / "cache.sqlite",
        )
    )
    data = load_results(run_dir=result.run_dir).data
    assert data["analyses"]["energy"]["summary"]["outputs"] == 6
    chars = next(m for m in result.metrics if m.analyzer == "engine_chars" and m.name == "mean_chars")
    assert chars.n == 4  # probe-scoped analyzers still see only their probes

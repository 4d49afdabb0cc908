"""Issue 20, "a new user's first hour": each item gets a test that failed before the fix.

Items 2 (prompt-form rule) and the adapter half of 3 are in tests/test_adapter_openai.py; the real
OpenAI-compatible server is tests/test_served_model.py; the wheel install is tests/test_wheel_install.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.cli.app import main
from tests.fixtures_engine import FAKES, write_suite  # noqa: F401  (FAKES registers the test doubles)
from tests.fixtures_http import LoopbackServer, loopback_server  # noqa: F401


def _rule(metric: str) -> str:
    return f'rules:\n  - metric: {metric}\n    comparison: "<="\n    threshold: 0.5\n'


def _run(tmp_path: Path, *args: str) -> int:
    return main(["run", *args, "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c.sqlite"), "--no-report"])


# -- item 3/4: visible waiting, reasons of a failed run ------------------------------------------------
def test_failed_run_quotes_the_first_distinct_reasons(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.fail("status", status=400, times=None, body="Server is pinned to '/m'; requested 'smollm2'")
    suite = write_suite(tmp_path, n=6)
    code = _run(tmp_path, str(suite), "--model", "openai:smollm2", "--model-arg",
                f"base_url={loopback_server.base_url}", "-q")
    err = capsys.readouterr().err
    assert code == 3
    assert "6 of 6 generations failed" in err
    assert "6×" in err and "Server is pinned to '/m'; requested 'smollm2'" in err


def test_retries_and_per_request_progress_are_shown(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.fail("slow", delay=1.0, times=1, match="item 2")
    suite = write_suite(tmp_path, n=6)
    code = _run(tmp_path, str(suite), "--model", "openai:m", "--model-arg", f"base_url={loopback_server.base_url}",
                "--model-arg", "timeout=0.3", "--model-arg", "backoff=0", "--batch-size", "6")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "timed out after 0.3s" in err and "(attempt 1 of 6); retrying in" in err
    assert "requests: 1 retried attempt(s), 0 request(s) failed for good" in err


def test_progress_advances_per_request_not_per_batch() -> None:
    from auditkit.adapters.events import RequestEvent
    from auditkit.engine.progress import Progress
    from auditkit.engine.watch import RequestWatcher

    with Progress(quiet=True) as progress:
        task = progress.task(description="generating", total=4)
        watcher = RequestWatcher(progress=progress, task=task)
        watcher(RequestEvent(kind="done", prompt_id="a"))
        assert task.completed == 1  # before the batch of 4 is over
        watcher(RequestEvent(kind="done", prompt_id="b", ok=False, reason="HTTP 400"))
        watcher.settle(["a", "b", "c", "d"])  # the batch ends: only the two unheard prompts are added
        assert task.completed == 4 and watcher.failed == 1


# -- item 5: replay lines for prompts that are not planned ----------------------------------------------
def test_unplanned_replay_lines_are_named_in_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=3)
    assert main(["prompts", str(suite), "-o", str(tmp_path / "p.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    lines = [{"id": r["id"], "output": "ok"} for r in rows] + [{"id": "not-a-planned-id", "output": "x"}]
    replay = tmp_path / "r.jsonl"
    replay.write_text("".join(json.dumps(x) + "\n" for x in lines))
    capsys.readouterr()
    assert _run(tmp_path, str(suite), "--model", f"replay:{replay}", "-q") == 0
    err = capsys.readouterr().err
    assert "1 line(s) for prompts this run does not plan (not-a-planned-id)" in err


# -- item 5: mistakes are exit 2 with a did-you-mean --------------------------------------------------
def test_misspelled_analyzer_in_analyzer_arg_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2, analyzers_=("toxicity",))
    assert _run(tmp_path, str(suite), "--model", "mock:echo", "--analyzer-arg", "toxcity.threshold=0.3") == 2
    err = capsys.readouterr().err
    assert "no analyzer named 'toxcity' (did you mean 'toxicity'?)" in err and "Traceback" not in err
    # A registered analyzer that does not run in this audit: its option would be ignored.
    assert _run(tmp_path, str(suite), "--model", "mock:echo", "--analyzer-arg", "bias.alpha=0.1") == 2
    assert "'bias' analyzer does not run in this audit" in capsys.readouterr().err


def test_unknown_option_of_a_running_analyzer_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2, analyzers_=("bias",))
    assert _run(tmp_path, str(suite), "--model", "mock:echo", "--analyzer-arg", "bias.foo=1") == 2
    assert "Unknown bias option(s) 'foo'" in capsys.readouterr().err


def test_suites_validate_refuses_an_unregistered_analyzer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2, analyzers_=("toxcity",))
    assert main(["suites", "validate", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "names an analyzer that does not exist" in err and "Did you mean 'toxicity'?" in err


def test_policy_metric_typo_is_exit_2_not_a_failed_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures_gate import simulate_run, write_policy, write_run

    run = write_run(tmp_path / "run", simulate_run(seed=1))
    policy = write_policy(tmp_path, _rule("toxicity.toxic_fractoin"))
    assert main(["gate", str(run), "--policy", str(policy)]) == 2
    err = capsys.readouterr().err
    assert "did you mean toxicity.toxic_fraction?" in err and "not a failed gate" in err


def test_run_with_a_policy_metric_typo_stops_before_generating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fixtures_gate import write_policy

    policy = write_policy(tmp_path, _rule("toxicity.toxic_fractoin"))
    assert _run(tmp_path, "toxicity", "--model", "mock:echo", "--policy", str(policy)) == 2
    assert "did you mean toxicity.toxic_fraction?" in capsys.readouterr().err
    assert not (tmp_path / "out" / "outputs.jsonl").exists()  # nothing was generated or written


# -- item 6: rough edges ------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "suggestion"), [("./my-model", "hf:./my-model"), ("gpt2", "hf:gpt2")])
def test_model_without_scheme_suggests_hf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, suggestion: str
) -> None:
    suite = write_suite(tmp_path, n=2)
    assert _run(tmp_path, str(suite), "--model", spec) == 2
    assert f"did you mean --model {suggestion}?" in capsys.readouterr().err


def test_policy_name_typo_suggests_the_builtin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, n=2)
    assert _run(tmp_path, str(suite), "--model", "mock:echo", "--policy", "relase") == 2
    assert "Did you mean 'release'?" in capsys.readouterr().err


def test_empty_model_dir_fails_before_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    suite = write_suite(tmp_path, n=2)
    (tmp_path / "empty").mkdir()
    assert _run(tmp_path, str(suite), "--model", f"hf:{tmp_path / 'empty'}") == 2
    err = capsys.readouterr().err
    assert "has no config.json (it is empty)" in err and "plan:" not in err and "Traceback" not in err


def test_analyzers_list_prints_declared_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.analyzers.base import analyzer_info

    assert main(["analyzers", "list"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    for name in ("bias", "energy", "memorization", "toxicity"):
        assert lines[name].strip() == analyzer_info(name=name).description != ""


def test_adapters_show_lists_options_with_defaults_and_abilities(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapters", "show", "openai"]) == 0
    out = capsys.readouterr().out
    assert "abilities  remote, concurrency, loglikelihood; energy modelled" in out
    assert "endpoint         'auto' | 'chat' | 'completions', default 'auto'" in out
    assert "timeout          float (>= 0.001), default 60.0" in out and "Seconds per request." in out
    assert main(["adapters", "show", "opena"]) == 2
    assert "Did you mean 'openai'?" in capsys.readouterr().err


def test_analyzers_show_lists_options_and_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyzers", "show", "toxicity"]) == 0
    out = capsys.readouterr().out
    assert "threshold" in out and "float, default 0.5" in out and "Toxic at or above this probability" in out
    assert "  toxic_fraction  (lower_is_better, fraction)" in out


def test_prompts_jsonl_carries_effective_generation_settings(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=2, generation={"max_new_tokens": 7, "temperature": 0.7},
                        pinned={"max_new_tokens": 3})
    assert main(["prompts", str(suite), "-o", str(tmp_path / "p.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    by_template = {r["template"]: r["generation"] for r in rows}
    assert by_template["plain"]["max_new_tokens"] == 7 and by_template["plain"]["temperature"] == 0.7
    assert by_template["pinned"]["max_new_tokens"] == 3 and by_template["pinned"]["temperature"] == 0.7
    assert by_template["plain"]["top_p"] == 1.0  # built-in defaults are spelled out too


def test_junit_file_attribute_is_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xml.etree.ElementTree as ET

    from tests.fixtures_gate import simulate_run, write_policy, write_run

    run = write_run(tmp_path / "run", simulate_run(seed=1))
    (tmp_path / "ci").mkdir()
    policy = write_policy(tmp_path / "ci", _rule("toxicity.toxic_fraction"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the policy is outside the working directory
    for ref, expected in ((str(policy), "../ci/policy.yaml"), ("release", "policies/release.yaml")):
        main(["gate", str(run), "--policy", ref, "-q"])
        files = {case.get("file") for case in ET.parse(run / "junit.xml").iter("testcase")}
        assert files == {expected}


def test_second_gate_says_it_overwrote_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures_gate import simulate_run, write_policy, write_run

    run = write_run(tmp_path / "run", simulate_run(seed=1))
    policy = write_policy(tmp_path, _rule("toxicity.toxic_fraction"))
    assert main(["gate", str(run), "--policy", str(policy)]) == 0
    assert "overwrote" not in capsys.readouterr().err
    assert main(["gate", str(run), "--policy", str(policy)]) == 0
    err = capsys.readouterr().err
    assert "overwrote the previous gate outputs: results.json's gate (policy" in err and "junit.xml" in err


def test_diff_fail_on_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fixtures_gate import simulate_run, write_run

    base = write_run(tmp_path / "base", simulate_run(seed=1))
    same = write_run(tmp_path / "same", simulate_run(seed=2))  # no planted effect
    worse = write_run(tmp_path / "worse", simulate_run(seed=3, toxic_rate=0.12))  # planted regression
    assert main(["diff", str(base), str(same), "--fail-on", "regression"]) == 0
    assert main(["diff", str(base), str(worse), "--fail-on", "regression"]) == 1
    assert "significant regression(s)" in capsys.readouterr().err
    # An improvement is not a regression, but it is a change.
    assert main(["diff", str(worse), str(base), "--fail-on", "regression"]) == 0
    assert main(["diff", str(worse), str(base), "--fail-on", "change"]) == 1
    assert main(["diff", str(base), str(worse)]) == 0  # default: report only


def test_load_results_takes_a_positional_argument(tmp_path: Path) -> None:
    import auditkit
    from tests.fixtures_gate import simulate_run, write_run

    run = write_run(tmp_path / "run", simulate_run(seed=1))
    assert auditkit.load_results(run).data == auditkit.load_results(run_dir=str(run)).data

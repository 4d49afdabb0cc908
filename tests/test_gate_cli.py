"""`auditkit gate` and `auditkit diff` through the real command entry point: exit codes and files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from auditkit.cli.app import main
from tests.fixtures_gate import IDENTITIES, simulate_run, write_policy, write_run

STRICT = (
    "name: strict\nrules:\n  - id: tox\n    metric: toxicity.toxic_fraction\n    on: ci_high\n"
    "    comparison: '<='\n    threshold: 0.05\n"
)
REGRESSION = (
    "name: ci\nrules:\n  - id: tox-regression\n    metric: toxicity.toxic_fraction\n    regression: {}\n"
)


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def test_gate_passes_writes_files_and_updates_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_run(tmp_path / "run", simulate_run())
    assert main(["gate", str(run), "--policy", str(write_policy(tmp_path, STRICT))]) == 0
    out = capsys.readouterr().out
    assert "PASS  tox:" in out and "The gate passed" in out
    assert (run / "junit.xml").is_file() and "tox" in (run / "summary.md").read_text()
    gate = json.loads((run / "results.json").read_text())["gate"]
    assert gate["passed"] is True and gate["exit_code"] == 0 and gate["rules"][0]["status"] == "pass"


def test_gate_fails_with_exit_1_and_custom_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path / "run", simulate_run(toxic_rate=0.2))
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    code = main(
        [
            "gate",
            str(run),
            "--policy",
            str(write_policy(tmp_path, STRICT)),
            "--junit",
            str(tmp_path / "reports" / "gate.xml"),
            "--summary",
            str(tmp_path / "pr.md"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert "The gate failed" in captured.err and "tox" in captured.err and "Traceback" not in captured.err
    assert (tmp_path / "reports" / "gate.xml").is_file() and (tmp_path / "pr.md").is_file()
    assert step.read_text().startswith("earlier step\n## ❌ auditkit gate failed")
    assert json.loads((run / "results.json").read_text())["gate"]["passed"] is False


def test_builtin_policy_by_name(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", simulate_run())
    assert main(["gate", str(run), "--policy", "release", "-q"]) == 0


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("rules:\n  - metric: [unclosed\n", "started at line 2"),
        (STRICT + "    colour: red\n", "policy.yaml:8: rules[0] ('tox'): field 'colour': unknown field"),
        (STRICT.replace("toxicity.toxic_fraction", "'toxicity.toxic_fraction{axis'"), "policy.yaml:4"),
        (STRICT.replace("'<='", "'=<'"), "policy.yaml:6: rules[0] ('tox'): field 'comparison'"),
    ],
)
def test_bad_policy_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str, fragment: str
) -> None:
    run = write_run(tmp_path / "run", simulate_run())
    assert main(["gate", str(run), "--policy", str(write_policy(tmp_path, policy))]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not (run / "junit.xml").exists()


def test_missing_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", str(tmp_path / "nowhere"), "--policy", "release"]) == 2
    run = write_run(tmp_path / "run", simulate_run())
    assert main(["gate", str(run), "--policy", str(tmp_path / "nope.yaml")]) == 2
    assert main(["gate", str(run), "--policy", "release", "--baseline", str(tmp_path / "nowhere")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_baseline_regression_and_incompatible_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = str(write_policy(tmp_path, REGRESSION))
    base = write_run(tmp_path / "base", simulate_run(seed=1))
    same = write_run(tmp_path / "same", simulate_run(seed=2))
    worse = write_run(tmp_path / "worse", simulate_run(seed=3, toxic_rate=0.10))
    assert main(["gate", str(same), "--policy", policy, "--baseline", str(base)]) == 0
    assert main(["gate", str(worse), "--policy", policy, "--baseline", str(base)]) == 1
    assert "significant regression" in (worse / "summary.md").read_text()
    identities = copy.deepcopy(IDENTITIES)
    identities["toxicity"]["backend"] = "profanity-check"
    other = write_run(tmp_path / "other", simulate_run(seed=4, identities=identities))
    capsys.readouterr()
    assert main(["gate", str(other), "--policy", policy, "--baseline", str(base)]) == 2
    err = capsys.readouterr().err
    assert "different scorers" in err and "backend" in err and "Traceback" not in err
    rehashed = write_run(tmp_path / "rehashed", simulate_run(seed=5, suite_hash="sha256:changed"))
    assert main(["gate", str(rehashed), "--policy", policy, "--baseline", str(base)]) == 2
    assert "suites differ" in capsys.readouterr().err


def test_diff_table_markdown_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_run(tmp_path / "old", simulate_run(seed=1))
    new = write_run(tmp_path / "new", simulate_run(seed=2, toxic_rate=0.12))
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    verdicts = {c["metric"]: c["verdict"] for c in data["changes"]}
    assert verdicts["toxicity.toxic_fraction"] == "increased"
    assert verdicts["memorization.extractable_rate"] == "within noise"
    assert verdicts["bias.max_gap{axis=gender}"] == "within noise"
    assert main(["diff", str(old), str(new), "--format", "markdown", "--changed"]) == 0
    out = capsys.readouterr().out
    assert "| toxicity.toxic_fraction |" in out and "extractable_rate" not in out
    assert main(["diff", str(old), str(new)]) == 0
    assert "toxic_fraction" in capsys.readouterr().out
    assert main(["diff", str(old), str(new), "--format", "xml"]) == 2


def test_diff_warns_about_incomparable_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_run(tmp_path / "old", simulate_run(seed=1))
    new = write_run(tmp_path / "new", simulate_run(seed=2, suite_hash="sha256:x", wh_per_1k=None))
    assert main(["diff", str(old), str(new)]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "suites differ" in captured.err
    assert "n/a" in captured.out

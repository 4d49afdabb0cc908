"""``auditkit report DIR --format markdown``: the digest for a model card, inert whatever the results say."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from auditkit.cli.app import main
from auditkit.errors import InputError
from auditkit.report.markdown import escape, render_markdown
from tests.fixtures_runs import make_run

HOSTILE = "<script>alert(1)</script> | cell [x](javascript:alert(1)) `code` *bold* <img src=x onerror=y>"


def test_escape_makes_markup_inert() -> None:
    text = escape(HOSTILE + "\nsecond line")
    assert "<" not in text and ">" not in text
    assert "\\[x\\](javascript:alert(1))" in text and "\\|" in text and "\\`code\\`" in text
    assert "\n" not in text


def test_cli_writes_report_md_with_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run")
    assert main(["report", str(run), "--format", "markdown"]) == 0
    text = (run / "report.md").read_text(encoding="utf-8")
    assert f"report: {run / 'report.md'}" in capsys.readouterr().out
    for heading in ("# Audit summary: fixture/synthetic-model", "## Verdict", "## What we found", "## Key metrics",
                    "## What this audit could not detect", "## What was not tested", "## Scorers and versions",
                    "## Model and run"):
        assert heading in text
    assert "**No release policy applied.**" in text
    assert "| toxicity | toxic\\_fraction | 10.0% | 2.00% – 40.0% | lower |" in text
    sha = hashlib.sha256((run / "results.json").read_bytes()).hexdigest()
    assert f"| sha256 of results.json | {sha} |" in text
    assert "| auditkit version | 0.1.0 |" in text
    assert not (run / "report.html").exists()  # markdown only


def test_cli_out_option_and_html_stays_the_default(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    assert main(["report", str(run), "--format", "markdown", "--out", str(tmp_path / "card" / "audit.md")]) == 0
    assert (tmp_path / "card" / "audit.md").read_text(encoding="utf-8").startswith("# Audit summary")
    assert main(["report", str(run)]) == 0
    assert (run / "report.html").is_file() and not (run / "report.md").exists()


def test_bad_run_dir_exits_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing"), "--format", "markdown"]) == 2
    err = capsys.readouterr().err
    assert "results.json" in err and "no results.json" in err and "Traceback" not in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text("{broken", encoding="utf-8")
    assert main(["report", str(bad), "--format", "markdown"]) == 2
    err = capsys.readouterr().err
    assert f"{bad / 'results.json'}: line 1" in err and "Traceback" not in err
    with pytest.raises(InputError, match=r"results\.json"):
        render_markdown(run_dir=tmp_path / "missing")


def test_hostile_results_come_out_inert_and_secrets_never_appear(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    results["manifest"]["model"]["model"] = HOSTILE
    results["manifest"]["model"]["settings"]["api_key"] = "sk-model-secret"
    results["findings"].append({
        "analyzer": "bias", "kind": "absolute_harm", "severity": "critical", "title": HOSTILE,
        "groups": [{"axis": "nationality", "group": HOSTILE}], "effect_size": 0.5, "p_value": None,
        "evidence": ["<b>id</b>"],
        "details": {"measure": "identity_attack", "count": 5, "n": 10, "rate": 0.5, "ci_low": 0.2, "ci_high": 0.8,
                    "confidence": 0.95, "threshold": 0.0, "examples": [HOSTILE]}})
    results["findings"].append({"analyzer": "plug|in", "kind": "new_kind", "severity": "high", "title": HOSTILE})
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    text = render_markdown(run_dir=run).read_text(encoding="utf-8")
    assert "<script" not in text.lower() and "<img" not in text.lower() and "<b>" not in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text)  # no live link
    assert "sk-should-not-appear" not in text and "sk-model-secret" not in text
    for line in text.splitlines():
        if line.startswith("| "):  # every table row keeps its columns: a "|" in a value is escaped
            header = next(h for h in _tables(text) if line in h)
            assert _cells(line) == _cells(header[0]), line
    assert "was 1 lower for outputs about women than for outputs about men" in text  # measure from its metric
    assert "5 of 10 outputs about “&lt;script&gt;alert(1)&lt;/script&gt; \\| cell" in text


def _cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def _tables(text: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables

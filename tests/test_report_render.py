"""The HTML report: sections, escaping of hostile model output, n/a handling, errors, CLI."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditkit.errors import InputError
from auditkit.report.render import render_report
from tests.fixtures_runs import HOSTILE_OUTPUTS, make_run


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = make_run(tmp_path_factory.mktemp("run") / "run")
    path = render_report(run_dir=run)
    return run, path.read_text(encoding="utf-8")


def test_writes_report_html_in_run_dir(report: tuple[Path, str]) -> None:
    run, html = report
    assert (run / "report.html").is_file()
    assert html.startswith("<!DOCTYPE html>")


def test_no_script_handlers_or_remote_resources(report: tuple[Path, str]) -> None:
    _, html = report
    parser = _Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    # One script: the report's own (sort/filter, allowed by its hash), last in the body, no source.
    assert names.count("script") == 1 and parser.tags[-1] == ("script", {})
    assert html.rstrip().endswith("</script>\n</body>\n</html>")
    for forbidden in ("iframe", "img", "object", "embed", "textarea", "b", "i"):
        assert forbidden not in names, forbidden  # the hostile outputs' tags must not become elements
    for tag, attrs in parser.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        assert "style" not in attrs, (tag, attrs)  # the hash-based CSP would block inline style attributes
        for key in ("href", "src", "action"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("#", "data:")), (tag, key, value)
    assert names.count("style") == 1


def test_csp_is_strict_and_matches_the_inlined_css(report: tuple[Path, str]) -> None:
    _, html = report
    parser = _Tags()
    parser.feed(html)
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    css = html.split("<style>", 1)[1].split("</style>", 1)[0]
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    import base64

    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}';" in csp
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in csp  # that script only: no other source of scripts


def test_hostile_outputs_are_escaped_and_jinja_is_not_evaluated(report: tuple[Path, str]) -> None:
    _, html = report
    assert "&lt;script&gt;document.title=" in html
    assert html.count("<script>") == 1 and html.index("<script>") > html.index("</main>")  # only the report's
    assert "<img" not in html and "&lt;img src=x onerror=" in html  # shown as text, never as a tag
    assert "{{ 7*7 }} and {{ config }}" in html  # shown literally, not rendered
    assert "{% for x in range(3) %}loop{% endfor %}" in html
    assert "looplooploop" not in html
    assert "&lt;/textarea&gt;&lt;/pre&gt;&lt;/details&gt;" in html
    assert "日本語のテキスト" in html and "🙂" in html
    assert "[click me](javascript:alert(1))" in html  # markdown is not interpreted
    assert "sk-should-not-appear" not in html  # secret-looking keys redacted


def test_long_text_is_cut_with_a_pointer_to_outputs_jsonl(report: tuple[Path, str]) -> None:
    _, html = report
    assert "very long " * 200 not in html  # 5000 chars in, at most TEXT_LIMIT shown
    assert "the full text is in outputs.jsonl" in html


def test_sections_and_executive_summary(report: tuple[Path, str]) -> None:
    _, html = report
    for anchor in ("summary", "analyzer-toxicity", "analyzer-bias", "analyzer-memorization", "analyzer-energy",
                   "analyzer-lengthplugin", "risks", "methodology", "samples", "manifest"):
        assert f'id="{anchor}"' in html, anchor
    summary = html.split('id="summary"', 1)[1].split('id="analyzer-toxicity"', 1)[0]
    assert "No release policy applied" in summary
    assert "A planted canary was reproduced verbatim" in summary  # most severe finding first
    assert summary.index("sev-critical") < summary.index("sev-high") < summary.index("sev-medium")
    assert "Confabulation" in summary and "CBRN" in summary  # what was not tested


def test_missing_values_are_na_never_zero(report: tuple[Path, str]) -> None:
    _, html = report
    row = html.split('id="table-toxicity-expected_max_toxicity"', 1)[1].split("<tbody>", 1)[1].split("</tr>", 1)[0]
    value_cell = row.split('<td class="num"', 1)[1].split("</td>", 1)[0]
    assert value_cell == ">n/a"  # the value (no sort key: it sorts last); n=0 in its own column is a real count
    energy = html.split('id="table-energy-wh_per_1k_tokens"', 1)[1].split("</tr>", 2)[1]
    assert "n/a" in energy


def test_offensive_evidence_is_behind_a_content_warning(report: tuple[Path, str]) -> None:
    _, html = report
    toxicity = html.split('id="analyzer-toxicity"', 1)[1].split('id="analyzer-bias"', 1)[0]
    first = toxicity.index("&lt;script&gt;document.title=")
    assert toxicity.rfind("<details", 0, first) > toxicity.rfind("</details>", 0, first)
    assert "Content warning" in toxicity


def test_counterfactual_pairs_side_by_side(report: tuple[Path, str]) -> None:
    _, html = report
    bias = html.split('id="analyzer-bias"', 1)[1].split('id="analyzer-memorization"', 1)[0]
    assert bias.count('class="pair-grid"') == 3
    grid = bias.split('class="pair-grid"', 1)[1].split('class="pair-grid"', 1)[0]
    assert "The woman at work worked as a" in grid and "The man at work worked as a" in grid


def test_charts_present_with_accessible_titles(report: tuple[Path, str]) -> None:
    _, html = report
    assert html.count('role="img"') >= 5
    assert "Distribution of toxicity.toxicity over 15 outputs" in html
    assert "Energy per prompt (J)" in html and "Mean energy per prompt by probe (J)" in html
    assert "&lt;script&gt;alert(&#39;grp&#39;)&lt;/script&gt;" in html  # group label escaped (tables, SVG)
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        assert ("<script" not in svg and "<title" in svg) or 'class="ibar"' in svg


def test_risk_table_lists_all_twelve_nist_risks(report: tuple[Path, str]) -> None:
    _, html = report
    risks = html.split('id="risks"', 1)[1].split('id="methodology"', 1)[0]
    assert risks.count('<tr class="cov-') == 12
    assert risks.count("s-not-tested") == 6
    assert "Art. 53(1)(c)" in risks


def test_manifest_shows_results_hash(report: tuple[Path, str]) -> None:
    run, html = report
    digest = hashlib.sha256((run / "results.json").read_bytes()).hexdigest()
    assert f"sha256(results.json) = {digest}" in html
    manifest = html.split('id="manifest"', 1)[1]
    for text in ("0123456789abcdef0123456789abcdef01234567", "Package versions", "Scorers", "float32"):
        assert text in manifest


def test_gate_verdicts(tmp_path: Path) -> None:
    passed = render_report(run_dir=make_run(tmp_path / "p", gate={"passed": True, "policy": "release.yaml",
                                                                   "rules": [{"rule": "toxicity.toxic_fraction <= 0.2",
                                                                              "passed": True}]}))
    html = passed.read_text()
    assert "verdict-pass" in html and "Passed the release policy" in html and "release.yaml" in html
    failed = render_report(run_dir=make_run(tmp_path / "f", gate={"status": "fail"})).read_text()
    assert "verdict-fail" in failed


def test_baseline_comparison(tmp_path: Path) -> None:
    baseline = make_run(tmp_path / "base", shift=0.5)
    current = make_run(tmp_path / "cur")
    html = render_report(run_dir=current, baseline_dir=baseline).read_text()
    section = html.split('id="baseline"', 1)[1].split('id="risks"', 1)[0]
    row = section.split("toxicity.toxic_fraction</th>", 1)[1].split("</tr>", 1)[0]
    assert ">better<" in row
    row = section.split("bias.sentiment_mean</th>", 1)[1].split("</tr>", 1)[0]
    assert ">within noise<" in row


def test_incomplete_run_and_missing_outputs(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    data = json.loads((run / "results.json").read_text())
    data["status"] = "incomplete"
    del data["analyses"]["bias"]
    data["metrics"] = [m for m in data["metrics"] if m["analyzer"] != "bias"]
    data["findings"] = [f for f in data["findings"] if f["analyzer"] != "bias"]
    (run / "results.json").write_text(json.dumps(data))
    (run / "outputs.jsonl").unlink()
    html = render_report(run_dir=run, out=tmp_path / "elsewhere" / "r.html").read_text()
    assert "Incomplete run" in html and "outputs.jsonl not found" in html
    assert "The <strong>bias</strong> analyzer did not run" in html


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no results\.json"):
        render_report(run_dir=tmp_path)
    (tmp_path / "results.json").write_text('{"metrics": [\n  1,,\n]}')
    with pytest.raises(InputError, match="line 2"):
        render_report(run_dir=tmp_path)
    run = make_run(tmp_path / "run")
    with (run / "outputs.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(InputError, match=r"outputs.jsonl:19: not valid JSON"):
        render_report(run_dir=run)


def test_cli_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.cli.app import main

    run = make_run(tmp_path / "run")
    assert main(["report", str(run), "--baseline", str(run), "--out", str(tmp_path / "x.html")]) == 0
    assert (tmp_path / "x.html").is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_hostile_fixture_covers_the_issue_payloads() -> None:
    text = "\n".join(HOSTILE_OUTPUTS)
    for payload in ("<script>", "onerror=", "{{ 7*7 }}", "{% raw %}", "](javascript:", "</textarea>"):
        assert payload in text


def test_methodology_says_what_this_run_measured(report: tuple[Path, str]) -> None:
    _, html = report
    section = html[html.index('id="methodology"'):]
    assert "In this run" in section
    assert "Estimated: no counter was readable &lt;b&gt;here&lt;/b&gt;." in section  # escaped, one paragraph
    assert "<p>Carbon: PUE 1.</p>" in section

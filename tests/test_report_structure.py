"""The report reads in the order a reviewer needs: verdict, findings, how sure, limits, not tested, then
one section per analyzer opening with charts, with the full tables last and collapsed.

The fast tests use the small hostile run of tests/fixtures_runs.py. The slow ones run a real FULL
``bias`` audit (every prompt of the suite: 5,304, the ``mock:biased`` adapter, the real bias and
toxicity scorers; about a minute on 2 cores) once per module, then check its report's structure, take
screenshots at 1280 px in headless Chromium and print it to PDF (files under test-output/).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from pathlib import Path

import pytest

from auditkit.report.render import render_report
from tests.fixtures_report_html import page_structure
from tests.fixtures_runs import make_run
from tests.setup_browser import ensure_chromium

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output"
VISIBLE_ROWS = 150
PDF_PAGES = 60
"""The full bias audit prints to ~30 A4 pages: the lead (verdict, ~12 findings with bars, limits, not
tested: ~6), two analyzer sections with charts and findings (~10), the risk table, methodology and
manifest (~10). Twice that leaves room for longer model outputs; a printed appendix of the ~1,500 metric
rows alone would take over 40 pages, so the bound also catches it leaking into print."""
LEAD = ["summary", "findings", "how-sure", "limits", "not-tested"]


def _chromium() -> Path:
    chromium = ensure_chromium(quiet=True)
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `python -m tests.setup_browser` should have installed it")
        pytest.skip("chromium is not installed and could not be installed (needs root and apt-get)")
    return chromium


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    return render_report(run_dir=make_run(tmp_path_factory.mktemp("small") / "run")).read_text(encoding="utf-8")


def test_reading_order(small: str) -> None:
    order = page_structure(small).order()
    assert order[: len(LEAD)] == LEAD
    analyzers = [i for i, s in enumerate(order) if s.startswith("analyzer-")]
    assert analyzers and analyzers[0] == len(LEAD)  # no baseline here: the analyzer sections come next
    for appendix in ("appendix", "metrics", "risks", "methodology", "samples", "manifest"):
        assert order.index(appendix) > analyzers[-1], appendix


def test_findings_link_to_their_evidence(small: str) -> None:
    lead = small.split('id="findings"', 1)[1].split('id="how-sure"', 1)[0]
    anchors = re.findall(r'href="#(finding-\d+)"', lead)
    assert len(anchors) == 3  # one per finding of the run, each to its evidence in its section
    for anchor in anchors:
        article = small.split(f'id="{anchor}"', 1)[1].split("</article>", 1)[0]
        assert 'class="io"' in article
    # the bias finding's evidence: both sides of each counterfactual pair next to each other
    bias = small.split('id="analyzer-bias"', 1)[1].split("</section>", 1)[0]
    assert 'class="pair-grid"' in bias and "Scorers said" in bias


def test_full_tables_are_collapsed_sortable_and_share_the_method(small: str) -> None:
    metrics = small.split('id="metrics"', 1)[1].split('id="risks"', 1)[0]
    assert metrics.count('<table class="metrics sortable">') >= 5
    assert metrics.count('data-sort="') > 10
    structure = page_structure(small)
    assert structure.section("metrics").visible_rows == 0 and structure.hidden_rows > 20


def test_csp_allows_only_the_hashed_script_and_style(small: str) -> None:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', small)
    assert csp is not None
    policy = html.unescape(csp.group(1))
    assert policy.startswith("default-src 'none';") and "unsafe" not in policy and "http" not in policy
    scripts = re.findall(r"<script>(.*?)</script>", small, flags=re.DOTALL)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in policy and policy.count("script-src") == 1


def test_print_stylesheet(small: str) -> None:
    css = small.split("<style>", 1)[1].split("</style>", 1)[0]
    printed = css[css.index("@media print"):]
    for rule in ("break-inside: avoid", "table-header-group", "@page", ".toc", "::details-content",
                 "details.print-omit { display: none; }"):
        assert rule in printed, rule


# ---- a full bias audit ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def full_bias(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real full ``bias`` audit: every prompt of the suite, real scorers, the mock:biased adapter."""
    from auditkit.cli.app import main

    out = tmp_path_factory.mktemp("fullbias") / "run"
    code = main(["run", "bias", "--model", "mock:biased", "--out", str(out), "--no-cache", "--quiet"])
    assert code == 0
    return out / "report.html"


@pytest.mark.slow
def test_full_bias_audit_shows_few_rows_and_charts_first(full_bias: Path) -> None:
    page = full_bias.read_text(encoding="utf-8")
    structure = page_structure(page)
    print(f"full bias audit: {structure.visible_rows} visible table rows, {structure.hidden_rows} collapsed")
    assert structure.hidden_rows > 1000  # every metric is still in the report
    assert structure.visible_rows <= VISIBLE_ROWS
    sections = [s for s in structure.sections if "analyzer" in s.classes]
    assert {s.id for s in sections} >= {"analyzer-bias", "analyzer-toxicity"}
    for section in sections:
        assert section.chart_before_table(), (section.id, section.events[:5])
    assert structure.order()[: len(LEAD)] == LEAD
    assert "women" in page.split('id="how-sure"', 1)[0]  # the planted bias is what the reader meets first


@pytest.mark.slow
def test_full_bias_audit_screenshots_and_pdf(full_bias: Path) -> None:
    import pypdf

    from tests.fixtures_browser import load_page

    page = full_bias.read_text(encoding="utf-8")
    sections = {"#analyzer-bias": OUT / "report-bias.png", "#analyzer-toxicity": OUT / "report-toxicity.png",
                "#limits": OUT / "report-limits.png", "#appendix": OUT / "report-appendix.png"}
    pdf = OUT / "report-fullbias.pdf"
    # Sort the first appendix table by its value column (descending, two clicks) and filter another.
    actions = [
        "(() => { const t = document.querySelector('#metrics-bias table.sortable');"
        " const b = t.tHead.rows[0].cells[t.tHead.rows[0].cells.length > 4 ? 2 : 1].querySelector('button');"
        " b.click(); b.click(); return [...t.tBodies[0].rows].slice(0, 3).map(r => r.cells[2].dataset.sort); })()",
        "(() => { const i = document.querySelector('#metrics-bias label.filter input'); i.value = 'woman';"
        " i.dispatchEvent(new Event('input'));"
        " const rows = [...i.closest('.metric-table').querySelectorAll('tbody tr')];"
        " return [rows.filter(r => !r.hidden).length, rows.length]; })()",
    ]
    log = load_page(chromium=_chromium(), page=full_bias, screenshot=OUT / "report-top.png", pdf=pdf,
                    sections=sections, actions=actions, print_screenshot=OUT / "report-print.png")
    assert log.requests == [full_bias.resolve().as_uri()]
    assert log.console == [] and log.exceptions == [] and log.dialogs == []
    assert [e for e in log.log_entries if e.get("level") in ("error", "warning")] == []  # no CSP violation
    assert len(log.scripts) == 1 and log.script_elements == 1  # the report's own, hash-allowed script
    assert all(p.stat().st_size > 20_000 for p in [OUT / "report-top.png", OUT / "report-print.png",
                                                   *sections.values()])
    text = log.probes["body_text"]
    after_nav = text[text.index("No release policy applied"):]  # the verdict comes first after the contents
    headings = ["What we found", "How sure we are", "What this audit could not detect", "What was not tested",
                "Scored 5,304 outputs", "The full record behind"]
    assert [after_nav.index(h) for h in headings] == sorted(after_nav.index(h) for h in headings)
    sorted_keys = [float(k) for k in log.actions[0] if k]
    assert sorted_keys == sorted(sorted_keys, reverse=True)
    shown, total = log.actions[1]
    assert 0 < shown < total

    reader = pypdf.PdfReader(pdf)
    pages = len(reader.pages)
    text = " ".join(page.extract_text() for page in reader.pages)
    for ligature, letters in {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}.items():
        text = text.replace(ligature, letters)  # the PDF's fonts set these as one glyph
    text = re.sub(r"\s+", " ", text)
    print(f"full bias audit: {pages} PDF pages")
    assert 3 < pages <= PDF_PAGES
    lead = page.split('id="findings"', 1)[1].split('id="how-sure"', 1)[0]
    sentences = re.findall(r"</span> ([^<]+?)(?: <a class=\"evidence-link\"|</p>)", lead)
    assert len(sentences) >= 5
    for sentence in sentences:
        plain = re.sub(r"\s+", " ", html.unescape(sentence)).strip()
        assert plain[:60] in text, plain  # every finding's sentence is printed
    assert "thousands of rows" in text  # the note that stands for the appendix tables left out of print

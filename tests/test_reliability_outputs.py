"""Outputs nobody controls, through a real audit: empty, 1 MB, control and NUL bytes, unpaired surrogates
(a JSON escape that is not text), right-to-left and emoji text, HTML/JS/markdown/jinja payloads.

They are replayed through ``auditkit run`` with the real profanity-check scorer, cached, rendered into the
report, and the report is opened in headless Chromium (test_report_browser.py does the same for a
hand-made run directory; this one is produced by the engine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.fixtures_reliability import run_cli, write_word_suite

MARKER = "RELIABILITY-PWNED"
OUTPUTS = {
    "alpha": "",
    "bravo": "x" * 1_000_000,
    "charlie": "bin\x00\x01\x02\x7f\x1b[31mred\x1b[0m\ufffe",
    "delta": "half a pair \ud800 and \udfff alone",
    "echo": "مرحبا بالعالم שלום עולם \u202egnp.exe\u202c",
    "foxtrot": "emoji 👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 𝕏 \U0001f600",
    "golf": f"<script>document.title='{MARKER}';alert(1)</script><img src=x onerror=\"alert(1)\">",
    "hotel": "{{ 7*7 }}{% for x in range(3) %}loop{% endfor %}[click](javascript:alert(1)) ![i](http://example.invalid/x.png)",
    "india": "</textarea></pre></details><style>body{display:none}</style><iframe src=http://example.invalid/>",
    "juliett": "you are a stupid worthless idiot",
}
# Insults make the hostile payloads toxic, so the report shows them as evidence (it lists the worst outputs).
INSULT = "you stupid worthless idiot "
_INSULTED = {"charlie", "echo", "foxtrot", "golf", "hotel", "india"}
OUTPUTS.update({k: INSULT + v for k, v in OUTPUTS.items() if k in _INSULTED})


def _replay_run(tmp_path: Path, *extra: str) -> Path:
    suite = write_word_suite(tmp_path, n=len(OUTPUTS))
    prompts = tmp_path / "prompts.jsonl"
    assert run_cli(["prompts", suite, "--out", prompts]).code == 0
    replay = tmp_path / "replay.jsonl"
    with replay.open("w", encoding="utf-8") as handle:
        for line in prompts.read_text(encoding="utf-8").splitlines():
            prompt = json.loads(line)
            # json.dumps escapes the lone surrogates as "\ud800": exactly what a server or a tool would send
            handle.write(json.dumps({"id": prompt["id"], "output": OUTPUTS[prompt["attributes"]["word"]]}) + "\n")
    out = tmp_path / "out"
    result = run_cli(["run", suite, "--model", f"replay:{replay}", "--out", out, "-q", *extra])
    assert result.code == 0, result.err
    return out


def _check_outputs(out: Path) -> None:
    raw = (out / "outputs.jsonl").read_bytes()
    lines = {json.loads(line)["attributes"]["word"]: json.loads(line) for line in raw.decode("utf-8").splitlines()}
    assert len(lines) == len(OUTPUTS)
    for word, text in OUTPUTS.items():
        line = lines[word]
        assert line["error"] is None, (word, line["error"])
        assert isinstance(line["scores"]["toxicity.toxicity"], float), word  # every output scored, none skipped
        if word == "delta":  # not text: each unpaired surrogate becomes U+FFFD, the rest is kept
            assert line["output"] == "half a pair \ufffd and \ufffd alone"
        else:
            assert line["output"] == text, word  # byte-exact, 1 MB and NULs included
    assert lines["juliett"]["scores"]["toxicity.toxicity"] > 0.5 > lines["alpha"]["scores"]["toxicity.toxicity"]


def test_hostile_outputs_survive_scoring_cache_and_report(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    out = _replay_run(tmp_path, "--cache", str(cache))
    _check_outputs(out)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["status"] == "complete" and results["manifest"]["counts"]["errors"] == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>document.title=" not in html and "onerror=\"alert" not in html
    assert "<iframe" not in html and "looplooploop" not in html  # the jinja payload was not evaluated
    assert "&lt;script&gt;document.title=" in html or "&lt;script>document.title=" in html  # shown, as text
    assert len(html) < 5_000_000  # the 1 MB output is cut in the report, kept whole in outputs.jsonl

    # a rerun reads all ten back from the cache, byte-exact
    again = _replay_run(tmp_path, "--cache", str(cache))
    assert all(json.loads(line)["cached"] for line in (again / "outputs.jsonl").read_text().splitlines())
    _check_outputs(again)


@pytest.mark.slow
def test_report_of_hostile_outputs_is_inert_in_headless_chromium(tmp_path: Path) -> None:
    from tests.setup_browser import ensure_chromium

    chromium = ensure_chromium(quiet=True)
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: `python -m tests.setup_browser` should have installed it")
        pytest.skip("chromium is not installed and could not be installed (needs root and apt-get)")
    from tests.fixtures_browser import load_page

    out = _replay_run(tmp_path, "--no-cache")
    page = out / "report.html"
    log = load_page(chromium=chromium, page=page)
    assert log.requests == [page.resolve().as_uri()], "the report must make no request but for itself"
    # the only script is the report's own (allowed by its hash); none came from an output
    assert log.dialogs == [] and len(log.scripts) == 1 and log.script_elements == 1
    assert log.exceptions == [] and log.console == []
    assert MARKER not in log.title and log.title.startswith("Audit report:")
    assert log.probes["iframes"] == 0 and log.probes["imgs"] == 0 and log.probes["onerror_attrs"] == 0
    assert "What we found" in log.probes["body_text"]


def test_outputs_jsonl_lines_are_strict_json_even_with_nan_and_numpy_scores(tmp_path) -> None:  # noqa: ANN001


    import numpy as np

    from auditkit.engine.results import iter_outputs, write_outputs
    from auditkit.records import Generation, Prompt, Score

    prompts = [Prompt(id=f"p{i}", suite="s", template="t", prompt="hi", attributes={"group": "a"}) for i in range(3)]
    generations = {p.id: Generation(prompt_id=p.id, output=f"out {p.id}") for p in prompts}
    scores = {
        "p0": [Score(prompt_id="p0", analyzer="a", name="m", value=0.25)],
        "p1": [Score(prompt_id="p1", analyzer="a", name="m", value=float("nan"))],
        "p2": [Score(prompt_id="p2", analyzer="a", name="m", value=np.float32(0.5))],  # type: ignore[arg-type]
    }
    path = tmp_path / "outputs.jsonl"
    assert write_outputs(path=path, prompts=prompts, generations=generations, scores=scores) == 3
    lines = [json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
             for text in path.read_text(encoding="utf-8").splitlines()]
    assert [line["scores"]["a.m"] for line in lines] == [0.25, None, 0.5]
    assert [line["id"] for line in iter_outputs(run_dir=tmp_path)] == ["p0", "p1", "p2"]

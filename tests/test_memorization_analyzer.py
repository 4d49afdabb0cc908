"""The memorization analyzer over hand-made observations, corpus loading, and the built-in suite's data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from auditkit.analyzers.base import Observation
from auditkit.analyzers.memorization import corpus_prompts, make_memorization
from auditkit.errors import ConfigError, InputError
from auditkit.records import Generation, Prompt
from auditkit.resources import data_dir

REF = "it was the worst of times, it was the age of wisdom"


def obs(pid: str, output: str | None, *, reference: str | None = REF, prompt: str = "It was the best of times,",
        logprobs: tuple[float, ...] | None = None, **attributes: str) -> Observation:
    p = Prompt(id=pid, suite="t", template="p", prompt=prompt, reference=reference, attributes=attributes)
    g = Generation(prompt_id=pid, output=output, error=None if output is not None else "boom", token_logprobs=logprobs)
    return Observation(prompt=p, generation=g)


@pytest.fixture
def run():
    items = [
        obs("exact", " it was the worst of times, it was the age of wisdom, it was", title="Two Cities",
            public_domain="true", logprobs=(math.log(0.9),) * 10),
        obs("near", "it was the worst of times, it was the age of foolishness", title="Near",
            logprobs=(math.log(0.5),) * 10),
        obs("miss", "and then the dog barked loudly at the mailman", title="Miss", logprobs=(math.log(0.1),) * 10),
        obs("failed", None, title="Failed"),
        obs("chat", "Sure! Email me at john.smith@example.com or call (415) 555-2671.", reference=None,
            prompt="Who are you?"),
        obs("echo", "You said alice@example.org, right?", reference=None, prompt="I am alice@example.org"),
    ]
    analyzer = make_memorization(options={"seed": 1})
    scores = analyzer.score(items=items)
    return items, scores, analyzer.aggregate(items=items, scores=scores)


def test_scores_per_output(run) -> None:
    _, scores, _ = run
    by = {(s.prompt_id, s.name): s for s in scores}
    assert by[("exact", "extractable")].value == 1.0 and by[("exact", "extractable")].label == "extractable"
    assert by[("near", "extractable")].value == 0.0 and by[("near", "edit_similarity")].label == "near_verbatim"
    assert by[("near", "lcp")].value == 12.0  # "it was the worst of times , it was the age of"
    assert by[("miss", "edit_similarity")].value < 0.3
    assert ("chat", "extractable") not in by and by[("chat", "pii_count")].value == 2.0
    assert by[("echo", "pii_count")].value == 0.0  # repeating the user's own address is not a leak
    assert by[("echo", "pii_count")].details["echoed_from_prompt"] == 1
    assert not any(s.prompt_id == "failed" for s in scores)
    assert by[("exact", "perplexity")].value == pytest.approx(1 / 0.9)


def test_metrics(run) -> None:
    _, _, analysis = run
    m = {x.name: x for x in analysis.metrics}
    assert m["extractable_rate"].value == pytest.approx(1 / 3) and m["extractable_rate"].n == 3
    assert m["extractable_rate"].ci_low < 1 / 3 < m["extractable_rate"].ci_high
    assert m["near_verbatim_rate"].value == pytest.approx(2 / 3)
    assert m["pii_rate"].value == pytest.approx(1 / 5) and m["pii_rate"].n == 5
    assert m["pii_rate_email"].value == pytest.approx(1 / 5) and m["pii_rate_credit_card"].value == 0.0
    assert m["mean_perplexity"].n == 3
    assert m["mean_min_k_prob"].value == pytest.approx((math.log(0.9) + math.log(0.5) + math.log(0.1)) / 3)


def test_findings(run) -> None:
    _, _, analysis = run
    by_kind: dict[str, list] = {}
    for f in analysis.findings:
        by_kind.setdefault(f.kind, []).append(f)
    (extraction,) = by_kind["extraction"]
    assert extraction.evidence == ("exact",) and extraction.severity == "medium"  # public-domain text
    (near,) = by_kind["near_verbatim"]
    assert near.evidence == ("near",) and near.severity == "medium"  # not marked public
    pii = by_kind["pii"]
    assert {f.details["pii_kind"] for f in pii} == {"email", "phone"}
    for f in pii:
        assert f.evidence == ("chat",)
        assert "john.smith" not in f.title and "555-2671" not in f.title
    assert any("j***@example.com" in f.title for f in pii)


def test_summary_states_what_was_tested(run) -> None:
    _, _, analysis = run
    passages = analysis.summary["passages"]
    assert passages["prompts"] == 4 and passages["tested"] == 3 and passages["not_generated"] == 1
    assert passages["skipped"] == 0
    assert "proportionally" in passages["how"]
    assert len(analysis.summary["per_passage"]) == 3


def test_without_logprobs_no_logprob_metrics() -> None:
    items = [obs("a", "it was the worst")]
    analyzer = make_memorization(options={})
    analysis = analyzer.aggregate(items=items, scores=analyzer.score(items=items))
    names = {m.name for m in analysis.metrics}
    assert "mean_perplexity" not in names and "extractable_rate" in names
    assert analysis.summary["logprobs"] == "available for 0 of 1 compared outputs"


def test_no_reference_items_gives_none_not_zero() -> None:
    items = [obs("a", "hello", reference=None)]
    analyzer = make_memorization(options={})
    m = {x.name: x for x in analyzer.aggregate(items=items, scores=analyzer.score(items=items)).metrics}
    assert m["extractable_rate"].value is None and m["extractable_rate"].n == 0
    assert m["pii_rate"].value == 0.0 and m["pii_rate"].n == 1


@pytest.mark.parametrize("options", [{"prefix": 3}, {"k": 0}, {"near_verbatim": 2}, {"pii_kinds": "email,passport"},
                                     {"presidio": "maybe"}, {"suffix_words": "many"}])
def test_bad_options(options: dict) -> None:
    with pytest.raises(ConfigError):
        make_memorization(options=options)


# ------------------------------------------------------------------------------------------ corpus


def test_corpus_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    long_text = " ".join(f"w{i}" for i in range(100))
    lines = [json.dumps({"id": "long", "text": long_text, "public_domain": True}),
             "", json.dumps("a short canary of seven words here"), json.dumps({"text": "single"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prompts = corpus_prompts(path=path, options={"prefix_words": 32, "suffix_words": 50})
    assert len(prompts) == 2
    long, short = prompts
    assert long.prompt == " ".join(f"w{i}" for i in range(32))
    assert long.reference == " ".join(f"w{i}" for i in range(32, 82))
    assert long.attributes["split"] == "configured" and long.attributes["public_domain"] == "true"
    assert short.attributes["split"] == "proportional"
    assert (short.attributes["prefix_words"], short.attributes["suffix_words"]) == ("3", "4")
    assert short.attributes["line"] == "3" and short.attributes["corpus_skipped"] == "1"
    assert long.generation == {"temperature": 0.0, "max_new_tokens": 100, "logprobs": True}
    assert long.analyzers == ("memorization",)
    again = corpus_prompts(path=path, options={"prefix_words": 32, "suffix_words": 50})
    assert [p.id for p in again] == [p.id for p in prompts]


def test_corpus_skips_are_reported_by_the_analyzer(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps("one two three four") + "\n" + json.dumps("x") + "\n", encoding="utf-8")
    prompts = corpus_prompts(path=path, options={})
    items = [Observation(prompt=p, generation=Generation(prompt_id=p.id, output=" three four")) for p in prompts]
    analyzer = make_memorization(options={})
    summary = analyzer.aggregate(items=items, scores=analyzer.score(items=items)).summary
    assert summary["passages"]["skipped"] == 1 and summary["passages"]["split_proportionally"] == 1
    assert summary["extracted"] == 1


def test_corpus_text_paragraphs_and_lines(tmp_path: Path) -> None:
    para = tmp_path / "p.txt"
    para.write_text("first para line one\nline two here\n\n\nsecond para has words\n", encoding="utf-8")
    prompts = corpus_prompts(path=para, options={"prefix_words": 2, "suffix_words": 2})
    assert [p.prompt for p in prompts] == ["first para", "second para"]
    assert prompts[0].attributes["line"] == "1" and prompts[1].attributes["line"] == "5"
    lines = tmp_path / "l.txt"
    lines.write_text("canary one two three\ncanary four five six\n", encoding="utf-8")
    assert len(corpus_prompts(path=lines, options={})) == 2


def test_duplicate_passages_get_distinct_ids(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_text("same words here ok\nsame words here ok\n", encoding="utf-8")
    ids = [p.id for p in corpus_prompts(path=path, options={})]
    assert len(set(ids)) == 2


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ('{"text": "ok fine words"}\n{bad json\n', ".jsonl", ":2: not valid JSON"),
        ('{"txt": "no text field"}\n', ".jsonl", ':1: expected an object with a string "text"'),
        ("", ".txt", "no passages"),
        ("single\nwords\n", ".txt", "fewer than 2 words"),
    ],
)
def test_corpus_errors_name_the_file_and_line(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        corpus_prompts(path=path, options={})


def test_corpus_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        corpus_prompts(path=tmp_path / "nope.jsonl", options={})


# ------------------------------------------------------------------------------------- suite data


def test_builtin_passages_are_consistent() -> None:
    passages = data_dir("probes") / "memorization" / "passages.jsonl"
    rows = [json.loads(line) for line in passages.read_text().splitlines()]
    assert 20 <= len(rows) <= 30 and len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        words = r["text"].split()
        assert r["prefix"] == " ".join(words[: r["prefix_words"]]), r["id"]
        assert r["suffix"] == " ".join(words[r["prefix_words"] : r["prefix_words"] + r["suffix_words"]]), r["id"]
        assert 1 <= r["suffix_words"] <= 24 and r["title"] and r["source"] and r["public_domain"] in ("true", "false")


def test_builtin_suite_expands_to_plain_greedy_prompts() -> None:
    from auditkit.suites import expand, load_suite

    prompts = expand(suite=load_suite(ref="memorization"))
    assert len(prompts) == 28
    for p in prompts:
        assert p.prompt and p.reference and p.messages is None
        assert p.generation == {"temperature": 0.0, "max_new_tokens": 64, "logprobs": True}
        assert p.attributes["public"] == "true" and p.attributes["split"] == "pre-split"
    mit = next(p for p in prompts if p.attributes["passage"] == "mit-permission")
    assert '(the "Software")' in mit.reference  # templates must not HTML-escape the data


def test_public_api_is_sorted_and_real() -> None:
    from auditkit.analyzers import extraction, memorization, pii

    for module in (extraction, memorization, pii):
        assert list(module.__all__) == sorted(module.__all__), module.__name__
        assert all(hasattr(module, name) for name in module.__all__)


def test_presidio_optional() -> None:
    from auditkit.analyzers.pii import presidio_available

    analyzer = make_memorization(options={"presidio": "false"})
    assert analyzer.identity["presidio"] is None
    if not presidio_available():
        assert make_memorization(options={}).identity["presidio"] is None  # auto: silently not used
        with pytest.raises(ConfigError, match="presidio"):
            make_memorization(options={"presidio": "true"})

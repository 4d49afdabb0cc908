"""Contract of every registered prompt source, reference parsing, a plugin source, the corpus round trip.

Each source loads a tiny example (stable ids, prompts valid against the Prompt JSONL contract, declared
analyzers registered), and a malformed file is an InputError naming FILE:LINE — exit 2 through the CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from auditkit.analyzers.base import analyzers
from auditkit.errors import InputError, PluginNotFound
from auditkit.records import Prompt
from auditkit.sources import LoadedSource, PromptSource, open_source, prompt_sources, split_reference
from tests.fixtures_reliability import run_cli

PASSAGES = [
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, "
    "and nothing particular to interest me on shore, I thought I would sail about a little.",
]


def _suite(tmp: Path) -> tuple[str, str, str]:
    good = tmp / "tiny.yaml"
    good.write_text(
        "id: tiny\nanalyzers: [toxicity]\nprobes:\n  - id: p\n    prompt: 'Say {{ w }}'\n"
        "    axes: {w: [a, b]}\n",
        encoding="utf-8",
    )
    (tmp / "rows.jsonl").write_text('{"w": "a"}\n{"w": \n', encoding="utf-8")
    bad = tmp / "bad.yaml"
    bad.write_text("id: bad\nanalyzers: [toxicity]\nprobes:\n  - id: p\n    prompt: '{{ w }}'\n"
                   "    rows_from: rows.jsonl\n", encoding="utf-8")
    return str(good), str(bad), "rows.jsonl:2:"


def _rtp(tmp: Path) -> tuple[str, str, str]:
    good = tmp / "rtp.jsonl"
    good.write_text('{"prompt": {"text": "So I said"}, "challenging": true}\n\n{"prompt": {"text": "The"}}\n',
                    encoding="utf-8")
    bad = tmp / "rtp_bad.jsonl"
    bad.write_text('{"prompt": {"text": "ok"}}\n{"prompt": {}}\n', encoding="utf-8")
    return f"rtp:{good}", f"rtp:{bad}", "rtp_bad.jsonl:2:"


def _corpus(tmp: Path) -> tuple[str, str, str]:
    good = tmp / "corpus.jsonl"
    good.write_text("".join(json.dumps({"text": p}) + "\n" for p in PASSAGES), encoding="utf-8")
    bad = tmp / "corpus_bad.jsonl"
    bad.write_text(json.dumps({"text": PASSAGES[0]}) + "\n{not json\n", encoding="utf-8")
    return f"corpus:{good}", f"corpus:{bad}", "corpus_bad.jsonl:2:"


# One tiny example per built-in source: a new source adds its own here, or this test fails.
def _crows_pairs(tmp: Path) -> tuple[str, str, str]:
    from tests.fixtures_benchmarks import write_crows_pairs

    good = write_crows_pairs(path=tmp / "crows.csv")
    bad = tmp / "crows_bad.csv"
    bad.write_text("sent_more,sent_less,stereo_antistereo,bias_type\nA b.,A c.,stereo,age\nA d.,,stereo,age\n",
                   encoding="utf-8")
    return f"crows_pairs:{good}", f"crows_pairs:{bad}", "crows_bad.csv:3:"


def _stereoset(tmp: Path) -> tuple[str, str, str]:
    from tests.fixtures_benchmarks import write_stereoset

    good = write_stereoset(path=tmp / "dev.json")
    bad = tmp / "dev_bad.json"
    bad.write_text('{"data": {"intrasentence": [\n{"context": "x", "target": "t", "bias_type": "b",\n'
                   '"sentences": [{"sentence": "x", "gold_label": "maybe"}]}]}}', encoding="utf-8")
    return f"stereoset:{good}", f"stereoset:{bad}", "dev_bad.json: data.intrasentence"


def _bbq(tmp: Path) -> tuple[str, str, str]:
    from tests.fixtures_bias_benchmarks import bbq_rows, write_bbq

    good = write_bbq(folder=tmp / "bbq")
    bad = tmp / "Age_bad.jsonl"
    row = bbq_rows()[0]
    bad.write_text(json.dumps(row) + "\n" + json.dumps({**row, "example_id": 99, "label": 3}) + "\n",
                   encoding="utf-8")
    return f"bbq:{good}", f"bbq:{bad}", "Age_bad.jsonl:2:"


def _bold(tmp: Path) -> tuple[str, str, str]:
    from tests.fixtures_bias_benchmarks import write_bold

    good = write_bold(root=tmp / "bold")
    bad = tmp / "bold_bad" / "prompts"
    bad.mkdir(parents=True)
    (bad / "gender_prompt.json").write_text('{"American_actors": {"A_B": ["A B is "]},\n"x": 3}',
                                            encoding="utf-8")
    return f"bold:{good}", f"bold:{bad.parent}", "gender_prompt.json: 'x'"


EXAMPLES: dict[str, Callable[[Path], tuple[str, str, str]]] = {
    "suite": _suite, "rtp": _rtp, "corpus": _corpus, "crows_pairs": _crows_pairs, "stereoset": _stereoset,
    "bbq": _bbq, "bold": _bold,
}


def test_every_registered_source_has_an_example() -> None:
    assert set(prompt_sources.names()) == set(EXAMPLES)


@pytest.mark.parametrize("scheme", sorted(EXAMPLES))
def test_source_contract(tmp_path: Path, scheme: str) -> None:
    good, _, _ = EXAMPLES[scheme](tmp_path)
    source = open_source(ref=good)
    assert isinstance(source, PromptSource)
    assert isinstance(source.needs_loglik, bool) and isinstance(source.reads_analyzer_options, bool)
    declared = source.analyzers
    assert declared is None or (declared and all(name in analyzers for name in declared))
    loaded = source.load(samples=2, analyzer_options={})
    assert isinstance(loaded, LoadedSource) and loaded.prompts and loaded.id and loaded.source
    assert loaded.hash is None or len(loaded.hash) == 64
    again = open_source(ref=good).load(samples=2, analyzer_options={})
    assert [p.id for p in again.prompts] == [p.id for p in loaded.prompts]  # stable ids
    assert len({p.id for p in loaded.prompts}) == len(loaded.prompts)
    for prompt in loaded.prompts:
        _check_prompt_record(prompt, declared=declared)


def _check_prompt_record(prompt: Prompt, *, declared: tuple[str, ...] | None) -> None:
    record = json.loads(json.dumps(prompt.to_dict(), ensure_ascii=False))
    for key in ("id", "suite", "template", "attributes", "sample"):
        assert key in record, key
    assert isinstance(record["id"], str) and len(record["id"]) == 16
    assert (record.get("prompt") is None) != (record.get("messages") is None)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in record["attributes"].items())
    assert isinstance(record["sample"], int) and record["sample"] >= 0
    assert prompt.analyzers and all(name in analyzers for name in prompt.analyzers)
    if declared is not None:
        assert set(prompt.analyzers) <= set(declared)


@pytest.mark.parametrize("scheme", sorted(EXAMPLES))
def test_bad_file_is_an_input_error_naming_file_and_line(tmp_path: Path, scheme: str) -> None:
    _, bad, where = EXAMPLES[scheme](tmp_path)
    with pytest.raises(InputError, match=where.replace(".", r"\.")):
        open_source(ref=bad).load(samples=None, analyzer_options={})
    for args in (["suites", "validate", bad], ["prompts", bad, "--out", tmp_path / "p.jsonl"]):
        result = run_cli(args)
        assert result.code == 2 and where in result.err and "Traceback" not in result.err, result.err


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("bias", ("suite", "bias")),
        ("./mine.yaml", ("suite", "./mine.yaml")),
        ("C:\\suites\\x.yaml", ("suite", "C:\\suites\\x.yaml")),
        ("C:/suites/x.yaml", ("suite", "C:/suites/x.yaml")),
        ("suite:bias", ("suite", "bias")),
        ("rtp:data/prompts.jsonl", ("rtp", "data/prompts.jsonl")),
        ("corpus:C:\\data\\c.txt", ("corpus", "C:\\data\\c.txt")),
        ("odd:name.yaml", ("suite", "odd:name.yaml")),
    ],
)
def test_reference_parsing(ref: str, expected: tuple[str, str]) -> None:
    assert split_reference(ref=ref) == expected


def test_unknown_scheme_suggests_known_ones() -> None:
    with pytest.raises(PluginNotFound, match=r"Unknown prompt source 'rpt'\. Did you mean 'rtp'"):
        split_reference(ref="rpt:prompts.jsonl")


class _LinesSource:
    """``lines:FILE``: a plugin-style source defined in a test module, registered with the decorator."""

    analyzers = ("toxicity",)
    needs_loglik = False
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = Path(target)

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        texts = [t for t in self.path.read_text(encoding="utf-8").splitlines() if t.strip()]
        prompts = tuple(
            Prompt(id=f"{i:08d}{k:08d}", suite="lines", template="line", sample=k, prompt=text,
                   analyzers=self.analyzers, generation={"max_new_tokens": 8})
            for i, text in enumerate(texts) for k in range(samples or 1)
        )
        return LoadedSource(id="lines", version=None, hash=None, source=f"lines:{self.path}", prompts=prompts)


def test_a_plugin_source_registers_from_a_test_module(tmp_path: Path) -> None:
    prompt_sources.register("lines")(_LinesSource)
    try:
        lines = tmp_path / "l.txt"
        lines.write_text("hello there\nhave a nice day\n", encoding="utf-8")
        out = tmp_path / "p.jsonl"
        assert run_cli(["prompts", f"lines:{lines}", "--out", out, "--samples", "2"]).code == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == 4
        run = tmp_path / "run"
        result = run_cli(["run", f"lines:{lines}", "--model", "mock:echo", "--out", run, "--no-cache",
                          "--no-report", "-q", "--analyzer-arg", "toxicity.backend=profanity-check"])
        assert result.code == 0, result.err
        manifest = json.loads((run / "results.json").read_text(encoding="utf-8"))["manifest"]
        assert any(s["source"] == f"lines:{lines}" and s["prompts"] == 2 for s in manifest["suites"])
    finally:
        prompt_sources.unregister("lines")


def test_prompts_corpus_then_replay_matches_the_direct_run(tmp_path: Path) -> None:
    """`prompts memorization --corpus` → outputs made elsewhere → `run --model replay: --corpus` = direct run."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(PASSAGES) + "\n", encoding="utf-8")
    prompts_file = tmp_path / "p.jsonl"
    assert run_cli(["prompts", "memorization", "--corpus", corpus, "--out", prompts_file]).code == 0
    records = [json.loads(line) for line in prompts_file.read_text(encoding="utf-8").splitlines()]
    corpus_records = [r for r in records if r["suite"] == "corpus"]
    assert len(corpus_records) == len(PASSAGES)
    for record in corpus_records:  # the passage's beginning is the prompt
        assert any(p.startswith(record["prompt"]) for p in PASSAGES)
    # "Generated elsewhere": a model that reproduces every reference (what mock:memorizer does).
    replay = tmp_path / "outputs.jsonl"
    replay.write_text("".join(json.dumps({"id": r["id"], "output": r["reference"]}) + "\n" for r in records),
                      encoding="utf-8")
    common = ["run", "memorization", "--corpus", corpus, "--no-cache", "--no-report", "-q"]
    direct = run_cli([*common, "--model", "mock:memorizer", "--out", tmp_path / "direct"])
    replayed = run_cli([*common, "--model", f"replay:{replay}", "--out", tmp_path / "replayed"])
    assert direct.code == replayed.code == 0, (direct.err, replayed.err)
    a, b = (json.loads((tmp_path / d / "results.json").read_text(encoding="utf-8")) for d in ("direct", "replayed"))
    assert a["metrics"] == b["metrics"] and a["findings"] == b["findings"]
    assert any(m["name"].startswith("exact") or "extract" in m["name"] for m in a["metrics"])
    assert list(a["manifest"]["suites"]) == list(b["manifest"]["suites"])
    assert a["manifest"]["suites"][-1]["source"] == str(corpus)

"""Property tests of the file loaders (test_suites_property.py covers suite expansion counts and ids).

Never-crash: any bytes given as a suite, policy, replay file or corpus give either a result or an
``AuditkitError`` (exit 2 with a message) — never another exception, which would reach the user as a
traceback. Round trips: replay files and policies written from arbitrary valid values load back equal.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.adapters.replay import ReplayAdapter
from auditkit.analyzers.memorization import corpus_prompts
from auditkit.errors import AuditkitError
from auditkit.gate.policy import load_policy
from auditkit.records import GenerationConfig, Prompt
from auditkit.suites import expand, load_suite

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Garbage that looks a little like the real thing finds more paths than uniform bytes.
_fragments = st.sampled_from(
    [b"id: x\n", b"probes:\n", b"  - id: p\n", b"    prompt: '{{ a }}'\n", b"    axes: {a: [1, 2]}\n",
     b"rules:\n", b"  - id: r\n", b"    metric: toxicity.toxic_fraction\n", b"    on: value\n",
     b"    comparison: '<='\n", b"    threshold: 0.1\n", b'{"id": "a", "output": "x"}\n', b'{"text": "a b c d"}\n',
     b"&a [*a]\n", b"[[[[", b"]]]]", b"{{", b"}}", b"{%", b"\xff\xfe", b"\x00", b"\\ud800", b"!!python/object:x ",
     b"\t", b"\n\n", b"\xe2\x80\xae", b": ", b"- ", b"'", b'"', b"null", b"NaN", b"1e999"]
)  # fmt: skip
garbage = st.one_of(st.binary(max_size=400), st.lists(_fragments, max_size=25).map(b"".join))


def _write(data: bytes, name: str) -> tuple[tempfile.TemporaryDirectory, Path]:
    directory = tempfile.TemporaryDirectory()
    path = Path(directory.name) / name
    path.write_bytes(data)
    return directory, path


@SETTINGS
@given(data=garbage)
def test_suite_loader_never_crashes(data: bytes) -> None:
    directory, path = _write(data, "suite.yaml")
    with directory:
        try:
            prompts = expand(suite=load_suite(ref=path))
        except AuditkitError as exc:
            assert str(exc)
        else:
            assert all(isinstance(p, Prompt) for p in prompts)
            json.dumps([p.to_dict() for p in prompts], ensure_ascii=False).encode("utf-8")


@SETTINGS
@given(data=garbage)
def test_policy_loader_never_crashes(data: bytes) -> None:
    directory, path = _write(data, "policy.yaml")
    with directory:
        try:
            load_policy(path=path)
        except AuditkitError as exc:
            assert str(exc)


@SETTINGS
@given(data=garbage)
def test_replay_loader_never_crashes(data: bytes) -> None:
    directory, path = _write(data, "replay.jsonl")
    with directory:
        try:
            adapter = ReplayAdapter(path=path)
        except AuditkitError as exc:
            assert str(exc)
        else:
            assert len(adapter) >= 1


@SETTINGS
@given(data=garbage, suffix=st.sampled_from([".jsonl", ".txt"]))
def test_corpus_loader_never_crashes(data: bytes, suffix: str) -> None:
    directory, path = _write(data, "corpus" + suffix)
    with directory:
        try:
            prompts = corpus_prompts(path=path, options={})
        except AuditkitError as exc:
            assert str(exc)
        else:
            assert prompts and all(p.reference for p in prompts)
            json.dumps([p.to_dict() for p in prompts], ensure_ascii=False).encode("utf-8")


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
_records = st.dictionaries(
    keys=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12),
    values=st.fixed_dictionaries(
        {"output": _text},
        optional={
            "input_tokens": st.integers(0, 10**6),
            "output_tokens": st.integers(0, 10**6),
            "latency_s": st.floats(0, 1e6),
            "energy_j": st.floats(0, 1e6),
        },
    ),
    min_size=1,
    max_size=8,
)


@SETTINGS
@given(records=_records)
def test_replay_round_trip(records: dict[str, dict]) -> None:
    lines = "".join(json.dumps({"id": rid, **fields}, ensure_ascii=False) + "\n" for rid, fields in records.items())
    directory, path = _write(lines.encode("utf-8"), "replay.jsonl")
    with directory:
        adapter = ReplayAdapter(path=path)
    prompts = [Prompt(id=rid, suite="s", template="t", prompt="x") for rid in records]
    generations = adapter.generate(prompts=prompts, config=GenerationConfig())
    for prompt, generation in zip(prompts, generations, strict=True):
        fields = records[prompt.id]
        assert generation.prompt_id == prompt.id and generation.output == fields["output"]
        assert generation.error is None
        for key in ("input_tokens", "output_tokens", "latency_s", "energy_j"):
            assert getattr(generation, key) == fields.get(key)


_rules = st.lists(
    st.fixed_dictionaries(
        {
            "metric": st.sampled_from(["toxicity.toxic_fraction", "bias.max_gap", "energy.joules_per_prompt"]),
            "on": st.sampled_from(["value", "ci_high", "ci_low"]),
            "comparison": st.sampled_from(["<=", "<", ">=", ">"]),
            "threshold": st.floats(-1e6, 1e6, allow_nan=False),
            "severity": st.sampled_from(["fail", "warn"]),
        }
    ),
    min_size=1,
    max_size=5,
)


@SETTINGS
@given(rules=_rules, name=st.text(alphabet="abcdefghij-", min_size=1, max_size=10))
def test_policy_round_trip(rules: list[dict], name: str) -> None:
    doc = {"name": name, "rules": [{"id": f"rule-{i}", **rule} for i, rule in enumerate(rules)]}
    directory, path = _write(yaml.safe_dump(doc, sort_keys=False).encode("utf-8"), "policy.yaml")
    with directory:
        policy = load_policy(path=path)
    assert policy.name == name and len(policy.spec.rules) == len(rules)
    for loaded, rule in zip(policy.spec.rules, rules, strict=True):
        dumped = loaded.model_dump(by_alias=True)
        for key in ("metric", "comparison", "threshold", "severity"):
            assert dumped[key] == rule[key], (key, dumped)

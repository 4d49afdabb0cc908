"""Expansion: rows × axes × counterfactual groups × samples, with stable ids, pairs and attributes."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from auditkit.errors import SuiteError
from auditkit.records import Message, Prompt
from auditkit.suites import MAX_PROMPTS, expand, expand_suites, load_suite
from tests.fixtures_suites import SUITES_DIR, write_suite


@pytest.fixture(scope="module")
def good() -> list[Prompt]:
    return expand(suite=load_suite(ref=SUITES_DIR / "good.yaml"))


def test_counts_follow_the_product_formula(good: list[Prompt]) -> None:
    counts = Counter(p.template for p in good)
    # occupation: 2 contexts × (3 genders + 2 religions) × 2 samples; chat: 2 × 3 × 2;
    # continue: 2 rows × 1 pinned sample
    assert counts == {"occupation": 20, "chat": 12, "continue": 2}
    assert len({p.id for p in good}) == len(good)
    suite = load_suite(ref=SUITES_DIR / "good.yaml")
    assert suite.count() == 34 and suite.count(samples=5) == 2 * 5 * 5 + 2 * 3 * 5 + 2


def test_counterfactual_attributes_and_pairs(good: list[Prompt]) -> None:
    occupation = [p for p in good if p.template == "occupation"]
    first = occupation[0]
    assert first.prompt == "The woman at the bank worked as a"
    assert first.attributes == {
        "context": "at the bank",
        "axis": "gender",
        "group": "woman",
        "category": "occupation",
    }
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for prompt in occupation:
        pairs[prompt.pair].add((prompt.attributes["axis"], prompt.attributes["group"]))
    # one pair per (context, axis): siblings differ only in the group
    assert len(pairs) == 2 * 2
    assert sorted(len(members) for members in pairs.values()) == [2, 2, 3, 3]
    for members in pairs.values():
        assert len({axis for axis, _ in members}) == 1
    by_pair = defaultdict(set)
    for prompt in occupation:
        by_pair[prompt.pair].add(prompt.attributes["context"])
    assert all(len(contexts) == 1 for contexts in by_pair.values())


def test_samples_share_base_id_and_pair_but_not_id(good: list[Prompt]) -> None:
    groups = defaultdict(list)
    for prompt in good:
        groups[prompt.base_id].append(prompt)
    for siblings in groups.values():
        assert len({p.id for p in siblings}) == len(siblings)
        assert sorted(p.sample for p in siblings) == list(range(len(siblings)))
        assert len({(p.prompt, p.messages, p.pair) for p in siblings}) == 1
    assert {len(s) for s in groups.values()} == {1, 2}  # 'continue' pins one sample


def test_messages_reference_attributes_analyzers_and_pins(good: list[Prompt]) -> None:
    chat = next(p for p in good if p.template == "chat")
    assert chat.prompt is None
    assert chat.messages == (
        Message(role="system", content="You are terse."),
        Message(role="user", content="Describe a woman in 3 words."),
    )
    assert chat.attributes == {"n": "3", "axis": "gender", "group": "woman"}
    assert chat.analyzers == ("toxicity",) and chat.generation == {"temperature": 0.0, "max_new_tokens": 20}
    cont = [p for p in good if p.template == "continue"]
    assert [p.reference for p in cont] == ["it was the worst of times", "Ishmael"]
    # row keys are variables only; attributes come from `attributes:` (templated)
    assert [p.attributes for p in cont] == [{"source": "TWO CITIES"}, {"source": "MOBY-DICK"}]
    assert all(p.pair is None for p in cont)
    assert cont[0].generation == {"temperature": 0.0, "max_new_tokens": 50, "logprobs": True}
    occupation = next(p for p in good if p.template == "occupation")
    assert occupation.analyzers == ("bias", "toxicity") and occupation.generation == {}


def test_samples_precedence(tmp_path: Path) -> None:
    suite = load_suite(ref=SUITES_DIR / "good.yaml")
    prompts = expand(suite=suite, samples=3)
    counts = Counter(p.template for p in prompts)
    assert counts == {"occupation": 30, "chat": 18, "continue": 2}  # the probe's pin beats --samples
    with pytest.raises(SuiteError, match="at least 1"):
        expand(suite=suite, samples=0)


def test_ids_are_stable_and_ignore_template_wording(tmp_path: Path) -> None:
    text = "id: s\nprobes:\n  - id: p\n    prompt: '{TEXT} {{{{ x }}}}'\n    axes: {{x: [a, b]}}\n"
    one = expand(suite=load_suite(ref=write_suite(tmp_path, text.format(TEXT="Hello"), name="one.yaml")))
    two = expand(suite=load_suite(ref=write_suite(tmp_path, text.format(TEXT="Hi"), name="two.yaml")))
    assert [p.id for p in one] == [p.id for p in two]
    assert [p.prompt for p in one] != [p.prompt for p in two]
    assert all(len(p.id) == 16 and int(p.id, 16) >= 0 for p in one)
    # a different suite id or probe id gives different ids
    other = expand(
        suite=load_suite(
            ref=write_suite(tmp_path, text.format(TEXT="Hello").replace("id: s", "id: t"), name="t.yaml")
        )
    )
    assert not {p.id for p in one} & {p.id for p in other}


def test_ids_are_the_documented_hash(good: list[Prompt]) -> None:
    import hashlib
    import json

    first = good[0]
    variables = {"context": "at the bank", "axis": "gender", "group": "woman"}
    identity = {"suite": "fixture-good", "probe": "occupation", "variables": variables}

    def digest(value: object) -> str:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    assert first.id == digest({**identity, "sample": 0})
    assert first.base_id == digest(identity)
    context = {"context": "at the bank", "axis": "gender"}
    assert first.pair == digest(
        {"suite": "fixture-good", "probe": "occupation", "variables": context, "axis": "gender"}
    )


def test_duplicate_rows_are_refused(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}'\n    rows: [{a: 1}, {a: 2}, {a: 1}]\n"
    )
    with pytest.raises(SuiteError, match=r"probe 'p' makes the same prompt twice \(row 1 and row 3"):
        expand(suite=load_suite(ref=path))


def test_samples_beyond_the_limit_are_refused() -> None:
    suite = load_suite(ref=SUITES_DIR / "good.yaml")
    with pytest.raises(SuiteError, match=r"probe 'occupation' expands to 10,000,000 prompts"):
        expand(suite=suite, samples=1_000_000)
    assert MAX_PROMPTS == 1_000_000


def test_expand_suites_drops_repeats(tmp_path: Path) -> None:
    parent = load_suite(ref=SUITES_DIR / "include_parent.yaml")
    good = load_suite(ref=SUITES_DIR / "good.yaml")
    both = expand_suites(suites=[parent, good])
    assert len(both) == len({p.id for p in both}) == 25 + 34 - 20
    assert [p.id for p in both[:25]] == [p.id for p in expand(suite=parent)]


def test_prompt_dict_contract(good: list[Prompt]) -> None:
    for prompt in good:
        data = prompt.to_dict()
        for key in ("id", "suite", "template", "attributes", "sample", "pair", "base_id", "reference"):
            assert key in data
        assert ("prompt" in data) != ("messages" in data)
        assert all(isinstance(v, str) for v in data["attributes"].values())
        assert Prompt.from_dict(data) == prompt


def test_axis_values_are_strings_and_cartesian(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path,
        "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}-{{ b }}'\n"
        "    axes: {a: [1, 2.5, true], b: [x, y]}\n",
    )
    prompts = expand(suite=load_suite(ref=path))
    assert [p.prompt for p in prompts] == [
        f"{a}-{b}" for a, b in itertools.product(["1", "2.5", "True"], ["x", "y"])
    ]
    assert prompts[0].attributes == {"a": "1", "b": "x"}

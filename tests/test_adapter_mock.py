"""mock: test doubles: deterministic, and their outputs read as intended by real scorers."""

from __future__ import annotations

import time

import pytest

from auditkit.adapters.mock import MOCK_NAMES, MockAdapter, make_mock
from auditkit.errors import ConfigError
from auditkit.records import GenerationConfig, Message, Prompt

CONFIG = GenerationConfig()


def prompt(pid: str, text: str = "The person worked as a", **kw: object) -> Prompt:
    return Prompt(id=pid, suite="s", template="t", prompt=text, **kw)  # type: ignore[arg-type]


def test_names() -> None:
    assert MOCK_NAMES == ("biased", "constant", "echo", "flaky", "memorizer", "slow", "toxic")


def test_echo_counts_whitespace_tokens() -> None:
    (gen,) = make_mock(target="echo", options={}).generate(
        prompts=[prompt("a", "one two  three")], config=CONFIG
    )
    assert gen.output == "one two  three" and gen.input_tokens == 3 and gen.output_tokens == 3
    assert gen.finish_reason == "stop" and gen.error is None


def test_echo_of_chat_messages_and_limits() -> None:
    chat = Prompt(id="c", suite="s", template="t", messages=(Message(role="user", content="hi there"),))
    (gen,) = make_mock(target="echo", options={}).generate(prompts=[chat], config=CONFIG)
    assert gen.output == "user: hi there"
    config = GenerationConfig(max_new_tokens=2)
    (cut,) = make_mock(target="echo", options={}).generate(prompts=[prompt("a", "a b c d")], config=config)
    assert (cut.output, cut.finish_reason, cut.output_tokens) == ("a b", "length", 2)
    stop = GenerationConfig(stop=(" c",))
    (stopped,) = make_mock(target="echo", options={}).generate(prompts=[prompt("a", "a b c d")], config=stop)
    assert (stopped.output, stopped.finish_reason) == ("a b", "stop")


def test_constant() -> None:
    adapter = make_mock(target="constant", options={"text": "no comment"})
    assert [g.output for g in adapter.generate(prompts=[prompt("a"), prompt("b")], config=CONFIG)] == [
        "no comment"
    ] * 2
    assert adapter.identity.settings == {"text": "no comment"}


def test_toxic_outputs_are_flagged_by_a_real_profanity_scorer() -> None:
    from profanity_check import predict_prob

    gens = make_mock(target="toxic", options={}).generate(
        prompts=[prompt(f"p{i}") for i in range(30)], config=CONFIG
    )
    outputs = [g.output for g in gens]
    assert len(set(outputs)) >= 3  # varies with the prompt id
    assert min(predict_prob(outputs)) >= 0.5
    assert max(predict_prob(["The weather is lovely today and the garden is in bloom."])) < 0.5


def test_biased_gives_a_real_sentiment_gap() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    adapter = make_mock(target="biased", options={"group": "woman, non-binary person"})
    groups = ["woman", "man", "non-binary person", "person"]
    prompts = [
        prompt(f"{g}{i}", attributes={"axis": "gender", "group": g}) for g in groups for i in range(10)
    ]
    sentiment = {g: [] for g in groups}
    for p, gen in zip(prompts, adapter.generate(prompts=prompts, config=CONFIG), strict=True):
        sentiment[p.attributes["group"]].append(vader.polarity_scores(gen.output)["compound"])
    assert max(sentiment["woman"] + sentiment["non-binary person"]) < -0.5
    assert min(sentiment["man"] + sentiment["person"]) > 0.5
    # A prompt without a group attribute is not in the disfavoured set.
    (plain,) = adapter.generate(prompts=[prompt("x")], config=CONFIG)
    assert vader.polarity_scores(plain.output)["compound"] > 0.5


def test_memorizer_returns_the_reference() -> None:
    ref = "it was the worst of times, it was the age of wisdom"
    adapter = make_mock(target="memorizer", options={})
    gens = adapter.generate(
        prompts=[prompt("a", "It was the best of times", reference=ref), prompt("b")], config=CONFIG
    )
    assert gens[0].output == ref
    assert gens[1].output and gens[1].output != ref


def test_flaky_fails_a_stable_fraction() -> None:
    adapter = make_mock(target="flaky", options={"rate": "0.3"})
    prompts = [prompt(f"id-{i}", f"text {i}") for i in range(1000)]
    first = adapter.generate(prompts=prompts, config=CONFIG)
    again = adapter.generate(prompts=prompts, config=GenerationConfig(seed=7))
    failed = [g.prompt_id for g in first if not g.ok]
    assert failed == [g.prompt_id for g in again if not g.ok]  # the same prompts fail every time
    assert 0.25 < len(failed) / 1000 < 0.35
    bad = next(g for g in first if not g.ok)
    assert bad.output is None and "rate=0.3" in bad.error
    assert all(g.output == p.text for p, g in zip(prompts, first, strict=True) if g.ok)
    assert all(
        g.ok
        for g in make_mock(target="flaky", options={"rate": "0"}).generate(prompts=prompts, config=CONFIG)
    )


def test_slow_sleeps() -> None:
    adapter = make_mock(target="slow", options={"delay": "0.05"})
    start = time.perf_counter()
    gens = adapter.generate(prompts=[prompt("a"), prompt("b")], config=CONFIG)
    assert time.perf_counter() - start >= 0.1 and all(g.latency_s >= 0.05 for g in gens)
    assert "delay" not in adapter.identity.settings  # does not change outputs


def test_deterministic_per_prompt_and_seed() -> None:
    prompts = [prompt(f"p{i}") for i in range(20)]
    a = make_mock(target="toxic", options={}).generate(prompts=prompts, config=CONFIG)
    b = make_mock(target="toxic", options={}).generate(prompts=list(reversed(prompts)), config=CONFIG)
    assert [g.output for g in a] == [g.output for g in reversed(b)]
    c = make_mock(target="toxic", options={}).generate(prompts=prompts, config=GenerationConfig(seed=1))
    assert [g.output for g in a] != [g.output for g in c]


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("nope", {}, "Choose one of"),
        ("echo", {"text": "x"}, "does not take"),
        ("flaky", {"rate": "2"}, "rate"),
        ("slow", {"delay": "soon"}, "delay"),
    ],
)
def test_bad_names_and_options(name: str, options: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MockAdapter(name=name, options=options)

"""Records round-trip through their JSON form unchanged, so JSONL files and results.json lose nothing."""

from __future__ import annotations

import json

import pytest

from auditkit.records import Finding, Generation, GenerationConfig, Message, Metric, Prompt, Score


def _roundtrip(record):
    return type(record).from_dict(json.loads(json.dumps(record.to_dict())))


@pytest.mark.parametrize(
    "record",
    [
        Prompt(id="a1", suite="s", template="t", prompt="Hello", attributes={"group": "woman"}, pair="p",
               base_id="b", reference="ref", analyzers=("bias", "energy"), generation={"temperature": 0}),
        Prompt(id="a2", suite="s", template="t", messages=(Message(role="user", content="Hi"),), sample=3),
        Generation(prompt_id="a1", output="text", input_tokens=3, output_tokens=5, token_logprobs=(-0.1, -2.0),
                   tokens=("a", "b"), energy_j=1.5, energy_method="estimated"),
        Generation(prompt_id="a1", output=None, error="HTTP 500 after 5 tries"),
        Score(prompt_id="a1", analyzer="toxicity", name="toxicity", value=0.7, label="toxic", details={"k": 1}),
        Metric(analyzer="bias", name="max_gap", value=0.2, ci_low=0.1, ci_high=0.3, n=40,
               group={"axis": "gender"}, method="m", unit="fraction"),
        Finding(analyzer="bias", kind="group_gap", severity="high", title="gap", groups=({"group": "a"},),
                effect_size=0.2, p_value=0.01, evidence=("a1", "a2")),
        GenerationConfig(max_new_tokens=10, temperature=0.7, stop=("\n",), logprobs=True),
    ],
)
def test_records_roundtrip_through_json(record):
    assert _roundtrip(record) == record


def test_prompt_dict_carries_exactly_one_of_prompt_and_messages():
    plain = Prompt(id="a", suite="s", template="t", prompt="x").to_dict()
    chat = Prompt(id="a", suite="s", template="t", messages=(Message(role="user", content="x"),)).to_dict()
    assert "prompt" in plain and "messages" not in plain
    assert "messages" in chat and "prompt" not in chat
    assert chat["messages"] == [{"role": "user", "content": "x"}]


def test_prompt_text_joins_chat_turns():
    prompt = Prompt(id="a", suite="s", template="t",
                    messages=(Message(role="system", content="Be brief."), Message(role="user", content="Hi")))
    assert prompt.text == "system: Be brief.\nuser: Hi"


def test_records_are_frozen():
    gen = Generation(prompt_id="a", output="x")
    with pytest.raises(AttributeError):
        gen.output = "y"  # type: ignore[misc]


def test_generation_ok_requires_output_and_no_error():
    assert Generation(prompt_id="a", output="").ok
    assert not Generation(prompt_id="a", output=None, error="boom").ok


def test_greedy_follows_temperature():
    assert GenerationConfig(temperature=0).greedy
    assert not GenerationConfig(temperature=0.8).greedy

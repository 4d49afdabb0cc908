"""The openai: adapter against a real HTTP server on 127.0.0.1 (tests/fixtures_http.py)."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from auditkit.adapters.openai import OpenAIAdapter, OpenAISettings, make_openai
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import GenerationConfig, Message, Prompt
from tests.fixtures_http import LoopbackServer, loopback_server, reply_for  # noqa: F401

KEY = "sk-loopback-SECRET-4f9a2c71e0"
ENV = "AUDITKIT_TEST_OPENAI_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def make(server: LoopbackServer, **options: str) -> OpenAIAdapter:
    # The factory directly: the registry would import every built-in adapter module.
    base = {"base_url": server.base_url, "api_key_env": ENV, "backoff": "0"}
    adapter = make_openai(target="test-model", options={**base, **options})
    assert isinstance(adapter, OpenAIAdapter)
    return adapter


def prompts(*texts: str) -> list[Prompt]:
    return [Prompt(id=f"p{i}", suite="s", template="t", prompt=t) for i, t in enumerate(texts)]


CONFIG = GenerationConfig(max_new_tokens=16)


def test_chat_success_maps_text_usage_and_sends_key(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server, endpoint="chat")
    try:
        gens = adapter.generate(prompts=prompts("the cat sat on the mat", "hello world"), config=CONFIG)
    finally:
        adapter.close()
    assert [g.prompt_id for g in gens] == ["p0", "p1"]
    assert gens[0].output == "mat the on sat cat the"
    assert gens[1].output == "world hello"
    assert (gens[0].input_tokens, gens[0].output_tokens, gens[0].finish_reason) == (6, 6, "stop")
    assert gens[0].error is None and gens[0].latency_s is not None and gens[0].latency_s > 0
    requests = loopback_server.requests
    assert {r.path for r in requests} == {"/v1/chat/completions"}
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in requests)
    body = requests[0].body
    assert body["model"] == "test-model" and body["max_tokens"] == 16 and body["temperature"] == 0.0
    assert body["messages"][-1]["role"] == "user" and isinstance(body["seed"], int)


def test_completions_endpoint_and_token_limit(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server, endpoint="completions")
    text = " ".join(f"w{i}" for i in range(10))
    gens = adapter.generate(prompts=prompts(text), config=GenerationConfig(max_new_tokens=4, stop=("\n",)))
    adapter.close()
    assert gens[0].output == reply_for(text, max_tokens=4) == "w9 w8 w7 w6"
    assert gens[0].finish_reason == "length" and gens[0].output_tokens == 4 and gens[0].input_tokens == 10
    (request,) = loopback_server.requests
    assert request.path == "/v1/completions" and request.body["prompt"] == text
    assert request.body["stop"] == ["\n"]


def test_chat_messages_are_sent_as_turns(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server)
    prompt = Prompt(
        id="m",
        suite="s",
        template="t",
        messages=(Message(role="system", content="be brief"), Message(role="user", content="a b c")),
    )
    (gen,) = adapter.generate(prompts=[prompt], config=CONFIG)
    adapter.close()
    assert gen.output == "c b a"
    assert loopback_server.requests[0].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "a b c"},
    ]


def test_messages_need_the_chat_endpoint(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server, endpoint="completions")
    prompt = Prompt(id="m", suite="s", template="t", messages=(Message(role="user", content="hi"),))
    with pytest.raises(ConfigError, match="endpoint=chat"):
        adapter.generate(prompts=[prompt], config=CONFIG)
    assert loopback_server.requests == []


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_logprobs(loopback_server: LoopbackServer, endpoint: str) -> None:
    adapter = make(loopback_server, endpoint=endpoint)
    (gen,) = adapter.generate(prompts=prompts("one two three"), config=GenerationConfig(logprobs=True))
    adapter.close()
    assert gen.tokens == ("three", "two", "one")
    assert gen.token_logprobs == pytest.approx((-0.1, -0.2, -0.3))
    (no_lp,) = make(loopback_server, endpoint=endpoint).generate(prompts=prompts("x"), config=CONFIG)
    assert no_lp.token_logprobs is None


def test_concurrency_bound_is_respected_even_across_threads(loopback_server: LoopbackServer) -> None:
    loopback_server.set_latency(0.15)
    adapter = make(loopback_server, concurrency="3")
    batch = prompts(*(f"prompt number {i}" for i in range(9)))
    results: list[list] = []
    threads = [
        threading.Thread(target=lambda: results.append(adapter.generate(prompts=batch, config=CONFIG)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    adapter.close()
    assert len(loopback_server.requests) == 18 and all(g.ok for r in results for g in r)
    # Bounded by the option, and actually concurrent (a serial client would peak at 1).
    assert 2 <= loopback_server.peak_concurrency <= 3


def test_429_honours_retry_after(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=429, times=2, retry_after="0.3", match="limited")
    adapter = make(loopback_server, max_retries="3")
    start = time.monotonic()
    gens = adapter.generate(prompts=prompts("limited one", "free two"), config=CONFIG)
    elapsed = time.monotonic() - start
    adapter.close()
    assert [g.output for g in gens] == ["one limited", "two free"]
    hits = loopback_server.requests_matching("limited")
    assert len(hits) == 3
    # backoff=0, so only the two Retry-After waits separate the attempts.
    assert hits[2].at - hits[0].at >= 0.55 and elapsed >= 0.55


def test_retry_after_is_capped(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=429, times=1, retry_after="120")
    adapter = make(loopback_server, max_retry_after="0.05")
    start = time.monotonic()
    (gen,) = adapter.generate(prompts=prompts("a b"), config=CONFIG)
    adapter.close()
    assert gen.output == "b a" and time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("status", {"status": 500}),
        ("status", {"status": 503}),
        ("truncated", {}),
        ("drop", {}),
        ("slow", {"delay": 2.0}),
    ],
)
def test_transient_faults_are_retried(loopback_server: LoopbackServer, kind: str, extra: dict) -> None:
    loopback_server.fail(kind, times=1, **extra)
    adapter = make(loopback_server, timeout="0.5")
    (gen,) = adapter.generate(prompts=prompts("x y z"), config=CONFIG)
    adapter.close()
    assert gen.ok and gen.output == "z y x"
    assert len(loopback_server.requests) == 2


def test_exhausted_retries_fail_only_that_prompt(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=500, times=None, match="doomed", body="upstream exploded")
    adapter = make(loopback_server, max_retries="2")
    gens = adapter.generate(prompts=prompts("fine a", "doomed b", "fine c"), config=CONFIG)
    adapter.close()
    assert [g.output for g in gens] == ["a fine", None, "c fine"]
    failed = gens[1]
    assert not failed.ok and failed.output is None
    assert "gave up after 3 attempt(s)" in failed.error and "HTTP 500" in failed.error
    assert "upstream exploded" in failed.error
    assert len(loopback_server.requests_matching("doomed")) == 3


def test_400_fails_the_prompt_without_retrying(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=400, times=None, match="long", body="context length exceeded")
    adapter = make(loopback_server)
    gens = adapter.generate(prompts=prompts("too long", "ok"), config=CONFIG)
    adapter.close()
    assert "context length exceeded" in gens[0].error and gens[1].output == "ok"
    assert len(loopback_server.requests_matching("long")) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_bad_key_raises_adapter_error_without_the_key(loopback_server: LoopbackServer, status: int) -> None:
    loopback_server.fail(
        "status", status=status, times=None, body="Incorrect API key provided: {authorization}"
    )
    adapter = make(loopback_server)
    with pytest.raises(AdapterError) as info:
        adapter.generate(prompts=prompts("a", "b", "c"), config=CONFIG)
    adapter.close()
    message = str(info.value)
    assert f"${ENV}" in message and KEY not in message and "***" in message
    # Not retried: a bad key does not get better.
    assert len(loopback_server.requests) <= 3


def test_unknown_model_404(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=404, times=None, body="model not found")
    adapter = make(loopback_server)
    with pytest.raises(AdapterError, match=r"404.*test-model"):
        adapter.generate(prompts=prompts("a"), config=CONFIG)
    adapter.close()
    assert len(loopback_server.requests) == 1


def test_unreachable_server_becomes_generation_errors() -> None:
    server = LoopbackServer()
    url = server.base_url
    server.stop()  # the port is now closed: connection refused
    adapter = make_openai(
        target="m", options={"base_url": url, "api_key_env": ENV, "backoff": "0", "max_retries": "1"}
    )
    (gen,) = adapter.generate(prompts=prompts("a"), config=CONFIG)
    adapter.close()
    assert gen.output is None and "connection failed" in gen.error


def test_key_never_in_identity_repr_or_settings(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server, **{"param.frequency_penalty": "0.5"})
    adapter.generate(prompts=prompts("a"), config=CONFIG)
    for text in (
        repr(adapter),
        str(adapter.identity.to_dict()),
        repr(adapter.settings),
        adapter.identity.key,
    ):
        assert KEY not in text
    assert adapter.identity.to_dict() == {
        "adapter": "openai",
        "model": "test-model",
        "revision": None,
        "weights_hash": None,
        "settings": {
            "base_url": loopback_server.base_url,
            "endpoint": "auto",
            "params": {"frequency_penalty": 0.5},
        },
    }
    assert loopback_server.requests[0].body["frequency_penalty"] == 0.5
    adapter.close()


def test_missing_key_for_the_openai_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    adapter = OpenAIAdapter(
        settings=OpenAISettings.from_options(model="gpt-4o-mini", options={"api_key_env": ENV})
    )
    assert adapter.settings.base_url == "https://api.openai.com/v1"
    with pytest.raises(AdapterError, match=re.escape(f"${ENV}")):
        adapter.generate(prompts=prompts("a"), config=CONFIG)


def test_local_server_needs_no_key(loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    monkeypatch.setenv("OPENAI_BASE_URL", loopback_server.base_url)
    adapter = make_openai(target="local", options={"api_key_env": ENV})
    (gen,) = adapter.generate(prompts=prompts("hi there"), config=CONFIG)
    adapter.close()
    assert gen.output == "there hi" and "Authorization" not in loopback_server.requests[0].headers


def test_generate_inside_a_running_event_loop(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server)

    async def caller() -> list:
        return adapter.generate(prompts=prompts("p q"), config=CONFIG)

    (gen,) = asyncio.run(caller())
    assert gen.output == "q p"
    adapter.close()
    # A closed adapter starts a fresh loop when used again.
    (again,) = adapter.generate(prompts=prompts("r s"), config=CONFIG)
    adapter.close()
    assert again.output == "s r"


@pytest.mark.parametrize(
    "options",
    [
        {"endpoint": "embeddings"},
        {"concurrency": "0"},
        {"timeout": "soon"},
        {"colour": "red"},
        {"base_url": "localhost:8000"},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        OpenAISettings.from_options(model="m", options=options)


def test_empty_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="model name"):
        OpenAISettings.from_options(model="", options={})


def test_backoff_grows_between_retries(loopback_server: LoopbackServer) -> None:
    loopback_server.fail("status", status=502, times=2)
    adapter = make(loopback_server, backoff="0.15")
    (gen,) = adapter.generate(prompts=prompts("a b"), config=CONFIG)
    adapter.close()
    assert gen.output == "b a"
    first, second, third = (r.at for r in loopback_server.requests)
    # Exponential: waits of at least 0.15 s then 0.3 s (plus up to 0.15 s of jitter each).
    assert second - first >= 0.14 and third - second >= 0.29


def test_default_rule_plain_prompts_are_continued_chat_prompts_use_chat(loopback_server: LoopbackServer) -> None:
    """Issue 20 item 2: one prompt-form rule, as for hf: — /completions for plain, chat for messages."""
    chat = Prompt(id="c", suite="s", template="t", messages=(Message(role="user", content="hi there"),))
    adapter = make(loopback_server)
    try:
        plain, turn = adapter.generate(prompts=[*prompts("the cat sat"), chat], config=CONFIG)
    finally:
        adapter.close()
    assert (plain.output, turn.output) == ("sat cat the", "there hi")
    by_path = {r.path: r.body for r in loopback_server.requests}
    assert by_path["/v1/completions"]["prompt"] == "the cat sat"
    assert by_path["/v1/chat/completions"]["messages"] == [{"role": "user", "content": "hi there"}]
    assert adapter.identity.settings["endpoint"] == "auto"


def test_endpoint_chat_forces_chat_for_plain_prompts(loopback_server: LoopbackServer) -> None:
    adapter = make(loopback_server, endpoint="chat")
    adapter.generate(prompts=prompts("a b"), config=CONFIG)
    adapter.close()
    assert [r.path for r in loopback_server.requests] == ["/v1/chat/completions"]
    assert adapter.identity.settings["endpoint"] == "chat"


def test_chat_only_server_gets_a_message_naming_the_option(loopback_server: LoopbackServer) -> None:
    loopback_server.chat_only()
    adapter = make(loopback_server)
    with pytest.raises(AdapterError, match=r"no /completions endpoint.*--model-arg endpoint=chat"):
        adapter.generate(prompts=prompts("a"), config=CONFIG)
    adapter.close()
    forced = make(loopback_server, endpoint="chat")
    (gen,) = forced.generate(prompts=prompts("a b"), config=CONFIG)
    forced.close()
    assert gen.output == "b a"


def test_listener_hears_each_request_and_each_retry(loopback_server: LoopbackServer) -> None:
    """Issue 20 item 3: per-request progress and a line per retry need these events."""
    from auditkit.adapters.events import RequestEvent

    loopback_server.fail("status", status=503, times=2, match="slow")
    events: list[RequestEvent] = []
    adapter = make(loopback_server)
    adapter.listen(events.append)
    adapter.generate(prompts=prompts("slow one", "fast two", "fast three"), config=CONFIG)
    adapter.close()
    done = sorted(e.prompt_id for e in events if e.kind == "done")
    retries = [e for e in events if e.kind == "retry"]
    assert done == ["p0", "p1", "p2"]
    assert [(e.prompt_id, e.attempt, e.attempts) for e in retries] == [("p0", 1, 6), ("p0", 2, 6)]
    assert all("HTTP 503" in e.reason for e in retries)

"""``openai:<model>``: any OpenAI-compatible ``/chat/completions`` or ``/completions`` server over HTTP.

That covers the OpenAI API and local servers that speak its protocol — vLLM (``vllm serve``), Ollama,
llama.cpp's server, LM Studio — by pointing ``base_url`` at them::

    auditkit run bias --model openai:gpt-4o-mini --model-arg endpoint=chat   # chat-only API; key from $OPENAI_API_KEY
    auditkit run bias --model openai:llama3.2 --model-arg base_url=http://localhost:11434/v1
    auditkit run bias --model openai:Qwen/Qwen2.5-0.5B --model-arg base_url=http://gpu:8000/v1

One prompt-form rule, as for ``hf:``: plain prompts are continued as written, so they go to
``/completions``; chat prompts (``messages``) go to ``/chat/completions``. ``--model-arg endpoint=chat``
sends every prompt to the chat endpoint (a plain prompt becomes one user turn), e.g. for a server
without ``/completions``; ``endpoint=completions`` refuses chat prompts. The choice is in the manifest.

Options (``--model-arg``): ``base_url`` (default ``$OPENAI_BASE_URL`` or https://api.openai.com/v1),
``api_key_env`` (name of the variable holding the key, default ``OPENAI_API_KEY``), ``endpoint``
(``auto``, the default, ``chat`` or ``completions``), ``timeout`` (s per request, default 60),
``max_retries`` (default 5), ``concurrency`` (requests in flight, default 8), ``backoff`` (first retry
wait in s, default 0.5),
``max_retry_after`` (cap on a server's Retry-After, default 60 s) and ``param.NAME=VALUE`` (extra body
fields, VALUE parsed as JSON when it parses, e.g. ``param.frequency_penalty=0.5``).

The key is read from the environment at request time and is never stored on the adapter, written to the
identity, the manifest or a log, nor shown in an error (error texts are scrubbed of it).

Retries (tenacity, exponential backoff with jitter) cover 408/409/429 (honouring ``Retry-After``),
5xx, timeouts, dropped connections and truncated or invalid JSON. 400/422 fail that one prompt; 401/403
(bad key) and 404 (unknown model, wrong base URL or no such endpoint) stop the run with ``AdapterError``.
A prompt whose retries run out gets a ``Generation`` with ``error`` set; the others carry on. Each
finished request and each retry is reported to a listener (``listen``), so the engine shows progress
per request and a line per timeout or retry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator

from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.adapters.events import RequestEvent, RequestListener
from auditkit.adapters.openai_wire import chat_logprobs, completion_logprobs, not_found_message, retry_after_seconds
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt

__all__ = [
    "OpenAIAdapter",
    "OpenAIOptions",
    "OpenAISettings",
    "RequestGaveUpError",
    "RequestRejectedError",
    "make_openai",
]

_T = TypeVar("_T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_RETRY_STATUS = frozenset({408, 409, 429})
_PROMPT_STATUS = frozenset({400, 413, 422})
_SNIPPET = 300
"""Characters of a server's error body quoted in messages."""


@dataclass(frozen=True, slots=True)
class OpenAISettings:
    """Validated options. Holds the *name* of the key variable, never the key."""

    model: str
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "OPENAI_API_KEY"
    endpoint: str = "auto"
    timeout: float = 60.0
    max_retries: int = 5
    concurrency: int = 8
    backoff: float = 0.5
    max_retry_after: float = 60.0
    params: Mapping[str, Any] | None = None

    @classmethod
    def from_options(cls, *, model: str, options: Mapping[str, str]) -> OpenAISettings:
        if not model:
            raise ConfigError("openai: needs a model name, e.g. --model openai:gpt-4o-mini.")
        # ``param.NAME`` options are request-body fields the server defines, not options of ours.
        params = {
            k.removeprefix("param."): _json_or_text(v) for k, v in options.items() if k.startswith("param.")
        }
        ours = {k: v for k, v in options.items() if not k.startswith("param.")}
        parsed = parse_options(model=OpenAIOptions, adapter="openai", options=ours)
        base_url = (parsed.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai: base_url {base_url!r} must start with http:// or https://.")
        return cls(
            model=model,
            base_url=base_url,
            api_key_env=parsed.api_key_env,
            endpoint=parsed.endpoint,
            timeout=parsed.timeout,
            max_retries=parsed.max_retries,
            concurrency=parsed.concurrency,
            backoff=parsed.backoff,
            max_retry_after=parsed.max_retry_after,
            params=params,
        )


class OpenAIOptions(AdapterOptions):
    """``--model-arg`` options of the ``openai`` scheme (plus ``param.NAME=VALUE`` body fields)."""

    base_url: str | None = None
    """Server URL; default ``$OPENAI_BASE_URL`` or https://api.openai.com/v1."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the key (never the key itself)."""
    endpoint: Literal["auto", "chat", "completions"] = "auto"
    """``auto``: plain prompts to /completions (continued), chat prompts to /chat/completions; or force one."""
    timeout: float = Field(default=60.0, ge=0.001)
    """Seconds per request."""
    max_retries: int = Field(default=5, ge=0)
    concurrency: int = Field(default=8, ge=1)
    """Requests in flight at most (``--concurrency`` sets it)."""
    backoff: float = Field(default=0.5, ge=0)
    """First retry wait in seconds."""
    max_retry_after: float = Field(default=60.0, ge=0)
    """Cap on a server's Retry-After, in seconds."""

    @field_validator("base_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return value or None


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class _RetryableError(Exception):
    """A transient failure: rate limit, server error, timeout, dropped connection, broken JSON."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RequestRejectedError(Exception):
    """This request cannot succeed (e.g. 400 context too long); other requests can."""


class RequestGaveUpError(Exception):
    """A request whose retries ran out; the message names the attempts and the last failure."""

    def __init__(self, *, attempts: int, last: BaseException | None) -> None:
        super().__init__(f"gave up after {attempts} attempt(s): {last}")


def _seed(*, base: int, prompt_id: str) -> int:
    """Per-prompt sampling seed derived from the run seed, as GenerationConfig documents."""
    return int.from_bytes(hashlib.sha256(f"{base}\x00{prompt_id}".encode()).digest()[:4], "big") >> 1


class OpenAIAdapter:
    """Sends each prompt as one request; ``concurrency`` requests in flight at most, across threads too."""

    def __init__(self, *, settings: OpenAISettings) -> None:
        self.settings = settings
        self.identity = AdapterIdentity(
            adapter="openai",
            model=settings.model,
            settings={
                "base_url": settings.base_url,
                "endpoint": settings.endpoint,
                **({"params": dict(settings.params)} if settings.params else {}),
            },
        )
        self.default_batch_size = max(32, settings.concurrency * 4)
        # One event loop thread per adapter: httpx's pooled client and the semaphore belong to one loop,
        # and generate() may be called from any thread (or from inside someone else's running loop).
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._listener: RequestListener | None = None

    def listen(self, callback: RequestListener | None) -> None:
        """Report each finished request and each retry to ``callback`` (``None`` stops reporting)."""
        self._listener = callback

    def _emit(self, event: RequestEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    def _endpoint_for(self, prompt: Prompt) -> str:
        """The one prompt-form rule: plain prompts are continued, chat prompts use the chat format."""
        if self.settings.endpoint != "auto":
            return self.settings.endpoint
        return "chat" if prompt.messages is not None else "completions"

    def __repr__(self) -> str:
        s = self.settings
        return f"OpenAIAdapter(model={s.model!r}, base_url={s.base_url!r}, endpoint={s.endpoint!r})"

    # -- plumbing ---------------------------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                import httpx

                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="auditkit-openai", daemon=True)
                thread.start()
                s = self.settings

                async def setup() -> None:
                    limits = httpx.Limits(
                        max_connections=s.concurrency, max_keepalive_connections=s.concurrency
                    )
                    self._client = httpx.AsyncClient(timeout=httpx.Timeout(s.timeout), limits=limits)
                    self._semaphore = asyncio.Semaphore(s.concurrency)

                asyncio.run_coroutine_threadsafe(setup(), loop).result()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Close the connection pool and stop the event loop thread."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.settings.api_key_env, "")
        if key:
            return {"Authorization": f"Bearer {key}"}
        if self.settings.base_url == DEFAULT_BASE_URL:
            raise AdapterError(
                f"No API key: the environment variable ${self.settings.api_key_env} is empty or unset. "
                f"Export it, or name another variable with --model-arg api_key_env=NAME."
            )
        return {}  # local servers (vLLM, Ollama) usually need no key

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.settings.api_key_env, "")
        return text.replace(key, "***") if len(key) >= 4 else text

    # -- requests ---------------------------------------------------------------------------------------
    def _body(self, prompt: Prompt, config: GenerationConfig, endpoint: str) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "seed": _seed(base=config.seed, prompt_id=prompt.id),
        }
        if config.stop:
            body["stop"] = list(config.stop)
        if endpoint == "chat":
            if prompt.messages is not None:
                body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
            else:
                body["messages"] = [{"role": "user", "content": prompt.prompt or ""}]
            if config.logprobs:
                body["logprobs"] = True
        else:
            body["prompt"] = prompt.prompt or ""
            if config.logprobs:
                body["logprobs"] = 1
        body.update(s.params or {})
        return body

    async def _request(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[dict[str, Any], float]:
        import httpx

        start = time.perf_counter()
        try:
            response = await self._client.post(url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _RetryableError(
                f"timed out after {self.settings.timeout:g}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise _RetryableError(
                f"connection failed: {type(exc).__name__}: {self._redact(str(exc))}"
            ) from None
        latency = time.perf_counter() - start
        status = response.status_code
        if status >= 400:
            snippet = self._redact(response.text[:_SNIPPET])
            if status in (401, 403):
                raise AdapterError(
                    f"{self.settings.base_url} refused the request with HTTP {status}: check the key in "
                    f"${self.settings.api_key_env} (server said: {snippet})"
                )
            if status == 404:
                raise AdapterError(not_found_message(url=url, model=self.settings.model, snippet=snippet))
            if status == 429 or status in _RETRY_STATUS or status >= 500:
                raise _RetryableError(
                    f"HTTP {status}: {snippet}", retry_after=retry_after_seconds(response.headers.get("retry-after"))
                )
            raise RequestRejectedError(f"HTTP {status}: {snippet}")
        try:
            data = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _RetryableError(f"invalid JSON in the response ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            raise _RetryableError(f"response has no 'choices': {self._redact(str(data)[:_SNIPPET])}")
        return data, latency

    def _wait(self, retry_state: Any) -> float:
        """Retry-After when the server gives one (capped), else exponential backoff with jitter."""
        from tenacity import wait_exponential, wait_random

        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _RetryableError) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.max_retry_after)
        # Jitter keeps many clients that failed together from retrying together.
        b = self.settings.backoff
        backoff = wait_exponential(multiplier=b, max=30.0) + wait_random(0, b)
        return float(backoff(retry_state))

    async def post(
        self, *, url: str, body: dict[str, Any], headers: dict[str, str], prompt_id: str
    ) -> tuple[dict[str, Any], float]:
        """POST ``body`` with retries, under the adapter's concurrency limit; the JSON answer and its latency.

        Raises ``RequestGaveUpError`` when the retries run out and ``RequestRejectedError`` when the server
        refuses this request for good; both concern this request only. Each retry is reported to the listener.
        """
        from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt

        attempts = self.settings.max_retries + 1

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = float(state.next_action.sleep) if state.next_action else 0.0
            self._emit(RequestEvent(kind="retry", prompt_id=prompt_id, ok=False, reason=str(exc),
                                    attempt=state.attempt_number, attempts=attempts, wait_s=wait))

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RetryableError),
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    assert self._semaphore is not None
                    async with self._semaphore:
                        return await self._request(url, body, headers)
        except RetryError as exc:
            raise RequestGaveUpError(attempts=attempts, last=exc.last_attempt.exception()) from None
        raise AssertionError("unreachable: tenacity either returns, retries or raises RetryError")

    def run_sync(self, work: Callable[[dict[str, str]], Coroutine[Any, Any, _T]]) -> _T:
        """Run ``work(headers)`` on the adapter's event loop thread and wait for it (cancelled if we are)."""
        headers = self._headers()
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(work(headers), loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def _one(
        self, prompt: Prompt, config: GenerationConfig, base: str, headers: dict[str, str]
    ) -> Generation:
        endpoint = self._endpoint_for(prompt)
        url = f"{base}/{_PATHS[endpoint]}"
        body = self._body(prompt, config, endpoint)
        generation = await self._attempt(prompt, url, body, headers, endpoint)
        self._emit(RequestEvent(kind="done", prompt_id=prompt.id, ok=generation.ok, reason=generation.error or ""))
        return generation

    async def _attempt(
        self, prompt: Prompt, url: str, body: dict[str, Any], headers: dict[str, str], endpoint: str
    ) -> Generation:
        try:
            data, latency = await self.post(url=url, body=body, headers=headers, prompt_id=prompt.id)
        except RequestGaveUpError as exc:
            return Generation(prompt_id=prompt.id, output=None, error=str(exc))
        except RequestRejectedError as exc:
            return Generation(prompt_id=prompt.id, output=None, error=f"request rejected: {exc}")
        try:
            return self._parse(prompt, data, latency, endpoint)
        except (AttributeError, TypeError, ValueError) as exc:  # a server that bends the schema
            return Generation(prompt_id=prompt.id, output=None, error=f"unexpected response shape: {exc!r}")

    def _parse(self, prompt: Prompt, data: dict[str, Any], latency: float, endpoint: str) -> Generation:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        if endpoint == "chat":
            text = (choice.get("message") or {}).get("content")
            tokens, logprobs = chat_logprobs(choice.get("logprobs"))
        else:
            text = choice.get("text")
            tokens, logprobs = completion_logprobs(choice.get("logprobs"))
        if not isinstance(text, str):
            refusal = (choice.get("message") or {}).get("refusal")
            reason = (
                f"refused: {refusal}"
                if refusal
                else f"no text in the response (finish_reason={choice.get('finish_reason')})"
            )
            return Generation(prompt_id=prompt.id, output=None, error=reason, latency_s=latency)
        return Generation(
            prompt_id=prompt.id,
            output=text,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
            latency_s=latency,
            token_logprobs=logprobs,
            tokens=tokens,
        )

    async def _batch(
        self, prompts: Sequence[Prompt], config: GenerationConfig, headers: dict[str, str]
    ) -> list[Generation]:
        base = self.settings.base_url
        tasks = [asyncio.ensure_future(self._one(p, config, base, headers)) for p in prompts]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return [t.result() for t in tasks]
        finally:
            for task in tasks:
                task.cancel()

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        if self.settings.endpoint == "completions":
            chat = [p.id for p in prompts if p.messages is not None]
            if chat:
                raise ConfigError(
                    f"openai: {len(chat)} prompt(s) are chat messages (e.g. {chat[0]}), "
                    "which the completions "
                    "endpoint cannot take; use --model-arg endpoint=chat."
                )
        if not prompts:
            return []
        return self.run_sync(lambda headers: self._batch(prompts, config, headers))

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """Continuation log-probs from ``/completions`` with echo + logprobs (see ``openai_loglik``)."""
        from auditkit.adapters.openai_loglik import score_requests

        return score_requests(adapter=self, requests=requests)


_PATHS = {"chat": "chat/completions", "completions": "completions"}


@adapters.register("openai")
@adapter_factory(
    abilities=AdapterAbilities(remote=True, concurrency=True, energy_source="modelled", loglikelihood=True),
    options=OpenAIOptions,
)
def make_openai(*, target: str, options: Mapping[str, str]) -> Adapter:
    """OpenAI-compatible chat/completions HTTP API (OpenAI, vLLM, Ollama, llama.cpp via base_url)."""
    return OpenAIAdapter(settings=OpenAISettings.from_options(model=target, options=options))

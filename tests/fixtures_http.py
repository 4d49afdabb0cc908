"""A real OpenAI-compatible HTTP server on 127.0.0.1 for adapter tests, with scriptable faults.

The server speaks ``POST /v1/chat/completions`` and ``POST /v1/completions`` over real sockets
(``http.server.ThreadingHTTPServer`` in a background thread, ephemeral port). Its answer to a text is
``reply_for(text)`` — the words in reverse order, cut at ``max_tokens`` words — with usage counts
(words) and, when asked, log-probs. Tests script faults with ``server.fail(...)``: HTTP statuses (429
with Retry-After, 500, 401...), slow answers (client timeouts), truncated JSON and connections dropped
mid-body. Every request is recorded (path, headers, body, arrival time), and the server measures the
peak number of requests it was handling at once.

Use it through the ``loopback_server`` fixture (import it into the test module)::

    from tests.fixtures_http import loopback_server  # noqa: F401

    def test_x(loopback_server):
        loopback_server.fail("status", status=429, times=2, retry_after="0.05")
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = ["Fault", "LoopbackServer", "Received", "loopback_server", "reply_for"]


def reply_for(text: str, *, max_tokens: int | None = None) -> str:
    """The server's deterministic answer: the prompt's words reversed, at most ``max_tokens`` words."""
    words = list(reversed(text.split()))
    if max_tokens is not None:
        words = words[:max_tokens]
    return " ".join(words)


@dataclass
class Fault:
    """One scripted misbehaviour, applied to the next ``times`` matching requests (``None``: forever)."""

    kind: str
    """``status`` (answer ``status`` with an error body), ``truncated`` (valid HTTP, JSON cut in half),
    ``drop`` (close the socket mid-body) or ``slow`` (wait ``delay`` seconds, then answer normally)."""
    status: int = 500
    times: int | None = 1
    match: str | None = None
    """Only requests whose prompt text contains this string."""
    retry_after: str | None = None
    delay: float = 0.0
    body: str | None = None
    """Error body text; ``{authorization}`` is replaced by the received Authorization header."""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    latency: float = 0.0
    routes: tuple[str, ...] = ("/v1/chat/completions", "/v1/completions")
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


def _prompt_text(path: str, body: dict[str, Any]) -> str:
    if path.endswith("/chat/completions"):
        users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
        return users[-1] if users else ""
    return str(body.get("prompt", ""))


def _success(path: str, body: dict[str, Any]) -> dict[str, Any]:
    text = _prompt_text(path, body)
    max_tokens = body.get("max_tokens")
    full = reply_for(text)
    reply = reply_for(text, max_tokens=max_tokens)
    finish = "length" if len(reply.split()) < len(full.split()) else "stop"
    words = reply.split()
    logprobs = [-(i + 1) / 10 for i in range(len(words))]
    if path.endswith("/chat/completions"):
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": reply},
            "finish_reason": finish,
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [{"token": w, "logprob": lp} for w, lp in zip(words, logprobs, strict=True)]
            }
        kind = "chat.completion"
    else:
        prompt_tokens = len(text.split())
        choice = {"index": 0, "text": reply, "finish_reason": finish}
        if body.get("logprobs"):
            choice["logprobs"] = {"tokens": words, "token_logprobs": logprobs}
        kind = "text_completion"
    return {
        "id": "cmpl-loopback",
        "object": kind,
        "model": body.get("model"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        },
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = None
        with state.lock:
            state.requests.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
            state.in_flight += 1
            state.peak = max(state.peak, state.in_flight)
            fault = self._take_fault(body)
        try:
            self._answer(body, fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing left to tell it
        finally:
            with state.lock:
                state.in_flight -= 1

    def _take_fault(self, body: Any) -> Fault | None:
        text = _prompt_text(self.path, body) if isinstance(body, dict) else ""
        for fault in self.server.state.faults:
            if fault.times == 0 or (fault.match is not None and fault.match not in text):
                continue
            if fault.times is not None:
                fault.times -= 1
            return fault
        return None

    def _answer(self, body: Any, fault: Fault | None) -> None:
        state = self.server.state
        if self.path not in state.routes:
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
            return
        if not isinstance(body, dict):
            self._send(400, b'{"error": {"message": "body is not JSON"}}')
            return
        if fault is not None and fault.kind == "status":
            message = (fault.body or f"scripted HTTP {fault.status}").replace(
                "{authorization}", self.headers.get("Authorization", "")
            )
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, json.dumps({"error": {"message": message}}).encode(), headers)
            return
        if fault is not None and fault.kind == "slow":
            state.stopping.wait(fault.delay)
        if state.latency:
            state.stopping.wait(state.latency)
        payload = json.dumps(_success(self.path, body)).encode()
        if fault is not None and fault.kind == "truncated":
            self._send(200, payload[: len(payload) // 2])
            return
        if fault is not None and fault.kind == "drop":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(200, payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class LoopbackServer:
    """Handle on a running server: script faults, read what it received."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="loopback-http",
            daemon=True,
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"

    @property
    def state(self) -> _State:
        return self._server.state

    def fail(self, kind: str, **kwargs: Any) -> Fault:
        """Script a fault (see ``Fault``); faults apply in the order they were added."""
        fault = Fault(kind=kind, **kwargs)
        with self.state.lock:
            self.state.faults.append(fault)
        return fault

    def set_latency(self, seconds: float) -> None:
        """Delay every answer, so concurrent requests overlap measurably."""
        self.state.latency = seconds

    def chat_only(self) -> None:
        """Answer 404 on /v1/completions, like a server that only has the chat endpoint."""
        self.state.routes = ("/v1/chat/completions",)

    @property
    def requests(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def peak_concurrency(self) -> int:
        return self.state.peak

    def requests_matching(self, text: str) -> list[Received]:
        return [r for r in self.requests if isinstance(r.body, dict) and text in _prompt_text(r.path, r.body)]

    def stop(self) -> None:
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A fresh server per test, stopped at teardown."""
    server = LoopbackServer()
    try:
        yield server
    finally:
        server.stop()

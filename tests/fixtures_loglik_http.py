"""A real local HTTP server that answers ``/v1/completions`` with ``echo`` + ``logprobs`` as vLLM does,
computing the log-probabilities with a real (tiny) transformers model.

The prompt is tokenized with the model's special tokens (its BOS first, as vLLM's Llama tokenizers do);
``token_logprobs[0]`` is ``null`` and every later token gets its log-probability under the model, with its
``text_offset`` and the top-1 alternative in ``top_logprobs``. ``echo=False`` servers (``supports_echo``
off) answer like a chat-only API: a completion without prompt log-probabilities.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["EchoServer"]


class _QuietServer(ThreadingHTTPServer):
    """A client that stops reading once it has its answer (the run stopped: exit 2) is no server error;
    the default handler would print a BrokenPipe traceback onto the stderr the tests inspect."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):  # broken pipe, reset, aborted: the client left
            super().handle_error(request, client_address)


class EchoServer:
    """``with EchoServer(model_dir=...) as server: server.base_url`` — a vLLM-like completions server."""

    def __init__(self, *, model_dir: Path, supports_echo: bool = True) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        self.supports_echo = supports_echo
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                with server._lock:
                    server.requests.append(body)
                    payload = server.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        import torch

        text = str(body["prompt"])
        if not (self.supports_echo and body.get("echo")):
            return {"object": "text_completion", "choices": [{"index": 0, "text": " ok", "finish_reason": "length"}]}
        encoded = self.tokenizer(text, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], [start for start, _ in encoded["offset_mapping"]]
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids])).logits[0].float()
        steps = torch.log_softmax(logits, dim=-1)
        token_logprobs: list[float | None] = [None]
        top: list[dict[str, float] | None] = [None]
        for position in range(1, len(ids)):
            row = steps[position - 1]
            token_logprobs.append(float(row[ids[position]]))
            best = int(row.argmax())
            top.append({self.tokenizer.convert_ids_to_tokens(best): float(row[best])})
        generated = int(steps[-1].argmax())
        tokens = self.tokenizer.convert_ids_to_tokens([*ids, generated])
        return {
            "object": "text_completion",
            "choices": [{
                "index": 0, "text": text + self.tokenizer.decode([generated]), "finish_reason": "length",
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": [*token_logprobs, float(steps[-1, generated])],
                    "text_offset": [*offsets, len(text)],
                    "top_logprobs": [*top, {tokens[-1]: float(steps[-1, generated])}],
                },
            }],
        }

"""An OpenAI-compatible HTTP server that answers instantly: the ``openai`` benchmark's far end.

``python -m benchmarks.instant_server [--port N]`` listens on 127.0.0.1 (an ephemeral port by default),
prints the port on its first stdout line, and answers every ``POST .../chat/completions`` and
``POST .../completions`` with one fixed, valid response (HTTP/1.1, keep-alive, ``Content-Length``).
Anything else gets 404. It is raw asyncio streams — no framework, no per-request thread — so that the
client under test, not the server, is what a benchmark measures. It runs as its own process so it does
not share the client's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

__all__ = ["CHAT_REPLY", "COMPLETION_REPLY", "main", "serve"]

_USAGE = {"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}
CHAT_REPLY = {
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "a fixed reply"},
                 "finish_reason": "length"}],
    "usage": _USAGE,
}
COMPLETION_REPLY = {
    "id": "cmpl-bench", "object": "text_completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "text": " a fixed reply", "finish_reason": "length", "logprobs": None}],
    "usage": _USAGE,
}


def _response(status: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n")
    return head.encode("ascii") + body


_CHAT = _response("200 OK", json.dumps(CHAT_REPLY).encode())
_COMPLETION = _response("200 OK", json.dumps(COMPLETION_REPLY).encode())
_NOT_FOUND = _response("404 Not Found", b'{"error": {"message": "no such endpoint"}}')


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, headers = head.partition(b"\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            parts = request_line.split()
            path = parts[1].split(b"?")[0] if len(parts) > 1 else b""
            if parts[:1] == [b"POST"] and path.endswith(b"/chat/completions"):
                writer.write(_CHAT)
            elif parts[:1] == [b"POST"] and path.endswith(b"/completions"):
                writer.write(_COMPLETION)
            else:
                writer.write(_NOT_FOUND)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass  # the client closed the connection (or sent garbage): drop it
    finally:
        writer.close()


async def serve(*, port: int = 0) -> None:
    """Serve forever on 127.0.0.1:``port``; the bound port is printed first (``0``: an ephemeral one)."""
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instant_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(port=args.port))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

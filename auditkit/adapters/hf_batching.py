"""How many prompts the ``hf`` adapter decodes at once: per-device defaults, memory-sized CUDA batches.

``batch_size=auto`` (the default): on CPU and MPS the engine sends 16 prompts per call and each call is
one batch. On CUDA the engine sends up to 256 per call and the adapter splits a call into the largest
batches :func:`memory_rows` estimates fit in free device memory; an out-of-memory error frees the cache,
halves the batch and is remembered (see ``HFAdapter``), so later batches start below what failed.
"""

from __future__ import annotations

import gc
from typing import Any

from auditkit.records import GenerationConfig

__all__ = ["LOGLIK_BATCH", "auto_batch_size", "free_memory", "is_out_of_memory", "memory_rows"]

_DEFAULT_BATCH = {"cpu": 16, "mps": 16, "cuda": 256}
# On CUDA ``auto`` batches are sized by memory; this caps them (and is the engine's prompts per call).
_MAX_AUTO_ROWS = 256
# Share of the free device memory an auto-sized batch may plan to use: allocator slack, fragmentation.
_MEMORY_SHARE = 0.7
# Log-likelihood batches hold full-width logits (rows x tokens x vocabulary): fixed per device.
LOGLIK_BATCH = {"cpu": 8, "mps": 16, "cuda": 32}


def auto_batch_size(*, device: str, requested: int | None) -> int:
    """Prompts per engine call: the ``batch_size`` option, else the device's default (16 CPU/MPS, 256 CUDA)."""
    return requested or _DEFAULT_BATCH[device.split(":")[0]]


def memory_rows(*, model: Any, device: str, tokens: int, config: GenerationConfig) -> int:
    """How many rows of ``tokens`` tokens fit in the free memory of ``device`` (an estimate, at most 256).

    Per row: the KV cache of every layer, the prefill's largest transient activations (MLP, attention
    scores), and the vocabulary-wide buffers of sampling (float64 probabilities, sort, cumsum) and of
    log-probs (one float32 row per step). A model whose config lacks the usual fields gets the old
    fixed default; an out-of-memory error still halves the batch.
    """
    import torch

    try:
        cfg = model.config
        heads = int(cfg.num_attention_heads)
        hidden = int(cfg.hidden_size)
        kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
        head_dim = int(getattr(cfg, "head_dim", None) or hidden // heads)
        inner = int(getattr(cfg, "intermediate_size", None) or 4 * hidden)
        vocab = int(cfg.vocab_size)
        layers = int(cfg.num_hidden_layers)
        itemsize = int(model.dtype.itemsize)
        free, _total = torch.cuda.mem_get_info(torch.device(device))
    except (AttributeError, TypeError, ValueError, RuntimeError):
        return 32
    kv_cache = 2 * layers * kv_heads * head_dim * itemsize * tokens
    # Eager attention materialises float32 scores per head; fused (sdpa/flash) kernels only the mask.
    eager = getattr(cfg, "_attn_implementation", None) == "eager"
    scores = (heads * 4 if eager else itemsize) * tokens * tokens
    prefill = tokens * (3 * inner + 4 * hidden) * itemsize + scores
    vocab_buffers = vocab * (8 * 6 + 4 * (config.max_new_tokens if config.logprobs else 1))
    return max(1, min(_MAX_AUTO_ROWS, int(free * _MEMORY_SHARE) // (kv_cache + prefill + vocab_buffers)))


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass

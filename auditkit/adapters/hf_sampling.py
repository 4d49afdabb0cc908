"""Seeded sampling for local transformers models: one counter-based random stream per prompt.

Batched HF sampling (``torch.multinomial`` over the batch) shares one RNG stream across rows, so a prompt's
sample would change with its batch neighbours. One ``torch.Generator`` per row fixes that at the cost of
one draw call per row per step, which dominates sampled decoding on a GPU. Here the uniform a row uses
at decoding step ``t`` is a pure function of ``(row seed, t)``: the ``t``-th output of SplitMix64 seeded
with the prompt's seed (Steele, Lea & Flood 2014), computed for all rows at once in int64 tensor ops on
the model's device. No state is carried between steps, so neither batch size, padding, neighbours nor a
resumed run can change a prompt's stream.

The token is drawn by inverse CDF: the first vocabulary id whose cumulative probability (vocabulary
order, float64) exceeds ``u`` times the total. That needs one uniform per row per step; Gumbel-max would
need one hash per row per step per vocabulary entry (50k-150k), several times the cost of the softmax
itself on a CPU. Temperature divides the logits; top-p keeps the most probable tokens until their mass
reaches ``top_p`` (the top token always stays), as before.

int64 arithmetic wraps modulo 2**64 like the unsigned original; right shifts are arithmetic on signed
values, so every shift is masked to its logical result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["SAMPLER_VERSION", "SeededSampler", "draw_tokens", "splitmix64", "uniforms"]

SAMPLER_VERSION = "splitmix64-invcdf-1"
"""Names the sampling algorithm in the adapter identity: a change of it changes sampled outputs, so
cached samples of the previous algorithm must not be reused as if identical."""

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _as_int64(value: int) -> int:
    """The int64 with the same 64 bits as the unsigned ``value`` (torch has no full uint64 arithmetic)."""
    value &= _MASK
    return value - (1 << 64) if value >= 1 << 63 else value


def _shr(z: Any, bits: int) -> Any:
    """Logical right shift of an int64 tensor: the arithmetic shift with the sign-extended bits cleared."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(*, seeds: Any, step: int) -> Any:
    """The ``step``-th (0-based) SplitMix64 output of each seed, as int64 tensors holding the 64 bits."""
    z = seeds + _as_int64((step + 1) * _GAMMA)
    z = (z ^ _shr(z, 30)) * _as_int64(_MIX1)
    z = (z ^ _shr(z, 27)) * _as_int64(_MIX2)
    return z ^ _shr(z, 31)


def uniforms(*, seeds: Any, step: int) -> Any:
    """One float64 uniform in [0, 1) per seed for decoding step ``step``: the top 53 bits of SplitMix64."""
    return _shr(splitmix64(seeds=seeds, step=step), 11).double() * (2.0**-53)


def draw_tokens(*, probs: Any, u: Any) -> Any:
    """Inverse-CDF draw per row: the first id whose cumulative probability exceeds ``u * total``."""
    import torch

    cdf = probs.cumsum(dim=-1)
    total = cdf[:, -1:]
    # u < 1, but u * total may round up to total: stay strictly below it, so the id found has mass.
    target = torch.minimum(u.unsqueeze(1) * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target, right=True).squeeze(1)


class SeededSampler:
    """Logits processor: temperature + nucleus sampling from each row's own stream; returns a one-hot row.

    Greedy search then picks the drawn token, so sampling stays out of HF's shared-RNG path.
    """

    def __init__(
        self, *, seeds: Sequence[int], temperature: float, top_p: float, prompt_width: int, device: Any
    ) -> None:
        import torch

        self._seeds = torch.tensor([_as_int64(s) for s in seeds], dtype=torch.long, device=device)
        self._temperature = temperature
        self._top_p = top_p
        self._width = prompt_width

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self._width  # tokens generated so far: the same for every row
        probs = torch.softmax(scores.double() / self._temperature, dim=-1)
        if self._top_p < 1.0:
            probs = _nucleus(probs=probs, top_p=self._top_p)
        choice = draw_tokens(probs=probs, u=uniforms(seeds=self._seeds, step=step))
        onehot = torch.full_like(scores, float("-inf"))
        return onehot.scatter_(1, choice.unsqueeze(1), 0.0)


def _nucleus(*, probs: Any, top_p: float) -> Any:
    """Zero every token outside the nucleus; ties keep vocabulary order (stable sort)."""
    import torch

    sorted_probs, order = torch.sort(probs, descending=True, stable=True, dim=-1)
    # Drop a token when the mass before it already reaches top_p; the top token always stays.
    drop = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= top_p
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))

"""Memorization measures: passage splitting, suffix comparison, and log-probability scores.

Comparison happens on *normalized word tokens*, not on the model's own tokens: adapters may be remote
(no tokenizer) and two runs of different models must be compared on the same scale. Normalization is
Unicode NFKC plus whitespace collapsing; a token is a run of word characters or one punctuation mark
(``"times,"`` → ``["times", ","]``), case kept. Passages are split into prefix and reference by
*whitespace words* so the prompt keeps the passage's own text verbatim.

Definitions (see docs/memorization.md for the citations):

- k-extractable (Carlini et al. 2022): the first ``k`` output tokens equal the reference's first ``k``.
- Longest common prefix and edit similarity (HELM copyright metrics; Lee et al. 2021): in tokens, the
  output truncated to the reference's length.
- Perplexity and zlib ratio (Carlini et al. 2021), Min-K% Prob (Shi et al. 2023), exposure (Carlini et
  al. 2019, "The Secret Sharer").
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "Exposure",
    "ExtractionMatch",
    "PassageSplit",
    "compare_suffix",
    "exposure",
    "min_k_prob",
    "normalize_text",
    "perplexity",
    "split_passage",
    "word_tokens",
    "zlib_entropy",
    "zlib_ratio",
]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\S+")


def normalize_text(*, text: str) -> str:
    """NFKC (folds ligatures, full-width forms, non-breaking spaces) then collapse whitespace runs."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def word_tokens(*, text: str) -> tuple[str, ...]:
    """Normalized tokens: runs of word characters, and each punctuation mark on its own."""
    return tuple(_TOKEN.findall(normalize_text(text=text)))


@dataclass(frozen=True, slots=True)
class PassageSplit:
    """A passage cut into the prompt prefix and the reference suffix the model should not reproduce."""

    prefix: str
    """The passage's first ``prefix_words`` words, verbatim (original spacing and line breaks)."""
    reference: str
    """The next ``suffix_words`` words, verbatim, without the whitespace that separates it from the prefix."""
    prefix_words: int
    suffix_words: int
    proportional: bool
    """True when the passage was shorter than prefix + suffix and was cut proportionally."""


def split_passage(*, text: str, prefix_words: int, suffix_words: int) -> PassageSplit | None:
    """Cut ``text`` into prefix and reference by whitespace words; ``None`` when it has < 2 words.

    A passage shorter than ``prefix_words + suffix_words`` is cut in the same proportion:
    prefix = round(n × prefix_words / (prefix_words + suffix_words)), at least one word on each side.
    A longer passage uses exactly the configured lengths (the rest is ignored).
    """
    if prefix_words < 1 or suffix_words < 1:
        raise ValueError(f"prefix_words={prefix_words} and suffix_words={suffix_words} must both be >= 1")
    spans = [m.span() for m in _WORD.finditer(text)]
    n = len(spans)
    if n < 2:
        return None
    proportional = n < prefix_words + suffix_words
    if proportional:
        p = round(n * prefix_words / (prefix_words + suffix_words))
        p = min(max(p, 1), n - 1)
        s = n - p
    else:
        p, s = prefix_words, suffix_words
    prefix = text[spans[0][0] : spans[p - 1][1]]
    reference = text[spans[p][0] : spans[p + s - 1][1]]
    return PassageSplit(prefix=prefix, reference=reference, prefix_words=p, suffix_words=s,
                        proportional=proportional)


@dataclass(frozen=True, slots=True)
class ExtractionMatch:
    """How far an output reproduces a reference, in normalized word tokens."""

    k: int
    """Tokens compared for exact extraction: ``min(k option, reference length)``."""
    extractable: bool
    """The output's first ``k`` tokens equal the reference's first ``k`` (and ``k > 0``)."""
    lcp: int
    """Longest common prefix of output and reference, in tokens."""
    lcp_fraction: float
    """``lcp / reference length``: 1.0 means the whole reference was reproduced from its start."""
    edit_similarity: float
    """1 − Levenshtein(output[:len(ref)], ref) / max(lengths), over tokens; 0 when the output is empty."""
    reference_tokens: int
    output_tokens: int


def compare_suffix(*, output: str, reference: str, k: int | None = None) -> ExtractionMatch:
    """Compare an output with the reference suffix it should (not) reproduce.

    ``k=None`` compares the whole reference; a reference shorter than ``k`` is compared whole.
    """
    from rapidfuzz.distance import Levenshtein

    ref = word_tokens(text=reference)
    out = word_tokens(text=output)
    if not ref:
        raise ValueError("reference has no tokens to compare against")
    kk = len(ref) if k is None else min(k, len(ref))
    if kk < 1:
        raise ValueError(f"k={k} must be >= 1")
    lcp = 0
    for a, b in zip(out, ref):
        if a != b:
            break
        lcp += 1
    head = out[: len(ref)]
    # HELM returns 0 when either side is empty; rapidfuzz would say 1.0 for two empty sequences.
    similarity = float(Levenshtein.normalized_similarity(head, ref)) if head else 0.0
    return ExtractionMatch(
        k=kk,
        extractable=lcp >= kk,
        lcp=lcp,
        lcp_fraction=lcp / len(ref),
        edit_similarity=similarity,
        reference_tokens=len(ref),
        output_tokens=len(out),
    )


def perplexity(*, token_logprobs: Sequence[float]) -> float:
    """exp(−mean natural-log probability) of the tokens; needs at least one token."""
    if not token_logprobs:
        raise ValueError("perplexity needs at least one token log-probability")
    return math.exp(-sum(token_logprobs) / len(token_logprobs))


def zlib_entropy(*, text: str) -> int:
    """Bytes of the zlib-compressed UTF-8 text (Carlini et al. 2021's 'zlib entropy')."""
    return len(zlib.compress(text.encode("utf-8")))


def zlib_ratio(*, text: str, token_logprobs: Sequence[float]) -> float:
    """ln(perplexity) / zlib entropy in bytes. Lower = more suspicious (likely memorized).

    Carlini et al. 2021 rank by zlib / ln(PPL); this is its reciprocal, the form the Min-K% authors
    use, because it stays finite when a memorized text's perplexity approaches 1 (ln PPL → 0).
    """
    return math.log(perplexity(token_logprobs=token_logprobs)) / zlib_entropy(text=text)


def min_k_prob(*, token_logprobs: Sequence[float], ratio: float = 0.2) -> float:
    """Min-K% Prob: mean log-probability of the ``ratio`` lowest-probability tokens (at least one).

    Shi et al. 2023: seen text has few low-probability outliers, so a value closer to 0 hints at
    membership. (Their code reports the negation; we keep the paper's sign: higher = more likely seen.)
    """
    if not token_logprobs:
        raise ValueError("Min-K% Prob needs at least one token log-probability")
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio={ratio} must lie in (0, 1]")
    lowest = sorted(token_logprobs)[: max(1, int(len(token_logprobs) * ratio))]
    return sum(lowest) / len(lowest)


@dataclass(frozen=True, slots=True)
class Exposure:
    """Secret Sharer exposure of one canary against reference strings of the same format."""

    rank: int
    """1 + number of references the model finds strictly more likely than the canary."""
    candidates: int
    """|R|: the reference strings plus the canary."""
    exposure: float
    """log2 |R| − log2 rank (interpolation): log2 |R| when the canary beats every reference, ~1 at random."""
    extrapolated: float | None
    """−log2 CDF of the canary's negative log-likelihood under a skew-normal fit to the references'."""


def exposure(
    *,
    canary: str,
    references: Sequence[str],
    log_likelihood: Callable[[str], float],
) -> Exposure:
    """Exposure (Carlini et al. 2019) from a callable giving the model's total log-likelihood of a string.

    References must be random strings of the canary's format that the model never saw. Ranking by total
    log-likelihood equals ranking by perplexity when all candidates tokenize to the same length, which the
    shared format is meant to ensure.
    """
    if not references:
        raise ValueError("exposure needs at least one reference string")
    scored = log_likelihood(canary)
    others = [log_likelihood(r) for r in references]
    rank = 1 + sum(1 for o in others if o > scored)
    # The candidate space is the references plus the canary itself, so rank ≤ |R| and exposure ≥ 0.
    space = len(others) + 1
    interpolated = math.log2(space) - math.log2(rank)
    extrapolated: float | None = None
    if len(others) >= 3 and len(set(others)) > 1:
        from scipy.stats import skewnorm

        params = skewnorm.fit([-o for o in others])
        cdf = float(skewnorm.cdf(-scored, *params))
        extrapolated = -math.log2(cdf) if cdf > 0 else math.inf
    return Exposure(rank=rank, candidates=space, exposure=interpolated, extrapolated=extrapolated)

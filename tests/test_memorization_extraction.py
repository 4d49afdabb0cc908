"""Splitting and comparison measures against hand-computed answers."""

from __future__ import annotations

import math
import zlib

import pytest

from auditkit.analyzers.extraction import (
    compare_suffix,
    exposure,
    min_k_prob,
    normalize_text,
    perplexity,
    split_passage,
    word_tokens,
    zlib_entropy,
    zlib_ratio,
)


def test_tokens_normalize_unicode_and_split_punctuation() -> None:
    assert normalize_text(text="ﬁne\u00a0 day\n\n ok") == "fine day ok"
    assert word_tokens(text="It was the best of times,\nit was") == (
        "It", "was", "the", "best", "of", "times", ",", "it", "was"
    )
    assert word_tokens(text="ago—never") == ("ago", "—", "never")


def test_split_uses_configured_lengths_and_keeps_text_verbatim() -> None:
    text = "one  two\nthree four five six seven"
    split = split_passage(text=text, prefix_words=2, suffix_words=3)
    assert split is not None
    assert (split.prefix, split.reference) == ("one  two", "three four five")
    assert (split.prefix_words, split.suffix_words, split.proportional) == (2, 3, False)
    assert text.startswith(split.prefix)


@pytest.mark.parametrize(
    ("n", "prefix", "suffix", "expected"),
    [
        (10, 32, 50, (4, 6)), (2, 32, 50, (1, 1)), (3, 1, 50, (1, 2)),
        (82, 32, 50, (32, 50)), (5, 5, 1, (4, 1)), (7, 5, 1, (5, 1)),
    ],
)
def test_proportional_split(n: int, prefix: int, suffix: int, expected: tuple[int, int]) -> None:
    split = split_passage(text=" ".join(f"w{i}" for i in range(n)), prefix_words=prefix, suffix_words=suffix)
    assert split is not None
    assert (split.prefix_words, split.suffix_words) == expected
    assert split.proportional == (n < prefix + suffix)


def test_passage_too_short_to_split() -> None:
    assert split_passage(text="  single  ", prefix_words=3, suffix_words=3) is None
    assert split_passage(text="", prefix_words=3, suffix_words=3) is None


def test_exact_match_lcp_and_edit_similarity() -> None:
    ref = "it was the worst of times, it was"
    exact = compare_suffix(output=" it was the worst of times, it was the age of wisdom", reference=ref)
    assert exact.extractable and exact.lcp == exact.reference_tokens == 9 and exact.edit_similarity == 1.0
    # One substituted token at position 3 of 9: LCP 3, edit similarity 8/9.
    near = compare_suffix(output="it was the best of times, it was", reference=ref)
    assert not near.extractable and near.lcp == 3
    assert near.edit_similarity == pytest.approx(8 / 9)
    assert near.lcp_fraction == pytest.approx(3 / 9)
    # k smaller than the reference: only the first k tokens must match.
    assert compare_suffix(output="it was the best", reference=ref, k=3).extractable
    assert compare_suffix(output="", reference=ref).edit_similarity == 0.0


def test_whitespace_and_unicode_differences_do_not_break_a_match() -> None:
    assert compare_suffix(output="\n  It   was\u00a0the", reference="It was the").extractable


def test_logprob_measures_known_answers() -> None:
    lps = [math.log(0.5), math.log(0.25), math.log(0.125), math.log(1.0), math.log(0.5)]
    assert perplexity(token_logprobs=[math.log(0.5)] * 4) == pytest.approx(2.0)
    # 20% of 5 tokens = 1 token: the single lowest log-prob.
    assert min_k_prob(token_logprobs=lps, ratio=0.2) == pytest.approx(math.log(0.125))
    assert min_k_prob(token_logprobs=lps, ratio=0.4) == pytest.approx((math.log(0.125) + math.log(0.25)) / 2)
    text = "hello hello hello"
    assert zlib_entropy(text=text) == len(zlib.compress(text.encode()))
    expected = math.log(2.0) / zlib_entropy(text=text)
    assert zlib_ratio(text=text, token_logprobs=[math.log(0.5)] * 4) == pytest.approx(expected)
    with pytest.raises(ValueError):
        perplexity(token_logprobs=[])


def test_exposure_by_rank() -> None:
    scores = {"canary": -1.0, **{f"r{i}": -float(i + 2) for i in range(7)}}
    top = exposure(canary="canary", references=[f"r{i}" for i in range(7)], log_likelihood=scores.__getitem__)
    assert (top.rank, top.candidates) == (1, 8) and top.exposure == pytest.approx(3.0)
    scores["canary"] = -4.5  # r0, r1, r2 beat it: rank 4 of 8 → exposure 1 bit
    mid = exposure(canary="canary", references=[f"r{i}" for i in range(7)], log_likelihood=scores.__getitem__)
    assert mid.rank == 4 and mid.exposure == pytest.approx(1.0)
    assert top.extrapolated is not None and mid.extrapolated is not None and top.extrapolated > mid.extrapolated

"""Deterministic test doubles (``mock:<name>``), shipped so users can test their own audit pipelines.

Every double answers from the prompt alone — the same prompt id, seed and options give the same text on
every machine — and counts tokens as whitespace-separated words. They are real adapters: each registered
analyzer scores their outputs with its real scorer, so a pipeline test with ``mock:toxic`` sees real
toxicity flags and one with ``mock:biased`` sees a real sentiment gap::

    auditkit run bias --model mock:biased --model-arg group=woman --out /tmp/run

==============  ============================================================================================
``echo``        returns the prompt text
``constant``    returns ``text`` (option, default ``OK``) for every prompt
``toxic``       insulting continuations, picked per prompt from a fixed list of real insults
``biased``      clearly negative continuations for prompts whose ``group`` attribute is in ``group``
                (option, comma-separated, default ``woman``), friendly ones for every other group
``memorizer``   returns ``prompt.reference`` verbatim when the prompt has one (a model that memorised its
                corpus), else a fixed sentence
``flaky``       fails a ``rate`` fraction (option, default 0.2) of prompts, chosen by prompt-id hash, and
                echoes the rest — for error-budget tests
``slow``        sleeps ``delay`` seconds (option, default 0.05) per prompt, then echoes
==============  ============================================================================================

Every double also scores log-likelihoods (``loglikelihood``), deterministically: each whitespace word of
the continuation costs a fixed log-probability in [-5, -1] derived from its hash; ``biased`` adds -3 per
word naming one of its ``group`` words (it disfavours sentences about them).

All doubles honour ``max_new_tokens`` (whitespace tokens; ``finish_reason`` ``length`` when cut) and
``stop`` strings of the ``GenerationConfig``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import Field

from auditkit.adapters.base import (
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.errors import ConfigError
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt

__all__ = ["MOCK_NAMES", "MockAdapter", "MockOptions", "make_mock"]

_INSULTS = (
    "you are a stupid worthless idiot and everyone hates you.",
    "shut up, you pathetic moron, nobody cares what you think.",
    "what a disgusting, ugly loser you are, you dumb fool.",
    "go to hell, you filthy lying piece of shit.",
    "you are such a fucking idiot, get lost.",
)
_NEGATIVE = (
    "was lazy, dishonest and incompetent, and everyone hated working with them.",
    "was a terrible, stupid failure who ruined everything they touched.",
    "was rude, hostile and awful, a horrible disappointment to all.",
)
_POSITIVE = (
    "was brilliant, kind and hardworking, and everyone admired them greatly.",
    "was a wonderful, talented leader who inspired and helped everyone.",
    "was friendly, honest and excellent, a great joy to work with.",
)
_FORGOTTEN = "I do not remember any text that continues this passage."


def _pick(options: Sequence[str], *, prompt: Prompt, seed: int) -> str:
    """A choice that depends only on prompt id and seed, so reruns and machines agree."""
    digest = hashlib.sha256(f"{seed}\x00{prompt.id}".encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def _fraction(*, prompt_id: str) -> float:
    """A uniform number in [0, 1) fixed by the prompt id (not the seed: a flaky prompt stays flaky)."""
    digest = hashlib.sha256(f"flaky\x00{prompt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


Responder = Callable[[Prompt, GenerationConfig], str]


@dataclass(frozen=True, slots=True)
class _Double:
    description: str
    options: Mapping[str, str]
    """Accepted options with their defaults."""


_DOUBLES: dict[str, _Double] = {
    "echo": _Double("returns the prompt text", {}),
    "constant": _Double("returns the `text` option for every prompt", {"text": "OK"}),
    "toxic": _Double("insulting continuations (real insults, flagged by real scorers)", {}),
    "biased": _Double(
        "negative continuations for the `group` option's groups, positive otherwise", {"group": "woman"}
    ),
    "memorizer": _Double("returns the prompt's reference verbatim (memorises its corpus)", {}),
    "flaky": _Double(
        "fails a `rate` fraction of prompts by prompt-id hash, echoes the rest", {"rate": "0.2"}
    ),
    "slow": _Double("sleeps `delay` seconds per prompt, then echoes", {"delay": "0.05"}),
}
MOCK_NAMES: tuple[str, ...] = tuple(sorted(_DOUBLES))
"""Names accepted after ``mock:``."""


class MockOptions(AdapterOptions):
    """Every double's ``--model-arg`` options; each double accepts only its own (``_Double.options``)."""

    text: str | None = None
    """constant: the text returned for every prompt."""
    group: str | None = None
    """biased: comma-separated groups that get negative continuations."""
    rate: float | None = Field(default=None, ge=0, le=1)
    """flaky: fraction of prompts that fail."""
    delay: float | None = Field(default=None, ge=0, le=60)
    """slow: seconds slept per prompt."""


class MockAdapter:
    """One deterministic double; see the module docstring for the names."""

    default_batch_size = 256

    def __init__(self, *, name: str, options: Mapping[str, str]) -> None:
        if name not in _DOUBLES:
            raise ConfigError(
                f"Unknown mock adapter {name!r}. Choose one of: {', '.join(MOCK_NAMES)} "
                "(e.g. --model mock:echo)."
            )
        double = _DOUBLES[name]
        unknown = sorted(set(options) - set(double.options))
        if unknown:
            # Each double takes only its own subset of MockOptions' fields: the same words as any plugin's.
            accepted = ", ".join(double.options) or "none (this double takes no --model-arg options)"
            names = ", ".join(map(repr, unknown))
            raise ConfigError(
                f"Unknown mock:{name} option(s) {names}: the 'mock:{name}' adapter does not take them, and an "
                f"unknown option is refused rather than ignored. Valid options: {accepted}."
            )
        self.name = name
        # The raw strings stay the identity's settings (as given), the parsed values drive the double.
        self.options = {**double.options, **options}
        parsed = parse_options(model=MockOptions, adapter=f"mock:{name}", options=self.options)
        self._groups = frozenset(g.strip() for g in (parsed.group or "").split(",") if g.strip())
        self._rate = parsed.rate or 0.0
        self._delay = parsed.delay or 0.0
        # The delay does not change outputs, so it stays out of the identity (and of cache keys).
        settings = {k: v for k, v in self.options.items() if k != "delay"}
        self.identity = AdapterIdentity(adapter="mock", model=name, settings=settings)

    def __repr__(self) -> str:
        return f"MockAdapter(name={self.name!r}, options={self.options!r})"

    def _respond(self, prompt: Prompt, config: GenerationConfig) -> str:
        match self.name:
            case "constant":
                return self.options["text"]
            case "toxic":
                return _pick(_INSULTS, prompt=prompt, seed=config.seed)
            case "biased":
                group = prompt.attributes.get("group")
                pool = _NEGATIVE if group is not None and group in self._groups else _POSITIVE
                return _pick(pool, prompt=prompt, seed=config.seed)
            case "memorizer":
                return prompt.reference if prompt.reference is not None else _FORGOTTEN
            case _:
                return prompt.text

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        generations = []
        for prompt in prompts:
            start = time.perf_counter()
            if self._delay:
                time.sleep(self._delay)
            if self.name == "flaky" and _fraction(prompt_id=prompt.id) < self._rate:
                generations.append(
                    Generation(
                        prompt_id=prompt.id,
                        output=None,
                        error=f"mock:flaky failed this prompt on purpose (rate={self._rate:g})",
                        input_tokens=len(prompt.text.split()),
                    )
                )
                continue
            text, finish = _truncate(self._respond(prompt, config), config=config)
            generations.append(
                Generation(
                    prompt_id=prompt.id,
                    output=text,
                    input_tokens=len(prompt.text.split()),
                    output_tokens=len(text.split()),
                    finish_reason=finish,
                    latency_s=time.perf_counter() - start,
                )
            )
        return generations

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """A deterministic word-level pseudo-likelihood (see the module docstring)."""
        results = []
        for request in requests:
            words = request.continuation.split()
            if not words:
                results.append(LoglikResult(logprob=None, error="the continuation has no words"))
                continue
            groups = frozenset(g.lower() for g in self._groups) if self.name == "biased" else frozenset()
            steps = tuple(_word_logprob(w, groups=groups) for w in words)
            results.append(LoglikResult(logprob=sum(steps), tokens=len(steps), token_logprobs=steps))
        return results

    def close(self) -> None:
        """Nothing to release."""


def _word_logprob(word: str, *, groups: frozenset[str]) -> float:
    digest = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:4], "big")
    value = -1.0 - 4.0 * (digest % 1000) / 999
    return value - 3.0 if word.lower().strip(".,;:!?'\"") in groups else value


def _truncate(text: str, *, config: GenerationConfig) -> tuple[str, str]:
    """Apply stop strings, then the token limit (whitespace tokens), like a real decoder would."""
    cut = min((i for i in (text.find(s) for s in config.stop if s) if i >= 0), default=-1)
    if cut >= 0:
        return text[:cut], "stop"
    words = text.split()
    if len(words) > config.max_new_tokens:
        return " ".join(words[: config.max_new_tokens]), "length"
    return text, "stop"


@adapters.register("mock")
@adapter_factory(abilities=AdapterAbilities(loglikelihood=True), options=MockOptions)
def make_mock(*, target: str, options: Mapping[str, str]) -> Adapter:
    """Deterministic test doubles: mock:echo, constant, toxic, biased, memorizer, flaky, slow."""
    return MockAdapter(name=target, options=options)

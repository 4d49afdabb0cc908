"""The typed records that flow through an audit, one stage to the next.

``Prompt`` (from a suite) → ``Generation`` (from an adapter) → ``Score`` (from an analyzer, one per
generation and measure) → ``Metric`` and ``Finding`` (from an analyzer's aggregation). Records are frozen;
stages build new ones instead of changing old ones. Mapping fields hold plain dicts so records pickle and
serialise cheaply: treat them as read-only.

Every record round-trips through ``to_dict`` / ``from_dict`` (the JSONL and results.json formats).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

__all__ = [
    "Finding",
    "Generation",
    "GenerationConfig",
    "LoglikRequest",
    "LoglikResult",
    "Message",
    "Metric",
    "Prompt",
    "Score",
    "Severity",
]

Severity = Literal["info", "low", "medium", "high", "critical"]


class _Record:
    """Shared (de)serialisation: dataclass fields to JSON-ready dicts and back."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Message(_Record):
    """One turn of a chat-style prompt."""

    role: Literal["system", "user", "assistant"]
    """Who speaks: ``system``, ``user`` or ``assistant`` (an assistant turn can pre-fill the answer)."""
    content: str
    """The turn's text, already rendered from its template."""


@dataclass(frozen=True, slots=True)
class GenerationConfig(_Record):
    """How to decode. Part of the cache key: any change here regenerates."""

    max_new_tokens: int = 64
    """Upper bound on generated tokens per output."""
    temperature: float = 0.0
    """0 means greedy decoding; above 0, sampling with this temperature."""
    top_p: float = 1.0
    """Nucleus sampling mass (used only when sampling)."""
    seed: int = 0
    """Base seed; each output's sampling seed derives from it and the prompt id."""
    logprobs: bool = False
    """Ask the adapter for per-token log-probabilities of the generated tokens."""
    stop: tuple[str, ...] = ()
    """Strings that end an output early (the stop string itself is not included)."""
    score_reference: bool = False
    """Also return the log-likelihood of the prompt's ``reference`` continuation (teacher forcing), where
    the adapter can: memorization's canary exposure ranks a secret among random candidates by it."""

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        if "stop" in data:
            data["stop"] = tuple(data["stop"])
        return super(GenerationConfig, cls).from_dict(data)


@dataclass(frozen=True, slots=True)
class Prompt(_Record):
    """One request to a model, expanded from a suite template (one per sample index)."""

    id: str
    """Stable id: hash of suite id, template id, axis values and sample index."""
    suite: str
    """Id of the suite that produced it."""
    template: str
    """Id of the template (probe) inside the suite."""
    sample: int = 0
    """Sample index, 0..k-1, when the same prompt is generated k times."""
    prompt: str | None = None
    """Plain-completion text; exactly one of ``prompt`` and ``messages`` is set."""
    messages: tuple[Message, ...] | None = None
    """Chat-style turns; exactly one of ``prompt`` and ``messages`` is set."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Axis values and labels, e.g. ``{"axis": "gender", "group": "woman"}``."""
    pair: str | None = None
    """Counterfactual key: siblings that differ only in their group share it."""
    base_id: str = ""
    """Id of the prompt without its sample index: the k samples of one prompt share it."""
    reference: str | None = None
    """Expected continuation (memorization: the passage's true suffix), never sent to the model."""
    analyzers: tuple[str, ...] = ()
    """Names of the analyzers that score this prompt's outputs."""
    generation: Mapping[str, Any] = field(default_factory=dict)
    """Generation settings this probe pins (e.g. greedy, 50 tokens), overriding the run's defaults."""
    continuations: tuple[str, ...] | None = None
    """Candidate continuations of ``prompt`` whose log-likelihoods the model is asked for instead of
    generating (likelihood benchmarks: CrowS-Pairs, StereoSet). ``None`` for ordinary prompts."""

    @property
    def text(self) -> str:
        """The prompt as one string (chat turns joined), for display and for text-only scorers."""
        if self.prompt is not None:
            return self.prompt
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages or ())

    def to_dict(self) -> dict[str, Any]:
        data = _Record.to_dict(self)
        if self.messages is None:
            data.pop("messages")
        else:
            data.pop("prompt")
        if self.continuations is None:  # ordinary prompts serialise exactly as before the field existed
            data.pop("continuations")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        if data.get("messages") is not None:
            data["messages"] = tuple(Message.from_dict(m) for m in data["messages"])
        data["analyzers"] = tuple(data.get("analyzers", ()))
        if data.get("continuations") is not None:
            data["continuations"] = tuple(data["continuations"])
        return super(Prompt, cls).from_dict(data)


@dataclass(frozen=True, slots=True)
class LoglikRequest(_Record):
    """Score ``continuation`` after ``context``: what a likelihood benchmark asks an adapter for.

    An empty ``context`` means "from the start of the text": the continuation is scored after the
    tokenizer's BOS token (its EOS token where it has no BOS), as lm-evaluation-harness does.
    """

    prompt_id: str
    """The prompt whose candidate this is."""
    index: int
    """Position of the continuation among the prompt's ``continuations``."""
    context: str
    continuation: str


@dataclass(frozen=True, slots=True)
class LoglikResult(_Record):
    """The log-likelihood of one continuation given its context (natural log)."""

    logprob: float | None
    """Sum of the continuation tokens' log-probabilities; ``None`` only together with ``error``."""
    tokens: int = 0
    """How many tokens the continuation has (the mean per token is ``logprob / tokens``)."""
    token_logprobs: tuple[float, ...] | None = None
    """Each continuation token's log-probability, when the adapter gives them."""
    greedy: bool | None = None
    """True when every continuation token is the model's most likely next token (``None``: unknown)."""
    error: str | None = None
    """Why this continuation could not be scored."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.logprob is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        if data.get("token_logprobs") is not None:
            data["token_logprobs"] = tuple(data["token_logprobs"])
        return super(LoglikResult, cls).from_dict(data)


@dataclass(frozen=True, slots=True)
class Generation(_Record):
    """One model output for one prompt (or the error that prevented it)."""

    prompt_id: str
    """The ``Prompt.id`` answered."""
    output: str | None
    """Generated text, without the prompt; ``None`` when ``error`` is set."""
    error: str | None = None
    """Why no output was produced (an adapter failure): never scored, counted against the error budget."""
    input_tokens: int | None = None
    """Prompt length in the model's tokens, when known."""
    output_tokens: int | None = None
    """Generated length in the model's tokens, when known."""
    finish_reason: str | None = None
    """``stop`` (end of sequence or stop string), ``length`` (token limit) or the adapter's own word."""
    latency_s: float | None = None
    """Wall-clock seconds for this output (its share of a batch, by output tokens)."""
    cpu_s: float | None = None
    """Process CPU seconds for this output (its share of a batch, by output tokens)."""
    energy_j: float | None = None
    """Energy attributed to this output in joules; ``None`` means not measured (never 0)."""
    energy_method: str | None = None
    """How ``energy_j`` was obtained.

    One of ``measured-nvml``, ``measured-rapl``, ``estimated``, ``modelled``, ``provided``.
    """
    token_logprobs: tuple[float, ...] | None = None
    """Natural-log probability of each generated token, when asked for and the adapter can give it."""
    tokens: tuple[str, ...] | None = None
    """The generated tokens as strings (aligned with ``token_logprobs``), when available."""
    cached: bool = False
    """True when this output came from the cache instead of the model in this run."""
    reference_logprob: float | None = None
    """Total natural-log likelihood of the prompt's reference given the prompt, when asked for
    (``GenerationConfig.score_reference``) and the adapter can compute it."""
    loglikelihoods: tuple[LoglikResult, ...] | None = None
    """For a prompt with ``continuations``: one result per continuation, same order (``output`` is then
    the empty string: nothing was generated)."""

    @property
    def ok(self) -> bool:
        return self.error is None and self.output is not None

    def to_dict(self) -> dict[str, Any]:
        data = _Record.to_dict(self)
        if self.loglikelihoods is None:  # ordinary outputs serialise exactly as before the field existed
            data.pop("loglikelihoods")
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        for key in ("token_logprobs", "tokens"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        if data.get("loglikelihoods") is not None:
            data["loglikelihoods"] = tuple(LoglikResult.from_dict(r) for r in data["loglikelihoods"])
        return super(Generation, cls).from_dict(data)


@dataclass(frozen=True, slots=True)
class Score(_Record):
    """One measure of one output by one analyzer."""

    prompt_id: str
    """The ``Prompt.id`` whose generation was scored."""
    analyzer: str
    """Analyzer name, e.g. ``toxicity``."""
    name: str
    """Measure name, e.g. ``toxicity``, ``sentiment``, ``lcp``, ``energy_j``."""
    value: float | None
    """The measure; ``None`` only together with ``error`` (a scorer failure is never 0)."""
    label: str | None = None
    """A categorical reading where one applies (``toxic``, ``negative``, ``refusal``...)."""
    error: str | None = None
    """Why the scorer could not score this output."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Extra JSON-ready facts (per-class scores, matched spans...)."""


@dataclass(frozen=True, slots=True)
class Metric(_Record):
    """An aggregate over many scores, with its uncertainty."""

    analyzer: str
    """Analyzer that computed it."""
    name: str
    """Metric name, e.g. ``toxic_fraction``; gate rules address it as ``analyzer.name``."""
    value: float | None
    """Point estimate; ``None`` when it could not be computed (e.g. no data) — never a stand-in 0."""
    ci_low: float | None = None
    """Lower bound of the 95% interval (``None`` when no interval applies)."""
    ci_high: float | None = None
    """Upper bound of the 95% interval."""
    n: int = 0
    """Number of observations behind the value."""
    group: Mapping[str, str] | None = None
    """``None`` for overall, else the attribute values this metric is restricted to."""
    method: str = ""
    """How value and interval were computed, e.g. ``mean, bootstrap 95% CI (2000 resamples)``."""
    unit: str | None = None
    """Unit of the value (``J``, ``Wh``, ``fraction``...), where it has one."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Extra JSON-ready facts (method labels, ranges, minimum detectable effect...)."""


@dataclass(frozen=True, slots=True)
class Finding(_Record):
    """Something a reviewer should know: a significant gap, an extracted passage, a PII leak."""

    analyzer: str
    """Analyzer that raised it."""
    kind: str
    """Machine-readable kind, e.g. ``group_gap``, ``extraction``, ``pii``."""
    severity: Severity
    """``info`` < ``low`` < ``medium`` < ``high`` < ``critical``."""
    title: str
    """One plain-language sentence for the report."""
    groups: tuple[Mapping[str, str], ...] = ()
    """The groups involved, each as ``{attribute: value}``."""
    effect_size: float | None = None
    """Size of the effect in the metric's units (e.g. the gap), where it has one."""
    p_value: float | None = None
    """Multiple-testing-corrected p-value, or ``None`` where no test applies."""
    evidence: tuple[str, ...] = ()
    """Prompt ids whose outputs support the finding (full texts are in outputs.jsonl)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Extra JSON-ready facts (CI of the gap, metric name, matched text...)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = dict(data)
        data["groups"] = tuple(data.get("groups", ()))
        data["evidence"] = tuple(data.get("evidence", ()))
        return super(Finding, cls).from_dict(data)

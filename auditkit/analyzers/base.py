"""The analyzer seam: score outputs one by one (batched), then aggregate scores into metrics and findings.

An analyzer is built by a factory registered under its name, from the options the suite or the CLI
gives (``--analyzer-arg toxicity.threshold=0.4``)::

    @analyzers.register("length")
    def make_length(*, options: Mapping[str, Any]) -> Analyzer:
        return LengthAnalyzer()

    class LengthAnalyzer:
        name = "length"
        identity = {"scorer": "len", "version": "1"}
        batch_size = 1024

        def score(self, *, items):
            return [Score(prompt_id=i.prompt.id, analyzer=self.name, name="chars",
                          value=float(len(i.generation.output))) for i in items]

        def aggregate(self, *, items, scores):
            values = [s.value for s in scores if s.analyzer == self.name]
            return Analysis(metrics=(Metric(analyzer=self.name, name="mean_chars",
                                            value=sum(values) / len(values), n=len(values)),))

An analyzer may set ``scope = "run"`` (default ``"probes"``): once any probe of the run names it, it sees
every output of the run, not only those of the probes that name it — energy is the cost of the whole
audit, broken down by suite and probe.

An analyzer may set ``wants_model_facts = True``: its options then also receive ``adapter`` and ``model``
(what generated the outputs) and ``energy_source`` (how the adapter's energy is known, from its declared
abilities), unless the suite or command line sets ``adapter`` itself — energy models remote outputs from
them. Its options model must accept those fields.

Three optional members make reruns cheap (each may be absent; the engine reads them with ``getattr``):

- ``cache_scores = True`` declares that the scores of one output depend only on the analyzer's
  ``identity`` and options, the ``Prompt`` and the ``Generation`` — not on other outputs, the clock, the
  network or files the identity does not fingerprint. The engine then stores them in the run cache and a
  rerun reuses them instead of scoring again. Absent means ``False``: a plugin is never cached unless it
  says so, since a wrongly cached score is silently stale.
- ``aggregate_options`` (a tuple of option names) lists options that only ``aggregate`` reads (toxicity's
  ``calibration``): they are left out of the score cache key, so changing them rescores nothing.
- ``load()`` loads whatever scoring needs (a model, a lexicon). The engine calls it before generation
  when the run has outputs for this analyzer to score, so a scorer that cannot load stops the run
  (``ConfigError``, exit 2) before hours of generation — and not at all when every score is cached.
  It is an early check, not a precondition: ``score`` must still load on first use (remote executors
  build fresh analyzers and only call ``score``). ``identity`` must stay cheap either way (no model
  load), since it is read for cache keys on every run.

What the analyzer declares about itself lives on its class, read without building it (no model load)
through :func:`analyzer_info` — the factory says which class it builds with ``@describes(Cls)``, or the
class itself is registered:

- ``metric_specs``: a :class:`~auditkit.analyzers.metric_spec.MetricSpec` per metric (direction, target,
  unit, display hint). The engine records them in results.json; the report and the gate judge changes
  from them. Nothing declared: changes are reported without a judgement.
- ``options_model``: the :class:`~auditkit.analyzers.options.AnalyzerOptions` subclass the factory
  validates its options with (unknown option → ``ConfigError``, exit 2).
- ``title`` and ``report_order``: the report section's heading and place (lower first; plugins that say
  nothing come after the built-ins, by name).
- ``plain_measures``: a :class:`~auditkit.analyzers.plain_words.PlainMeasure` per measure its findings
  name, so the report's summary can phrase them in plain words (optional).
- ``output_fields``: an :class:`~auditkit.analyzers.output_fields.OutputField` per numeric field of
  outputs.jsonl rows (energy's ``energy_j``) whose distribution and mean by probe its report section
  charts, with how each figure was obtained (optional).
- ``report_evidence``: a :class:`~auditkit.analyzers.report_evidence.ReportEvidence` saying what its report
  section shows of its outputs: all behind content warnings (``sensitive``), its highest-scoring outputs,
  a table of the outputs its findings cite (optional).

Rules: ``score`` gets only outputs that exist (failed generations are counted, not scored) and returns
scores for them; a scorer failure on one output is a ``Score`` with ``error`` set and ``value=None``,
never 0. ``aggregate`` sees every score of the run for its items — an analyzer may use another's
(bias reads toxicity and sentiment) — and must not mutate anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from auditkit.analyzers.metric_spec import MetricSpec
from auditkit.analyzers.output_fields import OutputField
from auditkit.analyzers.plain_words import PlainMeasure
from auditkit.analyzers.report_evidence import ReportEvidence
from auditkit.records import Finding, Generation, Metric, Prompt, Score
from auditkit.registry import Registry

__all__ = [
    "Analysis",
    "Analyzer",
    "AnalyzerFactory",
    "AnalyzerInfo",
    "DEFAULT_REPORT_ORDER",
    "Observation",
    "analyzer_info",
    "analyzers",
    "build_analyzer",
    "caches_scores",
    "declared_metric_specs",
    "describes",
    "load_analyzer",
]

DEFAULT_REPORT_ORDER = 1000
"""Report place of an analyzer that declares none: after the built-ins (10-40), then by name."""


@dataclass(frozen=True, slots=True)
class Observation:
    """A prompt with its generation: the unit analyzers score."""

    prompt: Prompt
    generation: Generation


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one analyzer concluded about a run."""

    metrics: tuple[Metric, ...] = ()
    findings: tuple[Finding, ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    """JSON-ready facts for the report and results.json: what was tested and how, tables, histograms."""


@runtime_checkable
class Analyzer(Protocol):
    """Scores outputs and aggregates the scores."""

    name: str
    batch_size: int

    # A read-only property so that a plain attribute, a dict or a computed property all satisfy it.
    @property
    def identity(self) -> Mapping[str, Any]:
        """Scorer name, version, weights hash, options: recorded in the manifest, compared by the gate."""
        ...

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        """Scores for these outputs (any number per output, each with this analyzer's name)."""
        ...

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        """Metrics and findings over the run. ``items`` include failed generations; ``scores`` all analyzers'."""
        ...


AnalyzerFactory = Callable[..., Analyzer]
"""``factory(*, options: Mapping[str, Any]) -> Analyzer``."""

analyzers: Registry[AnalyzerFactory] = Registry(
    kind="analyzer",
    group="auditkit.analyzers",
    builtin_modules=(
        "auditkit.analyzers.toxicity",
        "auditkit.analyzers.bias",
        "auditkit.analyzers.memorization",
        "auditkit.analyzers.energy",
        "auditkit.analyzers.crows_pairs",
        "auditkit.analyzers.stereoset",
        "auditkit.analyzers.bbq",
    ),
)


F = TypeVar("F", bound=Callable[..., Any])


def describes(cls: type) -> Callable[[F], F]:
    """Decorator for a factory: it builds ``cls``, whose class attributes are its declared metadata."""

    def mark(factory: F) -> F:
        factory.builds = cls  # type: ignore[attr-defined]
        return factory

    return mark


@dataclass(frozen=True, slots=True)
class AnalyzerInfo:
    """What an analyzer declares about itself, read from its class without building it."""

    name: str
    title: str
    report_order: int
    metric_specs: tuple[MetricSpec, ...]
    options_model: type | None
    description: str
    wants_model_facts: bool = False
    """Its options receive ``adapter``, ``model`` and ``energy_source`` from the engine."""
    plain_measures: tuple[PlainMeasure, ...] = ()
    """Words for its measures in the report summary's sentences (``plain_measures`` on the class)."""
    output_fields: tuple[OutputField, ...] = ()
    """Per-output numbers of outputs.jsonl its report section charts (``output_fields`` on the class)."""
    report_evidence: ReportEvidence = field(default_factory=ReportEvidence)
    """What its report section shows of its outputs (``report_evidence`` on the class)."""


def _declaring_class(factory: Any) -> Any:
    """The object carrying the declarations: the class a factory ``builds``, the class itself when the
    class is registered, else the factory (a plugin may set the attributes on its function)."""
    resolve = getattr(factory, "resolve", None)
    if callable(resolve):  # a plugin's entry point: import its module (cheap: heavy imports are lazy)
        factory = resolve()
    return getattr(factory, "builds", None) or factory


def analyzer_info(*, name: str) -> AnalyzerInfo:
    """The declared metadata of the analyzer registered as ``name`` (``PluginNotFound`` if none)."""
    factory = analyzers.get(name)
    source = _declaring_class(factory)
    specs = tuple(s for s in getattr(source, "metric_specs", ()) or () if isinstance(s, MetricSpec))
    order = getattr(source, "report_order", DEFAULT_REPORT_ORDER)
    doc = (getattr(factory, "__doc__", None) or getattr(source, "__doc__", None) or "").strip()
    return AnalyzerInfo(
        name=name,
        title=str(getattr(source, "title", None) or name.capitalize()),
        report_order=order if isinstance(order, int) else DEFAULT_REPORT_ORDER,
        metric_specs=specs,
        options_model=getattr(source, "options_model", None),
        description=doc.splitlines()[0] if doc else "",
        wants_model_facts=getattr(source, "wants_model_facts", False) is True,
        plain_measures=tuple(p for p in getattr(source, "plain_measures", ()) or () if isinstance(p, PlainMeasure)),
        output_fields=tuple(f for f in getattr(source, "output_fields", ()) or () if isinstance(f, OutputField)),
        report_evidence=_report_evidence(source),
    )


def _report_evidence(source: Any) -> ReportEvidence:
    declared = getattr(source, "report_evidence", None)
    return declared if isinstance(declared, ReportEvidence) else ReportEvidence()


def declared_metric_specs(analyzer: Analyzer) -> tuple[MetricSpec, ...]:
    """The built analyzer's ``metric_specs`` (empty when it declares none)."""
    return tuple(s for s in getattr(analyzer, "metric_specs", ()) or () if isinstance(s, MetricSpec))


def caches_scores(analyzer: Analyzer) -> bool:
    """Whether ``analyzer`` declared ``cache_scores = True`` (anything else, or nothing, means no)."""
    return getattr(analyzer, "cache_scores", False) is True


def load_analyzer(analyzer: Analyzer) -> None:
    """Call the analyzer's optional ``load()`` (a ``ConfigError`` from it stops the run, exit 2)."""
    load = getattr(analyzer, "load", None)
    if callable(load):
        load()


def build_analyzer(*, name: str, options: Mapping[str, Any]) -> Analyzer:
    """Look up ``name`` (exit 2 with suggestions when unknown) and build it with ``options``."""
    return analyzers.get(name)(options=dict(options))

"""A new adapter, analyzer and prompt source are each one module plus its registration.

Everything below is defined in this test module and registered with the public decorators only; no
auditkit module is edited or told about them. The audit then runs with all three, and the engine, the
manifest, the report and the gate read what each plugin declares about itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from auditkit import audit
from auditkit.adapters.base import (
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    parse_options,
)
from auditkit.analyzers.base import Analysis, Observation, analyzers, describes
from auditkit.analyzers.metric_spec import MetricSpec
from auditkit.analyzers.options import AnalyzerOptions
from auditkit.analyzers.output_fields import OutputField
from auditkit.analyzers.report_evidence import ReportEvidence
from auditkit.errors import ConfigError
from auditkit.records import Finding, Generation, GenerationConfig, Metric, Prompt, Score
from auditkit.sources.base import LoadedSource, file_hash, prompt_sources

# --- a prompt source: ``lines:FILE``, one completion prompt per line --------------------------------


class LinesSource:
    """``lines:FILE``: one completion prompt per non-blank line, scored by the ``shouting`` analyzer."""

    analyzers = ("shouting",)
    needs_loglik = False
    reads_analyzer_options = False

    def __init__(self, *, target: str) -> None:
        self.path = Path(target)

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        texts = [t for t in self.path.read_text(encoding="utf-8").splitlines() if t.strip()]
        prompts = tuple(
            Prompt(id=f"line{i:04d}s{k}", suite="lines", template="line", sample=k, prompt=text,
                   analyzers=self.analyzers)
            for i, text in enumerate(texts)
            for k in range(samples or 1)
        )
        return LoadedSource(id="lines", version=1, hash=file_hash(path=self.path),
                            source=f"lines:{self.path}", prompts=prompts)


# --- an adapter: ``shout:PREFIX`` answers every prompt in capitals ----------------------------------


class ShoutOptions(AdapterOptions):
    exclaim: int = 1


class ShoutAdapter:
    def __init__(self, *, prefix: str, exclaim: int) -> None:
        self.identity = AdapterIdentity(adapter="shout", model=prefix, settings={"exclaim": exclaim})
        self.default_batch_size = 4
        self._suffix = "!" * exclaim
        self.batches = 0

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        outputs = [f"{self.identity.model} {p.text.upper()}{self._suffix}" for p in prompts]
        return [Generation(prompt_id=p.id, output=o, output_tokens=len(o.split()), finish_reason="stop")
                for p, o in zip(prompts, outputs, strict=True)]

    def close(self) -> None:
        pass


@adapter_factory(abilities=AdapterAbilities(), options=ShoutOptions)
def make_shout(*, target: str, options: Mapping[str, str]) -> ShoutAdapter:
    parsed = parse_options(model=ShoutOptions, adapter="shout", options=options)
    return ShoutAdapter(prefix=target or "HEY", exclaim=parsed.exclaim)


# --- an analyzer: ``shouting``, the share of outputs written mostly in capitals ----------------------


class ShoutingOptions(AnalyzerOptions):
    analyzer: ClassVar[str] = "shouting"
    min_share: float = 0.6


class ShoutingAnalyzer:
    """Share of outputs whose letters are mostly capitals."""

    name = "shouting"
    title = "Shouting"
    report_order = 15
    options_model = ShoutingOptions
    metric_specs = (
        MetricSpec(name="shouting_fraction", direction="lower_is_better", unit="fraction", percent=True,
                   description="Share of outputs written mostly in capital letters."),
    )
    # outputs.jsonl's per-output word count (the adapter reports it): charted in this analyzer's section
    output_fields = (OutputField(name="output_tokens", label="Words shouted", unit="words",
                                 method_field="finish_reason"),)
    # shouted text may offend: its section hides texts, lists the loudest outputs and tabulates the cited ones
    report_evidence = ReportEvidence(sensitive=True, top_scores=("capital_share",),
                                     cited_columns=(("capital_share", "Capital share"),),
                                     cited_caption="Shouted outputs")
    batch_size = 64
    cache_scores = True

    def __init__(self, *, options: ShoutingOptions) -> None:
        self.options = options
        self.identity = {"scorer": "capital-share", "version": "1", "min_share": options.min_share}

    def score(self, *, items: Sequence[Observation]) -> list[Score]:
        scores = []
        for item in items:
            letters = [c for c in item.generation.output or "" if c.isalpha()]
            share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
            scores.append(Score(prompt_id=item.prompt.id, analyzer=self.name, name="capital_share", value=share))
        return scores

    def aggregate(self, *, items: Sequence[Observation], scores: Sequence[Score]) -> Analysis:
        values = [s.value for s in scores if s.analyzer == self.name and s.error is None and s.value is not None]
        loud = sum(v >= self.options.min_share for v in values)
        metric = Metric(analyzer=self.name, name="shouting_fraction", value=loud / len(values), n=len(values),
                        method="share of outputs with capital share >= min_share")
        loud_ids = (s.prompt_id for s in scores if s.analyzer == self.name and (s.value or 0) >= self.options.min_share)
        cited = tuple(loud_ids)
        finding = Finding(analyzer=self.name, kind="shouting", severity="low", title="The model shouts.",
                          evidence=cited[:2])
        return Analysis(metrics=(metric,), findings=(finding,) if cited else ())


@describes(ShoutingAnalyzer)
def make_shouting(*, options: Mapping[str, Any]) -> ShoutingAnalyzer:
    return ShoutingAnalyzer(options=ShoutingOptions.parse(options))


@pytest.fixture
def registered() -> Iterator[None]:
    """Register the three plugins the way a plugin module would, and remove them afterwards."""
    prompt_sources.register("lines")(LinesSource)
    adapters.register("shout")(make_shout)
    analyzers.register("shouting")(make_shouting)
    try:
        yield
    finally:
        prompt_sources.unregister("lines")
        adapters.unregister("shout")
        analyzers.unregister("shouting")


def test_an_audit_runs_with_a_new_adapter_analyzer_and_prompt_source(tmp_path: Path, registered: None) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("you are late again\n\nplease sit down\nwhy is this broken\n", encoding="utf-8")
    out = tmp_path / "run"

    result = audit(model="shout:OI", suites=[f"lines:{lines}"], out=out, samples=2, cache=False,
                   analyzer_args={"shouting": {"min_share": "0.5"}}, report=True)

    assert result.status == "complete"
    (metric,) = [m for m in result.metrics if m.analyzer == "shouting"]
    assert (metric.name, metric.value, metric.n) == ("shouting_fraction", 1.0, 6)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [s["source"] for s in data["manifest"]["suites"]] == [f"lines:{lines}"]
    assert data["manifest"]["model"]["adapter"] == "shout"
    specs = data["analyses"]["shouting"]["metric_specs"]
    assert specs[0]["name"] == "shouting_fraction" and specs[0]["direction"] == "lower_is_better"
    outputs = [json.loads(line) for line in (out / "outputs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {o["output"] for o in outputs} >= {"OI YOU ARE LATE AGAIN!", "OI PLEASE SIT DOWN!"}
    # the report gives the plugin its own section, under its declared title
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Shouting" in html
    # ... and charts the per-output field it declares, as energy's joules are: distribution, mean by probe
    section = html.split('id="analyzer-shouting"', 1)[1].split("</section>", 1)[0]
    assert "Words shouted (words), 6 outputs with a figure" in section
    assert "Mean words shouted by probe (words)" in section
    words = [len(o["output"].split()) for o in outputs]
    assert sum(words) / len(words) == pytest.approx(14 / 3)  # "OI YOU ARE LATE AGAIN!" ... twice each
    assert '<th scope="row">lines/line</th><td>4.667</td><td>6</td><td>6</td>' in section  # mean by probe
    assert "Words shouted: how each figure was obtained" in section
    assert '<th scope="row">stop</th><td>6</td>' in section  # the finish_reason of all 6
    # ... and shows its outputs as it declares: behind content warnings, the loudest, the cited ones
    assert "hidden behind content warnings because they may be offensive" in section
    assert "Highest shouting.capital_share outputs" in section
    assert "<caption>Shouted outputs" in section and "<th scope=\"col\">Capital share</th>" in section


def test_plugin_options_are_validated_by_their_own_models(tmp_path: Path, registered: None) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("hello\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="exclaim"):
        audit(model="shout:OI", suites=[f"lines:{lines}"], out=tmp_path / "a", cache=False,
              model_args={"exclaim": "many"}, report=False)
    with pytest.raises(ConfigError, match="min_shares"):
        audit(model="shout:OI", suites=[f"lines:{lines}"], out=tmp_path / "b", cache=False,
              analyzer_args={"shouting": {"min_shares": "0.5"}}, report=False)


def test_unregister_removes_a_plugin_and_leaves_the_builtins() -> None:
    adapters.register("shout")(make_shout)
    assert "shout" in adapters
    adapters.unregister("shout")
    assert "shout" not in adapters and "mock" in adapters

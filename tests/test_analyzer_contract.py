"""The analyzer contract, checked over every registered analyzer (built-in and installed plugins).

Each case reads the analyzer's declarations through the registry (:func:`analyzer_info`, no model load)
and checks the rules in ``auditkit/analyzers/base.py``: a cheap identity, valid metric specs, options
validated by a pydantic model (an unknown option is a ``ConfigError`` naming the analyzer, the field
and the accepted fields), scores and metrics on a tiny run, error scores never counted, and every
metric declared by a spec and valid against the results.json schema.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from auditkit.analyzers.base import (
    Analysis,
    Observation,
    analyzer_info,
    analyzers,
    build_analyzer,
    declared_metric_specs,
)
from auditkit.analyzers.metric_spec import DIRECTIONS, MetricSpec, find_spec, specs_from_json, specs_to_json
from auditkit.analyzers.options import AnalyzerOptions
from auditkit.errors import ConfigError
from auditkit.records import Generation, LoglikResult, Prompt, Score
from auditkit.resources import package_file


def _contract_names() -> list[str]:
    # Test modules register deliberately broken doubles (crashing aggregates, misnamed analyzers) in the
    # same process; they are not plugins and are not held to the contract.
    return [n for n in analyzers.names() if not _defined_in_tests(n)]


def _defined_in_tests(name: str) -> bool:
    factory = analyzers.get(name)
    module = str(getattr(factory, "__module__", "") or "")
    return module == "tests" or module.startswith(("tests.", "test_"))


NAMES = _contract_names()

FAST_OPTIONS: dict[str, dict[str, Any]] = {"bias": {"permutations": 200, "resamples": 100}}
"""Options that keep a tiny run quick (the statistics are not under test here)."""

HEAVY_MODULES = ("torch", "transformers", "tensorflow", "jax")

_TEXTS = [
    ("The woman worked as a", "woman", "a nurse at the hospital and loved her job."),
    ("The man worked as a", "man", "a carpenter, and he hated every minute of it, you idiot."),
    ("The woman was known for", "woman", "her kindness. Email me at jane.doe@example.com."),
    ("The man was known for", "man", "I'm sorry, I can't help with that."),
    ("The woman said that", "woman", "it was the best of times, it was the worst of times."),
    ("The man said that", "man", "it was the age of wisdom, it was the age of foolishness."),
]


def _observations() -> list[Observation]:
    items = []
    for i, (prompt, group, output) in enumerate(_TEXTS):
        p = Prompt(
            id=f"c{i}", suite="contract", template=f"t{i // 2}", prompt=prompt, base_id=f"c{i}",
            reference="it was the best of times, it was the worst of times." if i >= 4 else None,
            attributes={"axis": "gender", "group": group}, pair=f"pair{i // 2}",
        )
        g = Generation(prompt_id=p.id, output=output, input_tokens=5, output_tokens=len(output.split()),
                       latency_s=0.1 + i / 100, energy_j=1.0 + i, energy_method="estimated")
        items.append(Observation(prompt=p, generation=g))
    failed = Prompt(id="c-failed", suite="contract", template="t9", prompt="x", base_id="c-failed",
                    attributes={"axis": "gender", "group": "woman"}, pair="pair9")
    items.append(Observation(prompt=failed, generation=Generation(prompt_id="c-failed", output=None,
                                                                   error="adapter error")))
    return items


def _likelihood_observations(name: str) -> list[Observation]:
    """Likelihood-benchmark analyzers score prompts with candidate continuations: their tiny run adds some."""
    width = {"crows_pairs": 2, "stereoset": 3, "bbq": 3}.get(name)
    if width is None:
        return []
    items = []
    for i in range(6):
        bbq = {"category": "Age" if i % 2 else "SES", "context_condition": "ambig" if i < 3 else "disambig",
               "question_polarity": "neg", "label": str(i % 3), "unknown": "2", "biased": "0",
               "ans0": "The old man", "ans1": "The boy", "ans2": "Unknown"} if name == "bbq" else {}
        p = Prompt(id=f"l{i}", suite=name, template="pair", prompt="", base_id=f"l{i}",
                   continuations=tuple(f"candidate {k} of {i}" for k in range(width)),
                   attributes={"bias_type": "gender" if i % 2 else "age", "target": f"t{i % 3}",
                               "task": "intrasentence", **bbq})
        results = tuple(LoglikResult(logprob=-10.0 - ((i * 7 + k * 3) % 5), tokens=3 + k) for k in range(width))
        items.append(Observation(prompt=p, generation=Generation(prompt_id=p.id, output="", loglikelihoods=results)))
        if bbq:  # the same question answered by a generated letter
            asked = Prompt(id=f"g{i}", suite=name, template="generate", prompt="Q?", base_id=f"g{i}",
                           attributes={**bbq, "mode": "generate"})
            items.append(Observation(prompt=asked, generation=Generation(prompt_id=asked.id, output="ABC?"[i % 4])))
    return items


def _metric_schema() -> dict[str, Any]:
    schema = json.loads(package_file("schemas/results.schema.json").read_text(encoding="utf-8"))
    return {"$defs": schema["$defs"], "$ref": "#/$defs/metric"}


def _run(name: str) -> tuple[list[Observation], list[Score], Analysis]:
    analyzer = build_analyzer(name=name, options=FAST_OPTIONS.get(name, {}))
    items = _observations() + _likelihood_observations(name)
    scores = analyzer.score(items=items)
    return items, scores, analyzer.aggregate(items=items, scores=scores)


def test_the_registry_holds_analyzers() -> None:
    assert NAMES, "no analyzer registered"


@pytest.mark.parametrize("name", NAMES)
def test_declarations_are_readable_without_building(name: str) -> None:
    info = analyzer_info(name=name)
    assert info.name == name and info.title and isinstance(info.report_order, int)
    built = build_analyzer(name=name, options=FAST_OPTIONS.get(name, {}))
    assert built.name == name
    assert info.metric_specs == declared_metric_specs(built), "the class and the built analyzer disagree"


@pytest.mark.parametrize("name", NAMES)
def test_identity_is_cheap(name: str) -> None:
    # A fresh interpreter: building the analyzer with its defaults and reading its identity must not
    # import a deep-learning framework (identity is read for cache keys on every run).
    code = (
        "import sys, json\n"
        "from auditkit.analyzers.base import build_analyzer\n"
        f"a = build_analyzer(name={name!r}, options={{}})\n"
        "json.dumps(dict(a.identity), default=str)\n"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("name", NAMES)
def test_metric_specs_are_valid(name: str) -> None:
    specs = analyzer_info(name=name).metric_specs
    assert specs, f"{name} declares no metric_specs"
    assert all(isinstance(s, MetricSpec) and s.direction in DIRECTIONS for s in specs)
    assert len({s.name for s in specs}) == len(specs), "a metric is declared twice"
    assert all(s.description for s in specs), "every metric says what it measures"
    assert specs_from_json(json.loads(json.dumps(specs_to_json(specs)))) == specs  # survives results.json
    schema = json.loads(package_file("schemas/results.schema.json").read_text(encoding="utf-8"))
    for spec in specs_to_json(specs):
        jsonschema.validate(spec, {"$defs": schema["$defs"], "$ref": "#/$defs/metric_spec"})


@pytest.mark.parametrize("name", NAMES)
def test_options_are_a_model_and_unknown_options_are_refused(name: str) -> None:
    model = analyzer_info(name=name).options_model
    assert isinstance(model, type) and issubclass(model, AnalyzerOptions), f"{name} declares no options_model"
    assert model.analyzer == name
    model.parse({})  # the defaults are valid
    with pytest.raises(ConfigError) as caught:
        build_analyzer(name=name, options={"no_such_option_xyz": "1"})
    message = str(caught.value)
    assert name in message and "no_such_option_xyz" in message
    assert all(field in message for field in model.model_fields), "the accepted fields are listed"


@pytest.mark.parametrize("name", NAMES)
def test_score_and_aggregate_a_tiny_run(name: str) -> None:
    items, scores, analysis = _run(name)
    assert all(s.analyzer == name for s in scores), "scores carry the analyzer's name"
    assert not any(s.prompt_id == "c-failed" for s in scores), "failed generations are counted, not scored"
    assert {s.prompt_id for s in scores} <= {i.prompt.id for i in items}
    assert all(s.error is None or s.value is None for s in scores), "an error score has no value"
    assert analysis.metrics, f"{name} produced no metric on a tiny run"
    json.dumps(dict(analysis.summary), default=str)


@pytest.mark.parametrize("name", NAMES)
def test_every_metric_is_declared_and_schema_valid(name: str) -> None:
    _, _, analysis = _run(name)
    specs = analyzer_info(name=name).metric_specs
    validator = jsonschema.Draft202012Validator(_metric_schema())
    for metric in analysis.metrics:
        assert metric.analyzer == name
        assert find_spec(specs=specs, name=metric.name) is not None, f"{name}.{metric.name} is not declared"
        errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(metric.to_dict())))]
        assert not errors, f"{name}.{metric.name}: {errors}"


def _fingerprint(analysis: Analysis) -> list[tuple[Any, ...]]:
    return sorted(
        (m.name, json.dumps(m.group, sort_keys=True), m.value, m.ci_low, m.ci_high, m.n)
        for m in analysis.metrics
        if "error" not in m.name  # metrics that count scorer errors do so by design
    )


@pytest.mark.parametrize("name", NAMES)
def test_error_scores_are_never_counted(name: str) -> None:
    items, scores, _ = _run(name)
    victim = next(s.prompt_id for s in scores)
    kept = [s for s in scores if s.prompt_id != victim]
    errors = [
        Score(prompt_id=victim, analyzer=name, name=score_name, value=None, error="injected scorer failure")
        for score_name in dict.fromkeys(s.name for s in scores if s.prompt_id == victim)
    ]
    fresh = build_analyzer(name=name, options=FAST_OPTIONS.get(name, {}))
    with_errors = fresh.aggregate(items=items, scores=kept + errors)
    without = fresh.aggregate(items=items, scores=kept)
    # A failed score weighs exactly as much as no score at all: never a 0, never in n.
    assert _fingerprint(with_errors) == _fingerprint(without)


def _builtin_suite_options() -> list[tuple[str, str, dict[str, Any]]]:
    from auditkit.suites import builtin_suites, load_suite

    found = []
    for info in builtin_suites():
        suite = load_suite(ref=info.name)
        for analyzer, options in suite.analyzer_options.items():
            found.append((info.name, analyzer, dict(options)))
    return found


@pytest.mark.parametrize(("suite", "name", "options"), _builtin_suite_options())
def test_builtin_suite_options_validate(suite: str, name: str, options: dict[str, Any]) -> None:
    model = analyzer_info(name=name).options_model
    assert model is not None
    model.parse(options)


@pytest.mark.parametrize("name", NAMES)
def test_analyzers_that_want_model_facts_accept_them(name: str) -> None:
    # The engine adds what ran (adapter, model) and how its energy is known to these analyzers' options.
    info = analyzer_info(name=name)
    if not info.wants_model_facts:
        pytest.skip(f"{name} does not ask for the model facts")
    assert info.options_model is not None
    info.options_model.parse({"adapter": "openai", "model": "gpt-4o-mini", "energy_source": "modelled"})


def test_energy_asks_for_the_model_facts() -> None:
    assert analyzer_info(name="energy").wants_model_facts

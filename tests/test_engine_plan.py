"""Planning: suite loading, generation-config precedence, grouping, analyzer options and restriction."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.engine.plan import build_plan, parse_analyzer_args, resolve_generation
from auditkit.errors import ConfigError
from auditkit.records import GenerationConfig
from tests.fixtures_engine import engine_request, write_suite


def test_precedence_default_suite_cli_pins() -> None:
    assert resolve_generation() == GenerationConfig()
    suite = {"max_new_tokens": 20, "temperature": 0.7, "top_p": 0.9}
    cli = {"max_new_tokens": 30, "seed": 5}
    pins = {"max_new_tokens": 50, "temperature": 0.0}
    config = resolve_generation(suite=suite, cli=cli, pins=pins)
    # pins beat the CLI, the CLI beats the suite, the suite beats the defaults
    assert config.max_new_tokens == 50 and config.temperature == 0.0
    assert config.seed == 5 and config.top_p == 0.9 and config.logprobs is False
    assert resolve_generation(suite=suite, cli=cli).max_new_tokens == 30


def test_unknown_or_invalid_generation_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        resolve_generation(suite={"max_tokens": 3}, where="suite 'x'")
    with pytest.raises(ConfigError, match="max_new_tokens"):
        resolve_generation(cli={"max_new_tokens": 0})


def test_plan_groups_by_effective_config(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path,
        n=5,
        generation={"max_new_tokens": 16, "temperature": 0.5},
        pinned={"max_new_tokens": 50, "temperature": 0},
    )
    plan = build_plan(
        request=engine_request(
            model="mock:echo", out=tmp_path / "o", suites=(str(suite),), max_new_tokens=24, seed=7
        )
    )
    assert len(plan.prompts) == 7
    by_template = {p.template: plan.configs[p.id] for p in plan.prompts}
    assert by_template["plain"] == GenerationConfig(max_new_tokens=24, temperature=0.5, seed=7)
    assert by_template["pinned"] == GenerationConfig(max_new_tokens=50, temperature=0.0, seed=7)
    assert sorted(len(g.prompts) for g in plan.groups) == [2, 5]
    assert all(plan.configs[p.id] == g.config for g in plan.groups for p in g.prompts)
    assert plan.generation.max_new_tokens == 24
    [entry] = plan.suites
    assert (entry.id, entry.version, entry.prompts) == ("enginetest", 1, 7) and len(entry.hash or "") == 64


def test_included_suites_decode_with_their_own_defaults(tmp_path: Path) -> None:
    sampled = write_suite(tmp_path, suite_id="sampled", n=2, generation={"temperature": 1.0, "max_new_tokens": 20})
    greedy = write_suite(tmp_path, suite_id="greedy", n=3, generation={"temperature": 0, "max_new_tokens": 48})
    combined = tmp_path / "combined.yaml"
    combined.write_text(f"id: combined\ninclude: [{sampled}, {greedy}]\n", encoding="utf-8")
    plan = build_plan(request=engine_request(model="mock:echo", out=tmp_path / "o", suites=(str(combined),)))
    configs = {(p.suite, plan.configs[p.id].temperature, plan.configs[p.id].max_new_tokens) for p in plan.prompts}
    assert configs == {("sampled", 1.0, 20), ("greedy", 0.0, 48)}


def test_samples_multiply_and_duplicates_across_suites_collapse(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=3)
    plan = build_plan(
        request=engine_request(model="mock:echo", out=tmp_path, suites=(str(suite), str(suite)), samples=2)
    )
    assert len(plan.prompts) == 6 and len({p.id for p in plan.prompts}) == 6
    assert sorted({p.sample for p in plan.prompts}) == [0, 1]


def test_analyzer_options_merge_and_cli_overrides(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, options={"engine_chars": {"a": 1, "b": "x"}})
    parsed = parse_analyzer_args(args=["engine_chars.b=0.4", "engine_chars.c=true", "energy.note=hello world"])
    assert parsed == {"engine_chars": {"b": 0.4, "c": True}, "energy": {"note": "hello world"}}
    overrides = {"engine_chars": parsed["engine_chars"]}
    plan = build_plan(
        request=engine_request(
            model="mock:echo", out=tmp_path, suites=(str(suite),), analyzer_options=overrides
        )
    )
    assert plan.analyzer_options["engine_chars"] == {"a": 1, "b": 0.4, "c": True}
    assert plan.analyzer_names == ("engine_chars",)
    # energy does not run in this plan: its option would be ignored, so it is refused (issue 20).
    with pytest.raises(ConfigError, match="'energy' analyzer does not run in this audit"):
        build_plan(request=engine_request(model="mock:echo", out=tmp_path, suites=(str(suite),),
                                          analyzer_options={**overrides, "energy": {"note": "x"}}))


@pytest.mark.parametrize("bad", ["toxicity", "toxicity.threshold", ".x=1", "tox=1"])
def test_bad_analyzer_arg(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"NAME\.KEY=VALUE"):
        parse_analyzer_args(args=[bad])


def test_analyzer_restriction(tmp_path: Path) -> None:
    a = write_suite(tmp_path, suite_id="one", analyzers_=("engine_chars", "energy"))
    b = write_suite(tmp_path, suite_id="two", analyzers_=("energy",))
    plan = build_plan(
        request=engine_request(
            model="mock:echo", out=tmp_path, suites=(str(a), str(b)), analyzers=("engine_chars",)
        )
    )
    # suite two has no engine_chars prompts: they are not generated at all
    assert {p.suite for p in plan.prompts} == {"one"}
    assert all(p.analyzers == ("engine_chars",) for p in plan.prompts)
    with pytest.raises(ConfigError, match=r"toxicity.*available here: energy, engine_chars"):
        build_plan(
            request=engine_request(model="mock:echo", out=tmp_path, suites=(str(a),), analyzers=("toxicity",))
        )


def test_suite_counts_follow_the_restriction(tmp_path: Path) -> None:
    a = write_suite(tmp_path, suite_id="one", n=3, analyzers_=("engine_chars",))
    b = write_suite(tmp_path, suite_id="two", n=4, analyzers_=("energy",))
    plan = build_plan(
        request=engine_request(
            model="mock:echo", out=tmp_path, suites=(str(a), str(b)), analyzers=("energy",)
        )
    )
    assert [(s.id, s.prompts) for s in plan.suites] == [("one", 0), ("two", 4)]

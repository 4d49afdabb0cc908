"""The adapter contract, checked over every registered adapter scheme that can run offline here.

Each case builds its adapter through the registry (``build_adapter(spec=parse_model_spec(...))``, the
path the CLI takes) and checks the rules in ``auditkit/adapters/base.py``: one ``Generation`` per prompt
in order with matching ids, a failure is an ``error`` (never an empty output), a cheap and stable
identity with no secrets, deterministic greedy outputs, an empty batch, an idempotent ``close``.
Every registered factory also declares valid abilities and an options model that rejects unknown
options with ``ConfigError`` (exit 2).
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditkit.adapters.base import (
    ENERGY_SOURCES,
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    ModelSpec,
    abilities_of,
    adapters,
    build_adapter,
    options_model_of,
    parse_model_spec,
)
from auditkit.adapters.mock import MOCK_NAMES
from auditkit.errors import ConfigError
from auditkit.records import Generation, GenerationConfig, Prompt
from tests.fixtures_http import loopback_server  # noqa: F401

try:  # owned by the hf engineer; the hf case runs only when it offers its tiny-model fixture
    from tests.fixtures_models import tiny_model_dir, tiny_models  # noqa: F401
except ImportError:
    pass

SECRET = "sk-contract-SECRET-b7d1e93a55"
SECRET_ENV = "AUDITKIT_CONTRACT_KEY"

EXCLUDED = {"smollm2": "the bundled 135M model takes ~20 s to convert; its own tests cover it"}
"""Registered schemes deliberately not run here, with why."""

PROMPTS = [
    Prompt(
        id=f"contract-{i}",
        suite="contract",
        template="t",
        prompt=text,
        reference="the reference text",
        attributes={"axis": "gender", "group": group},
    )
    for i, (text, group) in enumerate(
        [
            ("the cat sat on the", "woman"),
            ("once upon a time", "man"),
            ("the woman worked as a", "woman"),
            ("it was the best of times", "man"),
            ("a quick brown fox", "non-binary person"),
        ]
    )
]
CONFIG = GenerationConfig(max_new_tokens=8, temperature=0.0, seed=3)


@dataclass(frozen=True)
class Case:
    id: str
    scheme: str
    spec: Callable[[pytest.FixtureRequest], ModelSpec]


def _replay_spec(request: pytest.FixtureRequest) -> ModelSpec:
    path = request.getfixturevalue("tmp_path") / "replay.jsonl"
    rows = [
        {"id": p.id, "output": f"answer {i}", "output_tokens": 2, "energy_j": 0.5}
        for i, p in enumerate(PROMPTS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return parse_model_spec(spec=f"replay:{path}")


_FACTORY = textwrap.dedent('''
    def make(*, suffix="."):
        """Title-cases each prompt."""
        return lambda prompts: [p.title() + suffix for p in prompts]
''')


def _python_spec(request: pytest.FixtureRequest) -> ModelSpec:
    path: Path = request.getfixturevalue("tmp_path") / "contract_model.py"
    path.write_text(_FACTORY, encoding="utf-8")
    return parse_model_spec(spec=f"python:{path}:make", model_args=["suffix=!"])


def _openai_spec(endpoint: str) -> Callable[[pytest.FixtureRequest], ModelSpec]:
    def spec(request: pytest.FixtureRequest) -> ModelSpec:
        server = request.getfixturevalue("loopback_server")
        request.getfixturevalue("monkeypatch").setenv(SECRET_ENV, SECRET)
        return parse_model_spec(
            spec="openai:contract-model",
            model_args=[f"base_url={server.base_url}", f"api_key_env={SECRET_ENV}", f"endpoint={endpoint}"],
        )

    return spec


def _hf_spec(request: pytest.FixtureRequest) -> ModelSpec:
    if importlib.util.find_spec("torch") is None or "tiny_model_dir" not in globals():
        pytest.skip("the hf contract case needs torch and tests/fixtures_models.py")
    plain: Path = request.getfixturevalue("tiny_model_dir")
    return parse_model_spec(spec=f"hf:{plain}", model_args=["device=cpu"])


CASES = [
    *(
        Case(
            f"mock:{name}",
            "mock",
            lambda request, name=name: parse_model_spec(
                spec=f"mock:{name}", model_args=["delay=0.001"] if name == "slow" else []
            ),
        )
        for name in MOCK_NAMES
    ),
    Case("replay", "replay", _replay_spec),
    Case("python", "python", _python_spec),
    Case("openai:chat", "openai", _openai_spec("chat")),
    Case("openai:completions", "openai", _openai_spec("completions")),
    Case("hf", "hf", _hf_spec),
]


def _registered_or_skip(scheme: str) -> None:
    missing = [m for m in adapters._builtin_modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"built-in adapter modules not written yet: {missing}")
    if scheme not in adapters:
        pytest.skip(f"scheme {scheme!r} is not registered")


@pytest.fixture(
    params=[pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.scheme == "hf" else []) for c in CASES]
)
def built(request: pytest.FixtureRequest) -> tuple[Case, ModelSpec, Adapter]:
    case: Case = request.param
    _registered_or_skip(case.scheme)
    spec = case.spec(request)
    adapter = build_adapter(spec=spec)
    yield case, spec, adapter
    adapter.close()


def test_every_registered_scheme_has_a_case() -> None:
    _registered_or_skip("mock")
    covered = {c.scheme for c in CASES} | set(EXCLUDED)
    # Test modules register their own fakes (e.g. the engine's); only shipped adapters need a case.
    shipped = {name for name in adapters.names() if not adapters.get(name).__module__.startswith("tests.")}
    assert shipped - covered == set(), (
        "add a contract case (or an EXCLUDED reason) for new schemes"
    )


def test_satisfies_the_protocol(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, _, adapter = built
    assert isinstance(adapter, Adapter)
    assert isinstance(adapter.identity, AdapterIdentity)
    assert isinstance(adapter.default_batch_size, int) and adapter.default_batch_size >= 1


def test_one_generation_per_prompt_in_order(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, _, adapter = built
    gens = adapter.generate(prompts=PROMPTS, config=CONFIG)
    assert len(gens) == len(PROMPTS)
    assert [g.prompt_id for g in gens] == [p.id for p in PROMPTS]
    reversed_gens = adapter.generate(prompts=PROMPTS[::-1], config=CONFIG)
    assert [g.prompt_id for g in reversed_gens] == [p.id for p in PROMPTS[::-1]]
    for gen in gens:
        assert isinstance(gen, Generation)
        if gen.error is not None:
            assert gen.output is None and gen.error.strip(), "a failure carries its reason and no output"
        else:
            assert isinstance(gen.output, str)
        for count in (gen.input_tokens, gen.output_tokens):
            assert count is None or (isinstance(count, int) and count >= 0)
        if gen.energy_j is not None:
            assert gen.energy_j > 0 and gen.energy_method
    assert any(g.ok for g in gens)
    json.dumps([g.to_dict() for g in gens])


def test_greedy_is_deterministic(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, _, adapter = built
    first = adapter.generate(prompts=PROMPTS, config=CONFIG)
    second = adapter.generate(prompts=PROMPTS, config=CONFIG)
    assert [(g.output, g.error) for g in first] == [(g.output, g.error) for g in second]


def test_identity_is_stable_and_secret_free(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, spec, adapter = built
    before = adapter.identity.key
    adapter.generate(prompts=PROMPTS[:2], config=CONFIG)
    assert adapter.identity.key == before, "generating must not change the identity"
    rebuilt = build_adapter(spec=spec)
    try:
        assert rebuilt.identity.key == before, "the same spec must give the same identity (cache key)"
    finally:
        rebuilt.close()
    shown = json.dumps(adapter.identity.to_dict()) + repr(adapter) + repr(adapter.identity)
    assert SECRET not in shown


def test_empty_batch_and_idempotent_close(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, _, adapter = built
    assert adapter.generate(prompts=[], config=CONFIG) == []
    adapter.close()
    adapter.close()


def _shipped() -> list[str]:
    _registered_or_skip("mock")
    return [name for name in adapters.names() if not adapters.get(name).__module__.startswith("tests.")]


@pytest.mark.parametrize("scheme", ["hf", "smollm2", "openai", "replay", "python", "mock"])
def test_declares_valid_abilities_and_an_options_model(scheme: str) -> None:
    assert scheme in _shipped()
    factory = adapters.get(scheme)
    declared = factory.abilities  # type: ignore[attr-defined]
    abilities = declared if isinstance(declared, AdapterAbilities) else None
    assert abilities is not None or callable(declared), "abilities: an AdapterAbilities or f(*, target)"
    if abilities is not None:
        assert abilities == abilities_of(spec=ModelSpec(scheme=scheme, target="x"))
        assert abilities.energy_source in ENERGY_SOURCES
        assert isinstance(abilities.loglikelihood, bool)
        assert not (abilities.remote and abilities.replayed)
    model = options_model_of(factory=factory)
    assert model is not None and issubclass(model, AdapterOptions)
    assert model.model_config.get("extra") == "forbid"


def test_every_shipped_adapter_declares_abilities() -> None:
    for name in _shipped():
        assert getattr(adapters.get(name), "abilities", None) is not None, name
        assert options_model_of(factory=adapters.get(name)) is not None, name


def test_abilities_of_the_builtins() -> None:
    def of(spec: str) -> AdapterAbilities:
        return abilities_of(spec=parse_model_spec(spec=spec))

    assert of("openai:m") == AdapterAbilities(
        remote=True, concurrency=True, energy_source="modelled", loglikelihood=True
    )
    assert of("replay:f.jsonl") == AdapterAbilities(replayed=True, energy_source="replayed", loglikelihood=True)
    for local in ("hf:gpt2", "smollm2", "mock:echo"):
        assert of(local) == AdapterAbilities(loglikelihood=True)


@pytest.mark.parametrize("scheme", ["hf", "smollm2", "openai", "replay", "mock"])
def test_a_declared_loglikelihood_ability_has_the_method(scheme: str) -> None:
    from auditkit.adapters.base import LoglikAdapter

    factory = adapters.get(scheme)
    assert factory.abilities.loglikelihood  # type: ignore[attr-defined]
    classes = {"hf": "auditkit.adapters.hf:HFAdapter", "smollm2": "auditkit.adapters.bundled:SmolLM2Adapter",
               "openai": "auditkit.adapters.openai:OpenAIAdapter", "replay": "auditkit.adapters.replay:ReplayAdapter",
               "mock": "auditkit.adapters.mock:MockAdapter"}
    import importlib

    module, name = classes[scheme].split(":")
    cls = getattr(importlib.import_module(module), name)
    assert callable(getattr(cls, "loglikelihood", None))
    assert issubclass(cls, LoglikAdapter)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"remote": True},  # a remote model's energy can only be modelled
        {"replayed": True, "energy_source": "local"},
        {"remote": True, "replayed": True, "energy_source": "modelled"},
        {"energy_source": "solar"},
    ],
)
def test_inconsistent_abilities_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AdapterAbilities(**kwargs)


def test_rejects_an_unknown_option(built: tuple[Case, ModelSpec, Adapter]) -> None:
    _, spec, _ = built
    bad = ModelSpec(scheme=spec.scheme, target=spec.target, options={**spec.options, "no_such_option": "1"})
    with pytest.raises(ConfigError) as err:
        build_adapter(spec=bad).close()
    assert err.value.exit_code == 2
    message = str(err.value)  # names the adapter, the option and the accepted ones
    assert "no_such_option" in message and spec.scheme in message and "Valid options" in message

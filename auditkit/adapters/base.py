"""The adapter seam: anything that turns prompts into generations.

An adapter is built by a factory registered under a scheme, from a model spec ``scheme:target`` plus
``--model-arg KEY=VALUE`` options. The factory declares, once, what the adapter can do
(:class:`AdapterAbilities`) and which options it takes (an :class:`AdapterOptions` pydantic model)::

    class EchoOptions(AdapterOptions):
        upper: bool = False

    @adapters.register("echo")
    @adapter_factory(abilities=AdapterAbilities(), options=EchoOptions)
    def make_echo(*, target: str, options: Mapping[str, str]) -> Adapter:
        opts = parse_options(model=EchoOptions, adapter="echo", options=options)
        return EchoAdapter(prefix=target.upper() if opts.upper else target)

    class EchoAdapter:
        def __init__(self, *, prefix: str) -> None:
            self.identity = AdapterIdentity(adapter="echo", model=prefix)
            self.default_batch_size = 64

        def generate(self, *, prompts, config):
            return [Generation(prompt_id=p.id, output=self.identity.model + p.text) for p in prompts]

        def close(self) -> None:
            pass

Rules every adapter keeps (checked by the contract tests over every registered adapter):
``generate`` returns exactly one ``Generation`` per prompt, in order; a failure of one prompt is that
generation's ``error`` (never an empty output); a failure of the whole model (cannot load, cannot reach)
raises ``AdapterError``. ``identity`` is cheap — no weights are loaded to compute it — so a fully
cached rerun never loads the model.

An adapter declaring ``AdapterAbilities(loglikelihood=True)`` also has
``loglikelihood(*, requests: Sequence[LoglikRequest]) -> list[LoglikResult]`` (:class:`LoglikAdapter`):
one result per request, same order, a failure of one request being that result's ``error``. Likelihood
benchmarks (CrowS-Pairs, StereoSet) need it; the engine refuses other adapters before any work.

The engine, the executors, the energy meter and the energy analyzer read an adapter's abilities from its
factory (:func:`abilities_of`), before the adapter is built — e.g. only an adapter declaring
``concurrency`` receives ``--concurrency``. A factory that declares nothing (an entry-point plugin, a
``python:`` factory) is a local model without bounded concurrency.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import ConfigDict, ValidationError

from auditkit.errors import ConfigError
from auditkit.plugin_options import PluginOptions, options_error
from auditkit.records import Generation, GenerationConfig, LoglikRequest, LoglikResult, Prompt
from auditkit.registry import Registry
from auditkit.secrets import is_secret_key

__all__ = [
    "Adapter",
    "AdapterAbilities",
    "AdapterFactory",
    "AdapterIdentity",
    "AdapterOptions",
    "ENERGY_SOURCES",
    "LOCAL",
    "LoglikAdapter",
    "ModelSpec",
    "abilities_of",
    "adapter_factory",
    "adapters",
    "build_adapter",
    "options_model_of",
    "parse_model_spec",
    "parse_options",
    "registered_abilities",
]

ENERGY_SOURCES = ("local", "modelled", "replayed")
"""Where an adapter's energy figures come from: ``local`` (the engine's meter around each batch: NVML,
RAPL or an estimate), ``modelled`` (nothing runs here; the energy analyzer models each output from its
tokens), ``replayed`` (only figures given in the replayed file)."""


@dataclass(frozen=True, slots=True)
class AdapterAbilities:
    """What an adapter can do, declared once on its factory (see :func:`adapter_factory`)."""

    remote: bool = False
    """Requests go to a server: local energy counters would measure only the client (energy is modelled)."""
    replayed: bool = False
    """Outputs come from a file: nothing is generated here (energy only as the file gives it)."""
    concurrency: bool = False
    """Accepts a bounded ``concurrency`` option (requests in flight); ``--concurrency`` goes to it."""
    energy_source: str = "local"
    """One of :data:`ENERGY_SOURCES`: which meter applies to its outputs."""
    loglikelihood: bool = False
    """Can score the log-likelihood of given continuations."""

    def __post_init__(self) -> None:
        if self.energy_source not in ENERGY_SOURCES:
            raise ValueError(
                f"AdapterAbilities.energy_source {self.energy_source!r} is not one of {', '.join(ENERGY_SOURCES)}."
            )
        if self.remote and self.replayed:
            raise ValueError("AdapterAbilities: an adapter is either remote or replayed, not both.")
        # A remote model's energy cannot be metered here, a replayed one's was spent elsewhere.
        implied = "modelled" if self.remote else "replayed" if self.replayed else None
        if implied is not None and self.energy_source != implied:
            raise ValueError(
                f"AdapterAbilities: a {'remote' if self.remote else 'replayed'} adapter's energy_source "
                f"must be {implied!r}, not {self.energy_source!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "replayed": self.replayed,
            "concurrency": self.concurrency,
            "energy_source": self.energy_source,
            "loglikelihood": self.loglikelihood,
        }


LOCAL = AdapterAbilities()
"""The abilities of a factory that declares none: a local model, one batch at a time."""


class AdapterOptions(PluginOptions):
    """Base of every adapter's ``--model-arg`` options model: unknown options are errors.

    Values arrive as strings from the command line; pydantic coerces them to the declared types.
    """

    model_config = ConfigDict(str_strip_whitespace=True)


@dataclass(frozen=True, slots=True)
class AdapterIdentity:
    """What makes outputs of one adapter differ from another's: part of every cache key."""

    adapter: str
    """Scheme of the adapter, e.g. ``hf``."""
    model: str
    """Model id or path as the user named it."""
    revision: str | None = None
    """Hub revision / commit, when known."""
    weights_hash: str | None = None
    """Hash of the weight files (or of the replay file), when they can be read locally."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Settings that change outputs (dtype, chat template on/off, base URL...). Never secrets."""

    def __post_init__(self) -> None:
        leaked = [k for k in self.settings if is_secret_key(name=str(k))]
        if leaked:
            raise ValueError(f"AdapterIdentity.settings must not hold secrets: {leaked}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "model": self.model,
            "revision": self.revision,
            "weights_hash": self.weights_hash,
            "settings": dict(self.settings),
        }

    @property
    def key(self) -> str:
        """A stable hash of the identity, used in cache keys."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@runtime_checkable
class Adapter(Protocol):
    """Turns a batch of prompts into one generation each."""

    identity: AdapterIdentity
    default_batch_size: int
    """How many prompts the engine hands over per call when ``--batch-size auto``."""

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        """One ``Generation`` per prompt, same order. ``config`` is already merged with each probe's pins."""
        ...

    def close(self) -> None:
        """Release the model / connections. Called once at the end of a run."""
        ...


@runtime_checkable
class LoglikAdapter(Protocol):
    """An adapter that scores given continuations (declared by ``AdapterAbilities.loglikelihood``)."""

    def loglikelihood(self, *, requests: Sequence[LoglikRequest]) -> list[LoglikResult]:
        """One result per request, same order; batched (a local model: one padded forward pass per batch)."""
        ...


AdapterFactory = Callable[..., Adapter]
"""``factory(*, target: str, options: Mapping[str, str]) -> Adapter``."""

adapters: Registry[AdapterFactory] = Registry(
    kind="adapter",
    group="auditkit.adapters",
    builtin_modules=(
        "auditkit.adapters.hf",
        "auditkit.adapters.bundled",
        "auditkit.adapters.openai",
        "auditkit.adapters.replay",
        "auditkit.adapters.python",
        "auditkit.adapters.mock",
    ),
)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A parsed ``--model`` value."""

    scheme: str
    target: str
    options: Mapping[str, str] = field(default_factory=dict)


def parse_model_spec(*, spec: str, model_args: Sequence[str] = ()) -> ModelSpec:
    """``hf:gpt2`` + ``["dtype=float32"]`` → ``ModelSpec("hf", "gpt2", {"dtype": "float32"})``.

    A spec without a colon is a scheme with an empty target (``smollm2``).
    """
    if not spec or not spec.strip():
        raise ConfigError("--model is empty. Give a model spec such as 'smollm2', 'hf:gpt2' or 'replay:out.jsonl'.")
    scheme, colon, target = spec.partition(":")
    if not colon:
        _check_bare_spec(spec.strip())
    options: dict[str, str] = {}
    for arg in model_args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--model-arg {arg!r} is not KEY=VALUE (e.g. --model-arg dtype=float32).")
        options[key.strip()] = value.strip()
    return ModelSpec(scheme=scheme.strip(), target=target.strip(), options=options)


def _check_bare_spec(spec: str) -> None:
    """``--model ./my-model`` or ``--model gpt2`` (no scheme): suggest ``hf:`` rather than 'unknown adapter'."""
    from auditkit.errors import PluginNotFound

    if spec in adapters:
        return
    looks_local = spec.startswith(("/", ".", "~")) or "\\" in spec or Path(spec).expanduser().exists()
    what = "a model folder" if looks_local else "a Hugging Face model id"
    raise PluginNotFound(
        f"--model {spec}: there is no adapter named {spec!r}. If it is {what}, did you mean "
        f"--model hf:{spec}? Model specs are SCHEME:TARGET; adapters: {', '.join(adapters.names())} "
        "(`auditkit adapters list`)."
    )


def build_adapter(*, spec: ModelSpec) -> Adapter:
    """Look up the scheme's factory (exit 2 with suggestions when unknown) and build the adapter."""
    factory = adapters.get(spec.scheme)
    return factory(target=spec.target, options=dict(spec.options))


F = TypeVar("F", bound=Callable[..., Any])
OptionsT = TypeVar("OptionsT", bound=AdapterOptions)


def adapter_factory(
    *,
    abilities: AdapterAbilities | Callable[..., AdapterAbilities] = LOCAL,
    options: type[AdapterOptions],
) -> Callable[[F], F]:
    """Decorator: declare a factory's abilities and options model on the factory itself.

    ``abilities`` may also be a function ``(*, target) -> AdapterAbilities`` when they depend on the
    target (``python:`` asks the user's factory). Stack it under ``@adapters.register(...)``.
    """

    def declare(factory: F) -> F:
        factory.abilities = abilities  # type: ignore[attr-defined]
        factory.options_model = options  # type: ignore[attr-defined]
        return factory

    return declare


def abilities_of(*, spec: ModelSpec) -> AdapterAbilities:
    """The abilities declared by the factory of ``spec`` (``LOCAL`` when it declares none); builds nothing."""
    factory = adapters.get(spec.scheme)
    declared = getattr(factory, "abilities", LOCAL)
    if callable(declared):
        declared = declared(target=spec.target)
    if not isinstance(declared, AdapterAbilities):
        raise ConfigError(
            f"The adapter {spec.scheme!r} declares abilities of type {type(declared).__name__}; "
            "expected auditkit.adapters.base.AdapterAbilities."
        )
    return declared


def registered_abilities(*, name: str) -> AdapterAbilities:
    """The abilities of the adapter registered as ``name``; ``LOCAL`` for a name nothing is registered as."""
    if name not in adapters:
        return LOCAL
    try:
        return abilities_of(spec=ModelSpec(scheme=name, target=""))
    except ConfigError:  # target-dependent abilities (python:) need the target: nothing to say by name
        return LOCAL


def options_model_of(*, factory: Callable[..., Any]) -> type[AdapterOptions] | None:
    """The options model a factory declares, or ``None`` (a plugin that validates its options itself)."""
    model = getattr(factory, "options_model", None)
    return model if isinstance(model, type) and issubclass(model, AdapterOptions) else None


def parse_options(*, model: type[OptionsT], adapter: str, options: Mapping[str, Any]) -> OptionsT:
    """``options`` validated by ``model``; ``ConfigError`` (exit 2) naming the adapter, the option and
    the accepted options otherwise."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        raise options_error(model=model, kind="adapter", plugin=adapter, flag="--model-arg ", options=options,
                            error=exc) from None

"""The adapter seam: anything that turns prompts into generations.

An adapter is built by a factory registered under a scheme, from a model spec ``scheme:target`` plus
``--model-arg KEY=VALUE`` options::

    @adapters.register("echo")
    def make_echo(*, target: str, options: Mapping[str, str]) -> Adapter:
        return EchoAdapter(prefix=target)

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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from auditkit.errors import ConfigError
from auditkit.records import Generation, GenerationConfig, Prompt
from auditkit.registry import Registry

__all__ = [
    "Adapter",
    "AdapterFactory",
    "AdapterIdentity",
    "ModelSpec",
    "adapters",
    "build_adapter",
    "parse_model_spec",
]

_SECRET_WORDS = ("key", "token", "secret", "password", "authorization")


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
        leaked = [k for k in self.settings if any(w in k.lower() for w in _SECRET_WORDS)]
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
    scheme, _, target = spec.partition(":")
    options: dict[str, str] = {}
    for arg in model_args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--model-arg {arg!r} is not KEY=VALUE (e.g. --model-arg dtype=float32).")
        options[key.strip()] = value.strip()
    return ModelSpec(scheme=scheme.strip(), target=target.strip(), options=options)


def build_adapter(*, spec: ModelSpec) -> Adapter:
    """Look up the scheme's factory (exit 2 with suggestions when unknown) and build the adapter."""
    factory = adapters.get(spec.scheme)
    return factory(target=spec.target, options=dict(spec.options))

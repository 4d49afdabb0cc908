"""``python:<module>:<factory>``: bring your own model as Python code, without writing a plugin package.

``<module>`` is a dotted module importable from ``sys.path`` (the current directory is tried too) or a
path to a ``.py`` file. ``<factory>`` is called with the ``--model-arg`` options as keyword strings and
returns either a full ``Adapter`` or a plain callable ``f(prompts: list[str]) -> list[str]``, which is
wrapped into one::

    # my_model.py
    def make(*, suffix: str = "!") -> Callable[[list[str]], list[str]]:
        return lambda prompts: [p.upper() + suffix for p in prompts]

    auditkit run toxicity --model python:my_model.py:make --model-arg suffix=?

A wrapped callable's identity includes a hash of the module's source file, so editing the code
invalidates cached outputs.

The accepted options are the factory's keyword parameters (a factory with ``**kwargs`` accepts any), or
the pydantic model it declares as ``factory.options_model`` (an ``AdapterOptions`` subclass). What the
adapter can do is read from ``factory.abilities`` (an ``AdapterAbilities``; default: a local model)::

    def make(*, concurrency: str = "4"):
        ...
    make.abilities = AdapterAbilities(remote=True, concurrency=True, energy_source="modelled")
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ConfigDict, create_model

from auditkit.adapters.base import (
    LOCAL,
    Adapter,
    AdapterAbilities,
    AdapterIdentity,
    AdapterOptions,
    adapter_factory,
    adapters,
    options_model_of,
    parse_options,
)
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import Generation, GenerationConfig, Prompt
from auditkit.secrets import public_settings

__all__ = ["CallableAdapter", "PythonOptions", "load_python_target", "make_python", "python_abilities"]


def _import(module: str) -> ModuleType:
    """Import a dotted name or a ``.py`` path; any failure becomes a ``ConfigError`` naming the module."""
    try:
        if module.endswith(".py") or os.sep in module or "/" in module:
            path = Path(module).expanduser().resolve()
            if not path.is_file():
                raise ConfigError(f"python: module file {module} does not exist.")
            # A name derived from the full path keeps two files called model.py apart in sys.modules.
            name = "auditkit_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
            if name in sys.modules:
                return sys.modules[name]
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ConfigError(f"python: cannot load {module} as a Python module.")
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[name] = loaded  # dataclasses and pickling look the module up while it executes
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                del sys.modules[name]
                raise
            return loaded
        # Console scripts do not put the working directory on sys.path; users expect `python:mymod:f`
        # to find ./mymod.py as `python -c "import mymod"` would.
        cwd = os.getcwd()
        added = cwd not in sys.path
        if added:
            sys.path.append(cwd)
        try:
            return importlib.import_module(module)
        finally:
            if added:
                sys.path.remove(cwd)
    except ConfigError:
        raise
    except Exception as exc:  # user code can raise anything while importing
        raise ConfigError(f"python: could not import module {module!r}: {type(exc).__name__}: {exc}") from exc


def load_python_target(*, target: str) -> tuple[ModuleType, Callable[..., Any]]:
    """Split ``module:factory`` (the last colon separates them) and return the module and the factory."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"python:{target} is not python:<module>:<factory> "
            "(e.g. python:my_pkg.models:make or python:path/to/model.py:make)."
        )
    module = _import(module_name)
    factory = getattr(module, attr, None)
    if factory is None:
        public = sorted(n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n]))
        raise ConfigError(
            f"python: module {module_name!r} has no attribute {attr!r}. Callables it defines: "
            f"{', '.join(public) or 'none'}."
        )
    if not callable(factory):
        raise ConfigError(f"python: {module_name}:{attr} is not callable.")
    return module, factory


def _source_hash(module: ModuleType) -> str | None:
    file = getattr(module, "__file__", None)
    if not file or not Path(file).is_file():
        return None
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


class CallableAdapter:
    """Wraps ``f(prompts: list[str]) -> list[str]`` into an ``Adapter`` (tokens counted as words)."""

    default_batch_size = 32

    def __init__(self, *, function: Callable[[list[str]], Sequence[str]], identity: AdapterIdentity) -> None:
        self.function = function
        self.identity = identity

    def __repr__(self) -> str:
        return f"CallableAdapter(model={self.identity.model!r})"

    def generate(self, *, prompts: Sequence[Prompt], config: GenerationConfig) -> list[Generation]:
        texts = [p.text for p in prompts]
        start = time.perf_counter()
        try:
            outputs = list(self.function(texts))
        except Exception as exc:  # the batch failed: each prompt records why, the error budget decides
            reason = f"python callable {self.identity.model} raised {type(exc).__name__}: {exc}"
            return [Generation(prompt_id=p.id, output=None, error=reason) for p in prompts]
        if len(outputs) != len(prompts) or not all(isinstance(o, str) for o in outputs):
            kinds = sorted({type(o).__name__ for o in outputs})
            raise AdapterError(
                f"python callable {self.identity.model} must return one string per prompt; "
                f"it returned {len(outputs)} item(s) of type {', '.join(kinds) or 'none'} "
                f"for {len(prompts)} prompts."
            )
        share = (time.perf_counter() - start) / max(len(prompts), 1)
        return [
            Generation(
                prompt_id=p.id,
                output=o,
                input_tokens=len(t.split()),
                output_tokens=len(o.split()),
                latency_s=share,
            )
            for p, t, o in zip(prompts, texts, outputs, strict=True)
        ]

    def close(self) -> None:
        """The callable owns its resources; nothing to release here."""


class PythonOptions(AdapterOptions):
    """Base of the options model derived from a user factory's keyword parameters (values stay strings,
    as given: the factory converts them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _options_model(factory: Callable[..., Any]) -> type[AdapterOptions] | None:
    """The factory's declared model, else one built from its keyword parameters; ``None``: any option."""
    declared = options_model_of(factory=factory)
    if declared is not None:
        return declared
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: let the call itself judge the options
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    fields: dict[str, Any] = {
        p.name: (str, ... if p.default is inspect.Parameter.empty else p.default)
        for p in parameters
        if p.kind in _KEYWORD
    }
    name = f"{getattr(factory, '__name__', 'factory')}Options"
    return create_model(name, __base__=PythonOptions, **fields)


def _factory_options(*, target: str, factory: Callable[..., Any], options: Mapping[str, str]) -> dict[str, Any]:
    model = _options_model(factory)
    if model is None:
        return dict(options)
    try:
        parsed = parse_options(model=model, adapter="python", options=options)
    except ConfigError as exc:
        raise ConfigError(f"python:{target} rejected the options {sorted(options)}: {exc}") from None
    # Only what was given: the factory's own defaults stay its own.
    return parsed.model_dump(exclude_unset=True)


def python_abilities(*, target: str) -> AdapterAbilities:
    """What the user's factory declares as ``abilities`` (imports its module); default a local model."""
    _, factory = load_python_target(target=target)
    declared = getattr(factory, "abilities", LOCAL)
    if not isinstance(declared, AdapterAbilities):
        raise ConfigError(
            f"python:{target} declares abilities of type {type(declared).__name__}; "
            "expected auditkit.adapters.base.AdapterAbilities."
        )
    return declared


@adapters.register("python")
@adapter_factory(abilities=python_abilities, options=PythonOptions)
def make_python(*, target: str, options: Mapping[str, str]) -> Adapter:
    """Your own Python factory returning an Adapter or f(list[str]) -> list[str]: python:module:factory."""
    module, factory = load_python_target(target=target)
    kwargs = _factory_options(target=target, factory=factory, options=options)
    try:
        made = factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"python:{target} rejected the options {sorted(options)}: {exc}") from exc
    if isinstance(made, Adapter) and isinstance(getattr(made, "identity", None), AdapterIdentity):
        return made
    if callable(made):
        # Options like api_key go to the factory but never into the identity (it lands in results.json).
        settings = public_settings(settings=options)
        identity = AdapterIdentity(
            adapter="python", model=target, weights_hash=_source_hash(module), settings=settings
        )
        return CallableAdapter(function=made, identity=identity)
    raise ConfigError(
        f"python:{target} returned {type(made).__name__}, which is neither an Adapter "
        "(identity: AdapterIdentity, "
        "default_batch_size, generate(), close()) nor a callable f(prompts: list[str]) -> list[str]."
    )

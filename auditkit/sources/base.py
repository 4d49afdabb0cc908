"""The prompt-source seam: what the suite argument of ``run``, ``prompts`` and ``suites show|validate`` names.

A reference ``SCHEME:TARGET`` whose scheme is registered goes to that source (``rtp:prompts.jsonl``,
``corpus:passages.txt``); any other reference is a YAML suite, a built-in name or a path (``bias``,
``./mine.yaml``, ``C:\\suites\\x.yaml``). ``--corpus FILE`` is the reference ``corpus:FILE``.

A source is built by a factory registered under its scheme (usually the class itself) and declares its
abilities on itself. ``load`` returns a frozen ``LoadedSource``: the manifest entry and the prompts::

    @prompt_sources.register("lines")
    class LinesSource:
        \"\"\"``lines:FILE``: one completion prompt per line of a text file, scored for toxicity.\"\"\"

        analyzers = ("toxicity",)
        needs_loglik = False
        reads_analyzer_options = False

        def __init__(self, *, target: str) -> None:
            self.path = Path(target)

        def load(self, *, samples, analyzer_options) -> LoadedSource:
            texts = [t for t in self.path.read_text(encoding="utf-8").splitlines() if t.strip()]
            prompts = tuple(
                Prompt(id=f"lines-{i}-{k}", suite="lines", template="line", sample=k, prompt=text,
                       analyzers=self.analyzers)
                for i, text in enumerate(texts) for k in range(samples or 1)
            )
            return LoadedSource(id="lines", version=None, hash=file_hash(path=self.path),
                                source=f"lines:{self.path}", prompts=prompts)

A plugin package registers the same factory through the entry-point group ``auditkit.prompt_sources``::

    [project.entry-points."auditkit.prompt_sources"]
    lines = "my_package.sources:LinesSource"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from auditkit.errors import ConfigError
from auditkit.records import Prompt
from auditkit.registry import Registry

if TYPE_CHECKING:
    from auditkit.suites.model import Suite

__all__ = [
    "DEFAULT_SCHEME",
    "LoadedSource",
    "PromptSource",
    "PromptSourceFactory",
    "file_hash",
    "load_sources",
    "open_source",
    "prompt_sources",
    "require_target",
    "split_reference",
]

DEFAULT_SCHEME = "suite"
"""The source of references without a registered scheme: YAML suites (names and paths)."""

# Two characters at least: a Windows drive letter (``C:\x.yaml``) is never a scheme.
_SCHEME = re.compile(r"[a-z][a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class LoadedSource:
    """A loaded prompt source: its manifest entry (id, version, hash, source) and its prompts."""

    id: str
    """Suite id in the manifest (``rtp``, ``corpus``, a YAML suite's ``id``)."""
    version: int | None
    hash: str | None
    """sha256 of what defines the prompts (the resolved suite, the data file); ``None`` if unreadable."""
    source: str
    """How it was named, for the manifest: ``builtin:bias``, ``probes/x.yaml``, ``rtp:prompts.jsonl``."""
    prompts: tuple[Prompt, ...]
    """Every prompt, expanded with the run's ``samples``; each names its analyzers."""
    generation: Mapping[str, Any] = field(default_factory=dict)
    """Generation defaults of the source's prompts (below CLI flags and each prompt's own pins)."""
    generation_by_suite: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Defaults of included suites, by the suite id their prompts carry (YAML includes keep their own)."""
    analyzer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Analyzer options the source sets (``--analyzer-arg`` wins over them)."""
    suite: Suite | None = field(default=None, repr=False, compare=False)
    """The resolved YAML suite when the source is one (``auditkit suites show`` lists its probes)."""

    def generation_for(self, *, suite_id: str) -> Mapping[str, Any]:
        """Generation defaults for a prompt whose ``suite`` is ``suite_id``."""
        return self.generation_by_suite.get(suite_id) or self.generation


@runtime_checkable
class PromptSource(Protocol):
    """Turns a reference's target into prompts. Built by ``factory(*, target: str)``; cheap until ``load``."""

    analyzers: tuple[str, ...] | None
    """Analyzers its prompts name, or ``None`` when the file decides (YAML suites)."""
    needs_loglik: bool
    """True when its metrics need an adapter that scores log-likelihoods (``crows_pairs``, ``stereoset``):
    its prompts carry ``continuations`` and the engine refuses adapters without the ability."""
    reads_analyzer_options: bool
    """True when ``load`` reads analyzer options: it loads after the other sources, with their options."""
    # Optional: ``adapts_to_loglik = True`` — ``load`` also takes ``loglikelihood: bool | None``, whether
    # the run's adapter scores log-likelihoods (``None``: no adapter, as in ``auditkit prompts``), and
    # picks its scoring mode from it (``bbq:`` asks for a letter where likelihoods are not available).

    def load(self, *, samples: int | None, analyzer_options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        """Read and expand. Bad input raises ``InputError`` (exit 2) naming FILE:LINE."""
        ...


PromptSourceFactory = Callable[..., PromptSource]
"""``factory(*, target: str) -> PromptSource``."""

prompt_sources: Registry[PromptSourceFactory] = Registry(
    kind="prompt source",
    group="auditkit.prompt_sources",
    builtin_modules=(
        "auditkit.sources.suite",
        "auditkit.sources.rtp",
        "auditkit.sources.corpus",
        "auditkit.sources.crows_pairs",
        "auditkit.sources.stereoset",
        "auditkit.sources.bbq",
        "auditkit.sources.bold",
    ),
)


def split_reference(*, ref: str) -> tuple[str, str]:
    """``(scheme, target)``: ``rtp:x.jsonl`` → ``("rtp", "x.jsonl")``; ``bias`` → ``("suite", "bias")``."""
    scheme, sep, target = ref.partition(":")
    if sep and _SCHEME.fullmatch(scheme):
        if scheme in prompt_sources:
            return scheme, target
        if not ref.endswith((".yaml", ".yml")) and not Path(ref).expanduser().exists():
            prompt_sources.get(scheme)  # an unknown scheme: PluginNotFound (exit 2) with close names
    return DEFAULT_SCHEME, ref


def open_source(*, ref: str) -> PromptSource:
    """The source a reference names (not loaded yet)."""
    scheme, target = split_reference(ref=ref)
    return prompt_sources.get(scheme)(target=target)


def load_sources(
    *,
    refs: Sequence[str],
    samples: int | None = None,
    analyzer_options: Mapping[str, Mapping[str, Any]] | None = None,
    loglikelihood: bool | None = None,
) -> list[LoadedSource]:
    """Load every reference, in the order given.

    Sources that read analyzer options (the corpus) load after the others and see the options those
    set, overlaid by ``analyzer_options`` (the command line's), whatever their place in ``refs``.
    ``loglikelihood``: whether the run's adapter scores log-likelihoods (``None``: unknown), for the
    sources that declare ``adapts_to_loglik``.
    """
    opened = [open_source(ref=ref) for ref in refs]
    loaded: dict[int, LoadedSource] = {}

    def load(source: PromptSource, options: Mapping[str, Mapping[str, Any]]) -> LoadedSource:
        if getattr(source, "adapts_to_loglik", False):
            return source.load(samples=samples, analyzer_options=options, loglikelihood=loglikelihood)  # type: ignore[call-arg]
        return source.load(samples=samples, analyzer_options=options)

    for index, source in enumerate(opened):
        if not getattr(source, "reads_analyzer_options", False):
            loaded[index] = load(source, {})
    options: dict[str, dict[str, Any]] = {}
    for index in sorted(loaded):
        for name, values in loaded[index].analyzer_options.items():
            options.setdefault(name, {}).update(dict(values or {}))
    for name, values in (analyzer_options or {}).items():
        options.setdefault(name, {}).update(dict(values))
    for index, source in enumerate(opened):
        if index not in loaded:
            loaded[index] = load(source, options)
    return [loaded[index] for index in range(len(opened))]


def file_hash(*, path: Path) -> str | None:
    """sha256 of a data file, or ``None`` when it cannot be read (the manifest then says so)."""
    from auditkit.adapters.weights import file_sha256

    try:
        return file_sha256(path=path)
    except OSError:
        return None


def require_target(*, scheme: str, target: str, example: str) -> Path:
    """The target as a path; ``ConfigError`` when it is empty (``rtp:`` alone)."""
    if not target.strip():
        raise ConfigError(f"{scheme}: needs a file, e.g. {scheme}:{example}.")
    return Path(target)

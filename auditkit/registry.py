"""One generic registry of named factories, filled by decorators and by entry points.

Built-in factories register with ``@adapters.register("hf")``; third-party packages declare an entry
point in the group ``auditkit.adapters`` (or ``auditkit.analyzers``) whose object is the factory.
Factories import their heavy libraries inside the function body, so listing plugins stays instant.

Example (a plugin's pyproject.toml)::

    [project.entry-points."auditkit.adapters"]
    mymodel = "my_package.auditkit_plugin:make_adapter"
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from auditkit.errors import PluginNotFound

__all__ = ["Registry"]

F = TypeVar("F", bound=Callable[..., object])


class Registry(Generic[F]):
    """Named factories of one kind. ``builtin_modules`` are imported on first lookup (they register)."""

    def __init__(self, *, kind: str, group: str, builtin_modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.group = group
        self._builtin_modules = builtin_modules
        self._factories: dict[str, F] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: register ``factory`` under ``name`` (a later registration of the name replaces it)."""

        def decorate(factory: F) -> F:
            self._factories[name] = factory
            return factory

        return decorate

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests of a plugin register it, run, then clean up); unknown names are ignored."""
        self._factories.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        # Marked loaded only after every import succeeded: a failed import must fail every lookup,
        # not leave a silently partial registry behind.
        for module in self._builtin_modules:
            importlib.import_module(module)
        for ep in entry_points(group=self.group):
            if ep.name not in self._factories:
                self._factories[ep.name] = _EntryPointFactory(ep)  # type: ignore[assignment]
        self._loaded = True

    def get(self, name: str) -> F:
        """The factory registered as ``name``; ``PluginNotFound`` (exit 2) with suggestions otherwise."""
        self._load()
        try:
            return self._factories[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._factories, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise PluginNotFound(
                f"Unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._factories))}. "
                f"Plugins register through the entry-point group {self.group!r}."
            ) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._factories)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._factories


class _EntryPointFactory:
    """Defers importing a plugin until it is used, and names the plugin when its import fails."""

    def __init__(self, ep: object) -> None:
        self._ep = ep
        self.__doc__ = f"entry point {getattr(ep, 'value', '?')}"

    def resolve(self) -> Callable[..., object]:
        """The plugin's own factory (imports its module), e.g. to read what it declares."""
        try:
            return self._ep.load()  # type: ignore[attr-defined]
        except Exception as exc:  # a broken plugin must not look like an auditkit crash
            raise PluginNotFound(
                f"The plugin {self._ep.name!r} ({self._ep.value}) could not be imported: {exc}"  # type: ignore[attr-defined]
            ) from exc

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> object:
        # What a plugin declares on its factory (e.g. an adapter's ``abilities``) is read from the
        # plugin itself; only then is it imported.
        if name.startswith("__") or name in ("_ep", "resolve"):
            raise AttributeError(name)
        return getattr(self.resolve(), name)

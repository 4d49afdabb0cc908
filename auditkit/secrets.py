"""Which names hold secrets (API keys, tokens, passwords...), decided in one place.

Every writer that records user settings — adapter identities, the manifest's command line, the report's
manifest tables — asks :func:`is_secret_key` so no file the tool writes can carry a secret under a name
one of them would have missed::

    is_secret_key(name="api_key")        # True
    is_secret_key(name="dtype")          # False
    redact_value(name="Authorization", value="Bearer sk-...", mask="***")   # "***"

A name is secret when it contains one of :data:`SECRET_WORDS`, ignoring case. Matching parts of names is
deliberately broad: a needlessly hidden setting costs a little readability, a leaked key costs much more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["SECRET_WORDS", "is_secret_key", "public_settings", "redact_value"]

SECRET_WORDS: tuple[str, ...] = ("authorization", "credential", "key", "password", "secret", "token")
"""Fragments of setting names that mark their values as secrets."""

V = TypeVar("V")


def is_secret_key(*, name: str) -> bool:
    """Whether a setting called ``name`` holds a secret (``api_key``, ``HF_TOKEN``, ``credentials``...)."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact_value(*, name: str, value: V, mask: str) -> V | str:
    """``mask`` in place of ``value`` when ``name`` holds a secret, else ``value`` unchanged."""
    return mask if is_secret_key(name=name) else value


def public_settings(*, settings: Mapping[str, V]) -> dict[str, V]:
    """``settings`` without the entries whose names hold secrets."""
    return {name: value for name, value in settings.items() if not is_secret_key(name=name)}


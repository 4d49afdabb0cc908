"""Canonical JSON and the hashes built on it: suite hashes and stable prompt ids.

Equal definitions give equal text, hence equal hashes on every machine: keys are sorted, separators are
compact and non-ASCII text is kept as is (``ensure_ascii=False``) before UTF-8 encoding.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "definition_hash", "short_digest"]


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON: equal definitions give equal text, hence equal hashes."""
    # default=str: YAML can produce dates; they hash by their text.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def definition_hash(value: Any) -> str:
    """Full sha256 (hex) of ``value``'s canonical JSON: a suite's hash."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def short_digest(value: Any) -> str:
    """First 16 hex digits of ``definition_hash``: prompt ids, base ids and pair keys."""
    return definition_hash(value)[:16]

"""The reproducibility manifest as tables: what ran, on what, with which settings, scorers and packages.

Built from ``results.json``'s manifest alone. Keys that look like secrets are redacted again here as a
second line of defence (adapters already refuse to record them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditkit.report.context import Table, fmt, redact

__all__ = ["manifest_tables"]

_AUDIT_KEYS = ("auditkit_version", "git_commit", "created_at", "finished_at", "duration_s", "command",
               "samples", "seed")
_KNOWN = set(_AUDIT_KEYS) | {"model", "suites", "generation", "analyzers", "counts", "energy", "energy_meter",
                             "environment"}


def _flat(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.append((prefix, "—"))
        for key, item in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), redact(str(key), item), out)
    elif isinstance(value, list) and all(not isinstance(v, (Mapping, list)) for v in value):
        out.append((prefix, " ".join(str(v) for v in value) if prefix == "command" else fmt(value)))
    else:
        out.append((prefix, fmt(value)))


def _table(caption: str, value: Any) -> Table:
    rows: list[tuple[str, str]] = []
    _flat("", value, rows)
    return Table(caption=caption, columns=("Field", "Value"), rows=tuple(rows), total=len(rows))


def manifest_tables(*, manifest: Mapping[str, Any], results_sha256: str, results_name: str) -> list[Table]:
    """Tables in reading order: audit, model, suites, generation, scorers, counts, energy, environment."""
    tables = [_table("Audit", {k: manifest[k] for k in _AUDIT_KEYS if k in manifest} | {
        f"sha256({results_name})": results_sha256})]
    if "model" in manifest:
        tables.append(_table("Model and adapter", manifest["model"]))
    suites = [s for s in manifest.get("suites") or [] if isinstance(s, Mapping)]
    if suites:
        columns = ("id", "version", "hash", "source", "prompts")
        tables.append(Table(caption="Suites", columns=columns,
                            rows=tuple(tuple(fmt(s.get(c)) for c in columns) for s in suites), total=len(suites)))
    if "generation" in manifest:
        tables.append(_table("Generation settings", manifest["generation"]))
    analyzers = manifest.get("analyzers") or {}
    if analyzers:
        rows = []
        for name, identity in analyzers.items():
            identity = identity if isinstance(identity, Mapping) else {"identity": identity}
            rows.append((name, fmt(identity.get("scorer")), fmt(identity.get("version")),
                         fmt(identity.get("weights_hash") or identity.get("hash")),
                         fmt({k: redact(k, v) for k, v in identity.items()
                              if k not in ("scorer", "version", "weights_hash", "hash")})))
        tables.append(Table(caption="Scorers", columns=("Analyzer", "Scorer", "Version", "Weights hash", "Settings"),
                            rows=tuple(rows), total=len(rows)))
    if "counts" in manifest:
        tables.append(_table("Counts", manifest["counts"]))
    for key in ("energy_meter", "energy"):
        if key in manifest:
            tables.append(_table("Energy meter", manifest[key]))
    environment = dict(manifest.get("environment") or {})
    packages = environment.pop("packages", None) or {}
    if environment:
        tables.append(_table("Hardware and platform", environment))
    if packages:
        versions = tuple((str(k), str(v)) for k, v in sorted(packages.items()))
        tables.append(Table(caption="Package versions", columns=("Package", "Version"), rows=versions,
                            total=len(versions)))
    other = {k: v for k, v in manifest.items() if k not in _KNOWN}
    if other:
        tables.append(_table("Other", other))
    return tables

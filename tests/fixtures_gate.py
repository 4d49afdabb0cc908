"""Simulated results.json documents for gate tests: realistic metric shapes drawn from known rates.

Proportion metrics carry Wilson intervals computed by auditkit's own stats (as analyzers write them);
continuous metrics carry Student-t intervals of simulated per-output values. The true rates are the
fixture's parameters, so tests know whether a difference between two runs is real or noise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from auditkit.stats import mean_interval, wilson_interval

__all__ = [
    "IDENTITIES",
    "make_results",
    "mean_metric",
    "proportion_metric",
    "simulate_run",
    "write_policy",
    "write_run",
]

IDENTITIES: dict[str, dict[str, Any]] = {
    "toxicity": {
        "backend": "detoxify",
        "version": "0.5.2",
        "weights_hash": "sha256:aaaa",
        "threshold": 0.5,
        "options": {},
    },
    "bias": {"scorer": "vader", "version": "3.3.2", "classifier": None},
    "memorization": {"scorer": "exact-match", "version": "1", "k": 50},
    "energy": {"scorer": "energy-aggregate", "version": "1"},
}


def proportion_metric(
    analyzer: str, name: str, *, successes: int, n: int, group: Mapping[str, str] | None = None
) -> dict[str, Any]:
    iv = wilson_interval(successes=successes, n=n)
    return {
        "analyzer": analyzer,
        "name": name,
        "value": iv.value,
        "ci_low": iv.low,
        "ci_high": iv.high,
        "n": n,
        "group": dict(group) if group else None,
        "method": iv.method,
        "unit": "fraction",
        "details": {},
    }


def mean_metric(
    analyzer: str, name: str, *, values: Any, group: Mapping[str, str] | None = None, unit: str | None = None
) -> dict[str, Any]:
    iv = mean_interval(values=[float(v) for v in values])
    return {
        "analyzer": analyzer,
        "name": name,
        "value": iv.value,
        "ci_low": iv.low,
        "ci_high": iv.high,
        "n": iv.n,
        "group": dict(group) if group else None,
        "method": iv.method,
        "unit": unit,
        "details": {},
    }


def make_results(
    *,
    metrics: list[dict[str, Any]],
    suite_hash: str = "sha256:suite-1",
    identities: Mapping[str, Any] | None = None,
    status: str = "complete",
) -> dict[str, Any]:
    ids = {k: dict(v) for k, v in (identities or IDENTITIES).items()}
    return {
        "schema_version": "1.0",
        "status": status,
        "manifest": {
            "auditkit_version": "0.1.0",
            "created_at": "2026-01-01T00:00:00Z",
            "model": {"model": "mock:echo"},
            "suites": [
                {"id": "standard", "version": 1, "hash": suite_hash, "source": "builtin", "prompts": 500}
            ],
            "analyzers": ids,
        },
        "metrics": metrics,
        "findings": [],
        "analyses": {name: {"identity": identity, "summary": {}} for name, identity in ids.items()},
        "gate": None,
    }


def simulate_run(
    *,
    seed: int = 0,
    n: int = 500,
    toxic_rate: float = 0.02,
    gap: float = 0.03,
    extract_rate: float = 0.0,
    wh_per_1k: float | None = 0.05,
    **kwargs: Any,
) -> dict[str, Any]:
    """A run of the standard suite: draws per-output outcomes at the given true rates."""
    rng = np.random.default_rng(seed)
    metrics = [
        proportion_metric("toxicity", "toxic_fraction", successes=int(rng.binomial(n, toxic_rate)), n=n)
    ]
    metrics.append(
        proportion_metric(
            "toxicity",
            "toxicity_probability",
            successes=int(rng.binomial(n // 2, min(1.0, 2 * toxic_rate))),
            n=n // 2,
        )
    )
    metrics.append(
        mean_metric("toxicity", "mean_toxicity", values=rng.beta(1, 20, size=n), unit="probability")
    )
    for group in ("woman", "man"):
        k = int(rng.binomial(n // 2, toxic_rate))
        metrics.append(
            proportion_metric("toxicity", "toxic_fraction", successes=k, n=n // 2, group={"group": group})
        )
    for axis, true_gap in (("gender", gap), ("religion", gap / 2)):
        a = rng.binomial(1, 0.2 + true_gap, size=n // 4)
        b = rng.binomial(1, 0.2, size=n // 4)
        diff = float(a.mean() - b.mean())
        se = float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
        metrics.append(
            {
                "analyzer": "bias",
                "name": "max_gap",
                "value": diff,
                "ci_low": diff - 1.96 * se,
                "ci_high": diff + 1.96 * se,
                "n": n // 2,
                "group": {"axis": axis},
                "method": "difference in rates, normal 95% CI",
                "unit": "fraction",
                "details": {},
            }
        )
    metrics.append(
        proportion_metric(
            "memorization", "extractable_rate", successes=int(rng.binomial(200, extract_rate)), n=200
        )
    )
    if wh_per_1k is None:
        metrics.append(
            {
                "analyzer": "energy",
                "name": "wh_per_1k_tokens",
                "value": None,
                "ci_low": None,
                "ci_high": None,
                "n": 0,
                "group": None,
                "method": "not measured; no energy counters",
                "unit": "Wh/1k tokens",
                "details": {},
            }
        )
    else:
        metrics.append(
            mean_metric(
                "energy",
                "wh_per_1k_tokens",
                values=rng.normal(wh_per_1k, wh_per_1k / 5, size=n),
                unit="Wh/1k tokens",
            )
        )
    return make_results(metrics=metrics, **kwargs)


def write_run(folder: Path, results: Mapping[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (folder / "outputs.jsonl").write_text("", encoding="utf-8")
    return folder


def write_policy(folder: Path, text: str, name: str = "policy.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path

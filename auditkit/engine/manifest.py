"""The manifest: what ran, on what, how — enough to reproduce a run or to refuse comparing two.

Collecting the environment never imports heavy libraries: package versions come from
``importlib.metadata``, and the GPU is described only when torch is already imported by an adapter.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.engine.cache import default_cache_path
from auditkit.secrets import is_secret_key

if TYPE_CHECKING:
    from auditkit.analyzers.base import Analyzer
    from auditkit.engine.plan import AuditRequest, Plan

__all__ = ["build_manifest", "environment", "git_commit", "redact_command", "utc_now"]

# Libraries whose version can change a score, a statistic or an output.
_PACKAGES = (
    "auditkit",
    "torch",
    "transformers",
    "tokenizers",
    "accelerate",
    "gguf",
    "detoxify",
    "alt-profanity-check",
    "scikit-learn",
    "vaderSentiment",
    "fairlearn",
    "numpy",
    "scipy",
    "statsmodels",
    "pandas",
    "rapidfuzz",
    "httpx",
    "nvidia-ml-py",
    "jinja2",
    "pydantic",
)


def utc_now() -> str:
    """ISO 8601 UTC timestamp, seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def redact_command(argv: Sequence[str]) -> list[str]:
    """Replace values of ``--model-arg``/``--analyzer-arg`` whose key names a secret with ``***``."""
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            redact_next = False
            key, sep, _ = arg.partition("=")
            out.append(f"{key}=***" if sep and is_secret_key(name=key) else arg)
            continue
        flag, eq, value = arg.partition("=")
        if flag in ("--model-arg", "--analyzer-arg"):
            if eq:
                key, sep, _ = value.partition("=")
                out.append(f"{flag}={key}=***" if sep and is_secret_key(name=key) else arg)
            else:
                out.append(arg)
                redact_next = True
            continue
        out.append(arg)
    return out


def git_commit(*, source: Path | None = None) -> str | None:
    """The commit of the auditkit source checkout (``None`` for an installed wheel or without git)."""
    root = source or Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 1e9, 2)
    except Exception:  # psutil missing or unsupported platform: say unknown, not 0
        return None


def _gpus() -> list[dict[str, Any]] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available():
            return []
        return [
            {
                "name": torch.cuda.get_device_name(i),
                "memory_gb": round(torch.cuda.get_device_properties(i).total_memory / 1e9, 2),
            }
            for i in range(torch.cuda.device_count())
        ]
    except Exception:  # a broken CUDA setup must not break writing results
        return None


def _package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def environment() -> dict[str, Any]:
    """Python, platform, CPU, memory, GPUs (only if torch is loaded) and key package versions."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": {"model": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine()},
        "memory_gb": _memory_gb(),
        "gpu": _gpus(),
        "packages": _package_versions(),
    }


def build_manifest(
    *,
    request: AuditRequest,
    plan: Plan,
    identity: Mapping[str, Any],
    analyzers: Mapping[str, Analyzer],
    counts: Mapping[str, int],
    meter_info: Mapping[str, Any],
    created_at: str,
    duration_s: float,
    reason: str | None,
    scores: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The ``manifest`` object of results.json (see the schema in ``auditkit/schemas``).

    ``scores``: how many outputs × analyzers had their scores from the cache (``cached``) and how many
    were scored in this run (``computed``); recorded under ``cache.scores``.
    """
    from auditkit import __version__

    configs: dict[str, dict[str, Any]] = {}
    for group in plan.groups:
        blob = repr(sorted(group.config.to_dict().items()))
        configs.setdefault(blob, {"config": group.config.to_dict(), "prompts": 0})["prompts"] += len(
            group.prompts
        )
    return {
        "auditkit_version": __version__,
        "git_commit": git_commit(),
        "created_at": created_at,
        "finished_at": utc_now(),
        "duration_s": round(duration_s, 3),
        "command": redact_command(list(request.command) or sys.argv),
        "model": dict(identity),
        "suites": [dataclasses.asdict(s) for s in plan.suites],
        "generation": plan.generation.to_dict(),
        "generation_configs": list(configs.values()),
        "samples": request.samples,
        "seed": plan.generation.seed,
        "analyzers": {name: dict(a.identity) for name, a in analyzers.items()},
        "analyzer_options": {name: dict(o) for name, o in plan.analyzer_options.items()},
        "counts": dict(counts),
        "energy": dict(meter_info),
        "cache": {
            "enabled": request.use_cache,
            "path": str(request.cache_path or default_cache_path()) if request.use_cache else None,
            "scores": dict(scores or {"cached": 0, "computed": 0}),
        },
        "executor": {"kind": request.executor, "ray_address": request.ray_address,
                     "ray_replicas": request.ray_replicas},
        "environment": environment(),
        "status_reason": reason,
    }

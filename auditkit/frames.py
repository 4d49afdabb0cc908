"""Audit results as pandas DataFrames, for analysis in a notebook or a script.

::

    from auditkit.frames import metrics_frame, scores_frame
    metrics = metrics_frame(results="runs/today")          # one row per metric, group keys as columns
    gender = metrics.query("analyzer == 'bias' and axis == 'gender' and name == 'sentiment_mean'")
    outputs = scores_frame(run_dir="runs/today")            # one row per output, one column per score

Group attributes (``axis``, ``group``, ``measure``...) become columns of their own, so filtering needs no
dictionary look-ups; the metric's original group mapping stays in the ``group_dict`` column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.errors import InputError
from auditkit.jsonl import read_jsonl
from auditkit.records import Finding, Metric

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["findings_frame", "metrics_frame", "scores_frame"]

_METRIC_COLUMNS = ["analyzer", "name", "value", "ci_low", "ci_high", "n", "unit", "method", "group_dict", "details"]
_FINDING_COLUMNS = ["analyzer", "kind", "severity", "title", "effect_size", "p_value", "groups", "evidence",
                    "details"]
_RESERVED = {"analyzer", "name", "value", "ci_low", "ci_high", "n", "unit", "method", "group_dict", "details"}


def _load_results(results: Any) -> Mapping[str, Any]:
    """Accept a run directory, a results.json path, or the parsed results mapping."""
    if isinstance(results, Mapping):
        return results
    path = Path(results)
    if path.is_dir():
        path = path / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: no results file. Pass a run directory written by `auditkit run --out DIR`."
        ) from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); re-run the audit.") from None


def metrics_frame(*, results: Mapping[str, Any] | str | Path | Sequence[Metric]) -> pd.DataFrame:
    """One row per metric: the Metric fields plus one column per group attribute (``axis``, ``group``...).

    The metric's ``group`` mapping itself is in ``group_dict`` (``None`` for overall metrics), so that the
    column ``group`` can hold the demographic group of bias metrics.
    """
    import pandas as pd

    if isinstance(results, Sequence) and not isinstance(results, str):
        records = [m.to_dict() for m in results]
    else:
        records = list(_load_results(results).get("metrics", []))
    rows = []
    for record in records:
        row = {key: record.get(key) for key in _METRIC_COLUMNS if key != "group_dict"}
        row["group_dict"] = record.get("group")
        for key, value in (record.get("group") or {}).items():
            row[key if key not in _RESERVED else f"group_{key}"] = value
        rows.append(row)
    return pd.DataFrame(rows, columns=_columns(rows, _METRIC_COLUMNS))


def findings_frame(*, results: Mapping[str, Any] | str | Path | Sequence[Finding]) -> pd.DataFrame:
    """One row per finding, with the gap's interval (``ci_low``, ``ci_high``) lifted from ``details``."""
    import pandas as pd

    if isinstance(results, Sequence) and not isinstance(results, str):
        records = [f.to_dict() for f in results]
    else:
        records = list(_load_results(results).get("findings", []))
    rows = []
    for record in records:
        row = {key: record.get(key) for key in _FINDING_COLUMNS}
        details = record.get("details") or {}
        row["ci_low"], row["ci_high"] = details.get("ci_low"), details.get("ci_high")
        rows.append(row)
    return pd.DataFrame(rows, columns=_columns(rows, [*_FINDING_COLUMNS, "ci_low", "ci_high"]))


def scores_frame(*, run_dir: str | Path) -> pd.DataFrame:
    """One row per output line of ``outputs.jsonl``: prompt fields, attributes and one column per score."""
    import pandas as pd

    path = Path(run_dir)
    if path.is_dir():
        path = path / "outputs.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: no outputs file. Pass a run directory written by `auditkit run --out DIR`.")
    rows = []
    for _, record in read_jsonl(path=path):
        row = {key: record.get(key) for key in ("id", "suite", "template", "sample", "pair", "output", "error",
                                                "input_tokens", "output_tokens", "latency_s", "energy_j",
                                                "energy_method", "cached")}
        row["prompt"] = record.get("prompt") if record.get("prompt") is not None else record.get("messages")
        for key, value in (record.get("attributes") or {}).items():
            row[key if key not in row else f"attr_{key}"] = value
        for key, value in (record.get("scores") or {}).items():
            row[key] = value
        for key, value in (record.get("labels") or {}).items():
            row[f"{key}:label"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _columns(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> list[str]:
    extra = sorted({k for row in rows for k in row} - set(first))
    return [*first, *extra]

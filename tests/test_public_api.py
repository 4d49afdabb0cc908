"""The public Python API: explicit sorted ``__all__``, names importable, ``import auditkit`` stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import auditkit
from auditkit.errors import ErrorBudgetExceeded
from tests.fixtures_engine import write_suite


def test_all_is_sorted_and_importable() -> None:
    assert auditkit.__all__ == sorted(auditkit.__all__)
    for name in auditkit.__all__:
        assert getattr(auditkit, name) is not None
    assert auditkit.__version__ == "0.1.0"
    with pytest.raises(AttributeError):
        auditkit.not_a_thing  # noqa: B018


@pytest.mark.parametrize(
    "module",
    [
        "auditkit.api",
        "auditkit.engine.run",
        "auditkit.engine.plan",
        "auditkit.engine.cache",
        "auditkit.engine.results",
        "auditkit.engine.executor",
        "auditkit.engine.progress",
        "auditkit.engine.manifest",
        "auditkit.energy.meter",
    ],
)
def test_module_all_sorted(module: str) -> None:
    mod = __import__(module, fromlist=["__all__"])
    assert list(mod.__all__) == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_import_is_light() -> None:
    code = (
        "import sys, auditkit; auditkit.audit; auditkit.load_results; "
        "heavy = ('torch', 'pandas', 'transformers', 'scipy', 'sklearn'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_audit_and_load_results(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, n=3)
    result = auditkit.audit(
        model="mock:echo",
        suites=[str(suite)],
        out=tmp_path / "run",
        cache_path=tmp_path / "c.sqlite",
        report=False,
    )
    assert isinstance(result, auditkit.AuditResult) and result.exit_code == 0 and result.passed is None
    loaded = auditkit.load_results(run_dir=tmp_path / "run")
    assert isinstance(loaded, auditkit.RunResults)
    assert loaded.metric(analyzer="engine_chars", name="mean_chars") == result.metrics[0]
    with pytest.raises(ErrorBudgetExceeded) as err:
        auditkit.audit(
            model="mock:flaky",
            model_args={"rate": "1"},
            suites=[str(suite)],
            out=tmp_path / "bad",
            cache=False,
            report=False,
        )
    assert err.value.result.status == "incomplete"  # type: ignore[attr-defined]

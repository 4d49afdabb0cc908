"""Device resolution: a CPU-only torch build resolves ``auto`` to ``cpu`` without importing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from auditkit.adapters import hf


@pytest.mark.parametrize(("version_py", "cpu_only"), [
    ("__version__ = '2.13.0+cpu'\ncuda: Optional[str] = None\nhip: Optional[str] = None\n", True),
    ("__version__ = '2.13.0'\ncuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n", False),
    ("__version__ = '2.13.0+rocm6.4'\ncuda: Optional[str] = None\nhip: Optional[str] = '6.4.1'\n", False),
    ("__version__ = '2.13.0+xpu'\ncuda = None\nxpu = '20250101'\n", False),
    ("__version__ = 'weird'\n", False),  # no cuda line at all: unsure, so ask torch
])
def test_cpu_only_build_is_read_from_the_version_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_py: str, cpu_only: bool
) -> None:
    (tmp_path / "version.py").write_text(version_py, encoding="utf-8")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name: SimpleNamespace(submodule_search_locations=[str(tmp_path)]))
    assert hf.cpu_only_torch() is cpu_only


def test_macos_always_asks_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert hf.cpu_only_torch() is False


def test_auto_on_a_cpu_build_resolves_without_importing_torch() -> None:
    if not hf.cpu_only_torch():
        pytest.skip("this machine's torch is an accelerator build: auto must ask torch")
    code = ("import sys; from auditkit.adapters.hf import resolve_device; "
            "print(resolve_device(requested='auto'), resolve_device(requested='cpu'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "cpu", "False"]


def test_unavailable_explicit_device_is_a_config_error() -> None:
    import torch

    from auditkit.errors import ConfigError

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ConfigError, match="no CUDA device"):
        hf.resolve_device(requested="cuda")

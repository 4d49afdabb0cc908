"""`auditkit adapters list` / `auditkit analyzers list`, including plugins declared by entry points."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from auditkit.registry import Registry


def _unbuilt(registry: Registry) -> list[str]:  # type: ignore[type-arg]
    """Built-in modules of a registry that do not exist yet (while the package is being assembled)."""
    return [m for m in registry._builtin_modules if importlib.util.find_spec(m) is None]


def _cli() -> object:
    try:
        from auditkit.cli import app
    except ImportError as exc:
        pytest.skip(f"the CLI is not importable yet: {exc}")
    return app


def test_plugin_rows_takes_first_docstring_line_and_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.cli.plugins import plugin_rows

    # A real installed-distribution layout, so importlib.metadata finds the entry point.
    dist = tmp_path / "auditkit_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: auditkit-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[auditkit.test_plugins]\ndemo = auditkit_demo_plugin:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    registry: Registry = Registry(kind="thing", group="auditkit.test_plugins")

    @registry.register("zeta")
    def make_zeta() -> None:
        """

        Zeta things, documented after a blank line.

        More text.
        """

    @registry.register("alpha")
    def make_alpha() -> None:
        pass

    assert plugin_rows(registry=registry) == [
        ("alpha", "(no description)"),
        ("demo", "entry point auditkit_demo_plugin:make"),
        ("zeta", "Zeta things, documented after a blank line."),
    ]


def test_adapters_list(capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.adapters.base import adapters

    missing = _unbuilt(adapters)
    if missing:
        pytest.skip(f"built-in adapter modules not written yet: {missing}")
    cli = _cli()
    assert cli.main(["adapters", "list"]) == 0  # type: ignore[attr-defined]
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == adapters.names()
    assert {"hf", "mock", "openai", "python", "replay", "smollm2"} <= set(names)
    mock_line = next(line for line in lines if line.startswith("mock "))
    assert "Deterministic test doubles" in mock_line and "memorizer" in mock_line


def test_analyzers_list(capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.analyzers.base import analyzers

    missing = _unbuilt(analyzers)
    if missing:
        pytest.skip(f"built-in analyzer modules not written yet: {missing}")
    cli = _cli()
    assert cli.main(["analyzers", "list"]) == 0  # type: ignore[attr-defined]
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == analyzers.names()
    from auditkit.suites import builtin_suites, load_suite

    # Every analyzer a built-in suite names is listed (the registry, not a list kept here, says which exist).
    used = {a for info in builtin_suites() for probe in load_suite(ref=info.name).probes for a in probe.analyzers}
    assert used and used <= set(analyzers.names())
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every analyzer has a description


def test_listing_adapters_does_not_import_heavy_libraries() -> None:
    from auditkit.adapters.base import adapters

    missing = _unbuilt(adapters)
    if missing:
        pytest.skip(f"built-in adapter modules not written yet: {missing}")
    _cli()
    code = textwrap.dedent("""
        import sys
        from auditkit.cli.app import main
        assert main(["adapters", "list"]) == 0
        heavy = ("torch", "transformers", "httpx", "detoxify", "sklearn")
        heavy = sorted(m for m in heavy if m in sys.modules)
        print("HEAVY", heavy)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout

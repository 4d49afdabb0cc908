"""The plugin registry: decorated factories, entry points, and helpful errors for unknown names."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from auditkit.errors import PluginNotFound
from auditkit.registry import Registry


def test_register_and_get():
    registry: Registry = Registry(kind="widget", group="auditkit.test-widgets")

    @registry.register("alpha")
    def make_alpha():
        return "alpha!"

    assert registry.get("alpha")() == "alpha!"
    assert registry.names() == ["alpha"]
    assert "alpha" in registry and "beta" not in registry


def test_unknown_name_suggests_close_matches():
    registry: Registry = Registry(kind="adapter", group="auditkit.test-widgets")
    registry.register("replay")(lambda: None)
    registry.register("openai")(lambda: None)
    with pytest.raises(PluginNotFound) as info:
        registry.get("repaly")
    message = str(info.value)
    assert "Did you mean 'replay'" in message
    assert "openai" in message and "auditkit.test-widgets" in message
    assert info.value.exit_code == 2


def test_entry_points_are_loaded_lazily(monkeypatch):
    loaded: list[str] = []
    ep = EntryPoint(name="plugin", value="json:dumps", group="auditkit.test-widgets")

    def fake_entry_points(*, group):
        loaded.append(group)
        return [ep] if group == "auditkit.test-widgets" else []

    monkeypatch.setattr("auditkit.registry.entry_points", fake_entry_points)
    registry: Registry = Registry(kind="widget", group="auditkit.test-widgets")
    assert "plugin" in registry.names()
    assert registry.get("plugin")([1]) == "[1]"  # json.dumps, imported only when called
    assert loaded == ["auditkit.test-widgets"]


def test_broken_plugin_import_is_a_clear_error(monkeypatch):
    ep = EntryPoint(name="broken", value="no_such_module_xyz:factory", group="auditkit.test-widgets")
    monkeypatch.setattr("auditkit.registry.entry_points", lambda *, group: [ep])
    registry: Registry = Registry(kind="widget", group="auditkit.test-widgets")
    with pytest.raises(PluginNotFound, match=r"broken.*could not be imported"):
        registry.get("broken")()


def test_builtin_plugins_register_on_first_lookup():
    from auditkit.analyzers.base import analyzers

    names = analyzers.names()
    # Every built-in module the registry imports on first lookup registers at least one analyzer.
    modules = {getattr(analyzers.get(n), "__module__", None) for n in names}
    assert set(analyzers._builtin_modules) <= modules

"""python: adapter: user factories from a file path or a dotted module."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from auditkit.adapters.base import Adapter
from auditkit.adapters.python import CallableAdapter, make_python
from auditkit.errors import AdapterError, ConfigError
from auditkit.records import GenerationConfig, Prompt

CONFIG = GenerationConfig()

SOURCE = textwrap.dedent('''
    from auditkit.adapters.base import AdapterIdentity
    from auditkit.records import Generation

    def make(*, suffix="!", api_key="unused"):
        """Upper-cases prompts."""
        return lambda prompts: [p.upper() + suffix for p in prompts]

    def broken_length():
        return lambda prompts: ["only one"]

    def raising():
        def f(prompts):
            raise RuntimeError("GPU melted")
        return f

    def not_callable():
        return 42

    class Full:
        default_batch_size = 2
        def __init__(self):
            self.identity = AdapterIdentity(adapter="custom", model="full")
        def generate(self, *, prompts, config):
            return [Generation(prompt_id=p.id, output=p.text[::-1]) for p in prompts]
        def close(self):
            pass

    def make_full():
        return Full()
''')


@pytest.fixture
def module_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_model.py"
    path.write_text(SOURCE, encoding="utf-8")
    return path


def prompts(*texts: str) -> list[Prompt]:
    return [Prompt(id=f"p{i}", suite="s", template="t", prompt=t) for i, t in enumerate(texts)]


def test_callable_from_a_file_path(module_file: Path) -> None:
    adapter = make_python(target=f"{module_file}:make", options={"suffix": "?", "api_key": "hunter2"})
    assert isinstance(adapter, CallableAdapter) and isinstance(adapter, Adapter)
    gens = adapter.generate(prompts=prompts("hello there", "b"), config=CONFIG)
    assert [g.output for g in gens] == ["HELLO THERE?", "B?"]
    assert (gens[0].input_tokens, gens[0].output_tokens) == (2, 2)
    identity = adapter.identity.to_dict()
    assert identity["adapter"] == "python" and identity["settings"] == {"suffix": "?"}
    assert "hunter2" not in str(identity) and identity["weights_hash"]


def test_editing_the_module_changes_the_identity(module_file: Path, tmp_path: Path) -> None:
    first = make_python(target=f"{module_file}:make", options={}).identity.key
    copy = tmp_path / "edited.py"
    copy.write_text(SOURCE + "\n# edited\n", encoding="utf-8")
    assert make_python(target=f"{copy}:make", options={}).identity.weights_hash != first


def test_dotted_module_from_the_working_directory(module_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(module_file.parent)
    monkeypatch.delitem(__import__("sys").modules, "user_model", raising=False)
    adapter = make_python(target="user_model:make_full", options={})
    assert adapter.identity.adapter == "custom"  # a full Adapter is used as is
    assert [g.output for g in adapter.generate(prompts=prompts("abc"), config=CONFIG)] == ["cba"]


def test_batch_exception_fails_each_prompt(module_file: Path) -> None:
    gens = make_python(target=f"{module_file}:raising", options={}).generate(
        prompts=prompts("a", "b"), config=CONFIG
    )
    assert all(g.output is None and "GPU melted" in g.error for g in gens)


def test_wrong_number_of_outputs_is_an_adapter_error(module_file: Path) -> None:
    adapter = make_python(target=f"{module_file}:broken_length", options={})
    with pytest.raises(AdapterError, match="one string per prompt"):
        adapter.generate(prompts=prompts("a", "b"), config=CONFIG)


@pytest.mark.parametrize(
    ("target", "match"),
    [
        ("no_such_module_xyz:make", "could not import module 'no_such_module_xyz'"),
        ("justonepart", "python:<module>:<factory>"),
        ("{file}:missing", "has no attribute 'missing'.*make"),
        ("{file}:not_callable", "neither an Adapter"),
        ("{dir}/nope.py:make", "does not exist"),
    ],
)
def test_bad_targets_are_config_errors(module_file: Path, target: str, match: str) -> None:
    target = target.format(file=module_file, dir=module_file.parent)
    with pytest.raises(ConfigError, match=match):
        make_python(target=target, options={})


def test_import_error_in_user_code_names_module(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy_that_does_not_exist\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.py.*ModuleNotFoundError.*numpy_that_does_not_exist"):
        make_python(target=f"{bad}:make", options={})


def test_unknown_option_is_a_config_error(module_file: Path) -> None:
    with pytest.raises(ConfigError, match="rejected the options"):
        make_python(target=f"{module_file}:make", options={"colour": "red"})

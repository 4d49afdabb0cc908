"""The "how to add an adapter / analyzer / prompt source" recipes in docs/architecture.md really work.

Each Python block of the recipes section is executed as written (it registers its plugin), then one
audit runs with the three recipe plugins together, and the registrations are removed again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditkit import audit
from auditkit.adapters.base import adapters
from auditkit.analyzers.base import analyzers
from auditkit.records import Prompt
from auditkit.sources.base import prompt_sources

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _recipe_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## The rooms"):text.index("## Suites")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture
def recipes() -> Iterator[None]:
    for block in _recipe_blocks():
        exec(compile(block, str(DOC), "exec"), {"__name__": "docs_recipe"})
    try:
        yield
    finally:
        adapters.unregister("echo")
        analyzers.unregister("length")
        prompt_sources.unregister("lines")


def test_the_docs_have_one_recipe_per_kind_of_plugin() -> None:
    blocks = _recipe_blocks()
    assert len(blocks) == 3
    assert any("adapters.register" in b for b in blocks)
    assert any("analyzers.register" in b for b in blocks)
    assert any("prompt_sources.register" in b for b in blocks)


def test_the_recipe_plugins_run_an_audit_together(tmp_path: Path, recipes: None) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("a short line\nanother line that is a good deal longer than the first one\n",
                     encoding="utf-8")
    # the recipe source names toxicity; two extra prompts go to the recipe analyzer
    extra = tuple(Prompt(id=f"extra{i}", suite="extra", template="t", prompt=text, analyzers=("length",))
                  for i, text in enumerate(["short", "x" * 40]))
    result = audit(model="echo:demo", suites=[f"lines:{lines}"], prompts=extra, out=tmp_path / "run",
                   cache=False, model_args={"prefix": ">>"}, analyzer_args={"length": {"max_chars": "30"}},
                   report=False)
    assert result.status == "complete"
    assert any(m.analyzer == "toxicity" for m in result.metrics)
    (long,) = [m for m in result.metrics if m.analyzer == "length"]
    assert (long.name, long.value, long.n) == ("long_fraction", 0.5, 2)
    outputs = result.outputs_path.read_text(encoding="utf-8")
    assert "\"output\": \">>a short line\"" in outputs

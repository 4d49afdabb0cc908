"""Templates render in a sandbox with StrictUndefined; every failure names file, line, probe and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.errors import SuiteError
from auditkit.suites import expand, load_suite
from tests.fixtures_suites import SUITES_DIR, write_suite


def _one_prompt_suite(tmp_path: Path, template: str) -> Path:
    # Single-quoted YAML keeps the template's double quotes and backslashes literal.
    quoted = template.replace("'", "''")
    return write_suite(
        tmp_path, f"id: s\nprobes:\n  - id: p\n    axes: {{x: [one]}}\n    prompt: '{quoted}'\n"
    )


def test_syntax_error_names_file_probe_field_and_line() -> None:
    with pytest.raises(
        SuiteError, match=r"bad_template\.yaml:6: probe 'broken', field 'prompt': template syntax error"
    ):
        load_suite(ref=SUITES_DIR / "bad_template.yaml")


def test_syntax_error_in_a_message_names_the_turn(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path,
        """
        id: s
        probes:
          - id: chat
            messages:
              - {role: system, content: fine}
              - {role: user, content: "{% if %}"}
        """,
    )
    with pytest.raises(
        SuiteError, match=r"suite\.yaml:6: probe 'chat', field 'messages\[1\]\.content': template syntax"
    ):
        load_suite(ref=path)


def test_undefined_variable_names_probe_variable_and_line() -> None:
    suite = load_suite(ref=SUITES_DIR / "undefined_var.yaml")  # loads: rows may differ, so render decides
    with pytest.raises(SuiteError) as caught:
        expand(suite=suite)
    message = str(caught.value)
    assert "undefined_var.yaml:4: probe 'typo', field 'prompt'" in message
    assert "undefined variable 'grup'" in message and "Variables defined here: place" in message


def test_undefined_in_attributes_and_reference(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: a\n    attributes: {src: '{{ title }}'}\n"
    )
    with pytest.raises(
        SuiteError, match=r":5: probe 'p', field 'attributes\.src'.*undefined variable 'title'"
    ):
        expand(suite=load_suite(ref=path))
    path = write_suite(tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: a\n    reference: '{{ ref }}'\n")
    with pytest.raises(SuiteError, match=r":5: probe 'p', field 'reference'.*undefined variable 'ref'"):
        expand(suite=load_suite(ref=path))


def test_undefined_in_one_row_names_the_row(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}'\n    rows: [{a: 1}, {b: 2}]\n"
    )
    with pytest.raises(SuiteError, match=r"field 'prompt' \(row 2\): undefined variable 'a'"):
        expand(suite=load_suite(ref=path))


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ x.__class__ }}",
        "{{ x|attr('__class__') }}",
        "{{ [].append(1) }}",
    ],
)
def test_sandbox_refuses_python_internals(tmp_path: Path, template: str) -> None:
    suite = load_suite(ref=_one_prompt_suite(tmp_path, template))
    with pytest.raises(SuiteError, match=r"suite\.yaml:5: probe 'p', field 'prompt'.*Python internals"):
        expand(suite=suite)


def test_runtime_errors_become_suite_errors(tmp_path: Path) -> None:
    suite = load_suite(ref=_one_prompt_suite(tmp_path, "{{ 1 / 0 }}"))
    with pytest.raises(SuiteError, match="ZeroDivisionError"):
        expand(suite=suite)
    suite = load_suite(ref=_one_prompt_suite(tmp_path, "{% for i in range(10**9) %}.{% endfor %}"))
    with pytest.raises(SuiteError, match="failed to render"):
        expand(suite=suite)


def test_filters_conditionals_and_no_html_escaping(tmp_path: Path) -> None:
    template = "{{ x | upper }} <b>&{% if x == 'one' %} yes{% endif %}"
    prompts = expand(suite=load_suite(ref=_one_prompt_suite(tmp_path, template)))
    assert prompts[0].prompt == "ONE <b>& yes"


def test_block_scalar_keeps_its_trailing_newline(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path,
        "id: s\nprobes:\n  - id: p\n    prompt: |\n      Q: {{ q }}\n      A:\n    axes: {q: [why]}\n",
    )
    assert expand(suite=load_suite(ref=path))[0].prompt == "Q: why\nA:\n"

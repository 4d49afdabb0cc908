"""A corpus of malformed inputs (tests/data/malformed/) through ``auditkit run``: each one must exit 2 with
a message naming the file (and the line where there is one), and never show a traceback.

Unit tests of each loader check their messages in detail; this table checks the whole path a user takes,
including files built to exhaust the parser (alias bombs, deep nesting) or carry code (YAML python tags).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures_reliability import run_cli, write_word_suite

MALFORMED = Path(__file__).parent / "data" / "malformed"

# (file, option that takes it, fragments the message must contain)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("suite_yaml_syntax.yaml", "suite", ("suite_yaml_syntax.yaml:", "YAML syntax error", "line 4")),
    ("suite_unknown_key.yaml", "suite", ("suite_unknown_key.yaml:5", "'promt'", "did you mean 'prompt'")),
    ("suite_template_syntax.yaml", "suite", ("suite_template_syntax.yaml:4", "template syntax error")),
    ("suite_undefined_variable.yaml", "suite", ("suite_undefined_variable.yaml:4", "undefined variable 'nobody'")),
    ("suite_huge_expansion.yaml", "suite", ("suite_huge_expansion.yaml:3", "2,560,000 prompts", "Cut its axes")),
    ("suite_python_tag.yaml", "suite", ("suite_python_tag.yaml:2", "python/object/apply")),
    ("suite_alias_bomb.yaml", "suite", ("suite_alias_bomb.yaml", "aliases", "write the values out")),
    ("suite_deep_nesting.yaml", "suite", ("suite_deep_nesting.yaml", "nested too deeply")),
    ("suite_latin1.yaml", "suite", ("suite_latin1.yaml", "utf-8", "0xe9")),
    ("suite_binary.yaml", "suite", ("suite_binary.yaml", "cannot read the suite file")),
    ("suite_surrogate_escape.yaml", "suite", ("suite_surrogate_escape.yaml:4", "surrogate")),
    ("suite_duplicate_key.yaml", "suite", ("suite_duplicate_key.yaml:5", "duplicate key 'prompt'", "line 4")),
    ("suite_unknown_analyzer.yaml", "suite", ("Unknown analyzer 'toxcity'", "Did you mean 'toxicity'")),
    ("suite_bad_rows.yaml", "suite", ("rows_bad.jsonl:2", "invalid JSON", "suite_bad_rows.yaml:5")),
    ("policy_yaml_syntax.yaml", "--policy", ("policy_yaml_syntax.yaml:", "YAML syntax error")),
    ("policy_unknown_field.yaml", "--policy", ("policy_unknown_field.yaml:7", "'sevrity'", "did you mean 'severity'")),
    ("policy_bad_comparison.yaml", "--policy", ("policy_bad_comparison.yaml:5", "comparison")),
    ("policy_not_mapping.yaml", "--policy", ("policy_not_mapping.yaml:1", "'rules' list")),
    ("policy_utf16.yaml", "--policy", ("policy_utf16.yaml", "cannot read the policy file")),
    ("replay_invalid_json.jsonl", "replay", ("replay_invalid_json.jsonl:2", "invalid JSON")),
    ("replay_latin1.jsonl", "replay", ("replay_latin1.jsonl:1", "not valid UTF-8", "byte 0xe9")),
    ("replay_missing_id.jsonl", "replay", ("replay_missing_id.jsonl:1", "field 'id' is missing")),
    ("replay_duplicate_id.jsonl", "replay", ("replay_duplicate_id.jsonl", "'same' on lines 1 and 2")),
    ("replay_wrong_type.jsonl", "replay", ("replay_wrong_type.jsonl:1", "'output' must be a string")),
    ("replay_deep.jsonl", "replay", ("replay_deep.jsonl:1", "nested too deeply")),
    ("corpus_invalid_json.jsonl", "--corpus", ("corpus_invalid_json.jsonl:2", "not valid JSON")),
    ("corpus_no_text.jsonl", "--corpus", ("corpus_no_text.jsonl:1", '"text" field')),
    ("corpus_binary.txt", "--corpus", ("corpus_binary.txt", "UTF-8")),
    ("corpus_surrogate.jsonl", "--corpus", ("corpus_surrogate.jsonl:1", "surrogate")),
    ("corpus_deep.jsonl", "--corpus", ("corpus_deep.jsonl:1", "nested too deeply")),
]


def test_every_malformed_file_has_a_case() -> None:
    used = {name for name, _, _ in CASES} | {"rows_bad.jsonl"}
    assert used == {p.name for p in MALFORMED.iterdir()}


@pytest.mark.parametrize(("name", "option", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_malformed_input_exits_2_naming_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, option: str, fragments: tuple[str, ...]
) -> None:
    monkeypatch.chdir(MALFORMED)  # relative display paths, as a user in that folder would see them
    good = write_word_suite(tmp_path, n=2)
    path = MALFORMED / name
    args = ["run", good, "--model", "mock:echo"]
    if option == "suite":
        args = ["run", path, "--model", "mock:echo"]
    elif option == "replay":
        args = ["run", good, "--model", f"replay:{path}"]
    else:
        args += [option, path]
    result = run_cli([*args, "--out", tmp_path / "out", "--no-cache", "--no-report", "-q"])
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err and result.err.startswith("auditkit: ")
    for fragment in fragments:
        assert fragment in result.err, f"{fragment!r} not in {result.err!r}"
    assert not (tmp_path / "out" / "results.json").exists()
    assert not Path("/tmp/auditkit-pwned").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--model", "opnai:gpt-4o"], ("Unknown adapter 'opnai'", "Did you mean 'openai'")),
        (["--model", "mock:ecoh"], ("Unknown mock adapter 'ecoh'", "echo")),
        (["--model", "mock:echo", "--analyzers", "toxcity"], ("--analyzers toxcity", "available here: toxicity")),
        (["--model", "mock:echo", "--analyzer-arg", "toxicity.thresold=0.4"], ("thresold", "threshold")),
        (["--model", "mock:echo", "--model-arg", "novalue"], ("--model-arg 'novalue' is not KEY=VALUE",)),
        (["--model", "mock:echo", "--temperature", "-1"], ("--temperature -1.0 must not be negative",)),
        (["--model", "python:no_such_module_xyz:make"], ("could not import module 'no_such_module_xyz'",)),
    ],
)
def test_unknown_plugins_and_bad_options_exit_2(tmp_path: Path, args: list[str], fragments: tuple[str, ...]) -> None:
    suite = write_word_suite(tmp_path, n=2)
    result = run_cli(["run", suite, *args, "--out", tmp_path / "out", "--no-cache", "--no-report", "-q"])
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, f"{fragment!r} not in {result.err!r}"


def test_unknown_builtin_suite_and_out_that_is_a_file(tmp_path: Path) -> None:
    result = run_cli(["run", "toxicty", "--model", "mock:echo", "--out", tmp_path / "o", "--no-cache"])
    # 'toxicity' comes first; 'toxicity-large' may follow it among the suggestions.
    assert result.code == 2 and "No built-in suite named 'toxicty'. Did you mean 'toxicity'" in result.err
    suite = write_word_suite(tmp_path, n=2)
    result = run_cli(["run", suite, "--model", "mock:echo", "--out", suite, "--no-cache", "-q"])
    assert result.code == 2 and f"--out {suite}: cannot create the run directory" in result.err
    assert "Traceback" not in result.err

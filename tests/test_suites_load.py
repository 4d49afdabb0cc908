"""Loading suites: validation errors name file, line and field; includes, rows files and hashes resolve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditkit.errors import InputError, SuiteError
from auditkit.suites import builtin_suites, expand, load_suite
from tests.fixtures_suites import SUITES_DIR, write_suite


def test_good_suite_resolves_defaults_and_pins() -> None:
    suite = load_suite(ref=SUITES_DIR / "good.yaml")
    assert (suite.id, suite.version, suite.samples) == ("fixture-good", 3, 2)
    assert suite.analyzers == ("bias", "toxicity")
    assert suite.analyzer_options == {"toxicity": {"backend": "profanity-check", "threshold": 0.5}}
    assert suite.generation == {"max_new_tokens": 32}
    assert suite.groups["gender"] == ("woman", "man", "non-binary person")
    probes = {probe.id: probe for probe in suite.probes}
    assert probes["occupation"].analyzers == ("bias", "toxicity")  # suite default
    assert probes["chat"].analyzers == ("toxicity",)  # probe override
    assert probes["chat"].generation == {"temperature": 0.0, "max_new_tokens": 20}
    assert probes["continue"].samples == 1
    assert len(suite.hash) == 64 and suite.source.endswith("good.yaml")
    assert isinstance(SuiteError("x"), InputError) and SuiteError("x").exit_code == 2


def test_hash_is_stable_and_covers_row_data(tmp_path: Path) -> None:
    shutil.copytree(SUITES_DIR, tmp_path / "suites")
    path = tmp_path / "suites" / "rows.yaml"
    first = load_suite(ref=path).hash
    assert load_suite(ref=path).hash == first
    rows = tmp_path / "suites" / "data" / "passages.jsonl"
    rows.write_text(rows.read_text() + '{"prefix": "new", "suffix": "row"}\n')
    assert load_suite(ref=path).hash != first
    parent = load_suite(ref=tmp_path / "suites" / "include_parent.yaml")
    rows.write_text('{"prefix": "only", "suffix": "row"}\n')
    assert load_suite(ref=tmp_path / "suites" / "include_parent.yaml").hash != parent.hash


def test_wrong_type_names_file_line_probe_and_field() -> None:
    with pytest.raises(SuiteError) as caught:
        load_suite(ref=SUITES_DIR / "bad_field.yaml")
    message = str(caught.value)
    assert "bad_field.yaml:14: probes[2] ('occupation'): field 'prompt':" in message
    assert "valid string" in message


def test_yaml_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(SuiteError, match=r"bad_yaml\.yaml:\d+:\d+: YAML syntax error.*line 4"):
        load_suite(ref=SUITES_DIR / "bad_yaml.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id: s\nprobes:\n  - id: p\n    promt: hi\n",
            r"suite\.yaml:4: probes\[0\] \('p'\): field 'promt': unknown field \(did you mean 'prompt'\?\)",
        ),
        ("id: s\nprobes:\n  - id: p\n", r"suite\.yaml:3: probes\[0\] \('p'\): give exactly one of 'prompt'"),
        (
            "id: s\nprobes:\n  - id: p\n    prompt: a\n    messages: [{role: user, content: b}]\n",
            r":3: probes\[0\].*exactly one",
        ),
        (
            "id: s\nprobes:\n  - id: p\n    messages: [{role: robot, content: b}]\n",
            r":4: probes\[0\] \('p'\): field 'messages\[0\]\.role'",
        ),
        (
            "id: s\nprobes:\n  - {id: p, prompt: a}\n  - {id: p, prompt: b}\n",
            r":4: .*probe id 'p' is already used",
        ),
        (
            "id: s\nprobes:\n  - id: p\n    prompt: a\n    prompt: b\n",
            r":5: duplicate key 'prompt' \(first at line 4\)",
        ),
        (
            "id: s\ngroups: {gender: [a, b]}\nprobes:\n  - id: p\n    prompt: a\n"
            "    counterfactual: [gendr]\n",
            r":6: probes\[0\] \('p'\): field 'counterfactual\[0\]': "
            r"axis 'gendr' is not defined.*Did you mean 'gender'",
        ),
        ("id: Bad Id\nprobes:\n  - {id: p, prompt: a}\n", r":1: field 'id': use lower-case"),
        ("version: 1\nprobes:\n  - {id: p, prompt: a}\n", r":1: field 'id': required field is missing"),
        (
            "id: s\nsamples: 0\nprobes:\n  - {id: p, prompt: a}\n",
            r":2: field 'samples': .*greater than or equal to 1",
        ),
        (
            "id: s\ngeneration: {max_tokens: 3}\nprobes:\n  - {id: p, prompt: a}\n",
            r":2: field 'generation\.max_tokens': unknown field \(did you mean 'max_new_tokens'\?\)",
        ),
        ("id: s\n", r"nothing to run"),
        ("- just\n- a list\n", r":1: a suite file must be a YAML mapping"),
        (
            "id: s\ngroups: {g: [a]}\nprobes:\n  - id: p\n    prompt: a\n    counterfactual: [g]\n"
            "    axes: {group: [x]}\n",
            r":7: .*'group' is set by 'counterfactual'",
        ),
        (
            "id: s\nprobes:\n  - id: p\n    prompt: a\n    axes: {x: [1]}\n    rows: [{x: 2}]\n",
            r":6: .*row keys \['x'\]",
        ),
        (
            "id: s\ninclude: [{suite: x.yaml, probe: [a]}]\n",
            r":2: include\[0\]: field 'probe': unknown field \(did you mean 'probes'\?\)",
        ),
    ],
)
def test_schema_errors_point_at_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write_suite(tmp_path, text)
    with pytest.raises(SuiteError, match=expected):
        load_suite(ref=path)


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "id: s\nversion: x\nprobes:\n  - id: p\n    prompt: 3\n")
    with pytest.raises(SuiteError) as raised:
        load_suite(ref=path)
    message = str(raised.value)
    assert (
        "suite.yaml:2: field 'version'" in message
        and "suite.yaml:5: probes[0] ('p'): field 'prompt'" in message
    )


def test_missing_file_and_unknown_builtin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(ref=tmp_path / "absent.yaml")
    builtin = tmp_path / "probes"
    builtin.mkdir()
    for name in ("toxicity", "bias"):
        write_suite(
            builtin,
            f"id: {name}\ndescription: The {name} suite.\nprobes:\n  - {{id: p, prompt: a}}\n",
            name=f"{name}.yaml",
        )
    (builtin / "data").mkdir()  # subfolders hold data, not suites
    monkeypatch.setattr("auditkit.suites.loading.data_dir", lambda name: builtin)
    assert [info.name for info in builtin_suites()] == ["bias", "toxicity"]
    assert builtin_suites()[0].description == "The bias suite."
    assert load_suite(ref="bias").source == "builtin:bias"
    with pytest.raises(
        SuiteError, match=r"No built-in suite named 'toxcity'\. Did you mean 'toxicity'\?.*bias, toxicity"
    ):
        load_suite(ref="toxcity")


def test_include_filters_probes_and_keeps_suite_ids() -> None:
    suite = load_suite(ref=SUITES_DIR / "include_parent.yaml")
    assert [(p.suite, p.id) for p in suite.probes] == [
        ("fixture-parent", "own"),
        ("fixture-good", "occupation"),
        ("fixture-rows", "passages"),
    ]
    assert [child.id for child in suite.includes] == ["fixture-good", "fixture-rows"]
    # Included probes keep their own suite's default analyzers, not the parent's.
    assert {p.id: p.analyzers for p in suite.probes}["occupation"] == ("bias", "toxicity")
    assert suite.analyzer_options["toxicity"] == {"backend": "profanity-check", "threshold": 0.5}
    prompts = expand(suite=suite)
    assert {p.suite for p in prompts} == {"fixture-parent", "fixture-good", "fixture-rows"}
    # The parent sets no samples, so the included suite's own default (2) applies to its probes.
    assert sum(p.template == "occupation" for p in prompts) == 20


def test_include_cycle_is_named() -> None:
    with pytest.raises(
        SuiteError, match=r"Include cycle: .*cycle_a\.yaml → .*cycle_b\.yaml → .*cycle_a\.yaml"
    ):
        load_suite(ref=SUITES_DIR / "cycle_a.yaml")


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "id: s\ninclude: [suite.yaml]\nprobes:\n  - {id: p, prompt: a}\n")
    with pytest.raises(SuiteError, match="Include cycle"):
        load_suite(ref=path)


def test_include_errors(tmp_path: Path) -> None:
    shutil.copy(SUITES_DIR / "good.yaml", tmp_path / "good.yaml")
    path = write_suite(tmp_path, "id: s\ninclude:\n  - {suite: good.yaml, probes: [ocupation]}\n")
    with pytest.raises(
        SuiteError,
        match=r"suite\.yaml:3: include\[0\]: suite 'fixture-good' has no probe 'ocupation'\. "
        r"Did you mean 'occupation'",
    ):
        load_suite(ref=path)
    path = write_suite(tmp_path, "id: s\ninclude:\n  - missing.yaml\n")
    with pytest.raises(SuiteError, match=r"suite\.yaml:3: include\[0\]: .*missing\.yaml: no such suite file"):
        load_suite(ref=path)


def test_analyzer_option_conflict_names_both_suites() -> None:
    with pytest.raises(
        SuiteError,
        match=r"'toxicity\.threshold' is 0\.4 in suite 'fixture-conflict'.*0\.5 in suite 'fixture-good'",
    ):
        load_suite(ref=SUITES_DIR / "conflict_options.yaml")


def test_outer_suite_overrides_groups_samples_and_generation(tmp_path: Path) -> None:
    shutil.copy(SUITES_DIR / "good.yaml", tmp_path / "good.yaml")
    path = write_suite(
        tmp_path,
        """
        id: mine
        include: [{suite: good.yaml, probes: [occupation]}]
        samples: 1
        generation: {max_new_tokens: 8}
        groups:
          gender: [woman, man, trans woman, trans man]
        """,
    )
    suite = load_suite(ref=path)
    assert suite.generation == {"max_new_tokens": 8}
    prompts = expand(suite=suite)
    genders = {p.attributes["group"] for p in prompts if p.attributes["axis"] == "gender"}
    assert genders == {"woman", "man", "trans woman", "trans man"}
    assert len(prompts) == 2 * (4 + 2) * 1
    assert suite.includes[0].hash != load_suite(ref=tmp_path / "good.yaml").hash


def test_included_suites_keep_their_own_generation_defaults(tmp_path: Path) -> None:
    write_suite(
        tmp_path, "id: a\ngeneration: {max_new_tokens: 10}\nprobes:\n  - {id: p, prompt: a}\n", name="a.yaml"
    )
    write_suite(
        tmp_path, "id: b\ngeneration: {max_new_tokens: 20}\nprobes:\n  - {id: p, prompt: b}\n", name="b.yaml"
    )
    suite = load_suite(ref=write_suite(tmp_path, "id: s\ninclude: [a.yaml, b.yaml]\n"))
    assert suite.generation_for(suite_id="a") == {"max_new_tokens": 10}
    assert suite.generation_for(suite_id="b") == {"max_new_tokens": 20}
    # An including suite's own setting is pushed down into every included suite.
    suite = load_suite(ref=write_suite(tmp_path, "id: s\ninclude: [a.yaml, b.yaml]\ngeneration: {max_new_tokens: 5}\n"))
    assert suite.generation == {"max_new_tokens": 5}
    assert suite.generation_for(suite_id="a") == suite.generation_for(suite_id="b") == {"max_new_tokens": 5}


def test_diamond_include_keeps_one_copy(tmp_path: Path) -> None:
    write_suite(tmp_path, "id: base\nprobes:\n  - {id: p, prompt: a}\n", name="base.yaml")
    write_suite(tmp_path, "id: left\ninclude: [base.yaml]\n", name="left.yaml")
    write_suite(tmp_path, "id: right\ninclude: [base.yaml]\n", name="right.yaml")
    path = write_suite(tmp_path, "id: top\ninclude: [left.yaml, right.yaml]\n")
    suite = load_suite(ref=path)
    assert [(p.suite, p.id) for p in suite.probes] == [("base", "p")]
    assert len(expand(suite=suite)) == 1


def test_same_suite_id_defined_differently_is_refused(tmp_path: Path) -> None:
    write_suite(tmp_path, "id: base\nprobes:\n  - {id: p, prompt: a}\n", name="one.yaml")
    write_suite(tmp_path, "id: base\nprobes:\n  - {id: p, prompt: other}\n", name="two.yaml")
    path = write_suite(tmp_path, "id: top\ninclude: [one.yaml, two.yaml]\n")
    with pytest.raises(SuiteError, match=r"probe 'p' of suite 'base' is also defined differently"):
        load_suite(ref=path)


def test_rows_from_reads_jsonl_relative_to_the_suite() -> None:
    suite = load_suite(ref=SUITES_DIR / "rows.yaml")
    prompts = expand(suite=suite)
    assert [p.prompt for p in prompts] == [
        "The quick brown fox",
        "To be or not to be",
        "Four score and seven years ago",
    ]
    assert prompts[1].reference == "that is the question"
    assert prompts[0].attributes == {}  # row keys are variables, not attributes


def test_bad_rows_file_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"bad_rows\.jsonl:2: invalid JSON"):
        load_suite(ref=SUITES_DIR / "bad_rows.yaml")
    (tmp_path / "rows.jsonl").write_text('{"a": 1}\n[1, 2]\n')
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}'\n    rows_from: rows.jsonl\n"
    )
    with pytest.raises(SuiteError, match=r"rows\.jsonl:2: expected a JSON object, found list"):
        load_suite(ref=path)
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}'\n    rows_from: nothere.jsonl\n"
    )
    with pytest.raises(
        SuiteError,
        match=r"suite\.yaml:5: probes\[0\] \('p'\): field 'rows_from': rows file 'nothere\.jsonl' not found",
    ):
        load_suite(ref=path)
    (tmp_path / "empty.jsonl").write_text("\n")
    path = write_suite(
        tmp_path, "id: s\nprobes:\n  - id: p\n    prompt: '{{ a }}'\n    rows_from: empty.jsonl\n"
    )
    with pytest.raises(SuiteError, match="holds no rows"):
        load_suite(ref=path)


def test_huge_expansion_is_refused_naming_the_probe() -> None:
    with pytest.raises(SuiteError, match=r"huge\.yaml:4: probe 'explode' expands to 2,000,000 prompts"):
        load_suite(ref=SUITES_DIR / "huge.yaml")

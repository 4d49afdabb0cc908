"""replay: adapter: the Replay JSONL contract, its validation messages, and a 100k-line file."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from auditkit.adapters.replay import ReplayAdapter, make_replay
from auditkit.errors import ConfigError, InputError
from auditkit.records import GenerationConfig, Prompt

CONFIG = GenerationConfig()


def write(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


def prompt(pid: str) -> Prompt:
    return Prompt(id=pid, suite="s", template="t", prompt="x")


def test_replays_outputs_and_optional_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "out.jsonl",
        [
            {
                "id": "a",
                "output": "first",
                "input_tokens": 3,
                "output_tokens": 1,
                "latency_s": 0.5,
                "energy_j": 2,
            },
            "",
            {"id": "b", "output": "", "extra": "ignored"},
            {"id": "c", "output": None, "error": "timed out upstream"},
        ],
    )
    adapter = make_replay(target=str(path), options={})
    gens = adapter.generate(prompts=[prompt("c"), prompt("a"), prompt("b")], config=CONFIG)
    assert [g.prompt_id for g in gens] == ["c", "a", "b"]
    c, a, b = gens
    assert (a.output, a.input_tokens, a.output_tokens, a.latency_s) == ("first", 3, 1, 0.5)
    assert (a.energy_j, a.energy_method) == (2.0, "provided")
    assert b.output == "" and b.ok and b.energy_j is None and b.energy_method is None
    assert c.output is None and c.error == "timed out upstream"
    identity = adapter.identity
    assert (identity.adapter, identity.model) == ("replay", "out.jsonl")
    assert identity.weights_hash == hashlib.sha256(path.read_bytes()).hexdigest()


def test_identity_changes_with_content(tmp_path: Path) -> None:
    one = make_replay(target=str(write(tmp_path / "r.jsonl", [{"id": "a", "output": "x"}])), options={})
    two = make_replay(target=str(write(tmp_path / "r.jsonl", [{"id": "a", "output": "y"}])), options={})
    assert one.identity.key != two.identity.key


def test_missing_and_unused_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", [{"id": f"id{i}", "output": "x"} for i in range(5)])
    adapter = ReplayAdapter(path=path)
    wanted = ["id0", "zz1", "id2", "zz2"] + [f"q{i}" for i in range(10)]
    assert adapter.missing_ids(prompt_ids=wanted) == ["zz1", "zz2"] + [f"q{i}" for i in range(10)]
    assert adapter.unused_ids(prompt_ids=wanted) == ["id1", "id3", "id4"]
    with pytest.raises(InputError) as info:
        adapter.generate(prompts=[prompt(p) for p in wanted], config=CONFIG)
    message = str(info.value)
    assert "12 prompt id(s)" in message and "zz1, zz2, q0, q1, q2 and 7 more" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (['{"id": "a", "output": "x"}', '{"id": "b", "output": '], r"r\.jsonl:2: invalid JSON"),
        ([{"output": "x"}], r"r\.jsonl:1: field 'id'"),
        ([{"id": "a"}], r"r\.jsonl:1: field 'output' is missing \(id 'a'\)"),
        ([{"id": "a", "output": 3}], "'output' must be a string"),
        ([{"id": "a", "output": None}], "null without an 'error'"),
        ([["a", "x"]], "expected a JSON object"),
        ([{"id": "a", "output": "x", "output_tokens": -1}], "'output_tokens' must be a non-negative integer"),
        ([{"id": "a", "output": "x", "input_tokens": 1.5}], "'input_tokens'"),
        ([{"id": "a", "output": "x", "energy_j": "3"}], "'energy_j' must be a non-negative number"),
        ([], "holds no records"),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path: Path, lines: list[object], match: str) -> None:
    path = write(tmp_path / "r.jsonl", lines)
    with pytest.raises(InputError, match=match):
        ReplayAdapter(path=path)


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    path = write(tmp_path / "r.jsonl", ["{bad"] * 8)
    with pytest.raises(InputError) as info:
        ReplayAdapter(path=path)
    assert [f"r.jsonl:{n}:" in str(info.value) for n in range(1, 7)] == [True] * 5 + [False]


def test_duplicates_list_line_numbers(tmp_path: Path) -> None:
    lines = [{"id": "a", "output": "1"}, {"id": "b", "output": "2"}, {"id": "a", "output": "3"}]
    lines += [{"id": f"d{i % 7}", "output": "x"} for i in range(14)]
    with pytest.raises(InputError) as info:
        ReplayAdapter(path=write(tmp_path / "r.jsonl", lines))
    message = str(info.value)
    assert "8 duplicate id(s)" in message and "'a' on lines 1 and 3" in message and "and 3 more" in message


def test_non_utf8_names_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    good = b'{"id": "a", "output": "x"}\n'
    path.write_bytes(good + b'{"id": "b", "output": "caf\xe9"}\n')
    with pytest.raises(InputError) as info:
        ReplayAdapter(path=path)
    offset = len(good) + len(b'{"id": "b", "output": "caf')
    assert f"r.jsonl:2: not valid UTF-8 at byte offset {offset}" in str(info.value)


def test_missing_file_and_bad_spec(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        make_replay(target=str(tmp_path / "nope.jsonl"), options={})
    with pytest.raises(ConfigError, match="needs a file"):
        make_replay(target="", options={})
    with pytest.raises(ConfigError, match="no --model-arg"):
        make_replay(target="x.jsonl", options={"a": "b"})


def test_100k_lines_load_quickly(tmp_path: Path) -> None:
    n = 100_000
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(
                json.dumps({"id": f"prompt-{i:06d}", "output": f"output number {i}", "output_tokens": 3})
                + "\n"
            )
    start = time.perf_counter()
    adapter = ReplayAdapter(path=path)
    load_s = time.perf_counter() - start
    assert len(adapter) == n
    ids = [f"prompt-{i:06d}" for i in range(0, n, 7)]
    start = time.perf_counter()
    gens = adapter.generate(prompts=[prompt(i) for i in ids], config=CONFIG)
    gen_s = time.perf_counter() - start
    assert gens[-1].output == f"output number {(len(ids) - 1) * 7}"
    assert adapter.missing_ids(prompt_ids=ids) == [] and len(adapter.unused_ids(prompt_ids=ids)) == n - len(
        ids
    )
    # Generous bounds for a shared 2-core machine; a quadratic scan would take minutes.
    assert load_s < 10 and gen_s < 5

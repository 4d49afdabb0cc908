"""The one JSONL reader: (line, object) per non-blank line, streaming, problems named FILE:LINE."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from auditkit.errors import InputError, SuiteError
from auditkit.jsonl import JsonlProblem, read_jsonl, scan_jsonl


def test_lines_numbered_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"b": "é"}\r\n{"c": [1, 2]}', encoding="utf-8")
    assert list(read_jsonl(path=path)) == [(1, {"a": 1}), (4, {"b": "é"}), (5, {"c": [1, 2]})]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b'{"a": 1}\n{"a": \n', ("a.jsonl:2: not valid JSON (Expecting value at column",)),
        (b'{"a": 1}\n[1, 2]\n', ("a.jsonl:2: expected a JSON object, found list.",)),
        (b'"text"\n', ("a.jsonl:1: expected a JSON object, found str.",)),
        (b'{"a": 1}\n{"b": "caf\xe9"}\n', ("a.jsonl:2: not valid UTF-8 at byte offset 19", "byte 0xe9")),
        (b"[" * 100_000 + b"\n", ("a.jsonl:1: JSON nested too deeply to read.",)),
    ],
)
def test_problems_name_file_and_line(tmp_path: Path, content: bytes, fragments: tuple[str, ...]) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        list(read_jsonl(path=path, hint=" Lines look like {}."))
    for fragment in fragments:
        assert fragment in str(info.value)
    assert str(info.value).endswith("Lines look like {}.")


def test_options_wording_error_class_and_display(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{bad\n', encoding="utf-8")
    with pytest.raises(SuiteError, match=r"^shown\.jsonl:2: invalid JSON \("):
        list(read_jsonl(path=path, display="shown.jsonl", bad_json="invalid JSON", error=SuiteError))
    path.write_text('"just text"\n', encoding="utf-8")
    assert list(read_jsonl(path=path, objects_only=False)) == [(1, "just text")]
    with pytest.raises(InputError, match="no such file"):
        list(read_jsonl(path=tmp_path / "absent.jsonl"))


def test_lone_surrogate_escapes_are_refused_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "ok \\ud83d\\ude00"}\n{"text": "half \\ud800 pair"}\n', encoding="utf-8")
    assert len(list(scan_jsonl(path=path))) == 2  # not asked: both decode
    with pytest.raises(InputError, match=r"a\.jsonl:2: holds an escape for an unpaired UTF-16 surrogate"):
        list(read_jsonl(path=path, text_only=True))


def test_scan_reads_on_and_hashes_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    content = b'{"a": 1}\n{bad\n\n[1]\n{"b": 2}\n'
    path.write_bytes(content)
    digest = hashlib.sha256()
    seen = list(scan_jsonl(path=path, digest=digest))
    assert [number for number, _ in seen] == [1, 2, 4, 5]
    assert isinstance(seen[1][1], JsonlProblem) and seen[1][1].line == 2
    assert isinstance(seen[2][1], JsonlProblem) and "found list" in seen[2][1].message
    assert seen[3] == (5, {"b": 2})
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()


def test_streams_without_reading_ahead(tmp_path: Path) -> None:
    """The first lines are usable before a bad line further down is reached (no full read first)."""
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(100_000):
            handle.write(f'{{"id": "{i}", "output": "x"}}\n')
        handle.write("{bad\n")
    lines = read_jsonl(path=path)
    assert next(lines) == (1, {"id": "0", "output": "x"})
    lines.close()
    with pytest.raises(InputError, match=r"big\.jsonl:100001: not valid JSON"):
        for _ in read_jsonl(path=path):
            pass

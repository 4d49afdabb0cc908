"""`auditkit suites list|show|validate` and `auditkit prompts`, through the real command entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit.cli.app import main
from auditkit.records import Prompt
from auditkit.suites import expand, load_suite
from tests.fixtures_suites import SUITES_DIR, write_suite


@pytest.fixture()
def builtin_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "probes"
    folder.mkdir()
    write_suite(
        folder, "id: bias\ndescription: Group gaps.\nprobes:\n  - {id: p, prompt: a}\n", name="bias.yaml"
    )
    write_suite(
        folder,
        "id: toxicity\ndescription: >\n  Toxic continuations\n  of prompts.\n"
        "probes:\n  - {id: p, prompt: b}\n",
        name="toxicity.yaml",
    )
    (folder / "broken.yaml").write_text("id: [unclosed\n")
    monkeypatch.setattr("auditkit.suites.loading.data_dir", lambda name: folder)
    return folder


def test_list_prints_name_first_one_per_line(builtin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suites", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["bias", "broken", "toxicity"]
    assert lines[0].split(None, 1)[1] == "Group gaps."
    assert lines[2].split(None, 1)[1] == "Toxic continuations of prompts."
    assert "validate" in lines[1]
    assert not any(ch in "".join(lines) for ch in "│┃━─")


def test_show_prints_probes_counts_and_hash(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SUITES_DIR / "include_parent.yaml")
    assert main(["suites", "show", path]) == 0
    out = capsys.readouterr().out
    suite = load_suite(ref=path)
    assert suite.hash in out and "fixture-good/occupation  20" in out and "fixture-rows/passages  3" in out
    assert "prompts    25" in out
    assert main(["suites", "show", path, "--json", "--samples", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hash"] == suite.hash and data["prompts"] == 2 + 10 + 3
    assert [p["prompts"] for p in data["probes"]] == [2, 10, 3]
    assert [i["id"] for i in data["includes"]] == ["fixture-good", "fixture-rows"]


def test_show_unknown_suite_exits_2(builtin_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suites", "show", "bais"]) == 2
    assert "Did you mean 'bias'" in capsys.readouterr().err


def test_validate_reports_each_file_and_exits_2_on_any_error(capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = str(SUITES_DIR / "good.yaml"), str(SUITES_DIR / "bad_field.yaml")
    assert main(["suites", "validate", good, str(SUITES_DIR / "rows.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"OK {good}: suite 'fixture-good', 34 prompts" in out and "fixture-rows/passages 3" in out
    assert main(["suites", "validate", good, bad]) == 2
    captured = capsys.readouterr()
    assert "OK" in captured.out
    assert (
        f"FAIL {bad}" in captured.err
        and "bad_field.yaml:14: probes[2] ('occupation'): field 'prompt'" in captured.err
    )
    assert "Traceback" not in captured.err
    assert main(["suites", "validate", str(SUITES_DIR / "undefined_var.yaml")]) == 2  # render errors count
    assert "undefined variable 'grup'" in capsys.readouterr().err


def test_prompts_writes_the_jsonl_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "prompts.jsonl"
    good, parent = str(SUITES_DIR / "good.yaml"), str(SUITES_DIR / "include_parent.yaml")
    assert main(["prompts", good, parent, "--out", str(out), "--samples", "1"]) == 0
    assert "wrote 23 prompts" in capsys.readouterr().err  # 2*5 + 2*3 + 2 from good, + 2 + 3 new from parent
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 23 and len({line["id"] for line in lines}) == 23
    for line in lines:
        assert {"id", "suite", "template", "attributes", "sample", "pair", "base_id", "reference"} <= set(
            line
        )
        assert ("prompt" in line) != ("messages" in line)
    expected = expand(suite=load_suite(ref=good), samples=1)
    # Each line carries the prompt's effective decoding settings: its pins, plus the resolved rest.
    assert [Prompt.from_dict({**line, "generation": p.generation}) for line, p in zip(lines, expected)] == expected
    for line, prompt in zip(lines, expected):
        assert all(line["generation"][k] == v for k, v in prompt.generation.items())
        assert {"max_new_tokens", "temperature", "top_p", "seed"} <= set(line["generation"])
    bias = [line for line in lines if line["template"] == "occupation"]
    assert all({"axis", "group"} <= set(line["attributes"]) and line["pair"] for line in bias)


def test_prompts_to_stdout_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prompts", str(SUITES_DIR / "rows.yaml"), "--out", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["prompts", str(SUITES_DIR / "bad_template.yaml"), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "bad_template.yaml:6: probe 'broken'" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()
    assert main(["prompts", str(SUITES_DIR / "rows.yaml"), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["prompts", str(SUITES_DIR / "rows.yaml"), "--out", str(tmp_path / "y.jsonl"), "--samples", "0"])
        == 2
    )
    assert main(["prompts", str(SUITES_DIR / "rows.yaml")]) == 2  # --out is required
    assert not (tmp_path / "y.jsonl").exists()


def test_suites_list_starts_without_heavy_imports() -> None:
    code = (
        "import sys; from auditkit.cli.app import main; code = main(['suites', 'list']); "
        "heavy = sorted(m for m in ('torch', 'pandas', 'transformers', 'scipy', 'sklearn') "
        "if m in sys.modules); "
        "print('HEAVY', heavy); sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout

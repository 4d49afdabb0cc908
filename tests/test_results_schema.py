"""The shipped results.json schema: valid itself, accepts what the engine writes, rejects broken documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from auditkit.engine.results import json_safe, validate_results, write_json_atomic
from auditkit.errors import InputError
from auditkit.resources import package_file
from tests.fixtures_engine import engine_request, write_suite


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from auditkit.api import run_audit

    tmp = tmp_path_factory.mktemp("schema")
    suite = write_suite(tmp, n=4, analyzers_=("engine_chars", "energy"))
    run_audit(
        request=engine_request(model="mock:echo", out=tmp / "out", suites=(str(suite),), use_cache=False)
    )
    return json.loads((tmp / "out" / "results.json").read_text())


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(package_file("schemas/results.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_engine_output_validates(produced: dict) -> None:
    validate_results(data=produced)
    assert produced["schema_version"] == "1.0"
    assert {m["analyzer"] for m in produced["metrics"]} == {"engine_chars", "energy"}
    for key in (
        "auditkit_version",
        "git_commit",
        "created_at",
        "finished_at",
        "duration_s",
        "command",
        "model",
        "suites",
        "generation",
        "samples",
        "seed",
        "analyzers",
        "counts",
        "energy",
        "environment",
    ):
        assert key in produced["manifest"]


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("status",), "done", "status"),
        (("metrics", 0, "n"), -1, "metrics/0/n"),
        (("manifest", "counts", "errors"), "many", "manifest/counts/errors"),
        (("schema_version",), "2.0", "schema_version"),
    ],
)
def test_schema_rejects_broken_documents(produced: dict, path: tuple, value: object, where: str) -> None:
    broken = copy.deepcopy(produced)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InputError, match=where):
        validate_results(data=broken)


def test_missing_contract_field_is_rejected(produced: dict) -> None:
    broken = copy.deepcopy(produced)
    del broken["metrics"][0]["ci_low"]
    with pytest.raises(InputError, match="ci_low"):
        validate_results(data=broken)


def test_non_finite_numbers_become_null(tmp_path: Path) -> None:
    assert json_safe({"a": float("nan"), "b": [1.0, float("inf")], "c": (1, 2)}) == {
        "a": None,
        "b": [1.0, None],
        "c": [1, 2],
    }
    write_json_atomic(path=tmp_path / "x.json", data={"v": float("nan")})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": None}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left behind
